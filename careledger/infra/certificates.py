"""Where continuing-education certificates' bytes live: `careledger.certificates`, by
practitioner and SHA-256, kept as the patients' documents are (infra/documents.py says
why a table of bytea): append-only for the application's role, each row held to its
hash by a CHECK. A certificate names no patient, so it is not among the record's
documents, nor read under the record's rules: it is its practitioner's."""

from __future__ import annotations

import hashlib
from typing import Any
from uuid import UUID

import psycopg

from careledger.infra.append_only import append_only
from careledger.infra.documents import Content

CERTIFICATES_DDL = append_only("certificates")


def store(conn: psycopg.Connection[Any], practitioner_id: UUID, media_type: str,
          data: bytes) -> str:
    """Keep the bytes under their SHA-256 for this practitioner; answer the hash."""
    sha256 = hashlib.sha256(data).hexdigest()
    conn.execute(
        "INSERT INTO careledger.certificates (practitioner_id, sha256, media_type, size,"
        " content) VALUES (%s, %s, %s, %s, %s) ON CONFLICT (practitioner_id, sha256)"
        " DO NOTHING", (practitioner_id, sha256, media_type, len(data), data))
    return sha256


def fetch(conn: psycopg.Connection[Any], practitioner_id: UUID, sha256: str) -> Content | None:
    row = conn.execute(
        "SELECT media_type, content FROM careledger.certificates"
        " WHERE practitioner_id = %s AND sha256 = %s", (practitioner_id, sha256)).fetchone()
    return None if row is None else Content(media_type=str(row[0]), data=bytes(row[1]))


def held(conn: psycopg.Connection[Any], practitioner_id: UUID, sha256: str) -> bool:
    return conn.execute("SELECT 1 FROM careledger.certificates WHERE practitioner_id = %s"
                        " AND sha256 = %s", (practitioner_id, sha256)).fetchone() is not None
