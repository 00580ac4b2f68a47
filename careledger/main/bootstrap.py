"""One place that wires settings, PostgreSQL and the application together."""

from __future__ import annotations

import logging
import os
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


def run_migrations(db: Database) -> list[str]:
    """Bring the schema up to date; answer the versioned migrations applied now."""
    return migrate(db.admin_url, app_role=APP_ROLE, app_password=db.app_password)


#: Seconds a request waits for a database connection before it is answered 503 (the
#: library reads whole seconds); with reads tried twice at most (infra/retries.py) a
#: request is answered within 2 s while PostgreSQL is away.
POOL_WAIT_S = 1


#: A follower of the log (the relay) needs a connection or two, each checked before use:
#: after PostgreSQL restarts, a pool of dead connections would fail it once per each.
FOLLOWER_POOL_SIZE = 2


def application_env(db: Database, settings: Settings, *, follower: bool = False
                    ) -> dict[str, str]:
    return {
        # The library's PostgreSQL factory with CareLedger's recorders (infra/persistence.py).
        "PERSISTENCE_MODULE": "careledger.infra.persistence:Factory",
        "POSTGRES_DBNAME": db.dbname,
        "POSTGRES_HOST": db.host,
        "POSTGRES_PORT": str(db.port),
        "POSTGRES_USER": APP_ROLE,
        "POSTGRES_PASSWORD": db.app_password,
        "POSTGRES_SCHEMA": SCHEMA,
        "POSTGRES_POOL_SIZE": str(FOLLOWER_POOL_SIZE if follower else settings.db_pool_size),
        "POSTGRES_MAX_OVERFLOW": "0",
        # Also how long a command waits for a pooled connection: while PostgreSQL is
        # away, the API answers 503 within this, not after a client gave up.
        "POSTGRES_CONNECT_TIMEOUT": str(POOL_WAIT_S),
        # No pre-ping for the API: it costs a round trip per checkout; broken connections
        # surface as OperationalError, answered 503 with Retry-After, and the pool
        # replaces them. A follower has time for the round trip, not for the failures.
        "POSTGRES_PRE_PING": "y" if follower else "n",
        "CREATE_TABLE": "n",
        "IS_SNAPSHOTTING_ENABLED": "y",
    }


def application(db: Database, settings: Settings, *, follower: bool = False) -> CareLedger:
    os.environ.update(db.libpq_env())  # TLS for the library's own connections too
    return CareLedger(env=application_env(db, settings, follower=follower))


def application_when_reachable(db: Database, settings: Settings, *, wait_s: float,
                               stop: threading.Event | None = None,
                               follower: bool = False) -> CareLedger:
    """The application, once PostgreSQL takes connections: a part that starts during an
    outage (or a restart's recovery) waits for it, saying so, instead of exiting."""
    deadline, backoff = time.monotonic() + wait_s, 0.5
    while True:
        try:
            return application(db, settings, follower=follower)
        except (OperationalError, psycopg.OperationalError) as e:
            if time.monotonic() + backoff > deadline or (stop is not None and stop.is_set()):
                raise
            log.warning("PostgreSQL at %s:%s is unreachable (%s: %s); retrying in %.1f s",
                        db.host, db.port, type(e).__name__,
                        (str(e).splitlines() or [""])[0][:200], backoff)
            if stop is not None:
                stop.wait(backoff)
            else:
                time.sleep(backoff)
            backoff = min(backoff * 2, 2.0)


def app_pool(db: Database, settings: Settings) -> ConnectionPool:
    """A pool for the edges' own reads (idempotency look-ups), as the app role."""
    pool: ConnectionPool = ConnectionPool(
        db.app_url, min_size=1, max_size=max(2, settings.db_pool_size // 2),
        kwargs={"autocommit": True, "connect_timeout": POOL_WAIT_S}, open=True,
        timeout=POOL_WAIT_S,
    )
    return pool
