"""The change feed of the live views: what the views' consumer applied, numbered at its
commit, for the live streams (gateways/streams/) to deliver and resume from.

A number is drawn from a sequence inside the consumer's transaction, so two consumers
committing at once may make 7 visible before 6. The same rule as the log's horizon
holds it: each writer takes a shared advisory lock before it draws and holds it to its
commit; `changes_horizon` answers the last number drawn and the writers open at that
moment, and a reader waits for those to end. Below the horizon no number can still
appear, so a reader that has delivered up to it has missed nothing.
"""

from __future__ import annotations

import time
from typing import Any

import psycopg

#: Beside the log's WRITER_LOCK (0x0CA2E), its migration lock (+1), the access log's (+3).
CHANGES_LOCK = 0x0CA2E + 4
#: What the views' consumer notifies, after its commit (NOTIFY is delivered at commit).
CHANNEL = "careledger_view_changes"
#: How long a stream can resume across a disconnection; older changes are swept.
KEPT_DAYS = 7

CHANGES_DDL = f"""
CREATE INDEX IF NOT EXISTS view_changes_position ON careledger.view_changes (position);

CREATE OR REPLACE FUNCTION careledger.changes_horizon(OUT last_seq bigint, OUT writers text[])
LANGUAGE plpgsql AS $$
BEGIN
  SELECT CASE WHEN is_called THEN last_value ELSE 0 END INTO last_seq
    FROM careledger.view_changes_seq_seq;
  writers := ARRAY(
    SELECT l.virtualtransaction FROM pg_locks l
     WHERE l.locktype = 'advisory' AND l.classid = 0 AND l.objid = {CHANGES_LOCK}
       AND l.objsubid = 1 AND l.granted);
END $$;

CREATE OR REPLACE FUNCTION careledger.changes_writers_open(candidates text[])
RETURNS boolean LANGUAGE sql STABLE AS $$
  SELECT EXISTS (
    SELECT 1 FROM pg_locks l
     WHERE l.locktype = 'advisory' AND l.classid = 0 AND l.objid = {CHANGES_LOCK}
       AND l.objsubid = 1 AND l.granted AND l.virtualtransaction = ANY(candidates))
$$;
"""

#: Queued by the consumer in its transaction, in this order, before its COMMIT.
TAKE_TURN = f"SELECT pg_advisory_xact_lock_shared({CHANGES_LOCK})"
RECORD = """
INSERT INTO careledger.view_changes (position, kind, record_id, patient_id, clinic_ids)
SELECT x.position, x.kind, x.record_id, x.patient_id,
       ARRAY(SELECT jsonb_array_elements_text(x.clinics)::uuid)
  FROM unnest(%s::bigint[], %s::text[], %s::uuid[], %s::uuid[], %s::jsonb[])
    AS x(position, kind, record_id, patient_id, clinics)
 ORDER BY x.position
"""
NOTIFY = f"SELECT pg_notify('{CHANNEL}', '')"

#: At a rebuild's switch: the changes the new generation holds that the feed does not,
#: numbered now. The live consumer had them in hand, unapplied, when the rebuild applied
#: them; from the switch on it skips them, so without this no stream would hear of them.
#: (Each event of a patient's care is one row of the timeline, at its position.)
CATCH_UP = """
INSERT INTO careledger.view_changes (position, kind, record_id, patient_id, clinic_ids)
SELECT t.position, t.kind, COALESCE(t.referral_id, t.patient_id), t.patient_id,
       CASE WHEN t.clinic_id IS NULL THEN '{{}}'::uuid[] ELSE ARRAY[t.clinic_id] END
  FROM {new}.timeline t
 WHERE t.position > (SELECT coalesce(min(position), 0) FROM {old}.tracking)
   AND t.position <= %s
   AND t.recorded_at > now() - make_interval(days => %s)
   AND NOT EXISTS (SELECT 1 FROM careledger.view_changes c WHERE c.position = t.position)
 ORDER BY t.position
"""


def horizon(conn: psycopg.Connection[Any], *, poll_s: float = 0.0005,
            timeout_s: float = 30.0) -> int:
    """The highest number below which no change can still appear."""
    row = conn.execute("SELECT last_seq, writers FROM careledger.changes_horizon()").fetchone()
    assert row is not None
    last, writers = int(row[0]), list(row[1])
    deadline = time.monotonic() + timeout_s
    while writers:
        still = conn.execute("SELECT careledger.changes_writers_open(%s)", (writers,)).fetchone()
        if still is None or not still[0]:
            break
        if time.monotonic() > deadline:
            raise TimeoutError("a views consumer's commit has stayed open too long")
        time.sleep(poll_s)
    return last
