"""A network namespace with only loopback up, so nothing the stack starts can reach or be
reached from anything but itself (no mDNS, no broker traffic leaving the machine).

`python -m stack.isolation COMMAND...` runs COMMAND in a new one (`task test:platform` runs
the platform tests so); `unshare` makes it, as root or, where user namespaces are allowed,
as a user mapped to root.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Sequence
from typing import NoReturn


def isolated() -> bool:
    """True inside a network namespace whose only interface is loopback."""
    return [name for _, name in socket.if_nameindex()] == ["lo"]


def in_new_namespace(command: Sequence[str]) -> list[str]:
    """The command line that runs `command` in a new network namespace, even from inside one."""
    as_user = [] if os.geteuid() == 0 else ["--user", "--map-root-user"]
    return ["unshare", "--net", *as_user, "--", sys.executable, "-m", "stack.isolation", *command]


def exec_isolated(command: Sequence[str]) -> NoReturn:
    """Replace this process with `command` run in a new network namespace."""
    os.execvp("unshare", in_new_namespace(command))


def main(command: Sequence[str]) -> NoReturn:
    if not isolated():
        exec_isolated(command)
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    os.execvp(command[0], list(command))


if __name__ == "__main__":
    if len(sys.argv) < 2:
        raise SystemExit("usage: python -m stack.isolation COMMAND [ARG...]")
    main(sys.argv[1:])
