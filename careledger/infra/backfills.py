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

VIEW_BACKFILLS = (FIRST_TREATMENT, REFERRAL_AUTHORIZATIONS, SESSION_VISITS)
