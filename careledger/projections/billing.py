"""Billing lines: each completed session's CPT codes and units, certified or not.

A line is billable under a plan the physician certified for the day of the visit; the
projection keeps the certification periods it has seen so it can say so per line, and
a certification signed after the visit marks the lines of its period certified.
"""

from __future__ import annotations

from careledger.projections import Projection, Writes, handles
from careledger.projections.envelope import Envelope


class Billing(Projection):
    name = "billing"
    tables = ("billing_lines", "certifications")
    DDL = """
    CREATE TABLE IF NOT EXISTS {v}.certifications (
      referral_id uuid NOT NULL,
      certified_from date NOT NULL,
      certified_until date NOT NULL,
      position bigint NOT NULL,
      PRIMARY KEY (referral_id, certified_from, certified_until)
    );
    CREATE TABLE IF NOT EXISTS {v}.billing_lines (
      referral_id uuid NOT NULL,
      session_id text NOT NULL,
      cpt_code text NOT NULL,
      patient_id uuid NOT NULL,
      clinic_id uuid,
      practitioner_id uuid NOT NULL,
      minutes integer NOT NULL,
      units integer NOT NULL,
      service_date date NOT NULL,
      certified boolean NOT NULL,
      position bigint NOT NULL,
      PRIMARY KEY (referral_id, session_id, cpt_code)
    );
    CREATE INDEX IF NOT EXISTS billing_lines_clinic ON {v}.billing_lines (clinic_id, service_date);
    """

    @handles("Referral.PlanCertified", "Referral.PlanRecertified")
    def certified(self, e: Envelope, out: Writes) -> None:
        out.execute(self.sql(
            "INSERT INTO {v}.certifications (referral_id, certified_from, certified_until,"
            " position) VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING"
        ), (e.aggregate_id, e.data["certified_from"], e.data["certified_until"], e.position))
        # A certification signed late covers the visits already given in its period.
        out.execute(self.sql(
            "UPDATE {v}.billing_lines SET certified = true WHERE referral_id = %s"
            " AND NOT certified AND service_date BETWEEN %s AND %s"
        ), (e.aggregate_id, e.data["certified_from"], e.data["certified_until"]))

    @handles("Referral.SessionCompleted")
    def billed(self, e: Envelope, out: Writes) -> None:
        assert e.occurred_at is not None
        d = e.data
        lines = [line for line in d.get("billing_lines") or [] if line["units"]]
        if not lines:
            return
        service_date = e.occurred_at.date()
        # One statement for all of a session's lines.
        out.execute(self.sql(
            "INSERT INTO {v}.billing_lines (referral_id, session_id, cpt_code, patient_id,"
            " clinic_id, practitioner_id, minutes, units, service_date, certified, position)"
            " SELECT %s, %s, l.cpt, %s, %s, %s, l.minutes, l.units, %s, EXISTS (SELECT 1 FROM"
            " {v}.certifications c WHERE c.referral_id = %s AND %s BETWEEN c.certified_from"
            " AND c.certified_until), %s"
            " FROM unnest(%b::text[], %b::int[], %b::int[]) AS l(cpt, minutes, units)"
            " ON CONFLICT DO NOTHING"
        ), (e.aggregate_id, d["session_id"], e.patient_id,
            e.clinic_ids[-1] if e.clinic_ids else None, d["practitioner_id"], service_date,
            e.aggregate_id, service_date, e.position, [line["cpt"] for line in lines],
            [line["minutes"] for line in lines], [line["units"] for line in lines]))
