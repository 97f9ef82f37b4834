"""Kubernetes manifests as Python data: read from YAML files, named and compared."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

Resource = dict[str, Any]


class ManifestError(Exception):
    pass


def load_documents(path: Path) -> list[Resource]:
    """The YAML documents in a file, empty ones skipped."""
    return parse_documents(path.read_text(), str(path))


def parse_documents(text: str, source: str) -> list[Resource]:
    """The YAML documents in `text` (read from `source`), empty ones skipped."""
    try:
        documents = list(yaml.safe_load_all(text))
    except yaml.YAMLError as exc:
        raise ManifestError(f"{source}: not valid YAML: {exc}") from None
    found: list[Resource] = []
    for document in documents:
        if document is None:
            continue
        if not isinstance(document, dict):
            raise ManifestError(f"{source}: a document is not a mapping")
        found.append(document)
    return found


def resource_id(resource: Resource) -> tuple[str, str, str, str]:
    group = str(resource.get("apiVersion", "")).rpartition("/")[0]
    meta = resource.get("metadata") or {}
    return (group, str(resource.get("kind")), str(meta.get("namespace", "")), str(meta.get("name")))


def describe(resource: Resource) -> str:
    _, kind, namespace, name = resource_id(resource)
    return f"{kind}/{namespace + '/' if namespace else ''}{name}"


def image_name(image: str) -> str:
    """The image without its tag or digest."""
    name = image.split("@", 1)[0]
    slash = name.rfind("/")
    colon = name.rfind(":")
    return name[:colon] if colon > slash else name
