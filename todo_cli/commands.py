"""What `todo` accepts: the user's commands and the operator's, each naming the function that
runs it as "module:function". Nothing here imports a command's module, so parsing (and
`--help`) stays as fast as Python starts; todo_cli/main.py imports the one that runs."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass

USER = "your tasks (on the server of --server or TODO_SERVER, default http://127.0.0.1:8080)"
OPERATOR = "operating the server (beside it: DATABASE_URL, or the embedded Postgres)"
STATUSES = ["open", "pending", "in_progress", "completed", "all"]
PRIORITIES = ["low", "medium", "high", "urgent"]
SORTS = [
    "due_at",
    "-due_at",
    "priority",
    "-priority",
    "created_at",
    "-created_at",
    "title",
    "-title",
]
EXIT_CODES = (
    "exit codes: 0 done, 2 usage (or an ambiguous id), 3 log in first, 4 not found, "
    "5 changed meanwhile, 6 the server failed or is unreachable (docs/cli.md)"
)

Arguments = Callable[[argparse.ArgumentParser], None]


@dataclass(frozen=True)
class Command:
    name: str
    group: str
    help: str
    run: str | None = None  # "module:function", or None when a subcommand chooses
    arguments: Arguments | None = None


def _nothing(parser: argparse.ArgumentParser) -> None:
    """No arguments beyond the common ones."""


def _json(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON, for scripts")


def _task_id(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("id", help="the task's id, or a unique prefix of it (4+ characters)")


def _sign_in(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--email", help="asked for when not given")
    parser.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from standard input (scripts); otherwise it is asked for",
    )


def _register(parser: argparse.ArgumentParser) -> None:
    _sign_in(parser)
    parser.add_argument(
        "--timezone", default="UTC", help="IANA zone dates are read and shown in (default UTC)"
    )


def _add(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "text", nargs="+", help="quick add: 'Pay rent every month on the 1st 9am #home !high'"
    )
    _json(parser)


def _ls(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tag", action="append", help="only tasks with this tag (repeatable)")
    parser.add_argument("--status", choices=STATUSES, default="open", help="default: open")
    parser.add_argument("--priority", action="append", choices=PRIORITIES)
    parser.add_argument("--due", choices=["today", "overdue", "week"])
    parser.add_argument("--sort", choices=SORTS, default="due_at", help="default: due_at")
    _json(parser)


def _show(parser: argparse.ArgumentParser) -> None:
    _task_id(parser)
    _json(parser)


def _edit(parser: argparse.ArgumentParser) -> None:
    _task_id(parser)
    parser.add_argument("--title")
    parser.add_argument("--description", help="'' clears it")
    parser.add_argument("--due", help="'tomorrow 9am', an RFC 3339 time, or 'none'")
    parser.add_argument("--priority", choices=PRIORITIES)
    parser.add_argument("--tag", action="append", help="the tags (repeatable; replaces them)")
    parser.add_argument(
        "--version",
        type=int,
        help="the version you read (show): refuse the change if the task moved on since",
    )


def _search(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("text", nargs="+", help='words, "a phrase", -excluded, or')
    _json(parser)


def _remind(parser: argparse.ArgumentParser) -> None:
    _task_id(parser)
    when = parser.add_mutually_exclusive_group(required=True)
    when.add_argument("--before", help="before the due time: 30m, 2h, 1d")
    when.add_argument("--at", help="'tomorrow 8am', 'fri 17:00', or an RFC 3339 time")


def _snooze(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("id", help="the reminder's id, or a unique prefix")
    parser.add_argument("--minutes", type=int, required=True)


def _notifications(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--unread", action="store_true", help="only the unread ones")
    _json(parser)
    read = parser.add_subparsers(dest="notifications_command", metavar="read").add_parser(
        "read", help="mark one notification read, or all", parents=[_server_option()]
    )
    which = read.add_mutually_exclusive_group(required=True)
    which.add_argument("id", nargs="?", help="the notification's id, or a unique prefix")
    which.add_argument("--all", action="store_true", help="every unread notification")
    read.set_defaults(run="todo_cli.reminders:cmd_read")


def _export(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-o", "--output", help="write to this file (default: standard output)")


def _import(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="what `todo export` wrote ('-' for standard input)")


def _completion(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("shell", choices=["bash", "zsh"])


def _dev(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument(
        "--tick-interval",
        type=float,
        default=60.0,
        help="seconds between reminder ticks (the cluster's cron binding fires every 60)",
    )


def _dlq(parser: argparse.ArgumentParser) -> None:
    dlq = parser.add_subparsers(dest="dlq_command", required=True)
    dlq_list = dlq.add_parser("list", help="the newest dead letters")
    dlq_list.add_argument("--limit", type=int, default=50)
    dlq_list.set_defaults(run="todo_cli.operator_commands:cmd_dlq_list")
    dlq_show = dlq.add_parser("show", help="one dead letter, with its event")
    dlq_show.add_argument("id")
    dlq_show.set_defaults(run="todo_cli.operator_commands:cmd_dlq_show")
    dlq_replay = dlq.add_parser("replay", help="send dead letters' events again (via the relay)")
    dlq_replay.add_argument("id", nargs="?")
    dlq_replay.add_argument("--all", action="store_true", help="every dead letter not yet replayed")
    dlq_replay.set_defaults(run="todo_cli.operator_commands:cmd_dlq_replay")


def _outbox(parser: argparse.ArgumentParser) -> None:
    outbox = parser.add_subparsers(dest="outbox_command", required=True)
    outbox.add_parser("status", help="how many events wait, and since when").set_defaults(
        run="todo_cli.operator_commands:cmd_outbox_status"
    )


def _openapi(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--check", action="store_true", help="fail if the file is out of date")


def _user(name: str, help: str, run: str, arguments: Arguments = _nothing) -> Command:
    return Command(name, USER, help, f"todo_cli.{run}", arguments)


def _operator(name: str, help: str, run: str | None, arguments: Arguments = _nothing) -> Command:
    return Command(name, OPERATOR, help, run and f"todo_cli.operator_commands:{run}", arguments)


COMMANDS = [
    _user("register", "create an account and log in to it", "account:cmd_register", _register),
    _user("login", "log in (the session is kept in ~/.config/todo)", "account:cmd_login", _sign_in),
    _user("logout", "end the session and forget its tokens", "account:cmd_logout"),
    _user("whoami", "the account logged in", "account:cmd_whoami"),
    _user("add", "add a task from one line, and show what was understood", "tasks:cmd_add", _add),
    _user("ls", "list tasks (open ones by default)", "tasks:cmd_ls", _ls),
    _user("show", "one task in full, with its reminders", "tasks:cmd_show", _show),
    _user("edit", "change a task (refused if it changed meanwhile)", "tasks:cmd_edit", _edit),
    _user("done", "complete a task", "tasks:cmd_done", _task_id),
    _user("reopen", "open a completed task again", "tasks:cmd_reopen", _task_id),
    _user("rm", "delete a task", "tasks:cmd_rm", _task_id),
    _user("search", "full-text search, best match first", "tasks:cmd_search", _search),
    _user("remind", "add a reminder to a task", "reminders:cmd_remind", _remind),
    _user("snooze", "move a reminder on", "reminders:cmd_snooze", _snooze),
    _user(
        "notifications",
        "list notifications; `notifications read ID|--all`",
        "reminders:cmd_notifications",
        _notifications,
    ),
    _user("watch", "the open tasks, live, as any client changes them", "watch:cmd_watch"),
    _user("export", "every task of the account as JSON", "transfer:cmd_export", _export),
    _user(
        "import", "create the tasks of an export (safe to repeat)", "transfer:cmd_import", _import
    ),
    _user(
        "completion", "print a shell completion script", "completion:cmd_completion", _completion
    ),
    _operator("dev", "run every function, the bus and Postgres locally", "cmd_dev", _dev),
    _operator("migrate", "apply pending sql/ migrations", "cmd_migrate"),
    _operator("dlq", "inspect and replay dead letters", None, _dlq),
    _operator("outbox", "the outbox: `outbox status`", None, _outbox),
    _operator("openapi", "write todo/openapi.json from the routes", "cmd_openapi", _openapi),
]


def _server_option() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--server", help="the API's address (default: TODO_SERVER, else local)")
    return common


class TodoParser(argparse.ArgumentParser):
    """The top level's help lists the user's commands and the operator's apart."""

    def format_help(self) -> str:
        lines = [self.format_usage().rstrip(), "", str(self.description), ""]
        width = max(len(command.name) for command in COMMANDS)
        for group in (USER, OPERATOR):
            lines.append(f"{group}:")
            lines += [f"  {c.name:<{width}}  {c.help}" for c in COMMANDS if c.group == group]
            lines.append("")
        lines += ["`todo COMMAND --help` tells more.", EXIT_CODES]
        return "\n".join(lines) + "\n"


def build() -> argparse.ArgumentParser:
    parser = TodoParser(
        prog="todo", description="Your tasks from the command line, and the server's tools."
    )
    commands = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=argparse.ArgumentParser
    )
    for command in COMMANDS:
        parents = [_server_option()] if command.group == USER else []
        sub = commands.add_parser(
            command.name, help=command.help, description=command.help, parents=parents
        )
        if command.arguments is not None:
            command.arguments(sub)
        if command.run is not None:
            sub.set_defaults(run=command.run)
    return parser
