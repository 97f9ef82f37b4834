// The one place the app keeps server state: a TaskState swapped whole on every change,
// read by components through useWatched (useSyncExternalStore), saved for offline use.
import type { Task } from "../api/types";
import { emptyState, type TaskState } from "./taskState";
import { Watched } from "./watched";

export class TaskStore extends Watched<TaskState> {
  constructor() {
    super(emptyState);
  }

  update(change: (state: TaskState) => TaskState): void {
    this.set(change(this.get()));
  }
}

/** What is kept on the device between visits: the last synced tasks and their sequence. */
export interface Snapshot {
  tasks: Task[];
  seq: number;
}

export function snapshot(state: TaskState): Snapshot {
  return { tasks: [...state.tasks.values()], seq: state.seq };
}

export function fromSnapshot(saved: Snapshot): TaskState {
  return { tasks: new Map(saved.tasks.map((t) => [t.id, t])), deleted: new Set(), seq: saved.seq };
}
