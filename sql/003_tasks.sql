create type task_status as enum ('pending', 'in_progress', 'completed');
-- Declared in rank order, so ORDER BY priority sorts low < medium < high < urgent.
create type task_priority as enum ('low', 'medium', 'high', 'urgent');

create table tasks (
    id              uuid primary key,
    user_id         uuid not null references users (id) on delete cascade,
    title           text not null check (char_length(title) between 1 and 255),
    description     text check (char_length(description) <= 10000),
    status          task_status not null default 'pending',
    priority        task_priority not null default 'medium',
    due_at          timestamptz,
    completed_at    timestamptz,
    tags            text[] not null default '{}',
    metadata        jsonb not null default '{}',
    recurrence      jsonb,
    version         integer not null default 1,
    created_at      timestamptz not null,
    updated_at      timestamptz not null,
    -- English stems for whole words plus 'simple' lexemes so a prefix of any word
    -- matches; kept by the trigger below.
    search          tsvector not null default ''
);

create function tasks_search_vector() returns trigger language plpgsql as $$
begin
    new.search :=
        setweight(to_tsvector('english', new.title), 'A') ||
        setweight(to_tsvector('simple', new.title), 'A') ||
        setweight(to_tsvector('english', coalesce(new.description, '')), 'B') ||
        setweight(to_tsvector('simple', coalesce(new.description, '')), 'B') ||
        setweight(to_tsvector('simple', array_to_string(new.tags, ' ')), 'C');
    return new;
end
$$;

create trigger tasks_search_vector
    before insert or update of title, description, tags on tasks
    for each row execute function tasks_search_vector();

create index tasks_user_created on tasks (user_id, created_at, id);
create index tasks_user_due on tasks (user_id, (coalesce(due_at, 'infinity'::timestamptz)), id);
create index tasks_user_priority on tasks (user_id, priority, id);
create index tasks_user_title on tasks (user_id, lower(title), id);
create index tasks_tags on tasks using gin (tags);
create index tasks_search on tasks using gin (search);

-- Responses of creates made with an Idempotency-Key (or a CloudEvent id), per user.
create table idempotency_keys (
    user_id         uuid not null,
    key             text not null,
    request_hash    text not null,
    status          integer not null,
    response        jsonb not null,
    created_at      timestamptz not null,
    primary key (user_id, key)
);
