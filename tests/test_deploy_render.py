"""The kustomize renderer: the overlays render, and what it does not support it refuses."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from deploy import DAPR
from deploy.kustomize import KustomizeError, image_name, load_documents, render, resource_id
from tests.deploy_support import OVERLAYS_ALL, rendered


def write(folder: Path, files: dict[str, object]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        text = (
            content
            if isinstance(content, str)
            else yaml.safe_dump_all(content if isinstance(content, list) else [content])
        )
        path.write_text(text)
    return folder


CONFIG_MAP = {
    "apiVersion": "v1",
    "kind": "ConfigMap",
    "metadata": {"name": "c"},
    "data": {"a": "1"},
}


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


def test_a_file_outside_the_kustomization_folder_is_refused(tmp_path: Path) -> None:
    write(tmp_path, {"outside.yaml": CONFIG_MAP})
    inner = write(tmp_path / "k", {"kustomization.yaml": {"resources": ["../outside.yaml"]}})
    with pytest.raises(KustomizeError, match="outside"):
        render(inner)


def test_a_kustomization_folder_elsewhere_is_a_base(tmp_path: Path) -> None:
    write(
        tmp_path / "base", {"kustomization.yaml": {"resources": ["c.yaml"]}, "c.yaml": CONFIG_MAP}
    )
    overlay = write(
        tmp_path / "overlay", {"kustomization.yaml": {"resources": ["../base"], "namespace": "x"}}
    )
    assert render(overlay)[0]["metadata"] == {"name": "c", "namespace": "x"}


def test_json6902_patches_apply_and_a_patch_matching_nothing_fails(tmp_path: Path) -> None:
    patch = (
        "- op: replace\n  path: /data/a\n  value: '2'\n- op: add\n  path: /data/b\n  value: '3'\n"
    )
    folder = write(
        tmp_path,
        {
            "c.yaml": CONFIG_MAP,
            "kustomization.yaml": {
                "resources": ["c.yaml"],
                "patches": [{"target": {"kind": "ConfigMap", "name": "c"}, "patch": patch}],
            },
        },
    )
    assert render(folder)[0]["data"] == {"a": "2", "b": "3"}
    write(
        folder,
        {
            "kustomization.yaml": {
                "resources": ["c.yaml"],
                "patches": [{"target": {"kind": "ConfigMap", "name": "nope"}, "patch": patch}],
            }
        },
    )
    with pytest.raises(KustomizeError, match="matches nothing"):
        render(folder)


def test_a_delete_patch_removes_the_resource(tmp_path: Path) -> None:
    other = {**CONFIG_MAP, "metadata": {"name": "d"}}
    folder = write(
        tmp_path,
        {
            "c.yaml": [CONFIG_MAP, other],
            "delete.yaml": {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "c"},
                "$patch": "delete",
            },
            "kustomization.yaml": {"resources": ["c.yaml"], "patches": [{"path": "delete.yaml"}]},
        },
    )
    assert [r["metadata"]["name"] for r in render(folder)] == ["d"]


def test_a_strategic_merge_patch_that_sets_a_list_is_refused(tmp_path: Path) -> None:
    job = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "a", "image": "x"}]},
    }
    patch = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "a", "image": "y"}]},
    }
    folder = write(
        tmp_path,
        {
            "p.yaml": job,
            "patch.yaml": patch,
            "kustomization.yaml": {"resources": ["p.yaml"], "patches": [{"path": "patch.yaml"}]},
        },
    )
    with pytest.raises(KustomizeError, match="JSON6902"):
        render(folder)


def test_unsupported_fields_and_duplicate_ids_are_refused(tmp_path: Path) -> None:
    folder = write(
        tmp_path,
        {"c.yaml": CONFIG_MAP, "kustomization.yaml": {"resources": ["c.yaml"], "namePrefix": "x-"}},
    )
    with pytest.raises(KustomizeError, match="namePrefix"):
        render(folder)
    write(folder, {"kustomization.yaml": {"resources": ["c.yaml", "c.yaml"]}})
    with pytest.raises(KustomizeError, match="the id"):
        render(folder)


def test_namespace_leaves_cluster_scoped_kinds_alone(tmp_path: Path) -> None:
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "todo"}}
    folder = write(
        tmp_path,
        {
            "r.yaml": [namespace, CONFIG_MAP],
            "kustomization.yaml": {"resources": ["r.yaml"], "namespace": "todo"},
        },
    )
    first, second = render(folder)
    assert "namespace" not in first["metadata"]
    assert second["metadata"]["namespace"] == "todo"


def test_images_are_set_by_name(tmp_path: Path) -> None:
    pod = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d"},
        "spec": {"template": {"spec": {"containers": [{"name": "a", "image": "app:old"}]}}},
    }
    folder = write(
        tmp_path,
        {
            "d.yaml": pod,
            "kustomization.yaml": {
                "resources": ["d.yaml"],
                "images": [{"name": "app", "newName": "r/app", "newTag": "1"}],
            },
        },
    )
    container = render(folder)[0]["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "r/app:1"
    assert image_name("registry:5000/a/b:tag") == "registry:5000/a/b"
    assert image_name("a/b@sha256:00") == "a/b"
