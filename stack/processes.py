"""Child processes of the stack: started with a log file each, awaited until they answer, and
stopped (or killed, for the fault tests) within a bounded time."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

STOP_SECONDS = 20.0


class StartFailed(RuntimeError):
    """A process of the stack exited or did not become ready in time."""


@dataclass
class Process:
    """One program of the stack; `start` may be called again after `stop` or `kill`."""

    name: str
    argv: Sequence[str]
    log_path: Path
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    popen: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.popen = subprocess.Popen(
                list(self.argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=dict(self.env),
                cwd=self.cwd,
                start_new_session=True,
            )

    @property
    def pid(self) -> int:
        if self.popen is None:
            raise RuntimeError(f"{self.name} was never started")
        return self.popen.pid

    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def stop(self, timeout: float = STOP_SECONDS) -> None:
        """SIGTERM, as Kubernetes stops a container; SIGKILL if it is still there after
        `timeout` seconds."""
        if not self.running():
            return
        assert self.popen is not None
        self.popen.send_signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """SIGKILL to the whole process group: a crash, with no chance to clean up."""
        if self.popen is None or self.popen.poll() is not None:
            return
        os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(STOP_SECONDS)

    def log_tail(self, lines: int = 30) -> str:
        if not self.log_path.exists():
            return "(no output)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def resident_bytes(self) -> int:
        """VmRSS of the process (not its children), from /proc."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise RuntimeError(f"{self.name} has no VmRSS (not running?)")

    def wait_until(self, ready: Callable[[], bool], timeout: float, what: str) -> None:
        """Poll `ready` until it holds; fail with the log's tail if the process exits or
        `timeout` passes first."""
        deadline = time.monotonic() + timeout
        while not ready():
            if not self.running():
                raise StartFailed(f"{self.name} exited before {what}:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise StartFailed(
                    f"{self.name}: no {what} after {timeout:.0f} s:\n{self.log_tail()}"
                )
            time.sleep(0.1)


def answers(url: str, statuses: tuple[int, ...] = (200, 204)) -> Callable[[], bool]:
    """A readiness check: GET `url` answers one of `statuses`."""

    def check() -> bool:
        try:
            return httpx.get(url, timeout=2.0).status_code in statuses
        except httpx.HTTPError:
            return False

    return check
