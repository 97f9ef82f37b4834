-- Consumers record each event they have handled, in the same transaction as the effect,
-- so a redelivered event changes nothing.
create table processed_events (
    consumer        text not null,
    event_id        text not null,
    processed_at    timestamptz not null,
    primary key (consumer, event_id)
);

-- One row per task event: who did what, when, and the task before and after.
create table audit_log (
    id              bigint generated always as identity primary key,
    event_id        text not null unique,
    user_id         uuid not null,
    type            text not null,
    subject         text not null,
    source          text not null,
    occurred_at     timestamptz not null,
    before          jsonb,
    after           jsonb,
    recorded_at     timestamptz not null
);
create index audit_log_user on audit_log (user_id, occurred_at);

-- Events that can never be processed, or that ran out of retries, kept for inspection
-- and replay. `event` is the CloudEvent as received; `raw` the body when it was not one.
create table dead_letters (
    id              uuid primary key,
    event_id        text,
    event_type      text,
    topic           text not null,
    subscriber      text,
    reason          text not null,
    event           jsonb,
    raw             text,
    received_at     timestamptz not null,
    replayed_at     timestamptz,
    replay_count    integer not null default 0
);
create index dead_letters_received on dead_letters (received_at desc);

-- In-app notifications, made from due reminders.
create table notifications (
    id              uuid primary key,
    user_id         uuid not null,
    task_id         uuid,
    reminder_id     uuid,
    title           text not null,
    body            text,
    created_at      timestamptz not null,
    read_at         timestamptz
);
create index notifications_user on notifications (user_id, created_at desc, id desc);
create index notifications_unread on notifications (user_id) where read_at is null;

-- Reminder listing per user, in time order.
create index reminders_user on reminders (user_id, remind_at, id);
