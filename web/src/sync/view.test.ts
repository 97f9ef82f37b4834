import { describe, expect, it } from "vitest";
import { task } from "../testing/task";
import { defaultFilters, visibleTasks } from "./view";

const now = new Date("2026-12-02T12:00:00Z");
const tasks = [
  task("rent", 1, { title: "Pay rent", tags: ["home"], priority: "high", due_at: "2026-12-02T18:00:00Z" }),
  task("late", 1, { title: "File taxes", due_at: "2026-11-30T09:00:00Z", priority: "urgent" }),
  task("soon", 1, { title: "Call mum", due_at: "2026-12-05T09:00:00Z", tags: ["family"] }),
  task("done", 1, { title: "Buy milk", status: "completed", tags: ["home"] }),
  task("none", 1, { title: "Read a book", priority: "low" }),
];
const ids = (f: Partial<typeof defaultFilters>) =>
  visibleTasks(tasks, { ...defaultFilters, ...f }, now, "UTC").map((t) => t.id);

describe("the list's filters", () => {
  it("shows open tasks by due date, undated last", () => {
    expect(ids({})).toEqual(["late", "rent", "soon", "none"]);
  });
  it("filters by due: overdue, today, upcoming", () => {
    expect(ids({ due: "overdue" })).toEqual(["late"]);
    expect(ids({ due: "today" })).toEqual(["rent"]);
    expect(ids({ due: "upcoming" })).toEqual(["soon"]);
  });
  it("filters by tag, status and priority, and sorts by priority", () => {
    expect(ids({ tag: "#home", status: "any" })).toEqual(["rent", "done"]);
    expect(ids({ status: "completed" })).toEqual(["done"]);
    expect(ids({ priority: "high" })).toEqual(["rent"]);
    expect(ids({ sort: "priority" })).toEqual(["late", "rent", "soon", "none"]);
  });
  it("searches every word in title, description and tags", () => {
    expect(ids({ search: "pay #HOME" })).toEqual(["rent"]);
    expect(ids({ search: "mu" })).toEqual(["soon"]);
  });
});
