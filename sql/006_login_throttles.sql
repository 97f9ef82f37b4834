-- Login throttling moves from the account to whoever is trying. A per-account lock let anyone
-- lock a victim out (five wrong passwords, then even the right one got 429), and only
-- registered emails were ever locked, which told who is registered. Failures now count per
-- client address (generous) and per (lower-cased email, address) pair (tight, a doubling
-- lock), for unknown emails exactly as for known ones. Keys are SHA-256 hashes: the table
-- holds neither emails nor addresses.
alter table users drop column failed_logins, drop column locked_until;

create table login_throttles (
    kind            text not null check (kind in ('address', 'pair')),
    key_hash        bytea not null,
    failures        integer not null check (failures > 0),
    locked_until    timestamptz,
    -- From then on the count starts again, and the row may be deleted.
    forget_at       timestamptz not null,
    primary key (kind, key_hash)
);

create index login_throttles_forget on login_throttles (forget_at);
