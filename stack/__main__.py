"""`python -m stack` (`task stack`): the real platform in a network namespace of its own, with
a shell inside it; leaving the shell stops everything."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from stack.isolation import exec_isolated, isolated
from stack.platform import PlatformStack
from stack.selfhosted import Shortcuts


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m stack", description=__doc__)
    parser.add_argument("--broker", choices=["redis", "kafka"], default="redis")
    parser.add_argument(
        "--work-dir", type=Path, help="logs, data and generated files (default: a new temp folder)"
    )
    parser.add_argument("--schedule", help="the tick's cron schedule (default: as deployed)")
    args = parser.parse_args()
    if not isolated():
        exec_isolated([sys.executable, "-m", "stack", *sys.argv[1:]])
    work_dir = args.work_dir or Path(tempfile.mkdtemp(prefix="todo-stack-"))
    with PlatformStack(work_dir, args.broker, Shortcuts(schedule=args.schedule)) as stack:
        urls = {f"TODO_{i.pod_name.upper().replace('-', '_')}_URL": i.url for i in stack.instances}
        for name, url in urls.items():
            print(f"{name}={url}")
        print(f"logs: {work_dir / 'logs'}; a shell inside the stack's network; exit to stop")
        shell = os.environ.get("SHELL", "/bin/sh")
        subprocess.run([shell], env={**os.environ, **urls}, check=False)


if __name__ == "__main__":
    main()
