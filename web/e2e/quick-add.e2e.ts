import type { Browser } from "playwright-core";
import { afterAll, beforeAll, expect, test } from "vitest";
import { launch, openApp, row, signUp } from "./app";

let browser: Browser;
beforeAll(async () => {
  browser = await launch();
});
afterAll(() => browser?.close());

const RENT = "Pay rent every month on the 1st at 9am #home !high";

test("a new person quick-adds the rent, sees it parsed, completes it, and next month's appears", async () => {
  const { page, blocked } = await openApp(browser);
  await signUp(page);

  await page.getByLabel("Add a task").fill(RENT);
  const preview = page.getByTestId("quick-preview");
  await preview.locator("mark").first().waitFor();
  const marked = await preview.locator("mark").allTextContents();
  expect(marked).toEqual(expect.arrayContaining(["#home", "!high"]));
  expect(marked.join(" ")).toMatch(/every month/);
  const fields = await page.getByTestId("parsed").innerText();
  expect(fields).toMatch(/Title\s+Pay rent/);
  expect(fields).toMatch(/Priority\s+high/);
  expect(fields).toMatch(/Tags\s+#home/);
  expect(fields).toMatch(/Repeats\s+.*FREQ=MONTHLY/);
  await page.getByLabel("Add a task").press("Enter");

  const rent = row(page, "Pay rent");
  await rent.locator("time").waitFor();
  const firstId = await rent.getAttribute("data-task-id");
  const firstDue = await rent.locator("time").getAttribute("datetime");
  expect(firstId).not.toMatch(/^local:/);
  expect(await rent.innerText()).toMatch(/#home/);

  await page.getByRole("checkbox", { name: "Complete Pay rent" }).click();
  await page.getByText("Completed “Pay rent”").waitFor();
  const next = page.locator(`[data-testid=task]:not([data-task-id="${firstId}"])`, {
    hasText: "Pay rent",
  });
  await next.waitFor();
  const nextDue = await next.locator("time").getAttribute("datetime");
  // The account took the browser's zone, Europe/Berlin: the 1st at 09:00 there, a month on.
  const first = inBerlin(firstDue!);
  const second = inBerlin(nextDue!);
  expect([first.day, first.time, second.day, second.time]).toEqual(["1", "09:00", "1", "09:00"]);
  expect(second.month).toBe((first.month % 12) + 1);
  expect(await row(page, "Pay rent").count()).toBe(1); // the completed one is out of the open list
  expect(blocked).toEqual([]); // the app needs nothing its Content-Security-Policy forbids
});

function inBerlin(iso: string) {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat("en-GB", {
      timeZone: "Europe/Berlin",
      month: "numeric",
      day: "numeric",
      hour: "2-digit",
      minute: "2-digit",
      hourCycle: "h23",
    })
      .formatToParts(new Date(iso))
      .map((p) => [p.type, p.value]),
  );
  return { month: Number(parts.month), day: String(Number(parts.day)), time: `${parts.hour}:${parts.minute}` };
}
