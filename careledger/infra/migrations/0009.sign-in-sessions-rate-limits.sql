-- depends: 0008.certificates

-- The web pages' sessions (access/sessions.py): the cookie is a random value kept only by
-- the browser; this row holds its SHA-256, the CSRF token the page echoes on every
-- change, who signed in, and when the session last did anything (automatic logoff).
CREATE TABLE IF NOT EXISTS careledger.page_sessions (
  cookie_sha256 bytea PRIMARY KEY,
  csrf text NOT NULL,
  issuer text,
  subject text,
  principal jsonb,
  signed_in_at timestamptz NOT NULL DEFAULT now(),
  last_seen_at timestamptz NOT NULL DEFAULT now(),
  ends_at timestamptz NOT NULL,
  CONSTRAINT someone CHECK ((issuer IS NOT NULL AND subject IS NOT NULL) OR principal IS NOT NULL)
);
CREATE INDEX IF NOT EXISTS page_sessions_ends ON careledger.page_sessions (ends_at);

-- Requests per principal and per client address in the current minute, shared by every
-- API process (gateways/rate_limits.py). Counts are worth nothing after a crash: UNLOGGED.
CREATE UNLOGGED TABLE IF NOT EXISTS careledger.rate_windows (
  bucket text NOT NULL,
  window_start timestamptz NOT NULL,
  hits integer NOT NULL,
  PRIMARY KEY (bucket, window_start)
);
