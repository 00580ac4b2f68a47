"""One place that wires settings, PostgreSQL and the application together."""

from __future__ import annotations

import logging
import threading
import time

import psycopg
from eventsourcing.persistence import OperationalError
from psycopg_pool import ConnectionPool

from careledger.domain.application import CareLedger
from careledger.infra.database import Database, database
from careledger.infra.schema import SCHEMA, migrate
from careledger.infra.settings import APP_ROLE, Settings

__all__ = ["Database", "database"]  # where most callers look for them

log = logging.getLogger(__name__)


def run_migrations(db: Database) -> None:
    with psycopg.connect(db.admin_url, autocommit=True) as admin:
        migrate(admin, app_role=APP_ROLE, app_password=db.app_password)


#: Seconds a request waits for a database connection before it is answered 503.
POOL_WAIT_S = 3


def application_env(db: Database, settings: Settings) -> dict[str, str]:
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "APPLICATION_RECORDER_TOPIC": "careledger.infra.eventstore:CareLedgerRecorder",
        "POSTGRES_DBNAME": db.dbname,
        "POSTGRES_HOST": db.host,
        "POSTGRES_PORT": str(db.port),
        "POSTGRES_USER": APP_ROLE,
        "POSTGRES_PASSWORD": db.app_password,
        "POSTGRES_SCHEMA": SCHEMA,
        "POSTGRES_POOL_SIZE": str(settings.db_pool_size),
        "POSTGRES_MAX_OVERFLOW": "0",
        # Also how long a command waits for a pooled connection: while PostgreSQL is
        # away, the API answers 503 within this, not after a client gave up.
        "POSTGRES_CONNECT_TIMEOUT": str(POOL_WAIT_S),
        # No pre-ping: it costs a round trip per checkout; broken connections surface as
        # OperationalError, answered 503 with Retry-After, and the pool replaces them.
        "POSTGRES_PRE_PING": "n",
        "CREATE_TABLE": "n",
        "IS_SNAPSHOTTING_ENABLED": "y",
    }


def application(db: Database, settings: Settings) -> CareLedger:
    return CareLedger(env=application_env(db, settings))


def application_when_reachable(db: Database, settings: Settings, *, wait_s: float,
                               stop: threading.Event | None = None) -> CareLedger:
    """The application, once PostgreSQL takes connections: a part that starts during an
    outage (or a restart's recovery) waits for it, saying so, instead of exiting."""
    deadline, backoff = time.monotonic() + wait_s, 0.5
    while True:
        try:
            return application(db, settings)
        except (OperationalError, psycopg.OperationalError) as e:
            if time.monotonic() + backoff > deadline or (stop is not None and stop.is_set()):
                raise
            log.warning("PostgreSQL is unreachable (%s); retrying in %.1f s",
                        type(e).__name__, backoff)
            if stop is not None:
                stop.wait(backoff)
            else:
                time.sleep(backoff)
            backoff = min(backoff * 2, 5.0)


def app_pool(db: Database, settings: Settings) -> ConnectionPool:
    """A pool for the edges' own reads (idempotency look-ups), as the app role."""
    pool: ConnectionPool = ConnectionPool(
        db.app_url, min_size=1, max_size=max(2, settings.db_pool_size // 2),
        kwargs={"autocommit": True, "connect_timeout": POOL_WAIT_S}, open=True,
        timeout=POOL_WAIT_S,
    )
    return pool
