// One signed-in user's data on this device: the task store, fed by the list, the
// websocket and the answers to this client's own changes; the offline queue those
// changes go through; the device copy that keeps the list readable offline.
import { createStore, get, set, type UseStore } from "idb-keyval";
import { ApiError, currentAccessToken, refreshAccess, request } from "../api/http";
import { withLock } from "../locks";
import type {
  Notification,
  NotificationPage,
  Reminder,
  Snooze,
  Task,
  TaskPage,
  TaskPatch,
} from "../api/types";
import { localPath, OfflineQueue, type QueuedChange, type Sent } from "../offline/queue";
import { type Connection, LiveSync } from "./live";
import { fromSnapshot, snapshot, type Snapshot, TaskStore } from "./store";
import { Watched } from "./watched";
import {
  applyEvents,
  blankTask,
  type ChangeEvent,
  LOCAL_PREFIX,
  mergeTasks,
  removeTask,
  restoreTask,
} from "./taskState";

const PAGE = 200;

export class Workspace {
  readonly store = new TaskStore();
  readonly connection = new Watched<Connection>("connecting");
  readonly pending = new Watched(0);
  readonly unread = new Watched(0);
  readonly refused = new Watched<string | null>(null);
  private readonly db: UseStore;
  private readonly queue: OfflineQueue;
  private readonly live: LiveSync;
  private listed = false;
  private saveTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(readonly userId: string) {
    this.db = createStore(deviceDatabase(userId), "data");
    this.queue = new OfflineQueue(
      { load: () => get("outbox", this.db), save: (state) => set("outbox", state, this.db) },
      {
        send,
        applied: (_change, data) => this.applied(data),
        refused: (_change, status) =>
          this.refused.set(`The server refused a change (${status || "its task is gone"}).`),
        exclusive: (lock, work) => withLock(`${lock}-${userId}`, work),
      },
    );
    this.queue.subscribe((n) => this.pending.set(n));
    this.live = new LiveSync({
      token: currentAccessToken,
      renewToken: refreshAccess,
      // Once listed, resume from the last applied sequence, 0 included: a new account's
      // first events may still be on their way when the socket drops.
      since: () => (this.listed ? this.store.get().seq : null),
      received: (events, seq) => this.received(events, seq),
      state: (connection) => {
        this.connection.set(connection);
        if (connection === "live") void this.queue.flush();
      },
    });
  }

  async start(): Promise<void> {
    const saved = await get<Snapshot>("tasks", this.db);
    if (saved) {
      this.store.update(() => fromSnapshot(saved));
      this.listed = true;
    }
    this.store.subscribe(() => this.saveSoon());
    this.live.start();
    addEventListener("online", this.backOnline);
    addEventListener("offline", this.wentOffline);
    void this.queue.flush();
    void this.countUnread();
  }

  stop(): void {
    this.live.stop();
    removeEventListener("online", this.backOnline);
    removeEventListener("offline", this.wentOffline);
    clearTimeout(this.saveTimer);
  }

  /** Sends what is queued, if the server can be reached; how many changes are left. */
  async sendPending(): Promise<number> {
    await this.queue.flush();
    return this.pending.get();
  }

  /** Signing out: nothing of the account stays on the device, neither the list nor the
   * queue. The database goes once every tab has let go of it (the others reload). */
  async forget(): Promise<void> {
    this.stop();
    await this.db("readonly", (store) => store.transaction.db.close());
    await new Promise<void>((done) => {
      const deleting = indexedDB.deleteDatabase(deviceDatabase(this.userId));
      deleting.onsuccess = deleting.onerror = deleting.onblocked = () => done();
    });
  }

  // Changes ------------------------------------------------------------------------------

  add(text: string): void {
    const localId = crypto.randomUUID();
    this.store.update((s) => mergeTasks(s, [placeholder(`${LOCAL_PREFIX}${localId}`, text)]));
    void this.queue.enqueue({
      key: crypto.randomUUID(),
      method: "POST",
      path: "/api/tasks",
      body: { text, metadata: { local_id: localId } },
      localId,
    });
  }

  complete(task: Task): void {
    this.setStatus(task, "completed", "complete");
  }

  reopen(task: Task): void {
    this.setStatus(task, "pending", "reopen");
  }

  remove(task: Task): void {
    this.store.update((s) => removeTask(s, task.id));
  }

  /** A removal not undone: now the server hears of it. */
  confirmRemove(task: Task): void {
    void this.queue.enqueue({ key: crypto.randomUUID(), method: "DELETE", path: taskPath(task) });
  }

  undoRemove(task: Task): void {
    this.store.update((s) => restoreTask(s, task));
  }

  /** An edit, sent at once with If-Match: a 412 (ApiError) means someone changed the task
   * meanwhile; `version` then names the one to overwrite. */
  async edit(task: Task, patch: TaskPatch, version = task.version): Promise<Task> {
    const { data } = await request<Task>("PATCH", `/api/tasks/${task.id}`, {
      body: patch,
      headers: { "If-Match": `"${version}"` },
    });
    this.store.update((s) => mergeTasks(s, [data]));
    return data;
  }

  async reload(task: Task): Promise<Task> {
    const { data } = await request<Task>("GET", `/api/tasks/${task.id}`);
    this.store.update((s) => mergeTasks(s, [data]));
    return data;
  }

  async readAllNotifications(): Promise<void> {
    await request("POST", "/api/notifications/read-all", { body: {} });
    this.unread.set(0);
  }

  /** Remind again later (some minutes, or a moment): the reminder moves, and the
   * notification it raised counts as read. Returns the reminder's new moment. */
  async snooze(notification: Notification, later: Snooze): Promise<string> {
    const { data } = await request<Reminder>("POST", `/api/reminders/${notification.reminder_id}/snooze`, {
      body: later,
    });
    if (!notification.read_at) {
      await request("POST", `/api/notifications/${notification.id}/read`, { body: {} });
      void this.countUnread();
    }
    return data.remind_at;
  }

  // What comes in ------------------------------------------------------------------------

  private received(events: ChangeEvent[], seq: number): void {
    if (!this.listed) {
      this.listed = true;
      // The stream starts at `seq`: what came before is in the list, fetched from here.
      this.store.update((s) => ({ ...s, seq: Math.max(s.seq, seq) }));
      void this.fetchAll();
    }
    this.store.update((s) => applyEvents(s, events));
    if (events.some((e) => e.type.startsWith("notification."))) void this.countUnread();
  }

  private async fetchAll(): Promise<void> {
    let cursor: string | null = null;
    do {
      const query = new URLSearchParams({ limit: String(PAGE) });
      if (cursor) query.set("cursor", cursor);
      const { data }: { data: TaskPage } = await request<TaskPage>("GET", `/api/tasks?${query}`);
      this.store.update((s) => mergeTasks(s, data.items));
      cursor = data.next_cursor ?? null;
    } while (cursor);
  }

  private async countUnread(): Promise<void> {
    try {
      const { data } = await request<NotificationPage>("GET", "/api/notifications?unread=true&limit=100");
      this.unread.set(data.items.length);
    } catch {
      // Offline: the count stays as it was.
    }
  }

  private applied(data: unknown): void {
    const task = data as Task | undefined;
    if (task?.id) this.store.update((s) => mergeTasks(s, [task]));
  }

  private setStatus(task: Task, status: Task["status"], verb: string): void {
    this.store.update((s) => mergeTasks(s, [{ ...task, status }]));
    void this.queue.enqueue({
      key: crypto.randomUUID(),
      method: "POST",
      path: `${taskPath(task)}/${verb}`,
    });
  }

  private wentOffline = (): void => this.live.offline();

  private backOnline = async (): Promise<void> => {
    // Opened offline, the page has no access token yet.
    if (!currentAccessToken() && !(await refreshAccess())) return;
    this.live.reconnectNow();
    void this.queue.flush();
  };

  /** One write for the changes of one turn of the event loop: a page closed right after a
   * change (offline, too) finds it on the device next time. */
  private saveSoon(): void {
    if (this.saveTimer !== undefined) return;
    this.saveTimer = setTimeout(() => {
      this.saveTimer = undefined;
      void set("tasks", snapshot(this.store.get()), this.db);
    });
  }
}

/** Where the device keeps one account's list and queue (IndexedDB). */
export function deviceDatabase(userId: string): string {
  return `todo-${userId}`;
}

/** A task added on this device that the server has not answered for yet. */
export function isLocal(task: Task): boolean {
  return task.id.startsWith(LOCAL_PREFIX);
}

function taskPath(task: Task): string {
  const id = isLocal(task) ? localPath(task.id.slice(LOCAL_PREFIX.length)) : task.id;
  return `/api/tasks/${id}`;
}

/** A task added offline, shown until the server's answer replaces it. */
function placeholder(id: string, text: string): Task {
  return blankTask(id, text, new Date().toISOString());
}

async function send(change: QueuedChange): Promise<Sent> {
  try {
    const { data } = await request<unknown>(change.method, change.path, {
      body: change.body,
      headers: { "Idempotency-Key": change.key },
    });
    return { kind: "done", data };
  } catch (error) {
    if (!(error instanceof ApiError)) return { kind: "later" }; // no network
    const { status } = error;
    if (status === 404 && change.method === "DELETE") return { kind: "done", data: undefined };
    if (status >= 500 || status === 401 || status === 408 || status === 429) return { kind: "later" };
    return { kind: "refused", status };
  }
}
