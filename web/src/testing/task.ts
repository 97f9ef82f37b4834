import type { Task } from "../api/types";

/** A task as the API answers it, with `fields` over plain defaults. */
export function task(id: string, version = 1, fields: Partial<Task> = {}): Task {
  return {
    id,
    title: `task ${id}`,
    description: null,
    status: "pending",
    priority: "medium",
    due_at: null,
    completed_at: null,
    tags: [],
    metadata: {},
    recurrence: null,
    version,
    created_at: "2026-12-01T09:00:00Z",
    updated_at: "2026-12-01T09:00:00Z",
    ...fields,
  };
}
