"""Deployment tooling: render the kustomizations, validate them, check them against the code,
and add up what they ask of the node. Runs offline, in the test suite and as `task validate`
and `task budget`; nothing here talks to a cluster.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KNATIVE = ROOT / "knative"
OVERLAYS = KNATIVE / "overlays"
DAPR = ROOT / "dapr"


def overlay_names() -> list[str]:
    return sorted(p.name for p in OVERLAYS.iterdir() if (p / "kustomization.yaml").is_file())
