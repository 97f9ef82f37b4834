// One way to call the API: the access token from memory, a refresh through the session
// cookie when it has expired, problems (RFC 7807) as ApiError.
import { withLock } from "../locks";
import type { Problem, TokenPair } from "./types";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly problem: Partial<Problem>,
  ) {
    super(problem.detail ?? problem.title ?? `HTTP ${status}`);
  }
}

/** The browser's session: its refresh token lives in an HttpOnly cookie (X-Session). */
export const SESSION_HEADERS = { "X-Session": "cookie" } as const;

let accessToken: string | null = null;
let refreshing: Promise<boolean> | null = null;

export function setAccessToken(token: string | null): void {
  accessToken = token;
}

export function currentAccessToken(): string | null {
  return accessToken;
}

export interface RequestOptions {
  body?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

export interface Answer<T> {
  data: T;
}

export async function request<T>(
  method: string,
  path: string,
  options: RequestOptions = {},
): Promise<Answer<T>> {
  let response = await send(method, path, options);
  if (response.status === 401 && accessToken !== null && (await refreshAccess())) {
    response = await send(method, path, options);
  }
  const text = await response.text();
  const data = text ? JSON.parse(text) : undefined;
  if (!response.ok) throw new ApiError(response.status, data ?? {});
  return { data: data as T };
}

function send(method: string, path: string, options: RequestOptions): Promise<Response> {
  const headers: Record<string, string> = { ...options.headers };
  if (accessToken) headers.Authorization = `Bearer ${accessToken}`;
  if (options.body !== undefined) headers["Content-Type"] = "application/json";
  return fetch(path, {
    method,
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
    signal: options.signal,
    credentials: "same-origin",
  });
}

/** The next access token from the session cookie; false when the session is over. One
 * refresh at a time across this page's tabs: the server takes a refresh token used twice
 * as stolen and ends the session. */
export function refreshAccess(): Promise<boolean> {
  refreshing ??= withLock("todo-refresh", async () => {
    const response = await fetch("/api/auth/refresh", {
      method: "POST",
      headers: { ...SESSION_HEADERS, "Content-Type": "application/json" },
      body: "{}",
      credentials: "same-origin",
    });
    if (!response.ok) {
      accessToken = null;
      return false;
    }
    accessToken = ((await response.json()) as TokenPair).access_token;
    return true;
  }).finally(() => {
    refreshing = null;
  });
  return refreshing;
}
