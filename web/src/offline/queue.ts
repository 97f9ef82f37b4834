// Changes made offline (and online: every create, complete, reopen and delete goes this
// way), kept in order in durable storage and sent one at a time, each with its own
// Idempotency-Key, until the server has answered it. A change stays at the head of the
// queue until its answer is in, so a crash or a lost answer sends it again with the same
// key: a create is then replayed by the server, not made twice; completing, reopening and
// deleting are idempotent by themselves.

export interface QueuedChange {
  /** Idempotency-Key of the request, and the change's name in the queue. */
  key: string;
  method: "POST" | "PATCH" | "DELETE";
  /** May name a task created offline as `{local:<id>}`, resolved once its create is in. */
  path: string;
  body?: unknown;
  /** For a create made offline: the local id its answer's id replaces. */
  localId?: string;
}

export interface QueueState {
  changes: QueuedChange[];
  /** Local ids of tasks created offline → their ids on the server. */
  ids: Record<string, string>;
}

export interface Durable<T> {
  load(): Promise<T | undefined>;
  save(value: T): Promise<void>;
}

export type Sent =
  | { kind: "done"; data: unknown }
  /** Not reachable (offline, 5xx, 429): try again later, in the same order. */
  | { kind: "later" }
  /** Refused for good (a 4xx): it is dropped, so the ones after it can go. */
  | { kind: "refused"; status: number };

export interface QueueHooks {
  send(change: QueuedChange): Promise<Sent>;
  applied?(change: QueuedChange, data: unknown): void;
  refused?(change: QueuedChange, status: number): void;
  /** Runs `work` alone across this browser's tabs (Web Locks), so two tabs never send the
   * same change. */
  exclusive?<T>(lock: string, work: () => Promise<T>): Promise<T>;
}

export const localPath = (localId: string) => `{local:${localId}}`;

export class OfflineQueue {
  private flushing: Promise<void> | null = null;
  /** The tail of this page's storage updates, which run one after another. */
  private updates: Promise<unknown> = Promise.resolve();
  private listeners = new Set<(pending: number) => void>();
  private pending = 0;

  constructor(
    private readonly storage: Durable<QueueState>,
    private readonly hooks: QueueHooks,
  ) {}

  async enqueue(change: QueuedChange): Promise<void> {
    await this.update((state) => {
      state.changes.push(change);
    });
    void this.flush();
  }

  /** Send what is queued, in order, until the queue is empty or the server out of reach. */
  flush(): Promise<void> {
    this.flushing ??= this.exclusive(() => this.sendAll(), "todo-outbox-send").finally(() => {
      this.flushing = null;
    });
    return this.flushing;
  }

  subscribe(listener: (pending: number) => void): () => void {
    this.listeners.add(listener);
    listener(this.pending);
    return () => this.listeners.delete(listener);
  }

  private async sendAll(): Promise<void> {
    for (;;) {
      const state = await this.load();
      this.report(state);
      const head = state.changes[0];
      if (!head) return;
      const resolved = resolve(head, state.ids);
      const sent = resolved ? await this.hooks.send(resolved) : null;
      if (sent?.kind === "later") return;
      const id = sent?.kind === "done" ? (sent.data as { id?: string } | undefined)?.id : null;
      await this.update((latest) => {
        if (latest.changes[0]?.key === head.key) latest.changes.shift();
        if (head.localId && id) latest.ids[head.localId] = id;
      });
      if (sent?.kind === "done") this.hooks.applied?.(head, sent.data);
      else this.hooks.refused?.(head, sent?.status ?? 0);
    }
  }

  /** Change the stored state, one change at a time in this page and across tabs. */
  private update(change: (state: QueueState) => void): Promise<void> {
    const next = this.updates.then(() =>
      this.exclusive(async () => {
        const state = await this.load();
        change(state);
        await this.save(state);
      }, "todo-outbox-state"),
    );
    this.updates = next.catch(() => undefined);
    return next;
  }

  private async load(): Promise<QueueState> {
    return (await this.storage.load()) ?? { changes: [], ids: {} };
  }

  private async save(state: QueueState): Promise<void> {
    await this.storage.save(state);
    this.report(state);
  }

  private report(state: QueueState): void {
    if (state.changes.length === this.pending) return;
    this.pending = state.changes.length;
    for (const listener of this.listeners) listener(this.pending);
  }

  private exclusive<T>(work: () => Promise<T>, lock: string): Promise<T> {
    return this.hooks.exclusive ? this.hooks.exclusive(lock, work) : work();
  }
}

/** The change with its local ids replaced by the server's; null when one names a task whose
 * create was refused, so it can never be sent. */
function resolve(change: QueuedChange, ids: Record<string, string>): QueuedChange | null {
  let missing = false;
  const path = change.path.replace(/\{local:([^}]+)\}/g, (_, local: string) => {
    const id = ids[local];
    if (!id) missing = true;
    return id ?? local;
  });
  return missing ? null : { ...change, path };
}
