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

from careledger.access.people import Person, people_at
from careledger.access.policy import denied_because
from careledger.projections import live_generation

#: Operators of the command line are named by account and host, not by a token.
OPERATOR_NAMESPACE = UUID("3d0c1f7e-8a7b-4c21-9c53-6f1e2b9a7d40")
COLUMNS = ("at", "principal", "role", "by", "fields", "allowed", "basis", "reason",
           "denied_because", "hash")


@dataclass(frozen=True)
class Disclosure:
    """One access-log row as stored (its hash covers those fields), with who that was
    then (`by`: name, role and clinics at the time of the read) and, for a denial, why."""

    at: datetime
    principal: UUID
    role: str
    by: Person
    fields: str
    allowed: bool
    basis: str | None
    reason: str | None
    denied_because: str | None
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
    people = people_at(conn, live_generation(conn)[0],
                       [(str(r[2]), r[1], r[0]) for r in rows])
    return [Disclosure(at=r[0], principal=r[1], role=r[2], by=people[(str(r[2]), r[1], r[0])],
                       fields=r[3], allowed=r[4], basis=r[5], reason=r[6],
                       denied_because=denied_because(r[4], r[6]), hash=bytes(r[7]).hex())
            for r in rows]


def _plain(entry: Disclosure) -> dict[str, Any]:
    return {**asdict(entry), "at": entry.at.isoformat(), "principal": str(entry.principal)}


def as_csv(entries: list[Disclosure]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for entry in entries:
        writer.writerow({**_plain(entry), "by": entry.by.label})
    return out.getvalue()


def as_json(entries: list[Disclosure]) -> str:
    return json.dumps([{**_plain(e), "by": {**asdict(e.by), "label": e.by.label}}
                       for e in entries], indent=2)
