// Signing up, in and out. The access token stays in memory (src/api/http.ts); a reload
// gets a new one from the refresh cookie, which no script can read.
import { refreshAccess, request, SESSION_HEADERS, setAccessToken } from "./api/http";
import type { Registered, TokenPair, User } from "./api/types";

export function browserTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
}

export async function signUp(email: string, password: string): Promise<User> {
  const { data } = await request<Registered>("POST", "/api/auth/register", {
    body: { email, password, timezone: browserTimeZone() },
    headers: SESSION_HEADERS,
  });
  setAccessToken(data.access_token);
  return data.user;
}

export async function signIn(email: string, password: string): Promise<User> {
  const { data } = await request<TokenPair>("POST", "/api/auth/login", {
    body: { email, password },
    headers: SESSION_HEADERS,
  });
  setAccessToken(data.access_token);
  return me();
}

/** The signed-in user after a reload, or null when there is no session to resume. */
export async function resume(): Promise<User | null> {
  return (await refreshAccess()) ? me() : null;
}

export async function signOut(): Promise<void> {
  try {
    await request<void>("POST", "/api/auth/logout", { body: {}, headers: SESSION_HEADERS });
  } finally {
    setAccessToken(null);
  }
}

export async function me(): Promise<User> {
  return (await request<User>("GET", "/api/auth/me")).data;
}

export async function setTimeZone(timezone: string): Promise<User> {
  return (await request<User>("PATCH", "/api/auth/me", { body: { timezone } })).data;
}
