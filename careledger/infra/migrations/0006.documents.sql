-- depends: 0005.consent-decisions

-- Documents attached to the record (infra/documents.py): their bytes by patient and
-- SHA-256, which a CHECK holds to the bytes themselves. Append-only (the triggers are
-- repeatable DDL); the events that attach them name them by that hash.
CREATE TABLE IF NOT EXISTS careledger.documents (
  patient_id uuid NOT NULL,
  sha256 text NOT NULL,
  media_type text NOT NULL,
  size integer NOT NULL CHECK (size > 0),
  content bytea NOT NULL,
  stored_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  PRIMARY KEY (patient_id, sha256),
  CONSTRAINT named_by_its_hash CHECK (sha256 = encode(sha256(content), 'hex')),
  CONSTRAINT sized CHECK (octet_length(content) = size)
);
