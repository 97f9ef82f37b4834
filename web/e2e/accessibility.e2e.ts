import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { AxeBuilder } from "@axe-core/playwright";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, expect, test } from "vitest";
import { launch, openApp, quickAdd, row, signUp } from "./app";

// Screenshots for people to look at (not compared): web/e2e-screenshots/.
const SCREENSHOTS = join(import.meta.dirname, "..", "e2e-screenshots");

let browser: Browser;
beforeAll(async () => {
  browser = await launch();
  mkdirSync(SCREENSHOTS, { recursive: true });
});
afterAll(() => browser?.close());

async function seriousViolations(page: Page): Promise<string[]> {
  const results = await new AxeBuilder({ page }).analyze();
  return results.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
}

for (const [width, scheme] of [
  [1280, "light"],
  [375, "dark"],
] as const) {
  test(`the main screens at ${width} px (${scheme}) have no serious accessibility violation`, async () => {
    const { page } = await openApp(browser, width);
    await page.emulateMedia({ colorScheme: scheme });
    await page.getByRole("button", { name: "Sign in", exact: true }).waitFor();
    expect(await seriousViolations(page)).toEqual([]);
    await page.screenshot({ path: join(SCREENSHOTS, `sign-in-${width}.png`) });

    await signUp(page);
    await quickAdd(page, "Pay rent every month on the 1st at 9am #home !high");
    await quickAdd(page, "Call mum tomorrow 6pm #family");
    await row(page, "Call mum").waitFor();
    await page.getByLabel("Add a task").fill("Water the plants every sunday 9am #home");
    await page.getByTestId("parsed").waitFor();
    expect(await seriousViolations(page)).toEqual([]);
    await page.screenshot({ path: join(SCREENSHOTS, `tasks-${width}.png`), fullPage: true });

    await page.getByLabel("Add a task").fill("");
    await row(page, "Pay rent").getByRole("button", { name: "Edit" }).click();
    const edit = page.getByRole("dialog", { name: "Edit task" });
    await edit.getByText("Reminders").waitFor();
    expect(await seriousViolations(page)).toEqual([]);
    await page.screenshot({ path: join(SCREENSHOTS, `edit-${width}.png`) });
    await page.keyboard.press("Escape");
    await edit.waitFor({ state: "detached" });

    await page.keyboard.press("?");
    await page.getByRole("dialog", { name: "Keyboard shortcuts" }).waitFor();
    expect(await seriousViolations(page)).toEqual([]);
  });
}

test("the keyboard alone: q adds, j/k move, x completes, e edits, / searches", async () => {
  const { page } = await openApp(browser);
  await signUp(page);
  await page.keyboard.press("q");
  await page.keyboard.type("First thing");
  await page.keyboard.press("Enter");
  await quickAdd(page, "Second thing");
  await row(page, "Second thing").waitFor();
  // Both in from the server: until then a task's place in the list may still change.
  await page.locator("[data-task-id^='local:']").first().waitFor({ state: "detached" });
  await page.locator("body").click({ position: { x: 5, y: 5 } });
  await page.keyboard.press("j");
  const selected = page.locator(".task.selected .title");
  const first = await selected.innerText();
  await page.keyboard.press("j");
  await expect.poll(() => selected.innerText()).not.toBe(first);
  await page.keyboard.press("k");
  await expect.poll(() => selected.innerText()).toBe(first);
  await page.keyboard.press("x");
  await row(page, first).waitFor({ state: "detached" });
  await page.keyboard.press("j");
  await page.keyboard.press("e");
  const dialog = page.getByRole("dialog", { name: "Edit task" });
  await dialog.waitFor();
  await page.keyboard.press("Escape");
  await dialog.waitFor({ state: "detached" });
  await page.keyboard.press("/");
  await page.keyboard.type("zzz");
  await page.getByText("Nothing here.").waitFor();
});
