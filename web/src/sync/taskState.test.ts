import { describe, expect, it } from "vitest";
import type { Task } from "../api/types";
import { task } from "../testing/task";
import { applyEvents, currentId, emptyState, LOCAL_PREFIX, mergeTasks, removeTask, restoreTask } from "./taskState";


const event = (seq: number, type: string, t: Task) => ({ seq, type, data: { task: t } });

describe("the task state", () => {
  it("follows a task added on this device from its local id to the server's", () => {
    const local = `${LOCAL_PREFIX}1234`;
    let state = mergeTasks(emptyState, [task(local, 0), task("b")]);
    expect(currentId(state.tasks, local)).toBe(local);
    state = mergeTasks(state, [task("a", 1, { metadata: { local_id: "1234" } })]);
    expect(state.tasks.has(local)).toBe(false);
    expect(currentId(state.tasks, local)).toBe("a");
    expect(currentId(state.tasks, "b")).toBe("b");
    expect(currentId(state.tasks, `${LOCAL_PREFIX}gone`)).toBe(`${LOCAL_PREFIX}gone`);
    expect(currentId(state.tasks, null)).toBeNull();
  });

  it("keeps the newest version of a task whichever arrives first", () => {
    const newer = mergeTasks(emptyState, [task("a", 3, { title: "new" })]);
    expect(mergeTasks(newer, [task("a", 2, { title: "old" })]).tasks.get("a")?.title).toBe("new");
  });

  it("applies each event once, skipping those at or below its sequence", () => {
    let state = applyEvents(emptyState, [event(1, "task.created", task("a"))]);
    state = applyEvents(state, [
      event(1, "task.created", task("a")),
      event(2, "task.completed", task("a", 2, { status: "completed" })),
    ]);
    expect(state.seq).toBe(2);
    expect(state.tasks.get("a")?.status).toBe("completed");
    // A replay after a reconnect repeats what was seen: nothing changes.
    expect(applyEvents(state, [event(2, "task.updated", task("a", 1))])).toBe(state);
  });

  it("keeps a deleted task away from a page fetched before the delete", () => {
    let state = mergeTasks(emptyState, [task("a")]);
    state = applyEvents(state, [event(5, "task.deleted", task("a", 2))]);
    state = mergeTasks(state, [task("a", 1)]);
    expect(state.tasks.has("a")).toBe(false);
    expect(restoreTask(state, task("a", 1)).tasks.has("a")).toBe(true);
  });

  it("ignores event types it does not know but still counts their sequence", () => {
    const state = applyEvents(emptyState, [{ seq: 7, type: "notification.created", data: {} }]);
    expect(state.seq).toBe(7);
    expect(state.tasks.size).toBe(0);
  });

  it("replaces a task added on this device by the server's, answer or event first", () => {
    const standIn = task("local:abc", 0, { title: "Buy milk" });
    const saved = task("srv-1", 1, { title: "Buy milk", metadata: { local_id: "abc" } });
    const state = mergeTasks(mergeTasks(emptyState, [standIn]), [saved]);
    expect([...state.tasks.keys()]).toEqual(["srv-1"]);
    const byEvent = applyEvents(mergeTasks(emptyState, [standIn]), [event(1, "task.created", saved)]);
    expect([...byEvent.tasks.keys()]).toEqual(["srv-1"]);
  });

  it("removes a task", () => {
    expect(removeTask(mergeTasks(emptyState, [task("a")]), "a").tasks.size).toBe(0);
  });
});
