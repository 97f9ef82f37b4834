"""`python -m deploy`: render, validate, budget and secrets, for the Taskfile."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import yaml

from deploy import (
    DAPR,
    KNATIVE,
    OVERLAYS,
    budget,
    consistency,
    overlay_names,
    routes,
    undeploy,
    validate,
)
from deploy import secrets as secret_files
from deploy.manifests import ManifestError, describe, load_documents
from deploy.render import render

MONITORING = KNATIVE / "monitoring"
# Applied outside the overlays (`task platform:dapr`), validated all the same.
EXTRA_FILES = (DAPR / "kubernetes" / "daprsystem.yaml",)


def _dump(resources: list[dict[str, object]]) -> str:
    return yaml.safe_dump_all(resources, sort_keys=False)


def cmd_render(args: argparse.Namespace) -> int:
    print(_dump(render(OVERLAYS / args.overlay)), end="")
    return 0


def _print(title: str, problems: list[str]) -> int:
    print(f"{'ok ' if not problems else 'FAIL'} {title}")
    for problem in problems:
        print(f"       {problem}")
    return len(problems)


def cmd_validate(args: argparse.Namespace) -> int:
    schemas = validate.schemas_dir()
    failures = 0
    public = routes.public_routes()
    for overlay in args.overlay or overlay_names():
        resources = render(OVERLAYS / overlay)
        report = validate.validate(resources, schemas)
        failures += _print(f"{overlay}: {len(report.checked)} resources valid", report.errors)
        failures += _print(f"{overlay}: ingress rules", routes.check_rules(resources))
        failures += _print(
            f"{overlay}: {len(public)} public routes", routes.check_routes(resources, public)
        )
        for check, problems in consistency.all_problems(resources).items():
            failures += _print(f"{overlay}: {check}", problems)
        for name in report.skipped:
            print(f"skip {name}")
    monitoring = render(MONITORING)
    extra = [doc for path in EXTRA_FILES for doc in load_documents(path)]
    report = validate.validate(monitoring + extra, schemas)
    failures += _print(f"monitoring and control plane: {len(report.checked)} valid", report.errors)
    for name in report.shape_only:
        print(f"note {name}: no upstream schema here; checked against a minimal shape only")
    for name in report.skipped:
        print(f"skip {name}")
    queries = consistency.queries(monitoring, MONITORING / "grafana-dashboard.json")
    failures += _print(
        f"monitoring: {len(queries)} queries name exported metrics",
        consistency.metric_names(queries, consistency.exported_metrics()),
    )
    if schemas is None:
        print(f"note: custom resources were NOT validated: set {validate.SCHEMAS_ENV}")
    return 1 if failures else 0


def cmd_budget(args: argparse.Namespace) -> int:
    result = budget.compute(args.overlay, render(OVERLAYS / args.overlay), args.shape)
    print(budget.table(result))
    if args.sources:
        print("\nSources:")
        print(budget.sources(result))
    return 0 if result.fits else 1


def cmd_undeploy(args: argparse.Namespace) -> int:
    resources = render(OVERLAYS / args.overlay)
    for resource in undeploy.kept(resources):
        print(f"undeploy: keeps {describe(resource)}", file=sys.stderr)
    print(_dump(undeploy.removable(resources)), end="")
    return 0


def cmd_secrets(args: argparse.Namespace) -> int:
    resources = render(OVERLAYS / args.overlay)
    needed = {name for name, _ in secret_files.references(resources)}
    values = secret_files.read_env_file(Path(args.env_file))
    try:
        manifests = secret_files.manifests(values, needed, args.namespace)
    except secret_files.SecretsError as exc:
        print(f"secrets: {exc}", file=sys.stderr)
        return 1
    print(_dump(manifests), end="")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    names = overlay_names()

    show = commands.add_parser("render", help="print an overlay's manifests")
    show.add_argument("overlay", choices=names)
    show.set_defaults(run=cmd_render)

    check = commands.add_parser("validate", help="validate and cross-check every overlay")
    check.add_argument("--overlay", action="append", choices=names)
    check.set_defaults(run=cmd_validate)

    add = commands.add_parser(
        "budget", help="requests at minimum scale and with every function awake, against the shape"
    )
    add.add_argument("--overlay", default="oracle", choices=names)
    add.add_argument("--shape", help="a shape from deploy/budget.yaml (default: the overlay's)")
    add.add_argument("--sources", action="store_true", help="print where each figure is from")
    add.set_defaults(run=cmd_budget)

    remove = commands.add_parser(
        "undeploy", help="the manifests `task undeploy` deletes (the app, not its data)"
    )
    remove.add_argument("--overlay", default="oracle", choices=names)
    remove.set_defaults(run=cmd_undeploy)

    make = commands.add_parser("secrets", help="Secret manifests for an overlay, on stdout")
    make.add_argument("--overlay", default="oracle", choices=names)
    make.add_argument("--env-file", default="secrets.env")
    make.add_argument("--namespace", default="todo")
    make.set_defaults(run=cmd_secrets)

    args = parser.parse_args(argv)
    try:
        result: int = args.run(args)
    except (ManifestError, budget.BudgetError, secret_files.SecretsError) as exc:
        print(f"{args.command}: {exc}", file=sys.stderr)
        return 1
    return result


if __name__ == "__main__":
    sys.exit(main())
