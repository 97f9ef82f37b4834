// The tasks this client knows, fed by list pages, its own requests' answers and the change
// feed alike, so a live change and a refetch land in the same place. Pure functions: the
// store (store.ts) holds one TaskState and swaps it.
import type { Task } from "../api/types";

/** One event of the change feed, as the websocket sends it (docs/realtime.md). */
export interface ChangeEvent {
  type: string;
  seq: number;
  data?: unknown;
}

export interface TaskState {
  readonly tasks: ReadonlyMap<string, Task>;
  /** Ids deleted while this client watched: a page fetched before the delete cannot bring
   * them back. */
  readonly deleted: ReadonlySet<string>;
  /** The last change-feed sequence applied: repeats at or below it are skipped. */
  readonly seq: number;
}

export const emptyState: TaskState = { tasks: new Map(), deleted: new Set(), seq: 0 };

const TASK_EVENTS = new Set(["task.created", "task.updated", "task.completed", "task.deleted"]);

/** The id a task added on this device has until the server's answer or event names it. */
export const LOCAL_PREFIX = "local:";

/** Tasks as an answer or a page holds them: a newer version wins, an older one is dropped.
 * A task created from this device carries its local id in `metadata.local_id`, so its
 * stand-in goes whichever arrives first, the answer or the event. */
export function mergeTasks(state: TaskState, tasks: readonly Task[]): TaskState {
  let next: Map<string, Task> | null = null;
  for (const task of tasks) {
    const known = (next ?? state.tasks).get(task.id);
    if (state.deleted.has(task.id) || (known && known.version > task.version)) continue;
    next ??= new Map(state.tasks);
    next.set(task.id, task);
    const localId = task.metadata.local_id;
    if (typeof localId === "string") next.delete(`${LOCAL_PREFIX}${localId}`);
  }
  return next ? { ...state, tasks: next } : state;
}

/** Events in sequence order; one at or below the state's sequence was applied already. */
export function applyEvents(state: TaskState, events: readonly ChangeEvent[]): TaskState {
  let next = state;
  for (const event of events) {
    if (event.seq <= next.seq) continue;
    next = { ...applyEvent(next, event), seq: event.seq };
  }
  return next;
}

function applyEvent(state: TaskState, event: ChangeEvent): TaskState {
  if (!TASK_EVENTS.has(event.type)) return state;
  const task = (event.data as { task?: Task } | undefined)?.task;
  if (!task) return state;
  if (event.type === "task.deleted") return removeTask(state, task.id);
  return mergeTasks(state, [task]);
}

export function removeTask(state: TaskState, id: string): TaskState {
  const tasks = new Map(state.tasks);
  tasks.delete(id);
  return { ...state, tasks, deleted: new Set(state.deleted).add(id) };
}

/** A task put back (an undone delete): it may show again. */
export function restoreTask(state: TaskState, task: Task): TaskState {
  const deleted = new Set(state.deleted);
  deleted.delete(task.id);
  return mergeTasks({ ...state, deleted }, [task]);
}

/** The id `id` names now: a task added on this device is known by its local id until the
 * server's copy takes its place, and whoever held on to the local id follows. */
export function currentId(tasks: ReadonlyMap<string, Task>, id: string | null): string | null {
  if (id === null || tasks.has(id) || !id.startsWith(LOCAL_PREFIX)) return id;
  const localId = id.slice(LOCAL_PREFIX.length);
  for (const task of tasks.values()) if (task.metadata.local_id === localId) return task.id;
  return id;
}

/** A task with only its id, title and times set: the plain defaults of a new one. */
export function blankTask(id: string, title: string, at: string): Task {
  return {
    id,
    title,
    description: null,
    status: "pending",
    priority: "medium",
    due_at: null,
    completed_at: null,
    tags: [],
    metadata: {},
    recurrence: null,
    version: 0,
    created_at: at,
    updated_at: at,
  };
}
