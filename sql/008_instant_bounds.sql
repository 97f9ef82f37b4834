-- Every stored instant lies in the range the API accepts (todo/models.py: EARLIEST, LATEST):
-- an instant outside it once stopped the reminder tick for every user. NOT VALID: rows
-- written before this check are left as they are (the tick sets aside a reminder it cannot
-- deliver, with a dead letter saying why); every new or changed row is checked.
alter table tasks add constraint tasks_due_at_range
    check (due_at >= '1900-01-01T00:00:00Z' and due_at < '9999-01-01T00:00:00Z') not valid;

alter table reminders add constraint reminders_remind_at_range
    check (remind_at >= '1900-01-01T00:00:00Z' and remind_at < '9999-01-01T00:00:00Z') not valid;
