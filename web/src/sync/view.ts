// What the list shows: the known tasks filtered, searched and sorted on this device, so
// search answers as one types and the list works offline alike.
import type { Priority, Status, Task } from "../api/types";
import { daysBetween } from "../time";

export type Due = "any" | "overdue" | "today" | "upcoming";
export type Sort = "due" | "priority" | "created" | "title";

export interface Filters {
  search: string;
  status: Status | "open" | "any";
  priority: Priority | "any";
  tag: string;
  due: Due;
  sort: Sort;
}

export const defaultFilters: Filters = {
  search: "",
  status: "open",
  priority: "any",
  tag: "",
  due: "any",
  sort: "due",
};

const PRIORITY_RANK: Record<Priority, number> = { urgent: 0, high: 1, medium: 2, low: 3 };

export function visibleTasks(
  tasks: Iterable<Task>,
  filters: Filters,
  now: Date,
  timeZone: string,
): Task[] {
  const words = filters.search.toLowerCase().split(/\s+/).filter(Boolean);
  const tag = filters.tag.replace(/^#/, "").toLowerCase();
  const shown = [...tasks].filter(
    (task) =>
      matchesStatus(task, filters.status) &&
      (filters.priority === "any" || task.priority === filters.priority) &&
      (!tag || task.tags.some((t) => t.toLowerCase() === tag)) &&
      matchesDue(task, filters.due, now, timeZone) &&
      words.every((word) => searchable(task).includes(word)),
  );
  return shown.sort(comparator(filters.sort));
}

function matchesStatus(task: Task, status: Filters["status"]): boolean {
  if (status === "any") return true;
  if (status === "open") return task.status !== "completed";
  return task.status === status;
}

function matchesDue(task: Task, due: Due, now: Date, timeZone: string): boolean {
  if (due === "any") return true;
  if (!task.due_at) return false;
  const at = new Date(task.due_at);
  if (due === "overdue") return at < now && task.status !== "completed";
  const days = daysBetween(now, at, timeZone);
  return due === "today" ? days === 0 : at > now && days > 0;
}

function searchable(task: Task): string {
  return [task.title, task.description ?? "", ...task.tags.map((t) => `#${t}`)]
    .join(" ")
    .toLowerCase();
}

function comparator(sort: Sort): (a: Task, b: Task) => number {
  const byCreated = (a: Task, b: Task) => b.created_at.localeCompare(a.created_at);
  switch (sort) {
    case "due":
      // Tasks with a due date first, soonest first; the rest newest first.
      return (a, b) =>
        (a.due_at ?? "\uffff").localeCompare(b.due_at ?? "\uffff") || byCreated(a, b);
    case "priority":
      return (a, b) => PRIORITY_RANK[a.priority] - PRIORITY_RANK[b.priority] || byCreated(a, b);
    case "title":
      return (a, b) => a.title.localeCompare(b.title) || byCreated(a, b);
    case "created":
      return byCreated;
  }
}

/** Every tag in use, for the tag filter's suggestions. */
export function allTags(tasks: Iterable<Task>): string[] {
  const tags = new Set<string>();
  for (const task of tasks) for (const tag of task.tags) tags.add(tag);
  return [...tags].sort();
}
