"""Redis from Debian's `redis-server`, the broker of the local pub/sub component (Streams),
started with the arguments of the local overlay's Redis Deployment."""

from __future__ import annotations

import shutil
import socket
from collections.abc import Sequence
from pathlib import Path

from stack.processes import Process

START_SECONDS = 15.0


class RedisBroker:
    """A Redis on 127.0.0.1:`port`, its files in `work_dir` (the pod's /data)."""

    def __init__(self, work_dir: Path, port: int, args: Sequence[str]) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is missing: apt-get install redis-server")
        self.port = port
        self.address = f"127.0.0.1:{port}"
        self.process = Process(
            "redis",
            [
                binary,
                "--bind",
                "127.0.0.1",
                "--port",
                str(port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(work_dir),
            ],
            work_dir / "redis.log",
        )

    def start(self) -> None:
        self.process.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.process.start()
        self.process.wait_until(self._pong, START_SECONDS, "answer to PING")

    def stop(self) -> None:
        self.process.stop()

    def _pong(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1.0) as conn:
                conn.sendall(b"PING\r\n")
                return conn.recv(16).startswith(b"+PONG")
        except OSError:
            return False
