// What the end-to-end tests share: Debian's Chromium driven by playwright-core, the app's
// screens as a person uses them, and the API for checking what the server holds.
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { inject } from "vitest";

export const PASSWORD = "a long passphrase for tests";
export const ROOT = resolve(import.meta.dirname, "../..");
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";

export const baseUrl = () => inject("baseUrl");

export function launch(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: apt-get install chromium`);
  // --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
  return chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
}

export function newEmail(): string {
  return `e2e-${crypto.randomUUID().slice(0, 8)}@example.com`;
}

export interface OpenApp {
  context: BrowserContext;
  page: Page;
  /** What the browser refused under the Content-Security-Policy, as it logged it. */
  blocked: string[];
}

export async function openApp(browser: Browser, width = 1280): Promise<OpenApp> {
  const context = await browser.newContext({
    baseURL: baseUrl(),
    viewport: { width, height: 900 },
    timezoneId: "Europe/Berlin",
  });
  const page = await context.newPage();
  const blocked: string[] = [];
  page.on("console", (message) => {
    if (message.text().includes("Content Security Policy")) blocked.push(message.text());
  });
  await page.goto("/");
  return { context, page, blocked };
}

export async function signUp(page: Page, email = newEmail()): Promise<string> {
  await page.getByRole("button", { name: "New here? Create an account" }).click();
  await fillCredentials(page, email);
  await page.getByRole("button", { name: "Sign up" }).click();
  await waitLive(page);
  return email;
}

export async function signIn(page: Page, email: string): Promise<void> {
  await fillCredentials(page, email);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await waitLive(page);
}

async function fillCredentials(page: Page, email: string): Promise<void> {
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
}

export async function waitLive(page: Page): Promise<void> {
  await page.getByTestId("connection").getByText("Live").waitFor();
}

export async function quickAdd(page: Page, text: string): Promise<void> {
  await page.getByLabel("Add a task").fill(text);
  await page.getByLabel("Add a task").press("Enter");
}

export const row = (page: Page, title: string) =>
  page.getByTestId("task").filter({ has: page.getByText(title, { exact: true }) });

// The API, as another client (body tokens) ---------------------------------------------

export async function apiLogin(email: string): Promise<string> {
  const response = await fetch(`${baseUrl()}/api/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email, password: PASSWORD }),
  });
  if (!response.ok) throw new Error(`login: ${response.status} ${await response.text()}`);
  return ((await response.json()) as { access_token: string }).access_token;
}

export async function api<T>(token: string, method: string, path: string, body?: unknown, headers = {}): Promise<T> {
  const response = await fetch(`${baseUrl()}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json", ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

const run = promisify(execFile);

/** Python run with the project's SDK (todo_client), signed in as `email`. */
export async function withSdk(email: string, code: string): Promise<string> {
  const script = [
    "import sys",
    "from todo_client import Client",
    "client = Client(sys.argv[1])",
    "client.login(sys.argv[2], sys.argv[3])",
    code,
  ].join("\n");
  const python = join(ROOT, ".venv/bin/python");
  const { stdout } = await run(python, ["-c", script, baseUrl(), email, PASSWORD]);
  return stdout;
}
