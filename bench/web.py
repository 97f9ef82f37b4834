"""The web app as a person meets it, in Debian's Chromium against a real `todo dev`.

- Initial JavaScript: the scripts web/dist/index.html loads before anything else (its module
  script and module preloads), each gzipped at level 6 as a server would send them.
  Target: at most 150 KB (1 KB = 1,000 bytes).
- First list: from navigation to the first task row in the page, for a signed-in user with
  a few tasks. Cold: the browser's cache and the app's device data (IndexedDB, service
  worker) cleared, so code, session and list all come over loopback; warm: a repeat visit.
  Target: the slowest cold visit within 1 s.
- 2,000 tasks: every one shown (status: all), the page scrolled 200 px a frame from top to
  bottom (a fast fling, 12,000 px/s at 60 Hz). Smooth means the 95th percentile frame within
  50 ms (20 frames/s at worst, one frame in twenty), no long task over 100 ms, and the page
  never holding more than 100 task rows (it draws what is on screen, not the list).
- Live change: 100 tasks created one after another through the HTTP API by another client;
  each timed from just before its request to its row's insertion in an open page (a
  MutationObserver there notes the time; both read the same machine's clock). Target: p99
  within 1 s, the live-sync promise; none missing.

The browser half is web/bench/browser.mjs (node, playwright-core as the end-to-end tests
pin it); this half starts `todo dev`, makes the users and their tasks, and judges.

    python -m bench.web [--tasks N] [--changes N] [--visits N] [--limit-seconds S]
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import uuid
from pathlib import Path
from typing import Any

from todo_client import Client

from bench.harness import ROOT, database, met, percentile, todo_dev
from bench.list_tasks import seed_tasks

DIST = ROOT / "web" / "dist"
BROWSER_SCRIPT = ROOT / "web" / "bench" / "browser.mjs"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
PASSWORD = "a long bench passphrase"
FEW_TASKS = 20
SCROLL_STEP_PX = 200
BROWSER_SECONDS = 900.0  # the whole browser half, at most

TARGET_JS_KB = 150.0
TARGET_FIRST_LIST_MS = 1000.0
TARGET_FRAME_P95_MS = 50.0
TARGET_LONG_TASK_MS = 100.0
TARGET_ROWS = 100
TARGET_CHANGE_P99_MS = 1000.0


def initial_scripts(dist: Path) -> list[Path]:
    """The JavaScript index.html has the browser fetch up front: its module script and the
    modules it preloads (what the entry imports statically), not chunks loaded later."""
    html = (dist / "index.html").read_text()
    tags = re.findall(r"<(?:script|link)\b[^>]*>", html)
    found = []
    for tag in tags:
        is_script = tag.startswith("<script") and 'type="module"' in tag
        is_preload = tag.startswith("<link") and 'rel="modulepreload"' in tag
        source = re.search(r'(?:src|href)="/([^"]+\.js)"', tag)
        if (is_script or is_preload) and source:
            found.append(dist / source.group(1))
    return found


def gzipped_kb(path: Path) -> float:
    return len(gzip.compress(path.read_bytes(), compresslevel=6)) / 1000


def users_with_tasks(server: str, url: str, many: int) -> tuple[str, str]:
    """Two users signed up through the API: one with a few tasks, one with `many`, put in
    the database directly (the shapes bench/list_tasks.py gives: descriptions, tags, due
    dates, repeats, some completed)."""
    emails = [f"bench-web-{uuid.uuid4().hex[:8]}@example.com" for _ in range(2)]
    ids = []
    for email in emails:
        with Client(server) as client:
            ids.append(uuid.UUID(str(client.register(email, PASSWORD).user.id)))
    asyncio.run(seed_tasks(url, [(ids[0], "")], FEW_TASKS))
    asyncio.run(seed_tasks(url, [(ids[1], "")], many))
    return emails[0], emails[1]


def drive_browser(plan: dict[str, Any]) -> dict[str, Any]:
    node = shutil.which("node")
    if node is None:
        raise SystemExit("bench.web: no node on PATH (Node.js 20.19+, as web/ needs)")
    answer = subprocess.run(
        [node, str(BROWSER_SCRIPT), json.dumps(plan)],
        cwd=BROWSER_SCRIPT.parent,
        capture_output=True,
        text=True,
        timeout=BROWSER_SECONDS,
        check=False,
    )
    if answer.returncode != 0:
        raise SystemExit(f"bench.web: the browser half failed:\n{answer.stderr}")
    measured: dict[str, Any] = json.loads(answer.stdout)
    return measured


def ms(samples: list[float], q: int) -> float:
    return percentile(samples, q) if len(samples) > 1 else (samples or [float("inf")])[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=2000, help="in the long list")
    parser.add_argument("--changes", type=int, default=100, help="API changes timed")
    parser.add_argument("--visits", type=int, default=5, help="navigations timed, of each kind")
    parser.add_argument("--limit-seconds", type=float, default=60.0, help="at most, per wait")
    args = parser.parse_args()
    scripts = initial_scripts(DIST) if (DIST / "index.html").exists() else []
    if not scripts:
        raise SystemExit("bench.web: no web/dist/index.html with scripts: run `task web:build`")
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"bench.web: no Chromium at {CHROMIUM}: apt-get install chromium")
    js_kb = sum(gzipped_kb(script) for script in scripts)

    with (
        database() as url,
        tempfile.TemporaryDirectory() as home,
        todo_dev(url, home) as server,
    ):
        few, many = users_with_tasks(server, url, args.tasks)
        plan = {
            "url": server,
            "chromium": CHROMIUM,
            "password": PASSWORD,
            "few": few,
            "many": many,
            "manyCount": args.tasks,
            "visits": args.visits,
            "changes": args.changes,
            "scrollStep": SCROLL_STEP_PX,
            "limitMs": args.limit_seconds * 1000,
        }
        measured = drive_browser(plan)

    cold, warm = measured["firstList"]["cold"], measured["firstList"]["warm"]
    scroll = measured["scroll"]
    frames, long_tasks = scroll["frames"], scroll["longTasks"]
    changes, missing = measured["changes"]["latencies"], measured["changes"]["missing"]
    frame_p95 = ms(frames, 95)
    longest = max(long_tasks, default=0.0)
    change_p99 = ms(changes, 99)

    js_ok = js_kb <= TARGET_JS_KB
    first_ok = max(cold) <= TARGET_FIRST_LIST_MS
    smooth_ok = (
        frame_p95 <= TARGET_FRAME_P95_MS
        and longest <= TARGET_LONG_TASK_MS
        and scroll["rows"] <= TARGET_ROWS
        and scroll["lastShown"]
    )
    change_ok = change_p99 <= TARGET_CHANGE_P99_MS and missing == 0

    print(f"web: Chromium {CHROMIUM} against todo dev on loopback")
    print(
        f"initial JavaScript: {js_kb:.1f} KB gzipped in {len(scripts)} file(s) "
        f"(target <= {TARGET_JS_KB:.0f} KB): {met(js_ok)}"
    )
    print(
        f"first list visible, {FEW_TASKS} tasks, {len(cold)} visits each: cold median "
        f"{statistics.median(cold):.0f} ms, slowest {max(cold):.0f} ms; warm median "
        f"{statistics.median(warm):.0f} ms, slowest {max(warm):.0f} ms "
        f"(target: slowest cold <= {TARGET_FIRST_LIST_MS:.0f} ms): {met(first_ok)}"
    )
    print(
        f"{args.tasks} tasks scrolled top to bottom at {SCROLL_STEP_PX} px a frame: "
        f"{len(frames)} frames in {scroll['seconds']:.1f} s, frame p50 {ms(frames, 50):.1f} ms "
        f"p95 {frame_p95:.1f} ms max {max(frames, default=0):.1f} ms; {len(long_tasks)} long "
        f"tasks, longest {longest:.0f} ms; at most {scroll['rows']} task rows in the page; "
        f"last task shown: {'yes' if scroll['lastShown'] else 'no'} (target: p95 <= "
        f"{TARGET_FRAME_P95_MS:.0f} ms, no long task > {TARGET_LONG_TASK_MS:.0f} ms, <= "
        f"{TARGET_ROWS} rows): {met(smooth_ok)}"
    )
    print(
        f"API change to its row in an open page, {len(changes)} of {args.changes} changes: "
        f"p50 {ms(changes, 50):.0f} ms p99 {change_p99:.0f} ms max {max(changes, default=0):.0f} "
        f"ms, missing {missing} (target: p99 <= {TARGET_CHANGE_P99_MS:.0f} ms): {met(change_ok)}"
    )
    ok = js_ok and first_ok and smooth_ok and change_ok
    print(
        f"target: initial JS <= {TARGET_JS_KB:.0f} KB gz, first list <= 1 s, {args.tasks} tasks "
        f"smooth, API change to row p99 <= 1 s: {met(ok)}"
    )


if __name__ == "__main__":
    main()
