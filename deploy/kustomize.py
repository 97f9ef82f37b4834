"""A small kustomize: exactly the subset this repository's kustomizations use.

There is no kustomize binary where the tests run, so this renders the overlays in Python the
way `kubectl kustomize` does, for these features only, and refuses anything else rather than
guess:

- `resources`: files (which, as in kustomize, must lie in or below the kustomization's
  folder) and folders holding a kustomization (which may lie anywhere);
- `components`: folders holding a `kind: Component` kustomization, applied to what the
  resources produced;
- `patches`: JSON6902 patches (a list of operations, with a `target`) and strategic-merge
  patches on maps, including `$patch: delete`. A strategic-merge patch that sets a list is
  refused: kustomize merges some lists by key and replaces others, and this renderer does
  not reproduce that; use a JSON6902 patch for lists;
- `namespace`, `images` (name, newName, newTag, digest), and `configMapGenerator` with
  `disableNameSuffixHash: true` (name hashing would need kustomize's name references).

Stricter than kustomize where that catches mistakes: a patch that matches nothing, and two
resources with the same kind, namespace and name, are errors.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

Resource = dict[str, Any]

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
_FIELDS = {
    "Kustomization": {
        "apiVersion",
        "kind",
        "resources",
        "components",
        "namespace",
        "patches",
        "images",
        "configMapGenerator",
    },
    "Component": {"apiVersion", "kind", "resources", "patches", "images", "configMapGenerator"},
}
# Kinds the namespace transformer leaves alone, as kustomize does for built-in cluster-scoped
# kinds. (For custom resources kustomize assumes namespaced: keep cluster-scoped custom
# resources such as ClusterIssuer out of kustomizations that set a namespace.)
CLUSTER_SCOPED = {
    "Namespace",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "PersistentVolume",
    "StorageClass",
    "PriorityClass",
    "IngressClass",
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
    "APIService",
}


class KustomizeError(Exception):
    pass


def load_documents(path: Path) -> list[Resource]:
    """The YAML documents in a file, empty ones skipped."""
    try:
        documents = list(yaml.safe_load_all(path.read_text()))
    except yaml.YAMLError as exc:
        raise KustomizeError(f"{path}: not valid YAML: {exc}") from None
    found: list[Resource] = []
    for document in documents:
        if document is None:
            continue
        if not isinstance(document, dict):
            raise KustomizeError(f"{path}: a document is not a mapping")
        found.append(document)
    return found


def render(directory: Path) -> list[Resource]:
    """Build the kustomization in `directory`, like `kubectl kustomize directory`."""
    resources = _build(directory.resolve(), "Kustomization", [])
    _check_unique(resources)
    return resources


def resource_id(resource: Resource) -> tuple[str, str, str, str]:
    group = str(resource.get("apiVersion", "")).rpartition("/")[0]
    meta = resource.get("metadata") or {}
    return (group, str(resource.get("kind")), str(meta.get("namespace", "")), str(meta.get("name")))


def describe(resource: Resource) -> str:
    _, kind, namespace, name = resource_id(resource)
    return f"{kind}/{namespace + '/' if namespace else ''}{name}"


def _kustomization(directory: Path) -> tuple[Path, Resource]:
    for name in KUSTOMIZATION_FILES:
        path = directory / name
        if path.is_file():
            documents = load_documents(path)
            if len(documents) != 1:
                raise KustomizeError(f"{path}: expected one document")
            return path, documents[0]
    raise KustomizeError(f"{directory}: no kustomization.yaml")


def _build(directory: Path, expected_kind: str, accumulated: list[Resource]) -> list[Resource]:
    path, kustomization = _kustomization(directory)
    kind = kustomization.get("kind", "Kustomization")
    if kind != expected_kind:
        raise KustomizeError(f"{path}: expected kind {expected_kind}, found {kind}")
    unknown = set(kustomization) - _FIELDS[kind]
    if unknown:
        raise KustomizeError(f"{path}: fields this renderer does not support: {sorted(unknown)}")

    resources = accumulated
    for entry in kustomization.get("resources", []):
        target = (directory / entry).resolve()
        if target.is_dir():
            resources.extend(_build(target, "Kustomization", []))
        elif target.is_file():
            _check_inside(directory, target, path)
            resources.extend(copy.deepcopy(load_documents(target)))
        else:
            raise KustomizeError(f"{path}: resource {entry} does not exist")
    for entry in kustomization.get("components", []):
        target = (directory / entry).resolve()
        if not target.is_dir():
            raise KustomizeError(f"{path}: component {entry} is not a folder")
        resources = _build(target, "Component", resources)

    for generator in kustomization.get("configMapGenerator", []):
        resources.append(_generate_config_map(directory, path, generator))
    for patch in kustomization.get("patches", []):
        resources = _apply_patch(directory, path, patch, resources)
    if "namespace" in kustomization:
        for resource in resources:
            if resource.get("kind") not in CLUSTER_SCOPED:
                resource.setdefault("metadata", {})["namespace"] = kustomization["namespace"]
    for image in kustomization.get("images", []):
        _set_image(image, resources, path)
    return resources


def _check_inside(directory: Path, target: Path, path: Path) -> None:
    # kustomize's default load restrictor (LoadRestrictionsRootOnly).
    if not target.is_relative_to(directory):
        raise KustomizeError(
            f"{path}: {target} is outside the kustomization's folder; "
            "reference the folder of another kustomization instead"
        )


def _check_unique(resources: Iterable[Resource]) -> None:
    seen: set[tuple[str, str, str, str]] = set()
    for resource in resources:
        key = resource_id(resource)
        if key in seen:
            raise KustomizeError(f"two resources have the id {describe(resource)}")
        seen.add(key)


# configMapGenerator --------------------------------------------------------------------------


def _generate_config_map(directory: Path, path: Path, generator: Resource) -> Resource:
    options = generator.get("options", {})
    if not options.get("disableNameSuffixHash"):
        raise KustomizeError(
            f"{path}: configMapGenerator {generator.get('name')} needs "
            "options.disableNameSuffixHash: true (name hashing is not supported)"
        )
    data: dict[str, str] = {}
    for entry in generator.get("files", []):
        key, _, file = str(entry).rpartition("=")
        source = (directory / file).resolve()
        _check_inside(directory, source, path)
        data[key or source.name] = source.read_text()
    for literal in generator.get("literals", []):
        key, _, value = str(literal).partition("=")
        data[key] = value
    metadata: Resource = {"name": generator["name"]}
    if "namespace" in generator:
        metadata["namespace"] = generator["namespace"]
    if options.get("labels"):
        metadata["labels"] = dict(options["labels"])
    if options.get("annotations"):
        metadata["annotations"] = dict(options["annotations"])
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": data}


# patches ------------------------------------------------------------------------------------


def _apply_patch(
    directory: Path, path: Path, entry: Resource, resources: list[Resource]
) -> list[Resource]:
    if "path" in entry:
        source = (directory / entry["path"]).resolve()
        _check_inside(directory, source, path)
        documents: list[Any] = list(yaml.safe_load_all(source.read_text()))
    elif "patch" in entry:
        documents = list(yaml.safe_load_all(entry["patch"]))
    else:
        raise KustomizeError(f"{path}: a patch needs `path` or `patch`")
    documents = [d for d in documents if d is not None]
    target = entry.get("target")
    for document in documents:
        if isinstance(document, list):
            if target is None:
                raise KustomizeError(f"{path}: a JSON6902 patch needs a target")
            matched = [r for r in resources if _selected(r, target)]
            if not matched:
                raise KustomizeError(f"{path}: patch target {target} matches nothing")
            for resource in matched:
                apply_json6902(resource, document)
        elif isinstance(document, dict):
            resources = _strategic_merge(path, document, target, resources)
        else:
            raise KustomizeError(f"{path}: a patch is neither a list nor a mapping")
    return resources


def _selected(resource: Resource, target: Resource) -> bool:
    group, kind, namespace, name = resource_id(resource)
    version = str(resource.get("apiVersion", "")).rpartition("/")[2]
    wanted = {
        "group": group,
        "version": version,
        "kind": kind,
        "namespace": namespace,
        "name": name,
    }
    unknown = set(target) - set(wanted)
    if unknown:
        raise KustomizeError(f"patch target fields not supported: {sorted(unknown)}")
    return all(wanted[key] == value for key, value in target.items())


def _strategic_merge(
    path: Path, patch: Resource, target: Resource | None, resources: list[Resource]
) -> list[Resource]:
    meta = patch.get("metadata") or {}
    selector: Resource = dict(target or {})
    if not target:
        selector = {"kind": patch.get("kind"), "name": meta.get("name")}
        if "namespace" in meta:
            selector["namespace"] = meta["namespace"]
    matched = [r for r in resources if _selected(r, selector)]
    if not matched:
        raise KustomizeError(f"{path}: strategic-merge patch {selector} matches nothing")
    if patch.get("$patch") == "delete":
        return [r for r in resources if not any(r is m for m in matched)]
    body = {k: v for k, v in patch.items() if k not in ("apiVersion", "kind")}
    for resource in matched:
        merge_maps(resource, body, where=f"{path}: {describe(resource)}")
    return resources


def merge_maps(base: Resource, patch: Resource, where: str) -> None:
    """Strategic merge restricted to maps: recurse into maps, null deletes a key."""
    for key, value in patch.items():
        if value is None:
            base.pop(key, None)
        elif isinstance(value, dict):
            existing = base.get(key)
            if existing is None:
                base[key] = copy.deepcopy(value)
            elif isinstance(existing, dict):
                merge_maps(existing, value, where)
            else:
                raise KustomizeError(f"{where}: {key} is not a mapping in the target")
        elif isinstance(value, list) and key in base:
            raise KustomizeError(
                f"{where}: the strategic-merge patch sets the list {key}; "
                "use a JSON6902 patch for lists"
            )
        else:
            base[key] = copy.deepcopy(value)


def _pointer(path: str) -> list[str]:
    if not path.startswith("/"):
        raise KustomizeError(f"JSON pointer {path!r} must start with /")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _parent(document: Any, parts: list[str], op: Resource) -> Any:
    node = document
    for part in parts[:-1]:
        try:
            node = node[int(part)] if isinstance(node, list) else node[part]
        except (KeyError, IndexError, ValueError):
            raise KustomizeError(f"JSON6902 {op}: path does not exist") from None
    return node


def apply_json6902(document: Resource, operations: list[Resource]) -> None:
    """RFC 6902 add, remove, replace and test."""
    for op in operations:
        kind = op.get("op")
        if kind not in ("add", "replace", "remove", "test"):
            raise KustomizeError(f"JSON6902 operation {kind!r} is not supported")
        parts = _pointer(op["path"])
        parent = _parent(document, parts, op)
        last = parts[-1]
        if isinstance(parent, list):
            index = len(parent) if last == "-" else int(last)
            if kind == "add":
                parent.insert(index, copy.deepcopy(op["value"]))
            elif kind in ("replace", "remove", "test") and not 0 <= index < len(parent):
                raise KustomizeError(f"JSON6902 {op}: no element {index}")
            elif kind == "replace":
                parent[index] = copy.deepcopy(op["value"])
            elif kind == "remove":
                del parent[index]
            elif kind == "test" and parent[index] != op["value"]:
                raise KustomizeError(f"JSON6902 {op}: test failed")
        elif isinstance(parent, dict):
            if kind in ("replace", "remove", "test") and last not in parent:
                raise KustomizeError(f"JSON6902 {op}: {last} does not exist")
            if kind in ("add", "replace"):
                parent[last] = copy.deepcopy(op["value"])
            elif kind == "remove":
                del parent[last]
            elif kind == "test" and parent[last] != op["value"]:
                raise KustomizeError(f"JSON6902 {op}: test failed")
        else:
            raise KustomizeError(f"JSON6902 {op}: the parent is not a container")


# images -------------------------------------------------------------------------------------


def _containers(node: Any) -> Iterable[Resource]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("containers", "initContainers") and isinstance(value, list):
                yield from (c for c in value if isinstance(c, dict) and "image" in c)
            else:
                yield from _containers(value)
    elif isinstance(node, list):
        for item in node:
            yield from _containers(item)


def image_name(image: str) -> str:
    """The image without its tag or digest."""
    name = image.split("@", 1)[0]
    slash = name.rfind("/")
    colon = name.rfind(":")
    return name[:colon] if colon > slash else name


def _set_image(entry: Resource, resources: list[Resource], path: Path) -> None:
    changed = 0
    for resource in resources:
        for container in _containers(resource.get("spec")):
            if image_name(container["image"]) != entry["name"]:
                continue
            name = entry.get("newName", entry["name"])
            if "digest" in entry:
                container["image"] = f"{name}@{entry['digest']}"
            elif "newTag" in entry:
                container["image"] = f"{name}:{entry['newTag']}"
            else:
                container["image"] = name
            changed += 1
    if not changed:
        raise KustomizeError(f"{path}: image {entry['name']} is used by no container")
