import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, expect, test } from "vitest";
import { launch, openApp, quickAdd, row, signUp, waitLive } from "./app";

let browser: Browser;
beforeAll(async () => {
  browser = await launch();
});
afterAll(() => browser?.close());

/** The accounts whose data this browser keeps (IndexedDB databases `todo-<user id>`). */
const deviceCopies = (page: Page) =>
  page.evaluate(async () =>
    (await indexedDB.databases()).map((d) => d.name ?? "").filter((n) => /^todo-[0-9a-f-]{36}$/.test(n)),
  );

async function waitFor(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test("signing out leaves nothing of the account on the device, in every tab", async () => {
  const { context, page } = await openApp(browser);
  await signUp(page);
  await quickAdd(page, "Only on this account");
  await page.locator("[data-task-id^='local:']").first().waitFor({ state: "detached" });
  const other = await context.newPage();
  await other.goto("/");
  await waitLive(other);
  await row(other, "Only on this account").waitFor();
  expect(await deviceCopies(page)).toHaveLength(1);

  // A change still queued is not thrown away without asking.
  await context.setOffline(true);
  await page.getByTestId("connection").getByText("Offline").waitFor();
  await quickAdd(page, "Not sent yet");
  const asked: string[] = [];
  page.once("dialog", (dialog) => {
    asked.push(dialog.message());
    void dialog.dismiss();
  });
  await page.getByRole("button", { name: "Sign out" }).click();
  await waitFor(async () => asked.length === 1, "the question");
  expect(asked[0]).toContain("1 change not yet sent");
  await row(page, "Not sent yet").waitFor();

  page.once("dialog", (dialog) => void dialog.accept());
  await context.setOffline(false);
  await page.getByRole("button", { name: "Sign out" }).click();
  for (const tab of [page, other]) {
    await tab.getByRole("button", { name: "Sign in", exact: true }).waitFor();
  }
  await waitFor(async () => (await deviceCopies(page)).length === 0, "the device copy to go");
  expect(await page.evaluate(() => localStorage.getItem("todo-user"))).toBeNull();

  // Offline, the app opens on the sign-in screen, not on the account's last list.
  await other.close();
  await context.setOffline(true);
  await page.reload();
  await page.getByRole("button", { name: "Sign in", exact: true }).waitFor();
  expect(await row(page, "Only on this account").count()).toBe(0);
  await context.close();
});
