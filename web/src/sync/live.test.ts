import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { ChangeEvent } from "./taskState";
import { type Connection, LiveSync } from "./live";

/** A WebSocket the test plays the server of. */
class FakeSocket {
  static opened: FakeSocket[] = [];
  sent: string[] = [];
  onmessage: ((message: { data: string }) => void) | null = null;
  onclose: ((event: { code: number }) => void) | null = null;
  constructor(
    readonly url: URL,
    readonly protocols: string[],
  ) {
    FakeSocket.opened.push(this);
  }
  send(text: string) {
    this.sent.push(text);
  }
  close(code = 1000) {
    this.onclose?.({ code });
  }
  serve(message: object) {
    this.onmessage?.({ data: JSON.stringify(message) });
  }
}

function live(seq: { value: number | null }, token = "t1") {
  const received: ChangeEvent[][] = [];
  const states: Connection[] = [];
  const renew = vi.fn(async () => true);
  const sync = new LiveSync({
    token: () => token,
    renewToken: renew,
    since: () => seq.value,
    received: (events) => {
      received.push(events);
      const last = events.at(-1);
      if (last) seq.value = last.seq;
    },
    state: (s) => states.push(s),
  });
  return { sync, received, states, renew };
}

const last = () => FakeSocket.opened.at(-1)!;

beforeEach(() => {
  FakeSocket.opened = [];
  vi.useFakeTimers();
  vi.stubGlobal("WebSocket", FakeSocket);
  vi.stubGlobal("location", new URL("http://127.0.0.1:8080/tasks"));
});
afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

describe("the live connection", () => {
  it("sends the token as a subprotocol and starts from now when nothing was listed", () => {
    const { sync, states } = live({ value: null });
    sync.start();
    expect(last().url.href).toBe("ws://127.0.0.1:8080/ws");
    expect(last().protocols).toEqual(["bearer", "t1"]);
    last().serve({ type: "sync", events: [], seq: 0, more: false });
    expect(states).toEqual(["connecting", "live"]);
  });

  it("resumes from the last applied sequence, 0 included, after a drop", async () => {
    const seq = { value: 0 };
    const { sync, received } = live(seq);
    sync.start();
    expect(last().url.searchParams.get("since")).toBe("0");
    last().serve({ type: "task.created", seq: 1, data: {} });
    last().close(1006);
    await vi.advanceTimersByTimeAsync(250);
    expect(FakeSocket.opened).toHaveLength(2);
    expect(last().url.searchParams.get("since")).toBe("1");
    expect(received.flat().map((e) => e.seq)).toEqual([1]);
  });

  it("is live only after the last catch-up batch, and answers heartbeats", () => {
    const { sync, states } = live({ value: 5 });
    sync.start();
    last().serve({ type: "sync", events: [], seq: 9, more: true });
    expect(states).toEqual(["connecting"]);
    last().serve({ type: "sync", events: [], seq: 12, more: false });
    last().serve({ type: "ping" });
    expect(states).toEqual(["connecting", "live"]);
    expect(last().sent).toEqual(['{"type":"pong"}']);
  });

  it("gets a new token after 4401 before it reconnects", async () => {
    const { sync, renew } = live({ value: 3 });
    sync.start();
    last().close(4401);
    await vi.advanceTimersByTimeAsync(250);
    expect(renew).toHaveBeenCalledOnce();
    expect(FakeSocket.opened).toHaveLength(2);
  });

  it("stops for good when stopped", async () => {
    const { sync } = live({ value: 3 });
    sync.start();
    sync.stop();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(FakeSocket.opened).toHaveLength(1);
  });
});
