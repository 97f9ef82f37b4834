import type { Browser } from "playwright-core";
import { afterAll, beforeAll, expect, test } from "vitest";
import { api, apiLogin, launch, openApp, quickAdd, row, signUp } from "./app";

let browser: Browser;
beforeAll(async () => {
  browser = await launch();
});
afterAll(() => browser?.close());

interface Task {
  id: string;
  title: string;
  version: number;
}

test("an edit that crosses someone else's is shown (412), then kept or reloaded", async () => {
  const { page } = await openApp(browser);
  const email = await signUp(page);
  const token = await apiLogin(email);
  await quickAdd(page, "Draft the report");
  await page.locator("[data-task-id^='local:']").first().waitFor({ state: "detached" });
  const id = await row(page, "Draft the report").getAttribute("data-task-id");
  expect(id).not.toMatch(/^local:/);

  // Keep mine: the dialog was opened before the other change.
  await row(page, "Draft the report").getByRole("button", { name: "Edit" }).click();
  const dialog = page.getByRole("dialog", { name: "Edit task" });
  await dialog.getByLabel("Title").fill("Draft the annual report");
  const theirs = await api<Task>(token, "PATCH", `/api/tasks/${id}`, { title: "Theirs" });
  await dialog.getByRole("button", { name: "Save" }).click();
  await dialog.getByRole("alert").getByText("Someone changed this task").waitFor();
  await dialog.getByRole("button", { name: "Keep mine" }).click();
  await dialog.waitFor({ state: "detached" });
  const kept = await api<Task>(token, "GET", `/api/tasks/${id}`);
  expect(kept.title).toBe("Draft the annual report");
  expect(kept.version).toBe(theirs.version + 1);
  await row(page, "Draft the annual report").waitFor();

  // Reload theirs: the form shows the other change, and saving sends nothing stale.
  await row(page, "Draft the annual report").getByRole("button", { name: "Edit" }).click();
  await dialog.getByLabel("Title").fill("Mine again");
  await api<Task>(token, "PATCH", `/api/tasks/${id}`, { title: "Theirs again" });
  await dialog.getByRole("button", { name: "Save" }).click();
  await dialog.getByRole("button", { name: "Reload theirs" }).click();
  await dialog.getByRole("alert").waitFor({ state: "detached" });
  expect(await dialog.getByLabel("Title").inputValue()).toBe("Theirs again");
  await dialog.getByRole("button", { name: "Cancel" }).click();
  await row(page, "Theirs again").waitFor();
  expect((await api<Task>(token, "GET", `/api/tasks/${id}`)).title).toBe("Theirs again");
});
