-- Sessions that last: one sign-in is one session (a family of rotating refresh tokens).
--
-- A refresh token is 256 random bits; only its SHA-256 is kept (the token is random, so a
-- fast hash is enough and lets the token be found by its hash). Each token is used once:
-- using it spends it and issues the next in the same session. A spent token presented again
-- means two parties hold the family, so the whole session is revoked.
create table sessions (
    id              uuid primary key,
    user_id         uuid not null references users (id) on delete cascade,
    created_at      timestamptz not null,
    -- The absolute end: no rotation carries the session past it.
    expires_at      timestamptz not null,
    revoked_at      timestamptz,
    revoked_reason  text check (revoked_reason in ('logout', 'reuse', 'password')),
    check ((revoked_at is null) = (revoked_reason is null))
);

create index sessions_user on sessions (user_id) where revoked_at is null;
create index sessions_expires on sessions (expires_at);

create table refresh_tokens (
    token_hash      bytea primary key check (octet_length(token_hash) = 32),
    session_id      uuid not null references sessions (id) on delete cascade,
    issued_at       timestamptz not null,
    -- Sliding: each rotation moves it, never past the session's expires_at.
    expires_at      timestamptz not null,
    spent_at        timestamptz
);

create index refresh_tokens_session on refresh_tokens (session_id) where spent_at is null;
create index refresh_tokens_expires on refresh_tokens (expires_at);
