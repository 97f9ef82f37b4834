-- The transactional outbox, which is also each user's change feed.
--
-- Every change writes its events here in the change's own transaction, numbered with
-- the owner's next sequence number (gapless: the counter row is locked by the writer
-- and rolls back with it). After commit the function publishes them and sets
-- published_at; the relay picks up whatever is left.

create table event_sequences (
    user_id     uuid primary key,
    last_seq    bigint not null
);

create table events (
    id              uuid primary key,
    user_id         uuid not null,
    seq             bigint not null,
    type            text not null,
    source          text not null,
    subject         text not null,
    topic           text not null,
    data            jsonb not null,
    occurred_at     timestamptz not null,
    published_at    timestamptz,
    unique (user_id, seq)
);

create index events_unpublished on events (occurred_at, user_id, seq)
    where published_at is null;
