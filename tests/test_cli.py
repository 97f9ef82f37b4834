"""The user's `todo` commands as a person and a script meet them: a real `todo dev` process,
the command run as a process (at a pseudo-terminal where a terminal matters), and what it
prints, the files it writes and the exit code it ends with."""

from __future__ import annotations

import contextlib
import json
import os
import pty
import select
import signal
import stat
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from todo_client import Client, Credentials

from tests.conftest import JWT_SECRET, PASSWORD, scratch_database
from tests.dev_process import DevProcess, free_port

ROOT = Path(__file__).resolve().parent.parent
SERVER_MODULES = ["asyncpg", "functions_framework", "pydantic", "starlette", "todo", "uvicorn"]


@pytest.fixture(scope="module")
async def dev(server_url: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """`todo dev` on a free port over a database of its own, ticking every 0.3 s; its URL."""
    async with scratch_database(server_url, "todo_cli") as database_url:
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "JWT_SECRET")}
        env |= {"DATABASE_URL": database_url, "JWT_SECRET": JWT_SECRET}
        env["DATA_DIR"] = str(tmp_path_factory.mktemp("cli-dev"))
        # Nobody reads its output until it stops: a log line per tick would fill the pipe.
        env["LOG_LEVEL"] = "WARNING"
        process = DevProcess(env, ROOT, None, "--tick-interval", "0.3")
        try:
            process.wait_ready()
            yield process.url
        finally:
            process.interrupt()


def user_env(dev: str, home: Path) -> dict[str, str]:
    """A person's environment: their own config directory, the server in TODO_SERVER."""
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "TODO_SERVER")}
    return env | {"XDG_CONFIG_HOME": str(home / "config"), "TODO_SERVER": dev}


def todo(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "todo_cli", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def ok(env: dict[str, str], *args: str, stdin: str = "") -> str:
    done = todo(env, *args, stdin=stdin)
    assert done.returncode == 0, done.stderr
    return done.stdout


def new_email() -> str:
    return f"cli-{uuid.uuid4().hex[:12]}@example.com"


@pytest.fixture
def me(dev: str, tmp_path: Path) -> dict[str, str]:
    """Logged in to a new account (in Berlin) through `todo register`; the environment."""
    env = user_env(dev, tmp_path)
    ok(
        env,
        *("register", "--email", new_email(), "--password-stdin", "--timezone", "Europe/Berlin"),
        stdin=PASSWORD + "\n",
    )
    return env


def sdk_client(env: dict[str, str]) -> Client:
    """Another client of the same account, on the session the command line saved."""
    saved = json.loads((Path(env["XDG_CONFIG_HOME"]) / "todo" / "credentials.json").read_text())
    return Client(env["TODO_SERVER"], credentials=Credentials.from_dict(saved["credentials"]))


def listed(env: dict[str, str], *filters: str) -> list[dict[str, Any]]:
    tasks: list[dict[str, Any]] = json.loads(ok(env, "ls", "--json", *filters))
    return tasks


class Terminal:
    """The command at a pseudo-terminal of its own, as a person runs it."""

    def __init__(self, env: dict[str, str], *args: str) -> None:
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: the terminal is its controlling one
            os.execve(sys.executable, [sys.executable, "-m", "todo_cli", *args], env)
        self.output = ""

    def read_until(self, text: str, timeout: float = 10) -> float:
        """Seconds until `text` appeared in what the command printed."""
        started = time.monotonic()
        while text not in self.output:
            left = started + timeout - time.monotonic()
            assert left > 0, f"{text!r} not shown within {timeout} s:\n{self.output}"
            if select.select([self.fd], [], [], left)[0]:
                try:
                    self.output += os.read(self.fd, 65536).decode(errors="replace")
                except OSError:  # the command ended
                    assert text in self.output, f"{text!r} never shown:\n{self.output}"
        return time.monotonic() - started

    def type(self, text: str) -> None:
        os.write(self.fd, text.encode())

    def exit_code(self, timeout: float = 10) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                with_rest = select.select([self.fd], [], [], 0)[0]
                if with_rest:
                    with contextlib.suppress(OSError):
                        self.output += os.read(self.fd, 65536).decode(errors="replace")
                os.close(self.fd)
                return os.waitstatus_to_exitcode(status)
            time.sleep(0.02)
        os.kill(self.pid, signal.SIGKILL)
        raise AssertionError(f"still running after {timeout} s:\n{self.output}")


# Start-up --------------------------------------------------------------------------------


def test_the_users_commands_import_no_server_module(me: dict[str, str]) -> None:
    code = (
        "import sys\n"
        "from todo_cli.main import main\n"
        "try:\n"
        "    main(sys.argv[1:])\n"
        "except SystemExit:\n"
        "    pass\n"
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & {set(SERVER_MODULES)!r}))\n"
    )
    for args in (["--help"], ["ls", "--help"], ["ls"], ["whoami"]):
        done = subprocess.run(
            [sys.executable, "-c", code, *args], env=me, capture_output=True, text=True, cwd="/"
        )
        assert done.stdout.strip().splitlines()[-1] == "[]", (args, done.stdout, done.stderr)


def test_help_lists_the_users_commands_apart_from_the_operators() -> None:
    shown = ok(dict(os.environ), "--help")
    users, operators = shown.split("operating the server")
    for command in ("login", "add", "ls", "watch", "export", "import", "completion"):
        assert f"\n  {command} " in users
    for command in ("dev", "migrate", "dlq", "outbox", "openapi"):
        assert f"\n  {command} " in operators
    assert "exit codes: 0 done, 2 usage" in shown
    assert todo(dict(os.environ), "frobnicate").returncode == 2


def test_bash_completes_commands_options_and_choices(tmp_path: Path) -> None:
    script = tmp_path / "todo.bash"
    script.write_text(ok(dict(os.environ), "completion", "bash"))

    def complete(*words: str) -> str:
        line = " ".join(f"'{w}'" for w in words)
        probe = f"source {script}; COMP_WORDS=({line}); COMP_CWORD={len(words) - 1}; _todo; "
        probe += 'echo "${COMPREPLY[*]}"'
        return subprocess.run(
            ["bash", "-c", probe], capture_output=True, text=True, check=True
        ).stdout.strip()

    assert complete("todo", "l") == "login logout ls"
    assert complete("todo", "ls", "--st") == "--status"
    assert complete("todo", "ls", "--due", "") == "today overdue week"
    assert complete("todo", "notifications", "read", "--a") == "--all"
    assert complete("todo", "dlq", "re") == "replay"
    assert ok(dict(os.environ), "completion", "zsh").startswith("autoload -U +X bashcompinit")


# Signing in ------------------------------------------------------------------------------


def test_login_at_a_terminal_asks_without_echo_and_keeps_the_session_0600(
    dev: str, tmp_path: Path
) -> None:
    email = new_email()
    with Client(dev) as client:
        client.register(email, PASSWORD)
    env = user_env(dev, tmp_path)

    terminal = Terminal(env, "login")
    terminal.read_until("email: ")
    terminal.type(email + "\n")
    terminal.read_until("password: ")
    terminal.type(PASSWORD + "\n")
    terminal.read_until(f"logged in to {dev} as {email}")
    assert terminal.exit_code() == 0
    assert PASSWORD not in terminal.output

    saved = tmp_path / "config" / "todo" / "credentials.json"
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    assert stat.S_IMODE(saved.parent.stat().st_mode) == 0o700
    assert ok(env, "whoami").startswith(f"{email} on {dev}")

    assert ok(env, "logout") == f"logged out of {dev}\n"
    assert not saved.exists()
    gone = todo(env, "ls")
    assert (gone.returncode, gone.stderr) == (3, "todo: not logged in: run `todo login`\n")


def test_a_refreshed_session_is_saved_for_the_next_command(me: dict[str, str]) -> None:
    saved = Path(me["XDG_CONFIG_HOME"]) / "todo" / "credentials.json"
    session = json.loads(saved.read_text())
    session["credentials"]["expires_at"] = 0  # the access token counts as expired
    saved.write_text(json.dumps(session))
    assert "on http" in ok(me, "whoami")
    renewed = json.loads(saved.read_text())["credentials"]
    assert renewed["refresh_token"] != session["credentials"]["refresh_token"]
    assert renewed["expires_at"] > time.time()
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    assert "on http" in ok(me, "whoami")  # with the new pair: the spent one is not reused


def test_login_takes_the_password_from_stdin_and_says_when_it_is_wrong(
    dev: str, tmp_path: Path
) -> None:
    email = new_email()
    with Client(dev) as client:
        client.register(email, PASSWORD)
    env = user_env(dev, tmp_path)
    wrong = todo(env, "login", "--email", email, "--password-stdin", stdin="not it at all\n")
    assert wrong.returncode == 3
    assert wrong.stderr.startswith("todo: ")
    right = ok(env, "login", "--email", email, "--password-stdin", stdin=PASSWORD + "\n")
    assert right == f"logged in to {dev} as {email}\n"


def test_an_unreachable_server_is_exit_code_6(tmp_path: Path) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    env = user_env(nowhere, tmp_path)
    done = todo(env, "login", "--email", new_email(), "--password-stdin", stdin=PASSWORD + "\n")
    assert done.returncode == 6
    assert f"cannot reach {nowhere}" in done.stderr


# Tasks -----------------------------------------------------------------------------------


def test_add_prints_what_it_understood_in_the_users_zone(me: dict[str, str]) -> None:
    shown = ok(me, "add", "Pay rent every month on the 1st at 9am #home !high remind 30m before")
    lines = dict(line.split(":", 1) for line in shown.splitlines())
    assert len(lines["added"].strip()) == 8
    assert lines["title"].strip() == "Pay rent"
    assert lines["due"].strip().endswith("09:00 CET")
    assert lines["tags"].strip() == "#home"
    assert lines["priority"].strip() == "high"
    assert lines["repeats"].strip() == "FREQ=MONTHLY;BYMONTHDAY=1"
    assert lines["reminders"].strip() == "30m before"
    (task,) = listed(me)
    assert task["id"].startswith(lines["added"].strip())


def test_ls_shows_short_ids_and_relative_dates_and_filters(me: dict[str, str]) -> None:
    ok(me, "add", "Call mum in 2 hours #family !urgent")
    ok(me, "add", "Old bill yesterday 10am #home")
    ok(me, "add", "Plan the trip in 3 days #family")
    titles = ["Call mum", "Old bill", "Plan the trip"]
    table = ok(me, "ls")
    rows = table.splitlines()
    assert rows[0].split() == ["ID", "PRIORITY", "DUE", "TITLE", "TAGS"]
    assert "\x1b[" not in table  # not a terminal: no colour
    by_title = {title: next(r for r in rows if title in r) for title in titles}
    assert "in 2 h" in by_title["Call mum"]
    assert "yesterday" in by_title["Old bill"]
    assert "in 3 days" in by_title["Plan the trip"]
    for row in rows[1:]:
        assert len(row.split()[0]) == 8

    tasks = listed(me)
    assert [t["title"] for t in tasks] == ["Old bill", "Call mum", "Plan the trip"]
    assert all(len(t["id"]) == 36 for t in tasks)
    assert [t["title"] for t in listed(me, "--tag", "family", "--sort=-due_at")] == [
        "Plan the trip",
        "Call mum",
    ]
    assert [t["title"] for t in listed(me, "--priority", "urgent")] == ["Call mum"]
    assert [t["title"] for t in listed(me, "--due", "overdue")] == ["Old bill"]
    assert [t["title"] for t in listed(me, "--due", "today")] == ["Call mum"]
    assert [t["title"] for t in listed(me, "--due", "week")] == ["Call mum", "Plan the trip"]
    ok(me, "done", tasks[0]["id"][:6])
    assert [t["title"] for t in listed(me, "--status", "completed")] == ["Old bill"]
    assert len(listed(me, "--status", "all")) == 3
    assert ok(me, "search", "trip").splitlines()[1].endswith("Plan the trip  #family")
    assert json.loads(ok(me, "search", "nothing-like-it", "--json")) == []


def test_colour_only_at_a_terminal_and_never_with_no_color(me: dict[str, str]) -> None:
    ok(me, "add", "Colourful !urgent tomorrow")
    terminal = Terminal(me, "ls")
    terminal.read_until("Colourful")
    assert terminal.exit_code() == 0
    assert "\x1b[1;31murgent" in terminal.output
    plain = Terminal(me | {"NO_COLOR": "1"}, "ls")
    plain.read_until("Colourful")
    assert plain.exit_code() == 0
    assert "\x1b[" not in plain.output


def test_show_done_reopen_and_rm_by_prefix(me: dict[str, str]) -> None:
    ok(me, "add", "Water the plants tomorrow 8am #home")
    (task,) = listed(me)
    prefix = task["id"][:5]
    shown = ok(me, "show", prefix)
    assert f"id:          {task['id']}" in shown
    assert "due:         " in shown
    assert json.loads(ok(me, "show", prefix, "--json"))["task"]["id"] == task["id"]

    assert ok(me, "done", prefix) == f"completed {task['id'][:8]} Water the plants\n"
    assert listed(me) == []
    assert ok(me, "reopen", task["id"]) == f"reopened {task['id'][:8]} Water the plants\n"
    assert ok(me, "rm", prefix) == f"deleted {task['id'][:8]} Water the plants\n"

    gone = todo(me, "show", prefix)
    assert gone.returncode == 4
    assert gone.stderr == f"todo: no task with an id starting '{prefix}'\n"
    assert todo(me, "show", task["id"]).returncode == 4
    short = todo(me, "done", "abc")
    assert (short.returncode, short.stderr) == (
        2,
        "todo: give at least 4 characters of the task id\n",
    )


def test_an_ambiguous_prefix_lists_the_matches(me: dict[str, str]) -> None:
    seen: dict[str, str] = {}
    with sdk_client(me) as client:
        for number in range(3000):  # ~320 tasks until two share 4 hex digits, on average
            task = client.tasks.create(title=f"task {number}")
            if task.id[:4] in seen:
                break
            seen[task.id[:4]] = task.id
    prefix = task.id[:4]
    done = todo(me, "show", prefix)
    assert done.returncode == 2
    assert f"'{prefix}' matches 2 tasks; give more of the id:" in done.stderr
    assert task.id in done.stderr
    assert seen[prefix] in done.stderr


def test_edit_sends_the_version_read_and_a_stale_one_is_exit_code_5(me: dict[str, str]) -> None:
    ok(me, "add", "Pay rent friday 9am #home")
    (task,) = listed(me)
    changes = ["--title", "Pay the rent", "--priority", "high", "--tag", "home", "--tag", "money"]
    edited = ok(me, "edit", task["id"][:6], *changes, "--due", "2030-01-02T10:00:00+01:00")
    assert edited == f"updated {task['id'][:8]} Pay the rent (version 2)\n"
    (now,) = listed(me)
    assert (now["title"], now["priority"], now["tags"]) == (
        "Pay the rent",
        "high",
        ["home", "money"],
    )
    assert now["due_at"] == "2030-01-02T09:00:00+00:00"

    stale = todo(me, "edit", task["id"][:6], "--version", "1", "--title", "Mine")
    assert stale.returncode == 5
    assert "changed since you read it (it is at version 2)" in stale.stderr
    assert listed(me)[0]["title"] == "Pay the rent"

    nothing = todo(me, "edit", task["id"][:6])
    assert nothing.returncode == 2
    assert ok(me, "edit", task["id"][:6], "--due", "none").startswith("updated")
    assert listed(me)[0]["due_at"] is None


def test_reminders_come_due_as_notifications_snoozed_and_read(me: dict[str, str]) -> None:
    ok(me, "add", "Stretch in 3 hours")
    (task,) = listed(me)
    before = ok(me, "remind", task["id"][:6], "--before", "1h")
    assert before.startswith("reminder ")
    assert "for 'Stretch' at " in before
    soon = (datetime.now(UTC) + timedelta(seconds=2)).isoformat(timespec="seconds")
    ok(me, "remind", task["id"][:6], "--at", soon)
    assert todo(me, "remind", task["id"][:6], "--before", "soon").returncode == 2

    reminder_id = before.split()[1]
    snoozed = ok(me, "snooze", reminder_id, "--minutes", "30")
    assert snoozed.startswith(f"reminder {reminder_id} now at ")
    shown = ok(me, "show", task["id"][:6])
    assert shown.count("reminder:") == 2

    deadline = time.monotonic() + 20
    while not (notes := json.loads(ok(me, "notifications", "--json"))):
        assert time.monotonic() < deadline, "the reminder never came due"
        time.sleep(0.3)
    (note,) = notes
    assert note["read_at"] is None
    assert f"* {note['id'][:8]}" in ok(me, "notifications")
    assert ok(me, "notifications", "read", note["id"][:6]).startswith(f"read {note['id'][:8]}")
    assert json.loads(ok(me, "notifications", "--unread", "--json")) == []
    assert ok(me, "notifications", "read", "--all") == "marked 0 notification(s) read\n"
    assert todo(me, "notifications", "read").returncode == 2


# Live, and moving tasks ------------------------------------------------------------------


def test_watch_redraws_within_a_second_of_another_clients_change(me: dict[str, str]) -> None:
    ok(me, "add", "Already there")
    terminal = Terminal(me, "watch")
    try:
        terminal.read_until("live")
        terminal.read_until("Already there")
        with sdk_client(me) as client:
            client.tasks.create(title="Made elsewhere")
            assert terminal.read_until("Made elsewhere", timeout=1.0) < 1.0
    finally:
        terminal.type("\x03")  # Ctrl-C at the terminal
    assert terminal.exit_code() == 0
    assert "Traceback" not in terminal.output


def test_export_then_import_twice_creates_each_task_once(
    me: dict[str, str], tmp_path: Path
) -> None:
    ok(me, "add", "Pay rent every month on the 1st at 9am #home !high")
    ok(me, "add", "Read a book #leisure")
    ok(me, "add", "Done already")
    ok(me, "done", listed(me, "--sort", "title")[0]["id"])
    exported = tmp_path / "tasks.json"
    assert ok(me, "export", "-o", str(exported)) == ""
    document = json.loads(exported.read_text())
    assert len(document["tasks"]) == 3
    assert json.loads(ok(me, "export"))["tasks"] == document["tasks"]

    other = user_env(me["TODO_SERVER"], tmp_path / "other")
    ok(other, "register", "--email", new_email(), "--password-stdin", stdin=PASSWORD + "\n")
    for _ in range(2):
        assert ok(other, "import", str(exported)) == f"imported 3 task(s) from {exported}\n"

    def essence(tasks: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
        keys = ("title", "status", "priority", "tags", "due_at", "recurrence")
        return sorted(tuple(str(task[key]) for key in keys) for task in tasks)

    assert essence(listed(other, "--status", "all")) == essence(document["tasks"])
    assert todo(other, "import", str(tmp_path / "missing.json")).returncode == 2
