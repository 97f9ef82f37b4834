import { useEffect, useState } from "react";
import { request } from "../api/http";
import type { Reminder, ReminderPage, Task } from "../api/types";
import { absoluteDue, fromLocalInput } from "../time";
import { Choice } from "./Choice";

const BEFORE = [
  ["PT0M", "At the due time"],
  ["PT15M", "15 minutes before"],
  ["PT1H", "1 hour before"],
  ["P1D", "1 day before"],
] as const;

/** A task's reminders: a distance before its due time, or a moment of their own. */
export function Reminders({ task, timeZone }: { task: Task; timeZone: string }) {
  const [reminders, setReminders] = useState<Reminder[]>([]);
  const [at, setAt] = useState("");
  const [error, setError] = useState<string | null>(null);

  const [changes, setChanges] = useState(0);

  useEffect(() => {
    let current = true;
    request<ReminderPage>("GET", `/api/reminders?task_id=${task.id}&limit=100`)
      .then(({ data }) => current && setReminders(data.items))
      .catch(() => current && setError("Reminders are not available offline."));
    return () => {
      current = false;
    };
  }, [task.id, changes]);
  const load = () => setChanges((n) => n + 1);

  async function add(body: { before: string } | { remind_at: string }) {
    setError(null);
    try {
      await request("POST", "/api/reminders", { body: { task_id: task.id, ...body } });
      load();
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  }

  async function remove(reminder: Reminder) {
    await request("DELETE", `/api/reminders/${reminder.id}`);
    load();
  }

  return (
    <fieldset>
      <legend>Reminders</legend>
      <ul className="reminders">
        {reminders.map((r) => (
          <li key={r.id}>
            {absoluteDue(r.remind_at, timeZone)}
            {r.before && ` (${r.before} before)`}
            <button type="button" onClick={() => void remove(r)} aria-label="Remove reminder">
              Remove
            </button>
          </li>
        ))}
      </ul>
      <div className="reminder-add">
        <Choice
          label="Before the due time"
          value=""
          options={[["", "Add…"], ...BEFORE]}
          disabled={!task.due_at}
          onChange={(before) => before && void add({ before })}
        />
        <label>
          At
          <input type="datetime-local" value={at} onChange={(e) => setAt(e.target.value)} />
        </label>
        <button
          type="button"
          disabled={!at}
          onClick={() => void add({ remind_at: fromLocalInput(at, timeZone) }).then(() => setAt(""))}
        >
          Add reminder
        </button>
      </div>
      {error && <p role="alert" className="error">{error}</p>}
    </fieldset>
  );
}
