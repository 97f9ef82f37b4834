"""The platform's Kafka broker, through Kafka's own Java clients: it takes only SCRAM-SHA-256
over TLS, with the password it was given, from a client that trusts its CA.

The clients are the console producer, console consumer and topic tool from the broker's own
class path, so no second Kafka implementation is needed to test the first."""

from __future__ import annotations

import socket
import struct
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from stack.kafka_broker import HOST, KafkaBroker, KafkaError, ensure_classpath, free_port

TOOL_TIMEOUT = 60.0
# The tools' own log lines go to stderr, so stdout holds only what they print as results.
TOOLS_LOG4J = """\
log4j.rootLogger=WARN, err
log4j.appender.err=org.apache.log4j.ConsoleAppender
log4j.appender.err.Target=System.err
log4j.appender.err.layout=org.apache.log4j.PatternLayout
log4j.appender.err.layout.ConversionPattern=%p %m (%c)%n
"""


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaBroker]:
    with KafkaBroker(tmp_path_factory.mktemp("kafka"), free_port()) as running:
        yield running


@pytest.fixture(scope="module")
def tools_log4j(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tools") / "log4j.properties"
    path.write_text(TOOLS_LOG4J)
    return path


def run_tool(
    log4j: Path, main_class: str, *args: str, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    command = [
        "java",
        "-XX:TieredStopAtLevel=1",
        f"-Dlog4j.configuration={log4j.as_uri()}",
        "-cp",
        f"{ensure_classpath()}/*",
        main_class,
        *args,
    ]
    return subprocess.run(
        command, input=stdin, capture_output=True, text=True, timeout=TOOL_TIMEOUT
    )


def config_file(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


def list_topics(log4j: Path, broker: KafkaBroker, config: str) -> subprocess.CompletedProcess[str]:
    return run_tool(
        log4j,
        "org.apache.kafka.tools.TopicCommand",
        "--bootstrap-server",
        broker.bootstrap,
        "--command-config",
        config,
        "--list",
    )


def test_a_produced_record_is_consumed(
    broker: KafkaBroker, tools_log4j: Path, tmp_path: Path
) -> None:
    config = config_file(tmp_path / "client.properties", broker.client_properties())
    topic = f"task.events.{uuid.uuid4().hex[:8]}"

    # --sync: a refused send fails the producer instead of being logged and dropped.
    produced = run_tool(
        tools_log4j,
        "kafka.tools.ConsoleProducer",
        "--bootstrap-server",
        broker.bootstrap,
        "--producer.config",
        config,
        "--topic",
        topic,
        "--sync",
        "--property",
        "parse.key=true",
        "--property",
        "key.separator=|",
        stdin="user-1|task created\n",
    )
    assert produced.returncode == 0, produced.stderr

    consumed = run_tool(
        tools_log4j,
        "org.apache.kafka.tools.consumer.ConsoleConsumer",
        "--bootstrap-server",
        broker.bootstrap,
        "--consumer.config",
        config,
        "--topic",
        topic,
        "--group",
        "probe",
        "--from-beginning",
        "--max-messages",
        "1",
        "--timeout-ms",
        "30000",
        "--property",
        "print.key=true",
    )
    assert consumed.stdout.splitlines() == ["user-1\ttask created"], consumed.stderr


def test_a_wrong_password_is_refused(
    broker: KafkaBroker, tools_log4j: Path, tmp_path: Path
) -> None:
    right = config_file(tmp_path / "right.properties", broker.client_properties())
    wrong = config_file(
        tmp_path / "wrong.properties", broker.client_properties(password=broker.password + "x")
    )

    assert list_topics(tools_log4j, broker, right).returncode == 0
    refused = list_topics(tools_log4j, broker, wrong)

    assert refused.returncode != 0
    assert "Authentication failed during authentication due to invalid credentials" in (
        refused.stderr
    )


def test_sasl_plain_is_refused(broker: KafkaBroker, tools_log4j: Path, tmp_path: Path) -> None:
    """SCRAM-SHA-256 is the only mechanism, as on Redpanda Cloud: the right password sent
    with PLAIN does not get in."""
    plain = (
        broker.client_properties()
        .replace("SCRAM-SHA-256", "PLAIN")
        .replace("scram.ScramLoginModule", "plain.PlainLoginModule")
    )
    refused = list_topics(tools_log4j, broker, config_file(tmp_path / "plain.properties", plain))

    assert refused.returncode != 0
    assert "Client SASL mechanism 'PLAIN' not enabled in the server" in refused.stderr


def test_a_client_that_does_not_trust_the_ca_is_refused(
    broker: KafkaBroker, tools_log4j: Path, tmp_path: Path
) -> None:
    # Without the run's CA the client trusts only the JDK's public roots.
    untrusting = "".join(
        line
        for line in broker.client_properties().splitlines(keepends=True)
        if "truststore" not in line
    )
    refused = list_topics(
        tools_log4j, broker, config_file(tmp_path / "client.properties", untrusting)
    )

    assert refused.returncode != 0
    assert "SSL handshake failed" in refused.stderr


def test_plaintext_to_the_sasl_ssl_port_gets_nothing(broker: KafkaBroker) -> None:
    """A Kafka request sent in the clear gets no Kafka answer: the connection is closed, at
    most after a TLS alert."""
    correlation_id = 0x7E57
    client_id = b"plaintext-probe"
    # ApiVersions v0: the first request every Kafka client sends.
    request = struct.pack(">hhih", 18, 0, correlation_id, len(client_id)) + client_id
    reply = b""
    with socket.create_connection((HOST, broker.port), timeout=10) as plain:
        plain.sendall(struct.pack(">i", len(request)) + request)
        try:
            while chunk := plain.recv(4096):
                reply += chunk
        except TimeoutError:
            pytest.fail(f"the broker kept a plaintext connection open, having sent {reply!r}")

    assert reply[4:8] != struct.pack(">i", correlation_id)
    assert reply == b"" or reply[0] == 0x15  # a TLS alert record


def test_a_broker_that_cannot_start_says_why(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind((HOST, 0))
        taken.listen()
        broker = KafkaBroker(tmp_path, taken.getsockname()[1], start_timeout=60)
        with pytest.raises(KafkaError, match="Address already in use"):
            broker.start()
    assert broker.pid is None
