"""The documents' bytes, against the hashes the log gives them.

An event that attaches a document names it by its SHA-256 (domain/documents.py), and the
chains cover that name; this pass covers the bytes: each document an event names is
stored, and hashes to its name. A CHECK holds every row to it, so only someone who can
drop constraints could make it fail, and that is what an audit is for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg

from careledger.audit.findings import Finding, Kind
from careledger.domain.patient import Patient
from careledger.domain.referral import Referral

TOPICS = [Patient.DocumentAttached.TOPIC, Referral.DocumentAttached.TOPIC]

_NAMED = """
SELECT e.notification_id, s.name,
       EXISTS (SELECT 1 FROM careledger.documents d WHERE d.sha256 = s.name) AS stored,
       NOT EXISTS (SELECT 1 FROM careledger.documents d WHERE d.sha256 = s.name
                    AND (encode(sha256(d.content), 'hex') <> d.sha256
                         OR octet_length(d.content) <> d.size)) AS intact
  FROM careledger.careledger_events e,
       LATERAL (SELECT convert_from(e.state, 'UTF8')::jsonb ->> 'sha256' AS name) s
 WHERE e.topic = ANY(%s) AND e.notification_id <= %s
 ORDER BY e.notification_id
"""


@dataclass(frozen=True)
class Documents:
    #: Documents the log names, checked.
    named: int
    #: Rows no event names (stored by an upload whose command then failed).
    unattached: int
    findings: list[Finding]


def verify_documents(conn: psycopg.Connection[Any], upto: int) -> Documents:
    findings, named = [], set()
    for position, name, stored, intact in conn.execute(_NAMED, (TOPICS, upto)).fetchall():
        named.add(name)
        if not stored:
            findings.append(Finding(position, Kind.DOCUMENT_MISSING,
                                    f"the document {name} this event attaches is not stored"))
        elif not intact:
            findings.append(Finding(position, Kind.DOCUMENT_CHANGED,
                                    f"the bytes stored as {name} no longer hash to it"))
    row = conn.execute("SELECT count(DISTINCT sha256) FROM careledger.documents"
                       " WHERE NOT (sha256 = ANY(%s))", (sorted(named),)).fetchone()
    return Documents(named=len(named), unattached=int(row[0]) if row else 0,
                     findings=findings)
