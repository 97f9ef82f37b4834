-- One dead letter per subscriber and event: the same bad event delivered again counts on
-- its row instead of adding one, so a replay sends it once. `letter_key` is the event id,
-- or, for a body that was not an event, 'sha256:' and the hash of the body as stored.
alter table dead_letters
    add column letter_key text,
    add column received_count integer not null default 1,
    add column last_received_at timestamptz;

update dead_letters set
    letter_key = coalesce(
        event_id,
        'sha256:' || encode(sha256(convert_to(coalesce(raw, id::text), 'UTF8')), 'hex')
    ),
    last_received_at = received_at;

-- Fold the copies made so far into the first of each: how many came, the last time and
-- reason, and whether it was replayed since the last one came.
with copies as (
    select coalesce(subscriber, '') as subscriber_key,
           letter_key,
           (array_agg(id order by received_at, id))[1] as kept,
           count(*) as received_count,
           max(received_at) as last_received_at,
           (array_agg(reason order by received_at desc, id))[1] as last_reason,
           max(replayed_at) as replayed_at,
           max(replay_count) as replay_count
    from dead_letters
    group by 1, 2
    having count(*) > 1
),
folded as (
    update dead_letters d set
        received_count = c.received_count,
        last_received_at = c.last_received_at,
        reason = c.last_reason,
        replayed_at = case when c.replayed_at >= c.last_received_at then c.replayed_at end,
        replay_count = c.replay_count
    from copies c
    where d.id = c.kept
)
delete from dead_letters d
using copies c
where coalesce(d.subscriber, '') = c.subscriber_key
  and d.letter_key = c.letter_key
  and d.id <> c.kept;

alter table dead_letters
    alter column letter_key set not null,
    alter column last_received_at set not null;
create unique index dead_letters_once on dead_letters ((coalesce(subscriber, '')), letter_key);
drop index dead_letters_received;
create index dead_letters_last_received on dead_letters (last_received_at desc);
