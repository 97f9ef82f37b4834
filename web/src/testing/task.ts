import type { Task } from "../api/types";
import { blankTask } from "../sync/taskState";

/** A task as the API answers it, with `fields` over plain defaults. */
export function task(id: string, version = 1, fields: Partial<Task> = {}): Task {
  return { ...blankTask(id, `task ${id}`, "2026-12-01T09:00:00Z"), version, ...fields };
}
