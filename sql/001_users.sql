-- Accounts. Emails are unique without regard to case.
create table users (
    id              uuid primary key,
    email           text not null check (char_length(email) between 3 and 320),
    password_hash   text not null,
    timezone        text not null default 'UTC',
    roles           text[] not null default '{user}',
    permissions     text[] not null default '{tasks:read,tasks:write}',
    -- Login throttling: consecutive failures and the lock they earned.
    failed_logins   integer not null default 0,
    locked_until    timestamptz,
    created_at      timestamptz not null,
    updated_at      timestamptz not null
);

create unique index users_email_key on users (lower(email));
