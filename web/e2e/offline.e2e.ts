import type { Browser } from "playwright-core";
import { afterAll, beforeAll, expect, test } from "vitest";
import { api, apiLogin, launch, openApp, quickAdd, row, signUp } from "./app";

let browser: Browser;
beforeAll(async () => {
  browser = await launch();
});
afterAll(() => browser?.close());

interface Feed {
  events: { type: string; data: { task?: { title: string } } }[];
}

test("offline: three added and one completed reach the server once each, in order", async () => {
  const { context, page } = await openApp(browser);
  const email = await signUp(page);
  await page.evaluate(() => navigator.serviceWorker.ready.then(() => undefined));

  await context.setOffline(true);
  await page.getByTestId("connection").getByText("Offline").waitFor();
  for (const title of ["Offline one", "Offline two", "Offline three"]) await quickAdd(page, title);
  await row(page, "Offline two").getByRole("checkbox").click();
  await page.getByTestId("connection").getByText("4 to send").waitFor();

  // Still offline, the app opens again from the device: the shell, the list, the queue.
  await page.reload();
  await row(page, "Offline one").waitFor();
  await row(page, "Offline three").waitFor();
  await page.getByTestId("connection").getByText("4 to send").waitFor();

  await context.setOffline(false);
  await page.getByTestId("connection").getByText("Live", { exact: true }).waitFor();

  const token = await apiLogin(email);
  const feed = await api<Feed>(token, "GET", "/api/sync?since=0");
  const changes = feed.events
    .filter((e) => e.type.startsWith("todo.task."))
    .map((e) => `${e.type.slice("todo.task.".length)} ${e.data.task?.title}`);
  expect(changes).toEqual([
    "created Offline one",
    "created Offline two",
    "created Offline three",
    "completed Offline two",
  ]);
  // The page shows the server's tasks in place of its own, once each.
  await page.locator("[data-task-id^='local:']").first().waitFor({ state: "detached" });
  expect(await row(page, "Offline one").count()).toBe(1);
  expect(await row(page, "Offline two").count()).toBe(0);
});
