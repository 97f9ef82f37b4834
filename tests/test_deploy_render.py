"""The overlays render with the real kustomize, of the pinned version, as `kubectl apply -k`
would render them."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from deploy import DAPR, KNATIVE
from deploy.manifests import image_name, load_documents, resource_id
from deploy.render import MINIMUM_KUSTOMIZE, RenderError, kustomize_version, render
from tests.deploy_support import OVERLAYS_ALL, rendered

KUSTOMIZATIONS = sorted(KNATIVE.rglob("kustomization.yaml")) + sorted(
    DAPR.rglob("kustomization.yaml")
)


def test_kustomize_is_the_pinned_one_and_new_enough() -> None:
    assert kustomize_version()[:2] >= MINIMUM_KUSTOMIZE


@pytest.mark.parametrize("overlay", OVERLAYS_ALL)
def test_each_overlay_renders_with_unique_resources(overlay: str) -> None:
    resources = rendered(overlay)
    ids = [resource_id(r) for r in resources]
    assert len(ids) == len(set(ids))
    assert any(r["kind"] == "Service" and r["metadata"]["name"] == "realtime" for r in resources)


@pytest.mark.parametrize("overlay", OVERLAYS_ALL)
def test_no_placeholder_image_ships(overlay: str) -> None:
    images = [
        c["image"]
        for r in rendered(overlay)
        for c in (r.get("spec", {}).get("template", {}).get("spec", {}).get("containers", []))
    ]
    assert images
    assert all(image_name(i) != "todo-functions" for i in images), images


def _patch_files(kustomization: Path) -> list[Path]:
    (document,) = load_documents(kustomization)
    return [kustomization.parent / p["path"] for p in document.get("patches", []) if "path" in p]


@pytest.mark.parametrize("kustomization", KUSTOMIZATIONS, ids=lambda p: str(p.parent.name))
def test_a_patch_file_deletes_at_most_one_resource(kustomization: Path) -> None:
    # kustomize before 5.7 panics on a file with several `$patch: delete` documents
    # (kustomize #5552), and a cluster's kubectl may carry an older one than ours.
    for path in _patch_files(kustomization):
        deletes = [d for d in load_documents(path) if d.get("$patch") == "delete"]
        assert len(deletes) <= 1, f"{path}: {len(deletes)} `$patch: delete` documents"


def test_the_overlays_use_the_subscriptions_file_as_it_is() -> None:
    kustomization = load_documents(DAPR / "kustomization.yaml")[0]
    assert "subscriptions.yaml" in kustomization["resources"]
    declared = {s["metadata"]["name"]: s for s in load_documents(DAPR / "subscriptions.yaml")}
    in_cluster = {
        r["metadata"]["name"]: r for r in rendered("oracle") if r["kind"] == "Subscription"
    }
    assert set(in_cluster) == set(declared)
    for name, subscription in declared.items():
        spec = dict(in_cluster[name]["spec"])
        # The one change: realtime reads through its own per-pod consumer group component.
        if name.startswith("realtime-"):
            assert spec.pop("pubsubname") == "realtime-pubsub"
            spec["pubsubname"] = subscription["spec"]["pubsubname"]
        assert spec == subscription["spec"]
        assert in_cluster[name]["scopes"] == subscription["scopes"]


def test_a_kustomization_kustomize_refuses_is_an_error(tmp_path: Path) -> None:
    config_map = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config_map))
    (tmp_path / "kustomization.yaml").write_text(
        yaml.safe_dump({"resources": ["c.yaml", "c.yaml"]})
    )
    with pytest.raises(RenderError, match="kustomize"):
        render(tmp_path)


def test_image_name_drops_the_tag_or_digest() -> None:
    assert image_name("registry:5000/a/b:tag") == "registry:5000/a/b"
    assert image_name("a/b@sha256:00") == "a/b"
