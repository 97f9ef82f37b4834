import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, expect, test } from "vitest";
import { api, apiLogin, launch, openApp, row, signUp, waitLive } from "./app";

const COUNT = 2000;
const IN_FLIGHT = 8;

let browser: Browser;
beforeAll(async () => {
  browser = await launch();
});
afterAll(() => browser?.close());

// Due a minute apart from tomorrow on, so the list (soonest first) shows them in order.
const title = (i: number) => `Row ${String(i).padStart(4, "0")}`;

async function seed(token: string): Promise<void> {
  const start = Date.now() + 86_400_000;
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < COUNT; i = next++) {
      const due_at = new Date(start + i * 60_000).toISOString();
      await api(token, "POST", "/api/tasks", { title: title(i), due_at });
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
}

async function inView(page: Page, name: string): Promise<boolean> {
  const shown = row(page, name);
  if ((await shown.count()) === 0) return false;
  const box = await shown.boundingBox();
  const height = page.viewportSize()?.height ?? 0;
  return box !== null && box.y >= 0 && box.y + box.height <= height;
}

test(`a list of ${COUNT} tasks holds a screenful of rows, scrolls to its last, and j/k keep up`, { timeout: 180_000 }, async () => {
  const { page } = await openApp(browser);
  const email = await signUp(page);
  await page.goto("about:blank"); // the tasks come from the list, not 2,000 live events
  await seed(await apiLogin(email));
  await page.goto("/");
  await waitLive(page);
  await page.locator(`[data-testid=task][aria-setsize="${COUNT}"]`).first().waitFor();

  const drawn = await page.getByTestId("task").count();
  expect(drawn).toBeLessThan(60);
  expect(await page.getByRole("list", { name: "Tasks" }).getByRole("listitem").count()).toBe(drawn);

  // Rows are measured as they are drawn, so the end may move once: scroll until it holds.
  const last = title(COUNT - 1);
  for (let tries = 0; tries < 10 && !(await inView(page, last)); tries++) {
    await page.evaluate(() => scrollTo(0, document.documentElement.scrollHeight));
    await page.waitForTimeout(100);
  }
  expect(await inView(page, last)).toBe(true);
  expect(await page.getByTestId("task").count()).toBeLessThan(60);
  expect(await row(page, last).getAttribute("aria-posinset")).toBe(String(COUNT));

  // Back at the top, j walks past the rows drawn at first; the selected one stays in view.
  await page.evaluate(() => scrollTo(0, 0));
  for (let i = 0; i < 40; i++) await page.keyboard.press("j");
  const selected = page.locator(".task.selected");
  await expect.poll(() => selected.textContent()).toContain(title(39));
  await expect.poll(() => inView(page, title(39))).toBe(true);
  await page.keyboard.press("k");
  await expect.poll(() => selected.textContent()).toContain(title(38));

  await page.keyboard.press("e");
  const edit = page.getByRole("dialog", { name: "Edit task" });
  expect(await edit.getByLabel("Title").inputValue()).toBe(title(38));
  await page.keyboard.press("Escape");
  await edit.waitFor({ state: "detached" });

  await page.keyboard.press("x");
  await row(page, title(38)).waitFor({ state: "detached" });
  await expect.poll(() => inView(page, title(39))).toBe(true);
});
