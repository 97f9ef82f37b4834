"""A real Kafka broker on loopback, secured like Redpanda Cloud: SASL SCRAM-SHA-256 over TLS.

The broker is Apache Kafka in KRaft mode (one process is broker and controller), run from a
class path that Maven resolves once from `stack/kafka/pom.xml` into the user's cache. Its CA
and certificate are made at start, so nothing secret is kept in the repository.

    with KafkaBroker(work_dir, port=19092) as broker:
        broker.bootstrap, broker.username, broker.password, broker.ca_path
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import os
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from stack.cache import cache_dir
from stack.processes import Process, StartFailed

POM = Path(__file__).resolve().parent / "kafka" / "pom.xml"
HOST = "127.0.0.1"
# Kafka's own log line once the broker is unfenced and serves clients (KafkaBroker.STARTED_MESSAGE).
STARTED = "Kafka Server started"
# SCRAM credentials go into a StorageTool argument and a JAAS line unquoted.
PASSWORD_CHARACTERS = re.compile(r"[A-Za-z0-9_-]+")

LOG4J = """\
log4j.rootLogger=WARN, out
log4j.appender.out=org.apache.log4j.ConsoleAppender
log4j.appender.out.layout=org.apache.log4j.PatternLayout
log4j.appender.out.layout.ConversionPattern=[%d] %p %m (%c)%n
# The one INFO line the start waits for, and the broker's start and stop.
log4j.logger.kafka.server.KafkaRaftServer=INFO
"""


class KafkaError(RuntimeError):
    """The broker or its class path could not be made ready; the message says why."""


def kafka_version() -> str:
    """The Kafka version the pom pins."""
    namespace = {"m": "http://maven.apache.org/POM/4.0.0"}
    version = ET.parse(POM).findtext("m:properties/m:kafka.version", namespaces=namespace)
    if not version:
        raise KafkaError(f"{POM} names no kafka.version")
    return version


def classpath_dir() -> Path:
    """Where the pom's jars go: named by the Kafka version and a hash of the pom, so a changed
    pom resolves into a new directory and an old one is never mixed in."""
    digest = hashlib.sha256(POM.read_bytes()).hexdigest()[:12]
    return cache_dir() / f"kafka-{kafka_version()}-{digest}" / "libs"


def ensure_classpath(timeout: float = 600.0) -> Path:
    """The directory of the broker's jars, resolved by Maven on first use.

    Maven copies into a scratch directory that is renamed into place only when complete, so an
    interrupted run or two runs at once never leave a partial class path behind."""
    libs = classpath_dir()
    if libs.is_dir():
        return libs
    mvn = shutil.which("mvn")
    if mvn is None:
        raise KafkaError("mvn is not on PATH: the Kafka broker's class path is resolved by Maven")
    libs.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="libs-", dir=libs.parent))
    command = [
        mvn,
        "-q",
        "-B",
        "-f",
        str(POM),
        "dependency:copy-dependencies",
        f"-DoutputDirectory={scratch}",
    ]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            raise KafkaError(
                f"resolving the Kafka class path failed ({' '.join(command)}); Maven said:\n"
                + (done.stdout + done.stderr)[-4000:]
            )
        try:
            scratch.rename(libs)
        except OSError:
            if not libs.is_dir():
                raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return libs


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


class KafkaBroker:
    """One Kafka node (broker and KRaft controller) on loopback, in `work_dir`.

    Clients connect to `bootstrap` over SASL_SSL with SCRAM-SHA-256 as `username` and
    `password`, trusting the CA in `ca_path`. The broker talks to itself over the same
    listener with the same credentials, so no port takes a client without a password.

    A work directory keeps its data, cluster id, SCRAM user and CA across restarts (clients
    load the CA once). Reusing a directory needs the password it was first started with."""

    def __init__(
        self,
        work_dir: Path,
        port: int,
        *,
        controller_port: int | None = None,
        username: str = "todo",
        password: str | None = None,
        start_timeout: float = 90.0,
        stop_timeout: float = 30.0,
    ) -> None:
        self.work_dir = Path(work_dir)
        self.port = port
        self.controller_port = controller_port or free_port()
        self.username = username
        self.password = password or secrets.token_urlsafe(24)
        for name, value in (("username", username), ("password", self.password)):
            if not PASSWORD_CHARACTERS.fullmatch(value):
                raise ValueError(f"the SCRAM {name} may hold only letters, digits, '_' and '-'")
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.bootstrap = f"{HOST}:{port}"
        self.ca_path = self.work_dir / "ca.pem"
        self.log_path = self.work_dir / "broker.log"
        self.process: Process | None = None

    def start(self) -> None:
        """Make the certificates (once), format the storage with the SCRAM user, start the
        broker and wait until it serves clients; on failure the broker is stopped and the
        error carries the tail of its log."""
        libs = ensure_classpath()
        self.work_dir.mkdir(parents=True, exist_ok=True)
        if not self.ca_path.exists():
            self._write_certificates()
        config = self.work_dir / "server.properties"
        config.write_text(self._server_properties())
        log4j = self.work_dir / "log4j.properties"
        log4j.write_text(LOG4J)
        java = self._java(libs, log4j)
        self._format_storage(java, config)
        # A restart appends to the log: only what this start writes counts.
        since = self.log_path.stat().st_size if self.log_path.exists() else 0
        self.process = Process(
            "kafka", [*java, "kafka.Kafka", str(config)], self.log_path, env=dict(os.environ)
        )
        self.process.start()
        try:
            # The port opens before the broker has caught up with its metadata and been
            # unfenced: it serves once it also logs so, after byte `since` of its log.
            self.process.wait_until(
                lambda: self._accepts() and STARTED.encode() in self.log_path.read_bytes()[since:],
                self.start_timeout,
                f"Kafka serving {self.bootstrap}",
            )
        except StartFailed as failed:
            self.stop()
            raise KafkaError(str(failed)) from None
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """SIGTERM (Kafka's orderly shutdown), then SIGKILL if it outlasts `stop_timeout`."""
        if self.process is not None:
            self.process.stop(self.stop_timeout)

    @property
    def pid(self) -> int | None:
        """The broker's process id while it runs."""
        return self.process.pid if self.process and self.process.running() else None

    def client_properties(self, *, password: str | None = None) -> str:
        """A Java client's configuration for this broker (the tools' --command-config)."""
        return (
            "security.protocol=SASL_SSL\n"
            "sasl.mechanism=SCRAM-SHA-256\n"
            f"sasl.jaas.config={self._jaas(password or self.password)}\n"
            "ssl.truststore.type=PEM\n"
            f"ssl.truststore.location={self.ca_path}\n"
        )

    def __enter__(self) -> KafkaBroker:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _java(self, libs: Path, log4j: Path) -> list[str]:
        return [
            shutil.which("java") or "java",
            # C1 only and the serial collector, for a broker that carries test traffic only:
            # measured, its start costs 3.8 s of CPU instead of 5-6 s, and it holds ~20 MB
            # less resident, on a two-core machine that starts the whole platform at once.
            "-XX:TieredStopAtLevel=1",
            "-XX:+UseSerialGC",
            "-Xmx256m",
            "-Xms256m",
            "-Djava.awt.headless=true",
            f"-Dlog4j.configuration={log4j.as_uri()}",
            "-cp",
            f"{libs}/*",
        ]

    def _jaas(self, password: str) -> str:
        return (
            "org.apache.kafka.common.security.scram.ScramLoginModule required "
            f'username="{self.username}" password="{password}";'
        )

    def _server_properties(self) -> str:
        tls = self.work_dir / "tls"
        return f"""\
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@{HOST}:{self.controller_port}
controller.listener.names=CONTROLLER
listeners=SASL_SSL://{HOST}:{self.port},CONTROLLER://{HOST}:{self.controller_port}
advertised.listeners=SASL_SSL://{HOST}:{self.port}
listener.security.protocol.map=SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT
inter.broker.listener.name=SASL_SSL
sasl.enabled.mechanisms=SCRAM-SHA-256
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-256
listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config={self._jaas(self.password)}
ssl.keystore.type=PEM
ssl.keystore.location={tls / "broker.pem"}
ssl.truststore.type=PEM
ssl.truststore.location={self.ca_path}
ssl.client.auth=none
log.dirs={self.work_dir / "data"}
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
auto.create.topics.enable=true
group.initial.rebalance.delay.ms=0
log.segment.bytes=8388608
log.index.size.max.bytes=1048576
metadata.log.segment.bytes=8388608
num.network.threads=2
num.io.threads=2
background.threads=2
num.recovery.threads.per.data.dir=1
"""

    def _write_certificates(self) -> None:
        """A CA made for this run and the broker's key and certificate (for 127.0.0.1 and
        localhost) signed by it, as PEM: the CA alone in `ca_path`, the broker's key with its
        chain in one key store file."""
        tls = self.work_dir / "tls"
        tls.mkdir(parents=True, exist_ok=True)
        now = datetime.now(UTC)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "todo stack test CA")])
        ca = (
            x509.CertificateBuilder()
            .subject_name(ca_name)
            .issuer_name(ca_name)
            .public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=7))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .sign(ca_key, hashes.SHA256())
        )
        key = ec.generate_private_key(ec.SECP256R1())
        certificate = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=7))
            .add_extension(
                x509.SubjectAlternativeName(
                    [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(HOST))]
                ),
                critical=False,
            )
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(ca_key, hashes.SHA256())
        )
        pem = serialization.Encoding.PEM
        self.ca_path.write_bytes(ca.public_bytes(pem))
        # Kafka's PEM key store: an unencrypted PKCS#8 key, then the certificate chain.
        (tls / "broker.pem").write_bytes(
            key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
            + certificate.public_bytes(pem)
            + ca.public_bytes(pem)
        )

    def _format_storage(self, java: list[str], config: Path) -> None:
        """Format the log directory with a fresh cluster id and the SCRAM user in its first
        metadata, so the user exists before the broker takes its first connection."""
        cluster_id = self._cluster_id()
        scram = f"SCRAM-SHA-256=[name={self.username},password={self.password}]"
        command = [
            *java,
            "kafka.tools.StorageTool",
            "format",
            "--config",
            str(config),
            "--cluster-id",
            cluster_id,
            "--add-scram",
            scram,
            "--ignore-formatted",
        ]
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=self.start_timeout
            )
        except subprocess.TimeoutExpired as timeout:
            raise KafkaError(
                f"formatting the Kafka storage took over {timeout.timeout} s"
            ) from None
        if done.returncode != 0:
            raise KafkaError("formatting the Kafka storage failed:\n" + done.stdout + done.stderr)

    def _cluster_id(self) -> str:
        """Kept beside the data, so a broker restarted on the same directory keeps its id."""
        stored = self.work_dir / "cluster.id"
        if not stored.exists():
            # Kafka's Uuid in its text form: 16 random bytes, URL-safe base64 without padding.
            encoded = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
            stored.write_text(encoded)
        return stored.read_text()

    def _accepts(self) -> bool:
        try:
            with socket.create_connection((HOST, self.port), timeout=1):
                return True
        except OSError:
            return False


def main() -> None:
    """`python -m stack.kafka_broker`: resolve the class path and say how long it took."""
    started = time.monotonic()
    libs = ensure_classpath()
    jars = len(list(libs.glob("*.jar")))
    print(f"kafka {kafka_version()}: {jars} jars in {libs} ({time.monotonic() - started:.1f} s)")


if __name__ == "__main__":
    main()
