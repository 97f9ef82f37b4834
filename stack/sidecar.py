"""daprd, the Dapr sidecar, built from Go modules (stack/daprd/go.mod) and cached by version.

`go install github.com/dapr/dapr/cmd/daprd@version` refuses because dapr's go.mod has
replace directives; our own module copies them, so `go build` of the same package works.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

from stack.cache import cache_dir

MODULE_DIR = Path(__file__).resolve().parent / "daprd"
PACKAGE = "github.com/dapr/dapr/cmd/daprd"


def dapr_version() -> str:
    """The Dapr version go.mod pins, without the leading v (e.g. 1.18.1)."""
    go_mod = (MODULE_DIR / "go.mod").read_text()
    found = re.search(r"^\s*(?:require\s+)?github\.com/dapr/dapr v(\S+)", go_mod, re.M)
    if found is None:
        raise RuntimeError(f"{MODULE_DIR / 'go.mod'} does not require github.com/dapr/dapr")
    return found.group(1)


def binary_path() -> Path:
    return cache_dir() / f"daprd-{dapr_version()}"


def ensure_daprd() -> Path:
    """The cached daprd of the pinned version, built first if it is not there yet."""
    binary = binary_path()
    if binary.exists():
        return binary
    started = time.monotonic()
    partial = binary.with_suffix(".partial")
    subprocess.run(
        [
            "go",
            "build",
            "-trimpath",
            "-tags",
            "allcomponents",
            # What `daprd --version` prints, as in Dapr's release builds.
            "-ldflags",
            f"-X github.com/dapr/dapr/pkg/buildinfo.version={dapr_version()}",
            "-o",
            str(partial),
            PACKAGE,
        ],
        cwd=MODULE_DIR,
        env={**os.environ, "CGO_ENABLED": "0"},
        check=True,
    )
    partial.rename(binary)
    print(f"daprd {dapr_version()} built in {time.monotonic() - started:.0f} s: {binary}")
    return binary


if __name__ == "__main__":
    print(ensure_daprd())
