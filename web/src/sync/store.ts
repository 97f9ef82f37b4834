// The one place the app keeps server state: a TaskState swapped whole on every change,
// read by components through useTasks (useSyncExternalStore), saved for offline use.
import type { Task } from "../api/types";
import { emptyState, type TaskState } from "./taskState";

export class TaskStore {
  private state: TaskState = emptyState;
  private listeners = new Set<() => void>();

  getState = (): TaskState => this.state;

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  update(change: (state: TaskState) => TaskState): void {
    const next = change(this.state);
    if (next === this.state) return;
    this.state = next;
    for (const listener of this.listeners) listener();
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
