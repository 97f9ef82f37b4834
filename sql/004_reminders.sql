create table reminders (
    id              uuid primary key,
    task_id         uuid not null references tasks (id) on delete cascade,
    user_id         uuid not null,
    remind_at       timestamptz not null,
    -- Set when the reminder was given relative to the task's due time, so it moves with it.
    before_due      interval,
    message         text check (char_length(message) <= 500),
    delivered_at    timestamptz,
    created_at      timestamptz not null
);

create index reminders_task on reminders (task_id);
create index reminders_due on reminders (remind_at) where delivered_at is null;
