import { type FormEvent, useEffect, useRef, useState } from "react";
import { ApiError } from "../api/http";
import type { Priority, Task, TaskPatch } from "../api/types";
import type { Workspace } from "../sync/workspace";
import { fromLocalInput, toLocalInput } from "../time";
import { Choice } from "./Choice";
import { Reminders } from "./Reminders";

const CUSTOM = "custom";
const REPEATS = [
  ["", "Does not repeat"],
  ["FREQ=DAILY", "Daily"],
  ["FREQ=WEEKLY", "Weekly"],
  ["FREQ=MONTHLY", "Monthly"],
  ["FREQ=YEARLY", "Yearly"],
  [CUSTOM, "Custom rule…"],
] as const;
const PRESETS: readonly string[] = REPEATS.map(([rule]) => rule).filter((rule) => rule !== CUSTOM);
const PRIORITIES = [
  ["low", "Low"],
  ["medium", "Medium"],
  ["high", "High"],
  ["urgent", "Urgent"],
] as const satisfies readonly (readonly [Priority, string])[];

interface Props {
  task: Task;
  timeZone: string;
  workspace: Workspace;
  onClose: () => void;
}

/** Every field of a task. Saved with If-Match: when someone changed it meanwhile (412),
 * the person chooses to reload theirs or keep their own. */
export function EditDialog({ task, timeZone, workspace, onClose }: Props) {
  const dialog = useRef<HTMLDialogElement>(null);
  const [base, setBase] = useState(task);
  const [conflict, setConflict] = useState<number | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [draft, setDraft] = useState(() => draftOf(task, timeZone));

  useEffect(() => {
    dialog.current?.showModal();
  }, []);

  async function save(version = base.version) {
    setError(null);
    try {
      await workspace.edit(base, patchOf(draft, timeZone, base), version);
      onClose();
    } catch (e) {
      if (e instanceof ApiError && e.status === 412) {
        setConflict((await workspace.reload(base)).version);
      } else {
        setError(e instanceof Error ? e.message : String(e));
      }
    }
  }

  async function reload() {
    const fresh = await workspace.reload(base);
    setBase(fresh);
    setDraft(draftOf(fresh, timeZone));
    setConflict(null);
  }

  const set = <K extends keyof Draft>(key: K, value: Draft[K]) => setDraft({ ...draft, [key]: value });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    void save();
  };

  return (
    <dialog ref={dialog} onClose={onClose} aria-labelledby="edit-title" className="edit">
      <form onSubmit={submit}>
        <h2 id="edit-title">Edit task</h2>
        {conflict !== null && (
          <div role="alert" className="conflict">
            <p>Someone changed this task while you were editing it.</p>
            <button type="button" onClick={() => void reload()}>
              Reload theirs
            </button>
            <button type="button" onClick={() => void save(conflict)}>
              Keep mine
            </button>
          </div>
        )}
        <label>
          Title
          <input value={draft.title} required maxLength={255} onChange={(e) => set("title", e.target.value)} />
        </label>
        <label>
          Description
          <textarea value={draft.description} maxLength={10000} onChange={(e) => set("description", e.target.value)} />
        </label>
        <label>
          Due ({timeZone})
          <input type="datetime-local" value={draft.due} onChange={(e) => set("due", e.target.value)} />
        </label>
        <Choice label="Priority" value={draft.priority} options={PRIORITIES} onChange={(v) => set("priority", v)} />
        <label>
          Tags (separated by spaces)
          <input value={draft.tags} onChange={(e) => set("tags", e.target.value)} />
        </label>
        <Choice label="Repeats" value={draft.preset} options={REPEATS} onChange={(v) => set("preset", v)} />
        {draft.preset === CUSTOM && (
          <label>
            RRULE (RFC 5545)
            <input
              value={draft.rrule}
              placeholder="FREQ=WEEKLY;BYDAY=MO,WE"
              required
              onChange={(e) => set("rrule", e.target.value)}
            />
          </label>
        )}
        <Reminders task={base} timeZone={timeZone} />
        {error && (
          <p role="alert" className="error">
            {error}
          </p>
        )}
        <div className="actions">
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit">Save</button>
        </div>
      </form>
    </dialog>
  );
}

interface Draft {
  title: string;
  description: string;
  due: string;
  priority: Priority;
  tags: string;
  preset: string;
  rrule: string;
}

function draftOf(task: Task, timeZone: string): Draft {
  const rule = task.recurrence?.rrule ?? "";
  return {
    title: task.title,
    description: task.description ?? "",
    due: task.due_at ? toLocalInput(task.due_at, timeZone) : "",
    priority: task.priority,
    tags: task.tags.join(" "),
    preset: PRESETS.includes(rule) ? rule : CUSTOM,
    rrule: rule,
  };
}

function patchOf(draft: Draft, timeZone: string, base: Task): TaskPatch {
  const rule = draft.preset === CUSTOM ? draft.rrule.trim() : draft.preset;
  return {
    title: draft.title.trim(),
    description: draft.description || null,
    due_at: draft.due ? fromLocalInput(draft.due, timeZone) : null,
    priority: draft.priority,
    tags: draft.tags.split(/[\s,]+/).map((t) => t.replace(/^#/, "")).filter(Boolean),
    recurrence: rule
      ? { rrule: rule, timezone: base.recurrence?.timezone ?? null, mode: base.recurrence?.mode ?? "due" }
      : null,
  };
}
