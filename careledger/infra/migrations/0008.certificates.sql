-- depends: 0007.consent-utc-day

-- Continuing-education certificates (infra/certificates.py): their bytes by practitioner
-- and SHA-256, held to the bytes by a CHECK, append-only (the triggers are repeatable
-- DDL) as the patients' documents are; the course that names one names it by its hash.
CREATE TABLE IF NOT EXISTS careledger.certificates (
  practitioner_id uuid NOT NULL,
  sha256 text NOT NULL,
  media_type text NOT NULL,
  size integer NOT NULL CHECK (size > 0),
  content bytea NOT NULL,
  stored_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  PRIMARY KEY (practitioner_id, sha256),
  CONSTRAINT named_by_its_hash CHECK (sha256 = encode(sha256(content), 'hex')),
  CONSTRAINT sized CHECK (octet_length(content) = size)
);
