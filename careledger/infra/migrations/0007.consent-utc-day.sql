-- depends: 0006.documents

-- A network-wide grant or revocation is in force from the day it happened *as the
-- network counts days* (UTC, as access decides), not as its own zone wrote it: a
-- revocation sent at 08:00 +10:00 happened on the previous UTC day, and must hold at
-- once, not from the next UTC midnight. The rows 0005 copied from the log are put right;
-- the function that writes new rows (repeatable DDL) says the same from now on.
-- (The table is append-only: its trigger, which the repeatable DDL recreates after the
-- migrations, is dropped for this one correction.)
DROP TRIGGER IF EXISTS append_only ON careledger.consent_decisions;
UPDATE careledger.consent_decisions d
   SET starts_on = ((convert_from(e.state, 'UTF8')::jsonb #>> '{occurred_at,_data_}')::timestamptz
                    AT TIME ZONE 'UTC')::date
  FROM careledger.careledger_events e
 WHERE e.notification_id = d.position
   AND e.topic IN ('careledger:Patient.ConsentGranted', 'careledger:Patient.ConsentRevoked');
