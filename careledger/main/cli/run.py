"""The long-running parts: the command API, the relay, the consumers."""

from __future__ import annotations

from typing import Annotated

import typer

from careledger.main.cli.common import (
    commands,
    console,
    fail,
    open_database,
    read_settings,
    refuse_taken_port,
    stop_on_signals,
    topics_ready,
)

parts = commands("The long-running parts.")

@parts.command()
def serve(
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 2,
    threads: Annotated[int, typer.Option(help="Threads per worker.")] = 8,
) -> None:
    """Serve the command API (the schema must be migrated)."""
    from careledger.main.server import serve as run_server

    settings = read_settings()
    refuse_taken_port(settings)
    open_database(settings)
    run_server(settings, workers=workers, threads=threads)


@parts.command()
def stream() -> None:
    """Serve the live streams (server-sent events) on CARELEDGER_STREAM_PORT, in their own
    process: one event loop holds them all, and no API thread waits on one."""
    import uvicorn

    from careledger.main.asgi import build

    settings = read_settings()
    open_database(settings)
    tls = {} if settings.tls_cert is None else {
        "ssl_certfile": str(settings.tls_cert), "ssl_keyfile": str(settings.tls_key)}
    console().print(f"streams: listening on {settings.http_host}:{settings.stream_port}")
    uvicorn.run(build(settings), host=settings.http_host, port=settings.stream_port,
                log_level="warning", access_log=False, lifespan="off",
                timeout_graceful_shutdown=2, **tls)  # type: ignore[arg-type]


@parts.command()
def relay(
    from_position: Annotated[int | None, typer.Option(
        help="Publish again from this log position (recovery): duplicates, never losses."
    )] = None,
    rest: Annotated[str, typer.Option(
        hidden=True, help="listen (woken by PostgreSQL) or poll (every 20 ms): the bench "
        "compares them.")] = "listen",
) -> None:
    """Follow the event store's log and publish it to Kafka, in order."""
    from careledger.consumers.relay import Relay
    from careledger.infra import telemetry
    from careledger.main import bootstrap

    if rest not in ("listen", "poll"):
        fail("--rest is listen or poll")
    from eventsourcing.persistence import OperationalError

    settings = read_settings()
    telemetry.configure("relay", console=settings.trace_console)
    db = open_database(settings)
    servers = topics_ready(settings)
    stop = stop_on_signals()
    app = bootstrap.application_when_reachable(db, settings, wait_s=float("inf"), stop=stop,
                                               follower=True)
    publisher = Relay(app, bootstrap=servers, topic=settings.events_topic, rest=rest,
                      client=settings.kafka_client())
    if from_position is not None:
        publisher.rewind(from_position)
    try:
        since = f"from position {publisher.position()} "
    except OperationalError:  # the store went away again since it answered: run() waits
        since = ""
    console().print(f"relay: publishing {since}to {settings.events_topic} at {servers}")
    publisher.run(stop, on_batch=lambda n, at: console().print(
        f"relay: published {n} events, now at position {at}"))
    publisher.close()
    app.close()


@parts.command()
def consume(
    group: Annotated[str, typer.Option(help="Consumer group (one per set of views).")] = "views",
    fetch_wait_ms: Annotated[int, typer.Option(
        min=1, max=10_000, help="How long the broker may hold a fetch that finds nothing; "
        "Kafka answers as soon as a message arrives, so it may be raised there.")] = 20,
) -> None:
    """Apply the events on Kafka to the views, with tracking, until stopped."""
    from confluent_kafka import Producer

    from careledger.consumers.collector import set_for_batches
    from careledger.consumers.member import ProjectionConsumer
    from careledger.consumers.projector import Projector
    from careledger.infra import telemetry

    settings = read_settings()
    telemetry.configure("consumers", console=settings.trace_console)
    db = open_database(settings)
    servers = topics_ready(settings)
    projector = Projector(
        db.app_url, consumer=group,
        dead_letters=Producer({"bootstrap.servers": servers, **settings.kafka_client()}),
        dead_letter_topic=settings.dead_letter_topic,
    )
    consumer = ProjectionConsumer(projector, bootstrap=servers, topic=settings.events_topic,
                                  group=f"careledger-{group}", fetch_wait_ms=fetch_wait_ms,
                                  client=settings.kafka_client())
    stop = stop_on_signals()
    set_for_batches()
    console().print(f"consume: group careledger-{group} on {settings.events_topic} at {servers}")
    consumer.run(stop)
    consumer.close()
