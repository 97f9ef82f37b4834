// @ts-check
// The browser half of bench/web.py: Debian's Chromium, driven by playwright-core as the
// end-to-end tests drive it, against the `todo dev` that bench/web.py started and filled.
// Takes its plan as JSON in argv[2]; prints what it measured as JSON on one line. Every
// wait is bounded; times are in milliseconds.
//
// The page and this process read one clock: `performance.timeOrigin + performance.now()`
// is the machine's wall clock in both, so a change's send time (here) and its row's arrival
// (there) compare directly.
import { chromium } from "playwright-core";

/**
 * @typedef {object} Plan
 * @property {string} url         the running `todo dev`
 * @property {string} chromium    the browser's executable
 * @property {string} password    every bench user's
 * @property {string} few         a user with a few tasks: first list, live changes
 * @property {string} many        a user with `manyCount` tasks: scrolling
 * @property {number} manyCount
 * @property {number} visits      navigations timed, of each kind
 * @property {number} changes     API changes timed to their row
 * @property {number} scrollStep  pixels scrolled each frame
 * @property {number} limitMs     the most any one wait or phase may take
 */

/** @type {Plan} */
const plan = JSON.parse(process.argv[2] ?? "{}");
const TITLE = "API change ";
// A change's row not in the page by then is counted missing (live sync promises 1 s).
const ROW_WAIT_MS = 5000;

/** @param {import("playwright-core").Browser} browser @param {string} email */
async function signedIn(browser, email) {
  const context = await browser.newContext({ baseURL: plan.url, viewport: { width: 1280, height: 900 } });
  context.setDefaultTimeout(plan.limitMs);
  const page = await context.newPage();
  await page.goto("/");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(plan.password);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await page.getByTestId("connection").getByText("Live").waitFor();
  return { context, page };
}

/** Navigation to the first task row in the page, for a signed-in user: `cold` with the
 * browser's cache and the app's device data (IndexedDB, service worker, its cache) cleared,
 * so code, session and list all come over the network; `warm` as a repeat visit. */
async function firstList(/** @type {import("playwright-core").Browser} */ browser) {
  const { context, page } = await signedIn(browser, plan.few);
  await page.getByTestId("task").first().waitFor();
  await context.addInitScript(() => {
    const watch = new MutationObserver(() => {
      if (!document.querySelector('[data-testid="task"]')) return;
      /** @type {any} */ (window).firstRowMs = performance.now(); // from navigation start
      watch.disconnect();
    });
    watch.observe(document, { childList: true, subtree: true });
  });
  const cdp = await context.newCDPSession(page);
  const visit = async () => {
    await page.goto("/");
    await page.waitForFunction(() => "firstRowMs" in window);
    return page.evaluate(() => /** @type {number} */ (/** @type {any} */ (window).firstRowMs));
  };
  const cold = [];
  const warm = [];
  for (let i = 0; i < plan.visits; i++) {
    await page.goto("about:blank");
    await cdp.send("Network.clearBrowserCache");
    await cdp.send("Storage.clearDataForOrigin", {
      origin: plan.url,
      storageTypes: "indexeddb,local_storage,cache_storage,service_workers",
    });
    cold.push(await visit());
    warm.push(await visit());
  }
  await context.close();
  return { cold, warm };
}

/** Every task of the big list shown (status: all), then the page scrolled `scrollStep`
 * pixels each frame from top to bottom: the time between frames, the long tasks, and the
 * most task rows the page held at once. */
async function scrollThrough(/** @type {import("playwright-core").Browser} */ browser) {
  const { context, page } = await signedIn(browser, plan.many);
  await page.getByLabel("Status").selectOption("any");
  await page.locator(`[data-testid="task"][aria-setsize="${plan.manyCount}"]`).first().waitFor();
  const measured = await page.evaluate(async ({ step, limitMs, count }) => {
    /** @type {number[]} */
    const longTasks = [];
    const observer = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) longTasks.push(entry.duration);
    });
    observer.observe({ type: "longtask" });
    /** @type {number[]} */
    const frames = [];
    let rows = 0;
    const started = performance.now();
    /** @param {number} frames @returns {Promise<number>} */
    const after = (frames) =>
      new Promise((done) => requestAnimationFrame((now) => (frames > 1 ? after(frames - 1).then(done) : done(now))));
    let last = await after(1);
    for (;;) {
      rows = Math.max(rows, document.querySelectorAll('[data-testid="task"]').length);
      const atEnd = scrollY >= document.documentElement.scrollHeight - innerHeight - 1;
      if (atEnd || last - started > limitMs) break;
      scrollBy(0, step);
      const now = await after(1);
      frames.push(now - last);
      last = now;
    }
    await after(2); // the rows of the last position drawn
    observer.disconnect();
    return {
      frames,
      longTasks,
      rows,
      seconds: (last - started) / 1000,
      lastShown: document.querySelector(`[data-testid="task"][aria-posinset="${count}"]`) !== null,
    };
  }, { step: plan.scrollStep, limitMs: plan.limitMs, count: plan.manyCount });
  await context.close();
  return measured;
}

/** `changes` tasks created one after another through the API by another client, each
 * timed from just before its request to its row's insertion into the open page (a
 * MutationObserver there notes the time). */
async function changeToRow(/** @type {import("playwright-core").Browser} */ browser) {
  const { context, page } = await signedIn(browser, plan.few);
  await page.evaluate((prefix) => {
    /** @type {Record<string, number>} */
    const seen = {};
    /** @type {any} */ (window).seenAt = seen;
    new MutationObserver((records) => {
      const at = performance.timeOrigin + performance.now();
      for (const record of records) {
        for (const node of record.addedNodes) {
          if (!(node instanceof Element)) continue;
          for (const title of node.querySelectorAll(".title")) {
            const text = title.textContent ?? "";
            if (text.startsWith(prefix) && !(text in seen)) seen[text] = at;
          }
        }
      }
    }).observe(document.body, { childList: true, subtree: true });
  }, TITLE);
  const login = await fetch(`${plan.url}/api/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email: plan.few, password: plan.password }),
  });
  const { access_token: token } = await login.json();
  const headers = { authorization: `Bearer ${token}`, "content-type": "application/json" };
  const dueAt = new Date(Date.now() - 86_400_000).toISOString(); // overdue: at the top
  const latencies = [];
  let missing = 0;
  for (let n = 0; n < plan.changes; n++) {
    const title = `${TITLE}${n}`;
    const sent = performance.timeOrigin + performance.now();
    const response = await fetch(`${plan.url}/api/tasks`, {
      method: "POST",
      headers,
      body: JSON.stringify({ title, due_at: dueAt }),
    });
    if (response.status !== 201) throw new Error(`POST /api/tasks: ${response.status} ${await response.text()}`);
    try {
      await page.waitForFunction((title) => title in /** @type {any} */ (window).seenAt, title, {
        polling: 5,
        timeout: ROW_WAIT_MS,
      });
      latencies.push((await page.evaluate((title) => /** @type {any} */ (window).seenAt[title], title)) - sent);
    } catch {
      missing++;
    }
  }
  await context.close();
  return { latencies, missing };
}

const browser = await chromium.launch({ executablePath: plan.chromium, args: ["--no-sandbox"] });
try {
  const measured = {
    firstList: await firstList(browser),
    scroll: await scrollThrough(browser),
    changes: await changeToRow(browser),
  };
  process.stdout.write(`${JSON.stringify(measured)}\n`);
} finally {
  await browser.close();
}
