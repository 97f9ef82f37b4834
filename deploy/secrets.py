"""The Kubernetes Secrets, built from an env file, and the references to them in manifests.

`SECRETS` is the one table of which Secret holds which key, filled from which variable of
secrets.env (copied from secrets.example.env). `task secrets` renders an overlay, finds the
Secrets it references, and prints them as manifests for `kubectl apply -f -`, so no secret
value is ever written to a file in the repository or put in a manifest.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from deploy import ROOT
from deploy.manifests import Resource

EXAMPLE_ENV = ROOT / "secrets.example.env"
# Secret name -> {key in the Secret: variable in secrets.env}.
SECRETS: dict[str, dict[str, str]] = {
    "todo-secrets": {"DATABASE_URL": "DATABASE_URL", "JWT_SECRET": "JWT_SECRET"},
    # Dapr's token annotations name a Secret whose key is `token`.
    "dapr-api-token": {"token": "DAPR_API_TOKEN"},
    "app-api-token": {"token": "APP_API_TOKEN"},
    "redpanda": {
        "REDPANDA_BROKERS": "REDPANDA_BROKERS",
        "REDPANDA_USERNAME": "REDPANDA_USERNAME",
        "REDPANDA_PASSWORD": "REDPANDA_PASSWORD",
        "REDPANDA_SASL_MECHANISM": "REDPANDA_SASL_MECHANISM",
    },
    "postgres": {"POSTGRES_PASSWORD": "POSTGRES_PASSWORD"},
}
TOKEN_ANNOTATIONS = ("dapr.io/api-token-secret", "dapr.io/app-token-secret")
_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$")


class SecretsError(Exception):
    pass


def read_env_file(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _LINE.match(line)
        if not match:
            raise SecretsError(f"{path}:{number}: expected NAME=value")
        value = match[2]
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[match[1]] = value
    return values


def references(resources: Iterable[Resource]) -> set[tuple[str, str | None]]:
    """(Secret, key) pairs the manifests read; key None means the whole Secret."""
    found: set[tuple[str, str | None]] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            ref = node.get("secretKeyRef")
            if isinstance(ref, dict) and "name" in ref:
                found.add((str(ref["name"]), ref.get("key")))
            secret_ref = node.get("secretRef")
            if isinstance(secret_ref, dict) and "name" in secret_ref:
                found.add((str(secret_ref["name"]), None))
            secret_volume = node.get("secret")
            if isinstance(secret_volume, dict) and "secretName" in secret_volume:
                found.add((str(secret_volume["secretName"]), None))
            annotations = node.get("annotations")
            if isinstance(annotations, dict):
                for annotation in TOKEN_ANNOTATIONS:
                    if annotation in annotations:
                        found.add((str(annotations[annotation]), "token"))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    for resource in resources:
        walk(resource)
    return found


def unknown_references(resources: Iterable[Resource]) -> list[str]:
    problems = []
    for name, key in sorted(references(resources), key=str):
        if name not in SECRETS:
            problems.append(f"Secret {name} is referenced but not in deploy/secrets.py")
        elif key is not None and key not in SECRETS[name]:
            problems.append(f"Secret {name} has no key {key} in deploy/secrets.py")
    return problems


def check_values(values: Mapping[str, str]) -> list[str]:
    problems = []
    secret = values.get("JWT_SECRET")
    if secret is not None and len(secret) < 32:
        problems.append("JWT_SECRET must be at least 32 characters")
    for name, value in values.items():
        if "change-me" in value or ".example.com" in value:
            problems.append(f"{name} still holds the example value")
    return problems


def manifests(values: Mapping[str, str], needed: Iterable[str], namespace: str) -> list[Resource]:
    """Secret manifests for the Secrets in `needed`, from the env file's values."""
    needed = sorted(set(needed))
    used = {var for name in needed for var in SECRETS[name].values()}
    problems = check_values({k: v for k, v in values.items() if k in used})
    built = []
    for name in needed:
        missing = [var for var in SECRETS[name].values() if not values.get(var)]
        if missing:
            problems.append(f"Secret {name} needs {', '.join(missing)} in the env file")
            continue
        built.append(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {
                    "name": name,
                    "namespace": namespace,
                    "labels": {"app.kubernetes.io/part-of": "todo"},
                },
                "type": "Opaque",
                "stringData": {key: values[var] for key, var in SECRETS[name].items()},
            }
        )
    if problems:
        raise SecretsError("; ".join(problems))
    return built
