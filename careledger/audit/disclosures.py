"""An accounting of disclosures: every read of one patient's record, from the access log.

HIPAA (45 CFR 164.528) gives a patient the right to learn who saw their record. The
access log holds every attempt, allowed or denied, with its basis and stated reason;
this report is that log for one patient over a period, in a form a privacy officer
can hand over (CSV) or process (JSON). Producing it is itself a read of the patient's
record, and is logged like any other, by the operator who ran it.
"""

from __future__ import annotations

import csv
import getpass
import io
import json
import socket
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any
from uuid import UUID, uuid5

#: Operators of the command line are named by account and host, not by a token.
OPERATOR_NAMESPACE = UUID("3d0c1f7e-8a7b-4c21-9c53-6f1e2b9a7d40")
COLUMNS = ("at", "principal", "role", "fields", "allowed", "basis", "reason", "hash")


@dataclass(frozen=True)
class Disclosure:
    at: datetime
    principal: UUID
    role: str
    fields: str
    allowed: bool
    basis: str | None
    reason: str | None
    hash: str


def operator() -> UUID:
    """The principal a command-line read is logged under: this account on this host."""
    return uuid5(OPERATOR_NAMESPACE, f"{getpass.getuser()}@{socket.gethostname()}")


def disclosures(conn: Any, patient_id: UUID, *, since: datetime | None = None,
                until: datetime | None = None, asked_by: UUID | None = None,
                asked_as: str = "auditor", asked: str = "cli:audit:disclosures",
                ) -> list[Disclosure]:
    """The patient's accesses in [since, until), oldest first. The asking is logged first,
    so the accounting includes the read that produced it."""
    who = asked_by or operator()
    with conn.transaction():
        conn.execute("SELECT careledger.log_access(%s, %s, %s, %s, true, 'auditor', NULL)",
                     (who, asked_as, patient_id, asked))
    rows = conn.execute(
        "SELECT at, principal, role, fields, allowed, basis, reason, hash"
        " FROM careledger.access_log WHERE patient_id = %s"
        " AND (%s::timestamptz IS NULL OR at >= %s) AND (%s::timestamptz IS NULL OR at < %s)"
        " ORDER BY id", (patient_id, since, since, until, until)).fetchall()
    return [Disclosure(at=r[0], principal=r[1], role=r[2], fields=r[3], allowed=r[4],
                       basis=r[5], reason=r[6], hash=bytes(r[7]).hex()) for r in rows]


def as_csv(entries: list[Disclosure]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for entry in entries:
        writer.writerow({**asdict(entry), "at": entry.at.isoformat(),
                         "principal": str(entry.principal)})
    return out.getvalue()


def as_json(entries: list[Disclosure]) -> str:
    return json.dumps([{**asdict(e), "at": e.at.isoformat(), "principal": str(e.principal)}
                       for e in entries], indent=2)
