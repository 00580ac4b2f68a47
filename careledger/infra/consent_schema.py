"""Consent as access decides from it: written with the decision, read without lag.

Access used to read consent from a view the consumer keeps, so a revocation held only
once the consumer had applied it. Now `append_events` writes each consent decision to
`careledger.consent_decisions` (migration 0005) in the transaction that appends it to
the log: a read that begins after the revocation's 201 finds it, whatever the views
say. `consent_permits` is the rule over those rows (`domain/consent.py` is its
specification; `tests/integration/test_consent_sql.py` holds the two equal), asked by
every read of a patient by id and by every list of a clinic's patients. Grants also
take effect at once; what lags is only a referral's care team, which a new grant needs
anyway.
"""

from __future__ import annotations

from careledger.domain.consent import Purpose
from careledger.domain.patient import Patient
from careledger.infra.append_only import append_only

#: The events whose rows `consent_decisions` holds.
CONSENT_TOPICS = (Patient.ConsentGranted.TOPIC, Patient.ConsentRevoked.TOPIC,
                  Patient.ConsentDecided.TOPIC)
#: For `topic IN (...)` in the functions below.
CONSENT_TOPICS_SQL = ", ".join(f"'{topic}'" for topic in CONSENT_TOPICS)

CONSENT_DDL = f"""
-- One stored consent event as its row (the older network-wide grant and revocation:
-- for treatment, from the UTC day they happened, the day access decides for, with no end).
CREATE OR REPLACE FUNCTION careledger.consent_decision_of(
  pos bigint, patient uuid, topic text, state bytea, recorded timestamptz)
RETURNS careledger.consent_decisions LANGUAGE sql IMMUTABLE AS $$
  SELECT pos, patient,
    CASE WHEN decided THEN (j ->> 'clinic_id')::uuid END,
    CASE WHEN decided THEN j ->> 'purpose' ELSE '{Purpose.TREATMENT}' END,
    CASE WHEN decided THEN (j ->> 'permit')::boolean
         ELSE topic = '{Patient.ConsentGranted.TOPIC}' END,
    CASE WHEN decided THEN (j #>> '{{starts_on,_data_}}')::date
         ELSE ((j #>> '{{occurred_at,_data_}}')::timestamptz AT TIME ZONE 'UTC')::date END,
    CASE WHEN decided THEN (j #>> '{{ends_on,_data_}}')::date END,
    recorded
  FROM (SELECT convert_from(state, 'UTF8')::jsonb AS j,
               topic = '{Patient.ConsentDecided.TOPIC}' AS decided) s
$$;

-- Whether the patient's decisions let a clinic read, for a purpose, on a day: per
-- scope (the clinic's, the network's) the decision recorded last, among those in force
-- that day; a deny of either wins, and one of them must permit.
CREATE OR REPLACE FUNCTION careledger.consent_permits(
  patient uuid, clinic uuid, wanted text, on_day date)
RETURNS boolean LANGUAGE sql STABLE AS $$
  SELECT coalesce(bool_and(latest.permit), false) FROM (
    SELECT DISTINCT ON (d.clinic_id) d.permit FROM careledger.consent_decisions d
     WHERE d.patient_id = patient AND d.purpose = wanted
       AND (d.clinic_id IS NULL OR d.clinic_id = clinic)
       AND d.starts_on <= on_day AND (d.ends_on IS NULL OR on_day <= d.ends_on)
     ORDER BY d.clinic_id, d.position DESC) latest
$$;

""" + append_only("consent_decisions")
