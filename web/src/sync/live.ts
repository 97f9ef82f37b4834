// The websocket (docs/realtime.md): resumes from the last applied sequence after any
// interruption, answers heartbeats, gets a new access token when the server says 4401.
import type { ChangeEvent } from "./taskState";

export type Connection = "connecting" | "live" | "offline";

export interface LiveOptions {
  /** The access token, or null when the session is over. */
  token(): string | null;
  renewToken(): Promise<boolean>;
  /** The sequence to resume after; null for none (then the stream starts from now). */
  since(): number | null;
  /** A sync batch or one live event; `seq` is the newest the server has. */
  received(events: ChangeEvent[], seq: number): void;
  state(connection: Connection): void;
}

const UNAUTHORIZED = 4401;
const MAX_DELAY_MS = 10_000;

export class LiveSync {
  private socket: WebSocket | null = null;
  private retries = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private stopped = false;

  constructor(private readonly options: LiveOptions) {}

  start(): void {
    this.stopped = false;
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.socket?.close(1000);
    this.socket = null;
  }

  /** The browser says the network is gone: a socket may not notice for a long while. */
  offline(): void {
    this.socket?.close(1000);
  }

  /** Back online: a new socket at once, resuming from the last sequence, rather than at the
   * next backoff step or on a socket that may have lost messages while the network was
   * gone (repeats are skipped by sequence). */
  reconnectNow(): void {
    this.retries = 0;
    clearTimeout(this.timer);
    this.connect();
  }

  private connect(): void {
    const token = this.options.token();
    if (this.stopped) return;
    if (!token) {
      this.options.state("offline"); // opened offline: no session to show yet
      return;
    }
    this.options.state("connecting");
    const since = this.options.since();
    const url = new URL("/ws", location.href);
    url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
    if (since !== null) url.searchParams.set("since", String(since));
    const socket = new WebSocket(url, ["bearer", token]);
    this.socket?.close();
    this.socket = socket;
    socket.onmessage = (message) => this.socket === socket && this.onMessage(socket, message);
    socket.onclose = (event) => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.options.state("offline");
      void this.retry(event.code);
    };
  }

  private onMessage(socket: WebSocket, message: MessageEvent): void {
    const data = JSON.parse(String(message.data)) as {
      type: string;
      seq?: number;
      events?: ChangeEvent[];
      more?: boolean;
    };
    if (data.type === "ping") {
      socket.send('{"type":"pong"}');
    } else if (data.type === "sync") {
      this.options.received(data.events ?? [], data.seq ?? 0);
      if (!data.more) {
        this.retries = 0;
        this.options.state("live");
      }
    } else if (typeof data.seq === "number") {
      this.options.received([data as ChangeEvent], data.seq);
    }
  }

  private async retry(code: number): Promise<void> {
    if (this.stopped) return;
    if (code === UNAUTHORIZED && !(await this.options.renewToken())) return;
    const delay = Math.min(MAX_DELAY_MS, 250 * 2 ** this.retries++);
    this.timer = setTimeout(() => this.connect(), delay);
  }
}
