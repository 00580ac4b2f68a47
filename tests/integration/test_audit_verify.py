"""The verifiable log on real PostgreSQL: every tampering is found, and where.

Each test works on its own copy of a small log (a network, two accepted episodes with
sessions), cloned from a template database, because tampering is done for real: as
the superuser, with the append-only triggers switched off for that session
(`session_replication_role = replica`), the way an intruder with the server's
credentials would. The audit itself only ever connects as the application's role.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from uuid import UUID

import psycopg
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner

from careledger.access.tokens import TokenService
from careledger.audit import check, checkpoints, keys
from careledger.audit.chain import GENESIS, event_hash
from careledger.audit.check import ProofError, SignedCheckpoint, check_proof
from careledger.audit.findings import Finding, Kind
from careledger.audit.proof import prove
from careledger.audit.verify import Report, verify
from careledger.domain.referral import Referral
from careledger.domain.treatment import ScheduleSession
from careledger.infra.settings import Settings
from careledger.main import bootstrap
from careledger.main.cli import LOG_DIFFERS, cli
from tests.helpers.network import NOW, build_network, open_episode

CHECK_PY = Path(check.__file__)
#: Text of the events' content that must never appear in the audit's output.
PATIENT_DATA = ["Okafor", "Maria", "Elm St", "Riverside", "M54.50", "LMT-"]


def _url(base: str, dbname: str) -> str:
    return urlunsplit(urlsplit(base)._replace(path=f"/{dbname}"))


@pytest.fixture(scope="module")
def template(settings: Settings, db: bootstrap.Database) -> Iterator[str]:
    """A migrated database holding a small log, copied for each test."""
    assert settings.database_url is not None
    name = f"audit_template_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(settings.database_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    own = settings.model_copy(update={"database_url": _url(settings.database_url, name)})
    database = bootstrap.database(own)
    bootstrap.run_migrations(database)
    app = bootstrap.application(database, own)
    network = build_network(app, TokenService(settings.token_secret))
    for sessions in (4, 2):
        referral = open_episode(app, network, accept=True)
        for _ in range(sessions):
            app.handle(ScheduleSession(referral_id=referral, practitioner_id=network.therapist,
                                       scheduled_for=NOW, location="clinic",  # type: ignore[arg-type]
                                       occurred_at=NOW, actor="t"))
    app.close()
    with psycopg.connect(settings.database_url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                      " WHERE datname = %s AND pid <> pg_backend_pid()", (name,))
    yield name
    with psycopg.connect(settings.database_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class Log:
    """A copy of the template log, the audit key, and ways to reach and tamper with it."""

    settings: Settings
    db: bootstrap.Database
    work: Path

    @property
    def env(self) -> dict[str, str]:
        return {"CARELEDGER_DATABASE_URL": self.db.admin_url,
                "CARELEDGER_APP_DB_PASSWORD": self.settings.app_db_password,
                "CARELEDGER_DATA_DIR": str(self.work),
                "CARELEDGER_AUDIT_KEY": str(self.settings.audit_key_path)}

    def cli(self, *args: str) -> Any:
        return CliRunner().invoke(cli, list(args), env=self.env)

    def app_conn(self) -> psycopg.Connection[Any]:
        return psycopg.connect(self.db.app_url, autocommit=True)

    def key(self) -> Ed25519PrivateKey:
        return keys.load_or_create(self.settings.audit_key_path)

    def verify(self, *, incremental: bool = False) -> Report:
        with self.app_conn() as conn:
            return verify(conn, [self.key().public_key()], incremental=incremental)

    def differs(self, *, incremental: bool = False) -> Finding:
        finding = self.verify(incremental=incremental).first
        assert finding is not None, "the tampering went unnoticed"
        return finding

    def checkpoint(self) -> SignedCheckpoint:
        with self.app_conn() as conn:
            return checkpoints.create(conn, self.key())

    def query(self, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.db.admin_url, autocommit=True) as conn:
            return conn.execute(statement, params).fetchall()

    def tamper(self, *statements: tuple[str, tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        """Statements run by the superuser with the append-only triggers switched off."""
        with psycopg.connect(self.db.admin_url) as conn:
            conn.execute("SET session_replication_role = replica")
            rows: list[tuple[Any, ...]] = []
            for statement, params in statements:
                cursor = conn.execute(statement, params)
                if cursor.description:
                    rows += cursor.fetchall()
            return rows

    def episode(self, index: int = 0) -> tuple[UUID, list[int]]:
        """A referral's stream id and its events' positions, version 1 first."""
        streams = [r[0] for r in self.query(
            "SELECT originator_id FROM careledger.careledger_events"
            " WHERE topic = %s ORDER BY notification_id", (Referral.Made.TOPIC,))]
        stream = streams[index]
        return stream, [r[0] for r in self.query(
            "SELECT notification_id FROM careledger.careledger_events"
            " WHERE originator_id = %s ORDER BY originator_version", (stream,))]

    def append(self, stream: UUID, version: int) -> list[int]:
        """An event appended the only way the application can: through append_events."""
        with self.app_conn() as conn:
            row = conn.execute(
                "SELECT careledger.append_events(ARRAY[%s::uuid], ARRAY[%s::bigint],"
                " ARRAY['test:Probe'], ARRAY['{}'::bytea], NULL, NULL, NULL, NULL, NULL,"
                " NULL, NULL)", (stream, version)).fetchone()
        assert row is not None
        positions: list[int] = row[0]
        return positions


@pytest.fixture()
def log(template: str, settings: Settings, tmp_path: Path) -> Iterator[Log]:
    assert settings.database_url is not None
    name = f"audit_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(settings.database_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    own = settings.model_copy(update={"database_url": _url(settings.database_url, name),
                                      "data_dir": tmp_path,
                                      "audit_key": tmp_path / "audit-key.pem"})
    yield Log(settings=own, db=bootstrap.database(own), work=tmp_path)
    with psycopg.connect(settings.database_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def flip_a_byte(position: int) -> tuple[str, tuple[Any, ...]]:
    return ("UPDATE careledger.careledger_events"
            " SET state = set_byte(state, length(state) / 2,"
            "                      get_byte(state, length(state) / 2) # 1)"
            " WHERE notification_id = %s", (position,))


# -- an untouched log ---------------------------------------------------------------------


def _reads(log: Log, count: int) -> list[int]:
    """Reads logged the only way the application can (through log_access); their ids."""
    with log.app_conn() as conn:
        for i in range(count):
            conn.execute("SELECT careledger.log_access(%s, 'physician', %s, %s, %s,"
                         " 'care_team', NULL)", (uuid.uuid4(), uuid.uuid4(),
                                                 f"patient:timeline{i}", i % 2 == 0))
    return [r[0] for r in log.query("SELECT id FROM careledger.access_log ORDER BY id")]


def test_the_access_log_chain_verifies_and_names_its_last_hash(log: Log) -> None:
    ids = _reads(log, 4)
    ((last_hash,),) = log.query("SELECT hash FROM careledger.access_log WHERE id = %s",
                                (ids[-1],))
    result = log.cli("audit", "verify")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().splitlines()[-1] == (
        f"access log: 4 reads, chain intact, last hash {bytes(last_hash).hex()}")


@pytest.mark.parametrize(("tampering", "kind", "at"), [
    ("UPDATE careledger.access_log SET allowed = NOT allowed WHERE id = %s", "changed", 1),
    ("UPDATE careledger.access_log SET at = at + interval '1 second' WHERE id = %s",
     "changed", 1),
    ("DELETE FROM careledger.access_log WHERE id = %s", "unlinked", 1),
    ("INSERT INTO careledger.access_log (at, principal, role, patient_id, fields, allowed,"
     " basis, reason, previous_hash, hash) SELECT at, principal, role, patient_id, fields,"
     " allowed, basis, reason, previous_hash, hash FROM careledger.access_log WHERE id = %s",
     "unlinked", 4),
])
def test_a_changed_removed_or_added_access_log_row_is_found(
    log: Log, tampering: str, kind: str, at: int
) -> None:
    ids = _reads(log, 4)
    log.tamper((tampering, (ids[1],)))
    ids_now = [r[0] for r in log.query("SELECT id FROM careledger.access_log ORDER BY id")]
    result = log.cli("audit", "verify")
    assert result.exit_code == 3, result.output
    assert f"verification failed at access log row {ids_now[at]}: {kind}:" in result.output
    for who in log.query("SELECT principal::text, patient_id::text FROM careledger.access_log"):
        assert who[0] not in result.output and who[1] not in result.output


def test_an_untouched_log_verifies(log: Log) -> None:
    ((events, streams, last),) = log.query(
        "SELECT count(*), count(DISTINCT originator_id), max(notification_id)"
        " FROM careledger.careledger_events")
    result = log.cli("audit", "verify")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().splitlines() == [
        f"verified: {events} events in {streams} streams up to position {last}; hash chains, "
        "content of every event, and 0 signed checkpoints match",
        f"access log: 0 reads, chain intact, last hash {'00' * 32}"]

    assert log.cli("audit", "checkpoint").exit_code == 0
    for flags in ([], ["--from-checkpoint"]):
        result = log.cli("audit", "verify", *flags)
        assert result.exit_code == 0, result.output
        assert "and 1 signed checkpoint match" in result.stdout


def test_an_append_after_a_checkpoint_is_no_difference(log: Log) -> None:
    """Checkpoints sign a prefix: the log may grow past it, with legitimate position gaps."""
    log.checkpoint()
    stream, positions = log.episode()
    with pytest.raises(psycopg.errors.UniqueViolation):
        log.append(stream, 1)  # refused, but it used up a position: a gap
    log.append(stream, len(positions) + 1)
    log.checkpoint()
    report = log.verify()
    assert report.first is None and report.checkpoints == 2


# -- each tampering, found at its position ------------------------------------------------


def test_a_changed_byte_of_content_is_named_at_its_position(log: Log) -> None:
    stream, positions = log.episode()
    log.tamper(flip_a_byte(positions[2]))
    finding = log.differs()
    assert (finding.position, finding.kind) == (positions[2], Kind.CHANGED)
    assert f"stream {stream} version 3" in finding.detail

    result = log.cli("audit", "verify")
    assert result.exit_code == LOG_DIFFERS
    assert f"verification failed at position {positions[2]}: changed: stream {stream} " \
        "version 3" in result.stderr
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()[-1]) > 100  # one line, not wrapped


def test_a_removed_event_is_named_at_its_position(log: Log) -> None:
    stream, positions = log.episode()
    log.tamper(("DELETE FROM careledger.careledger_events WHERE notification_id = %s",
                (positions[2],)))
    finding = log.differs()
    assert (finding.position, finding.kind) == (positions[2], Kind.REMOVED)
    assert finding.detail == (
        f"stream {stream} version 3 missing; it stood at position {positions[2]}, the only "
        f"free one between positions {positions[1]} and {positions[3]}")
    result = log.cli("audit", "verify")
    assert result.exit_code == LOG_DIFFERS
    assert f"failed at position {positions[2]}: removed" in result.stderr


def test_a_forged_event_is_named_at_its_position(log: Log) -> None:
    stream, positions = log.episode()
    ((wrong_link,),) = log.query(
        "SELECT previous_hash FROM careledger.careledger_events WHERE notification_id = %s",
        (positions[-1],))
    recorded_us, version, topic, state = 1_780_000_000_000_000, len(positions) + 1, \
        Referral.SessionCancelled.TOPIC, b'{"reason":"forged"}'
    digest = event_hash(wrong_link, stream.bytes, version, recorded_us, topic, state)
    ((forged,),) = log.tamper((
        "INSERT INTO careledger.careledger_events (originator_id, originator_version, topic,"
        " state, recorded_at, previous_hash, event_hash) VALUES (%s, %s, %s, %s,"
        " to_timestamp(%s / 1000000.0), %s, %s) RETURNING notification_id",
        (stream, version, topic, state, recorded_us, wrong_link, digest)))
    finding = log.differs()
    assert (finding.position, finding.kind) == (forged, Kind.INSERTED)
    assert finding.detail == (
        f"stream {stream} version {version}: its previous hash is not the event hash of "
        f"version {version - 1} at position {positions[-1]}")


@pytest.mark.parametrize("column", ["notification_id", "originator_version"])
def test_two_swapped_events_are_named_at_the_first(log: Log, column: str) -> None:
    stream, positions = log.episode()
    second, third = positions[1], positions[2]
    values = {"notification_id": (second, third), "originator_version": (2, 3)}[column]
    log.tamper(
        (f"UPDATE careledger.careledger_events SET {column} = -1 WHERE {column} = %s"
         " AND originator_id = %s", (values[0], stream)),
        (f"UPDATE careledger.careledger_events SET {column} = %s WHERE {column} = %s"
         " AND originator_id = %s", (values[0], values[1], stream)),
        (f"UPDATE careledger.careledger_events SET {column} = %s WHERE {column} = -1"
         " AND originator_id = %s", (values[1], stream)))
    finding = log.differs()
    assert (finding.position, finding.kind) == (second, Kind.REORDERED)
    assert finding.detail == (f"stream {stream} version 3 stands before version 2 "
                              f"(at position {third})")


# -- what only a checkpoint can see ------------------------------------------------------


def test_a_forgery_with_valid_hashes_is_found_by_the_checkpoint(log: Log) -> None:
    """Someone who knows the recipe can chain a forged event perfectly, into a free
    position; no chain breaks, but the leaves under the checkpoints change."""
    stream, positions = log.episode()
    before = log.checkpoint()
    with pytest.raises(psycopg.errors.UniqueViolation):
        log.append(stream, 1)  # a failed append leaves position `free` unused for good
    (after_gap,) = log.append(stream, len(positions) + 1)
    free = after_gap - 1
    log.checkpoint()
    assert log.verify().first is None

    forged_stream, recorded_us = uuid.uuid4(), 1_780_000_000_000_000
    digest = event_hash(GENESIS, forged_stream.bytes, 1, recorded_us, "test:Probe", b"{}")
    log.tamper((
        "INSERT INTO careledger.careledger_events (notification_id, originator_id,"
        " originator_version, topic, state, recorded_at, previous_hash, event_hash)"
        " VALUES (%s, %s, 1, 'test:Probe', '{}', to_timestamp(%s / 1000000.0), %s, %s)",
        (free, forged_stream, recorded_us, GENESIS, digest)))
    assert log.query("SELECT count(*) FROM careledger.careledger_events"
                     " WHERE notification_id = %s", (free,)) == [(1,)]
    finding = log.differs()
    assert finding.kind is Kind.INSERTED
    assert (finding.position, finding.last_position) == (before.position + 1, after_gap)
    assert free == before.position + 1


def test_events_of_two_streams_swapped_are_found_by_the_checkpoint(log: Log) -> None:
    first_stream, positions = log.episode(0)
    made = positions[0]
    (previous,) = log.query("SELECT originator_id FROM careledger.careledger_events"
                            " WHERE notification_id = %s", (made - 1,))
    assert previous[0] != first_stream  # the event before the referral is another stream's
    log.checkpoint()
    log.tamper(
        ("UPDATE careledger.careledger_events SET notification_id = -1"
         " WHERE notification_id = %s", (made,)),
        ("UPDATE careledger.careledger_events SET notification_id = %s"
         " WHERE notification_id = %s", (made, made - 1)),
        ("UPDATE careledger.careledger_events SET notification_id = %s"
         " WHERE notification_id = -1", (made - 1,)))
    report = log.verify()
    assert [f for f in report.findings if f.last_position is None] == [], \
        "every stream's chain is still in order"
    finding = report.first
    assert finding is not None and finding.kind is Kind.REORDERED
    assert (finding.position, finding.last_position) == (1, report.upto)


def test_the_last_event_of_a_stream_removed_is_found_by_the_checkpoint(log: Log) -> None:
    stream, positions = log.episode(1)
    first = log.checkpoint()
    (appended,) = log.append(stream, len(positions) + 1)
    second = log.checkpoint()
    log.tamper(("DELETE FROM careledger.careledger_events WHERE notification_id = %s",
                (appended,)))
    finding = log.differs()
    assert (finding.kind, finding.position, finding.last_position) == (
        Kind.REMOVED, first.position + 1, second.position)


def test_a_truncated_tail_with_positions_set_back_is_found_by_the_checkpoint(log: Log) -> None:
    """Positions handed out again after the tail is cut must not hide the checkpoint."""
    stream, positions = log.episode(1)
    first = log.checkpoint()
    log.append(stream, len(positions) + 1)
    log.append(stream, len(positions) + 2)
    second = log.checkpoint()
    log.tamper(("DELETE FROM careledger.careledger_events WHERE notification_id > %s",
                (first.position,)),
               ("SELECT setval('careledger.careledger_events_notification_id_seq', %s)",
                (first.position,)))
    finding = log.differs()
    assert (finding.kind, finding.position, finding.last_position) == (
        Kind.REMOVED, first.position + 1, second.position)
    result = log.cli("audit", "checkpoint")
    assert result.exit_code == 1
    assert f"not signed: the log differs at positions {first.position + 1}-" in result.stderr


def test_exported_checkpoints_count_when_their_rows_are_gone(log: Log, tmp_path: Path) -> None:
    stream, positions = log.episode(1)
    (appended,) = log.append(stream, len(positions) + 1)
    log.checkpoint()
    exported = tmp_path / "checkpoints.json"
    exported.write_text(log.cli("audit", "checkpoints").stdout)
    log.tamper(("DELETE FROM careledger.careledger_events WHERE notification_id = %s",
                (appended,)), ("DELETE FROM careledger.checkpoints", ()))
    assert log.cli("audit", "verify").exit_code == 0  # nothing left in the database says so
    result = log.cli("audit", "verify", "--checkpoints", str(exported))
    assert result.exit_code == LOG_DIFFERS
    assert f"verification failed at positions 1-{appended}: removed" in result.stderr


# -- checkpoints themselves --------------------------------------------------------------


@pytest.mark.parametrize("change", [
    "root = sha256(root)", "leaf_count = leaf_count + 1",
    "signature = set_byte(signature, 0, get_byte(signature, 0) # 1)",
    "created_at = created_at + interval '1 second'",
])
def test_a_tampered_checkpoint_is_found(log: Log, change: str) -> None:
    checkpoint = log.checkpoint()
    log.tamper((f"UPDATE careledger.checkpoints SET {change} WHERE id = %s", (checkpoint.id,)))
    finding = log.differs()
    assert (finding.position, finding.kind) == (checkpoint.position, Kind.BAD_SIGNATURE)
    assert finding.detail == f"the signature of checkpoint #{checkpoint.id} does not verify"
    result = log.cli("audit", "verify", "--from-checkpoint")
    assert result.exit_code == LOG_DIFFERS
    assert f"bad checkpoint signature: the signature of checkpoint #{checkpoint.id}" \
        in result.stderr


def test_a_checkpoint_signed_with_another_key_is_found(log: Log) -> None:
    """The application's role may add checkpoints, but not sign them with the audit key."""
    with log.app_conn() as conn:
        stored = checkpoints.create(conn, Ed25519PrivateKey.generate())
    finding = log.differs()
    assert (finding.position, finding.kind) == (stored.position, Kind.UNKNOWN_KEY)
    assert finding.detail == (f"checkpoint #{stored.id} was signed by key {stored.key_id}, "
                              "which was not given; pass its public key with --public-key")


@pytest.mark.parametrize("statement", [
    "UPDATE careledger.checkpoints SET root = sha256(root)",
    "DELETE FROM careledger.checkpoints",
    "TRUNCATE careledger.checkpoints",
])
def test_the_application_role_cannot_change_checkpoints(log: Log, statement: str) -> None:
    log.checkpoint()  # the application's role may add one
    with log.app_conn() as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(statement)
    with psycopg.connect(log.db.admin_url) as owner, \
            pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
        owner.execute(statement)
    assert log.query("SELECT count(*) FROM careledger.checkpoints") == [(1,)]


def test_no_checkpoint_is_signed_over_a_tampered_log(log: Log) -> None:
    _, positions = log.episode()
    log.tamper(("DELETE FROM careledger.careledger_events WHERE notification_id = %s",
                (positions[1],)))
    result = log.cli("audit", "checkpoint")
    assert result.exit_code == 1
    assert f"not signed: the log differs at position {positions[1]}: removed" in result.stderr
    assert log.query("SELECT count(*) FROM careledger.checkpoints") == [(0,)]


def test_incremental_runs_trust_only_the_content_below_their_checkpoint(log: Log) -> None:
    _, positions = log.episode(1)
    log.checkpoint()
    log.tamper(flip_a_byte(positions[0]))
    assert log.verify(incremental=True).first is None  # what --from-checkpoint trusts
    assert log.differs().position == positions[0]  # what a full run takes back


def test_incremental_runs_check_everything_else(log: Log) -> None:
    stream, positions = log.episode(1)
    log.checkpoint()
    log.tamper(("DELETE FROM careledger.careledger_events WHERE notification_id = %s",
                (positions[1],)))  # below the checkpoint: versions and root no longer match
    finding = log.differs(incremental=True)
    assert (finding.position, finding.kind) == (positions[1], Kind.REMOVED)

    (fifth,) = log.append(stream, len(positions) + 1)
    (sixth,) = log.append(stream, len(positions) + 2)
    log.tamper(("DELETE FROM careledger.careledger_events WHERE notification_id = %s",
                (fifth,)), flip_a_byte(sixth))  # after the checkpoint: content is checked too
    findings = {(f.position, f.kind) for f in log.verify(incremental=True).findings}
    assert {(fifth, Kind.REMOVED), (sixth, Kind.CHANGED)} <= findings


# -- inclusion proofs --------------------------------------------------------------------


@pytest.fixture()
def proof(log: Log, tmp_path: Path) -> tuple[Path, Path, int]:
    assert log.cli("audit", "checkpoint").exit_code == 0
    _, positions = log.episode()
    result = log.cli("audit", "prove", "--position", str(positions[2]))
    assert result.exit_code == 0, result.output
    proof_file, key_file = tmp_path / "proof.json", tmp_path / "key.pem"
    proof_file.write_text(result.stdout)
    key_file.write_text(log.cli("audit", "public-key").stdout)
    return proof_file, key_file, positions[2]


def test_a_proof_verifies_with_only_the_checker_and_the_public_key(
    proof: tuple[Path, Path, int], tmp_path: Path
) -> None:
    proof_file, key_file, position = proof
    outside = tmp_path / "auditor"
    outside.mkdir()
    shutil.copy(CHECK_PY, outside / "check.py")
    shutil.copy(proof_file, outside / "proof.json")
    shutil.copy(key_file, outside / "key.pem")
    run = subprocess.run(
        [sys.executable, "-I", "-c", "import runpy, sys; sys.argv = ['check.py', 'proof.json',"
         " '--public-key', 'key.pem']; code = 0\ntry:\n runpy.run_path('check.py',"
         " run_name='__main__')\nexcept SystemExit as e:\n code = e.code\n"
         "assert not [m for m in sys.modules if m.startswith('careledger')], 'imported'\n"
         "sys.exit(code)"],
        cwd=outside, capture_output=True, text=True, env={"PATH": os.environ["PATH"]},
        check=False)
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith(f"verified: position {position} (stream ")


def test_the_checker_imports_only_the_standard_library_and_cryptography() -> None:
    tree = ast.parse(CHECK_PY.read_text())
    imported = {alias.name.split(".")[0] for node in ast.walk(tree)
                if isinstance(node, ast.Import) for alias in node.names}
    imported |= {(node.module or "").split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom)}
    assert imported - set(sys.stdlib_module_names) == {"cryptography"}


def test_check_proof_on_the_command_line(log: Log, proof: tuple[Path, Path, int],
                                         tmp_path: Path) -> None:
    proof_file, key_file, position = proof
    result = log.cli("audit", "check-proof", str(proof_file), "--public-key", str(key_file))
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"verified: position {position} ")
    other = tmp_path / "other.pem"
    other.write_bytes(keys.public_key_pem(Ed25519PrivateKey.generate().public_key()))
    result = log.cli("audit", "check-proof", str(proof_file), "--public-key", str(other))
    assert result.exit_code == 1
    assert "rejected: checkpoint #1 was signed by key" in result.stderr


def _set(body: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    for part in parents:
        body = body[part]
    body[last] = value


def _bump(hex_text: str) -> str:
    return (bytes.fromhex(hex_text)[:-1] + bytes([bytes.fromhex(hex_text)[-1] ^ 1])).hex()


@pytest.mark.parametrize("mutation", [
    "leaf.event_hash", "leaf.position", "leaf.version", "leaf.index", "leaf.stream_id",
    "audit_path.0", "audit_path.last", "audit_path.dropped", "audit_path.added",
    "checkpoint.root", "checkpoint.leaf_count", "checkpoint.position", "checkpoint.created_at",
])
def test_a_tampered_proof_is_rejected(proof: tuple[Path, Path, int], mutation: str) -> None:
    proof_file, key_file, _ = proof
    body = json.loads(proof_file.read_text())
    public_key = check.load_public_key(key_file.read_bytes())
    assert check_proof(body, public_key).startswith("verified")
    leaf, checkpoint, path = body["leaf"], body["checkpoint"], body["audit_path"]
    match mutation:
        case "leaf.event_hash" | "checkpoint.root":
            _set(body, mutation, _bump(leaf["event_hash"] if mutation.startswith("leaf")
                                       else checkpoint["root"]))
        case "leaf.position" | "leaf.version" | "leaf.index":
            leaf[mutation.split(".")[1]] += 1
        case "checkpoint.leaf_count":
            checkpoint["leaf_count"] += 1
        case "checkpoint.position":
            checkpoint["position"] -= 1
        case "leaf.stream_id":
            leaf["stream_id"] = str(uuid.uuid4())
        case "audit_path.0":
            path[0] = _bump(path[0])
        case "audit_path.last":
            path[-1] = _bump(path[-1])
        case "audit_path.dropped":
            path.pop()
        case "audit_path.added":
            path.append(path[0])
        case "checkpoint.created_at":
            checkpoint["created_at"] = checkpoint["created_at"].replace("Z", "1Z")
    with pytest.raises(ProofError):
        check_proof(body, public_key)


def test_a_proof_checked_with_another_key_is_rejected(proof: tuple[Path, Path, int]) -> None:
    body = json.loads(proof[0].read_text())
    with pytest.raises(ProofError, match="was signed by key"):
        check_proof(body, Ed25519PrivateKey.generate().public_key())


def test_a_proof_needs_a_checkpoint_that_covers_the_position(log: Log) -> None:
    _, positions = log.episode()
    result = log.cli("audit", "prove", "--position", str(positions[0]))
    assert result.exit_code == 1
    assert f"no checkpoint covers position {positions[0]} yet; run `careledger audit " \
        "checkpoint` first" in result.stderr
    checkpoint = log.checkpoint()
    with log.app_conn() as conn:
        assert prove(conn, positions[0])["checkpoint"]["id"] == checkpoint.id
    log.tamper(flip_a_byte(positions[0]))  # content: the leaf (its event hash) still stands
    with log.app_conn() as conn:
        assert prove(conn, positions[0])["leaf"]["position"] == positions[0]
    log.tamper(("DELETE FROM careledger.careledger_events WHERE notification_id = %s",
                (positions[1],)))
    result = log.cli("audit", "prove", "--position", str(positions[0]))
    assert result.exit_code == 1
    assert f"the log no longer gives checkpoint #{checkpoint.id}'s root" in result.stderr


# -- keys and what the output may say ----------------------------------------------------


def test_the_audit_key_is_created_once_readable_only_by_its_owner(log: Log) -> None:
    first = log.cli("audit", "public-key")
    assert first.exit_code == 0
    assert first.stdout.startswith("-----BEGIN PUBLIC KEY-----")
    assert oct(log.settings.audit_key_path.stat().st_mode & 0o777) == "0o600"
    assert log.cli("audit", "public-key").stdout == first.stdout


def test_no_patient_data_in_any_output(log: Log, tmp_path: Path) -> None:
    ((content,),) = log.query("SELECT string_agg(convert_from(state, 'UTF8'), ' ')"
                              " FROM careledger.careledger_events")
    assert all(marker in content for marker in PATIENT_DATA)
    _, positions = log.episode()
    outputs = [log.cli("audit", "checkpoint"), log.cli("audit", "checkpoints"),
               log.cli("audit", "prove", "--position", str(positions[0])),
               log.cli("audit", "verify")]
    log.tamper(flip_a_byte(positions[3]))
    outputs.append(log.cli("audit", "verify"))
    assert outputs[-1].exit_code == LOG_DIFFERS
    text = "".join(r.stdout + r.stderr for r in outputs)
    assert not [marker for marker in PATIENT_DATA if marker in text]
