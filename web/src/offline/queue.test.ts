import { describe, expect, it } from "vitest";
import { localPath, OfflineQueue, type QueuedChange, type QueueState, type Sent } from "./queue";

function memory() {
  let value: QueueState | undefined;
  return {
    load: async () => (value ? structuredClone(value) : undefined),
    save: async (v: QueueState) => {
      value = structuredClone(v);
    },
    peek: () => value,
  };
}

/** A server that records what it was sent and answers from `answers` (done by default). */
function server(answers: Sent[] = []) {
  const received: { key: string; path: string }[] = [];
  let next = 1;
  return {
    received,
    send: async (change: QueuedChange): Promise<Sent> => {
      const answer = answers.shift() ?? { kind: "done", data: { id: `srv-${next++}` } };
      if (answer.kind !== "later") received.push({ key: change.key, path: change.path });
      return answer;
    },
  };
}

const create = (key: string, localId: string): QueuedChange => ({
  key,
  method: "POST",
  path: "/api/tasks",
  body: { text: key },
  localId,
});

describe("the offline queue", () => {
  it("sends changes in order, a completion of an offline task naming its server id", async () => {
    const storage = memory();
    const api = server([{ kind: "later" }, { kind: "later" }, { kind: "later" }]);
    const queue = new OfflineQueue(storage, { send: api.send });
    await queue.enqueue(create("a", "l1"));
    await queue.enqueue(create("b", "l2"));
    await queue.enqueue({ key: "c", method: "POST", path: `/api/tasks/${localPath("l1")}/complete` });
    await queue.flush();
    expect(storage.peek()?.changes).toHaveLength(3);
    await queue.flush();
    expect(api.received).toEqual([
      { key: "a", path: "/api/tasks" },
      { key: "b", path: "/api/tasks" },
      { key: "c", path: "/api/tasks/srv-1/complete" },
    ]);
    expect(storage.peek()?.changes).toEqual([]);
  });

  it("sends a change whose answer was lost again with the same key, and only that one", async () => {
    const storage = memory();
    const api = server([{ kind: "later" }]);
    const queue = new OfflineQueue(storage, { send: api.send });
    await queue.enqueue(create("a", "l1"));
    await queue.flush();
    // The page closes here; a new one reads the same storage.
    const again = new OfflineQueue(storage, { send: api.send });
    await again.flush();
    await again.flush();
    expect(api.received.map((r) => r.key)).toEqual(["a"]);
  });

  it("drops a refused change and what depends on it, and goes on", async () => {
    const refused: number[] = [];
    const api = server([{ kind: "refused", status: 422 }]);
    const queue = new OfflineQueue(memory(), {
      send: api.send,
      refused: (_, status) => refused.push(status),
    });
    await queue.enqueue(create("bad", "l1"));
    await queue.enqueue({ key: "x", method: "POST", path: `/api/tasks/${localPath("l1")}/complete` });
    await queue.enqueue(create("good", "l2"));
    await queue.flush();
    expect(api.received.map((r) => r.key)).toEqual(["bad", "good"]);
    expect(refused).toEqual([422, 0]);
  });

  it("tells how many changes wait", async () => {
    const seen: number[] = [];
    const queue = new OfflineQueue(memory(), { send: server([{ kind: "later" }]).send });
    queue.subscribe((n) => seen.push(n));
    await queue.enqueue(create("a", "l1"));
    await queue.flush();
    await queue.flush();
    expect(seen).toEqual([0, 1, 0]);
  });
});
