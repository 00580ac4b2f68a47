"""Where documents' bytes live: `careledger.documents` in PostgreSQL, by patient and SHA-256.

Chosen over large objects and over a folder of the data directory. A large object is
owned by the role that made it, which may then rewrite or unlink it, and it has no row
of its own to grant on; a file beside the database is outside its transactions, its
backups and its grants. A table of `bytea` (TOASTed, compressed when it helps) is in
every backup (`careledger backup`), is append-only for the application's role like the
log (SELECT and INSERT granted; a trigger refuses UPDATE, DELETE and TRUNCATE), and a
CHECK holds each row's name to the SHA-256 of its bytes, so not even a row inserted by
hand can lie about its content. Documents are at most 10 MB (domain/documents.py).

A row is written before the event that attaches it (its bytes do not travel through
the log or Kafka, only its hash): if that command then fails, the bytes stay, named by
no event, readable only by those who may read the patient; `audit verify` counts them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import psycopg

from careledger.infra.append_only import append_only

DOCUMENTS_DDL = append_only("documents")


#: A virus scanner: the bytes and their type in; a reason to refuse them out, or None.
Scanner = Callable[[bytes, str], str | None]

#: The extension point for a virus scan (clamd, a cloud scanner): a deployment appends
#: its scanner here, say from a module its WSGI entry imports first. Every upload passes
#: through each before anything is stored; none is registered by default.
SCANNERS: list[Scanner] = []


def scan(data: bytes, media_type: str) -> str | None:
    """The first scanner's reason to refuse these bytes, if any refuses them."""
    return next((reason for scanner in SCANNERS if (reason := scanner(data, media_type))),
                None)


@dataclass(frozen=True)
class Stored:
    sha256: str
    sha1: str
    size: int


@dataclass(frozen=True)
class Content:
    media_type: str
    data: bytes


def store(conn: psycopg.Connection[Any], patient_id: UUID, media_type: str,
          data: bytes) -> Stored:
    """Keep the bytes under their SHA-256 for this patient (the same bytes twice: once)."""
    sha256 = hashlib.sha256(data).hexdigest()
    conn.execute(
        "INSERT INTO careledger.documents (patient_id, sha256, media_type, size, content)"
        " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (patient_id, sha256) DO NOTHING",
        (patient_id, sha256, media_type, len(data), data))
    return Stored(sha256=sha256, sha1=hashlib.sha1(data).hexdigest(), size=len(data))


def fetch(conn: psycopg.Connection[Any], patient_id: UUID, sha256: str) -> Content | None:
    row = conn.execute(
        "SELECT media_type, content FROM careledger.documents"
        " WHERE patient_id = %s AND sha256 = %s", (patient_id, sha256)).fetchone()
    return None if row is None else Content(media_type=str(row[0]), data=bytes(row[1]))
