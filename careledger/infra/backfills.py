"""Columns and tables added to the views after a generation was built, filled from the
log the way their handlers fill them, so a live generation needs no rebuild on upgrade.

Each runs at every `careledger migrate` (with the views' DDL) and touches only rows it
has not filled: once filled, it finds nothing. Days are as their times were written (in
their own zone): the first 10 characters of the stored ISO text, as the handlers take
them. tests/integration/test_migrations.py holds a backfilled generation equal to a
replay of the same log.
"""

from __future__ import annotations

from careledger.domain.authorization import REFERRAL_AUTHORIZATION, AuthorizationSource
from careledger.domain.network import Practitioner
from careledger.domain.referral import Referral

#: `referrals.first_treatment_on`: the day the first session's note states.
FIRST_TREATMENT = f"""
UPDATE {{v}}.referrals r SET first_treatment_on = f.day
  FROM (SELECT DISTINCT ON (originator_id) originator_id,
               left(convert_from(state, 'UTF8')::jsonb #>> '{{occurred_at,_data_}}', 10)::date
                 AS day
          FROM careledger.careledger_events
         WHERE topic = '{Referral.SessionCompleted.TOPIC}' AND originator_id IN (
               SELECT referral_id FROM {{v}}.referrals
                WHERE first_treatment_on IS NULL AND visits_used > 0)
         ORDER BY originator_id, originator_version) f
 WHERE r.referral_id = f.originator_id
"""

#: `authorizations`: the referral's own, for every referral made before authorizations
#: were kept (then it was the only one, and the referral row holds its visits).
REFERRAL_AUTHORIZATIONS = f"""
INSERT INTO {{v}}.authorizations (referral_id, authorization_id, source, visits, starts_on,
                                  units, recorded_by, authorized_at, position)
SELECT e.originator_id, '{REFERRAL_AUTHORIZATION}', '{AuthorizationSource.REFERRAL}',
       (e.j ->> 'authorized_visits')::int,
       left(e.j #>> '{{occurred_at,_data_}}', 10)::date, '{{}}'::jsonb, e.j ->> 'actor',
       (e.j #>> '{{occurred_at,_data_}}')::timestamptz, e.notification_id
  FROM (SELECT originator_id, notification_id, convert_from(state, 'UTF8')::jsonb AS j
          FROM careledger.careledger_events
         WHERE topic = '{Referral.Made.TOPIC}' AND originator_id IN (
               SELECT r.referral_id FROM {{v}}.referrals r WHERE NOT EXISTS (
                      SELECT 1 FROM {{v}}.authorizations a
                       WHERE a.referral_id = r.referral_id))) e
ON CONFLICT DO NOTHING
"""

#: `sessions.visit_on` and `billed`: the day of the session's last schedule or note, and
#: the note's units by code.
SESSION_VISITS = f"""
UPDATE {{v}}.sessions s SET visit_on = f.day, billed = f.billed
  FROM (SELECT DISTINCT ON (e.originator_id, e.j ->> 'session_id')
               e.originator_id, e.j ->> 'session_id' AS session_id,
               CASE WHEN e.topic = '{Referral.SessionCompleted.TOPIC}'
                    THEN left(e.j #>> '{{occurred_at,_data_}}', 10)::date
                    ELSE left(e.j #>> '{{scheduled_for,_data_}}', 10)::date END AS day,
               CASE WHEN e.topic = '{Referral.SessionCompleted.TOPIC}' THEN (
                    SELECT coalesce(jsonb_object_agg(l ->> 'cpt', (l ->> 'units')::int)
                                    FILTER (WHERE (l ->> 'units')::int > 0), '{{}}'::jsonb)
                      FROM jsonb_array_elements(e.j -> 'billing_lines') l) END AS billed
          FROM (SELECT originator_id, originator_version, topic,
                       convert_from(state, 'UTF8')::jsonb AS j
                  FROM careledger.careledger_events
                 WHERE topic IN ('{Referral.SessionScheduled.TOPIC}',
                                 '{Referral.SessionCompleted.TOPIC}')
                   AND originator_id IN (SELECT referral_id FROM {{v}}.sessions
                                          WHERE visit_on IS NULL)) e
         ORDER BY e.originator_id, e.j ->> 'session_id', e.originator_version DESC) f
 WHERE s.referral_id = f.originator_id AND s.session_id = f.session_id AND s.visit_on IS NULL
"""

#: `practitioner_names`: who each practitioner was after each of their events that
#: changed it: the name last given, and the clinics whose last affiliation event was
#: an affiliation, in the order they were (last) joined, as the handlers keep them.
_NAMED = (Practitioner.Registered, Practitioner.Renamed, Practitioner.Affiliated,
          Practitioner.AffiliationEnded)
PRACTITIONER_NAMES = f"""
WITH e AS (
  SELECT originator_id, originator_version AS version, topic, notification_id, recorded_at,
         convert_from(state, 'UTF8')::jsonb AS j
    FROM careledger.careledger_events
   WHERE topic IN ({", ".join(f"'{event.TOPIC}'" for event in _NAMED)})
     AND originator_id IN (SELECT p.practitioner_id FROM {{v}}.practitioners p
                            WHERE NOT EXISTS (SELECT 1 FROM {{v}}.practitioner_names n
                                               WHERE n.practitioner_id = p.practitioner_id)))
INSERT INTO {{v}}.practitioner_names (practitioner_id, since, name, profession, clinic_ids,
                                      position)
SELECT e.originator_id, e.recorded_at,
       (SELECT n.j ->> 'name' FROM e n WHERE n.originator_id = e.originator_id
           AND n.version <= e.version AND n.topic IN ('{Practitioner.Registered.TOPIC}',
                                                      '{Practitioner.Renamed.TOPIC}')
         ORDER BY n.version DESC LIMIT 1),
       (SELECT r.j ->> 'profession' FROM e r WHERE r.originator_id = e.originator_id
           AND r.topic = '{Practitioner.Registered.TOPIC}'),
       ARRAY(SELECT (a.j ->> 'clinic_id')::uuid FROM (
               SELECT DISTINCT ON (a.j ->> 'clinic_id') a.j, a.topic, a.version FROM e a
                WHERE a.originator_id = e.originator_id AND a.version <= e.version
                  AND a.topic IN ('{Practitioner.Affiliated.TOPIC}',
                                  '{Practitioner.AffiliationEnded.TOPIC}')
                ORDER BY a.j ->> 'clinic_id', a.version DESC) a
              WHERE a.topic = '{Practitioner.Affiliated.TOPIC}' ORDER BY a.version),
       e.notification_id
  FROM e
ON CONFLICT DO NOTHING
"""

VIEW_BACKFILLS = (FIRST_TREATMENT, REFERRAL_AUTHORIZATIONS, SESSION_VISITS, PRACTITIONER_NAMES)
