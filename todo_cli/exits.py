"""The exit codes of every `todo` command (docs/cli.md lists them), and the error that
carries one: a user's command raises `Failure`, the entry point prints it and exits."""

from __future__ import annotations

OK = 0
FAILED = 1  # an operator command's check failed (`todo openapi --check`)
USAGE = 2  # a bad argument or input, an ambiguous id prefix (argparse's own code too)
AUTH = 3  # not logged in, the session ended, a wrong password, throttled sign-in
NOT_FOUND = 4  # no such task, reminder or notification
CONFLICT = 5  # someone changed the task meanwhile (stale version), an email taken
SERVER = 6  # the server failed or could not be reached


class Failure(Exception):
    """What went wrong, in one line for the person, and the exit code that says it."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
