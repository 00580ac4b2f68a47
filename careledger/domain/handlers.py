"""What each command decides on, and which record it changes: one handler per command.

A handler reads the records its rules look at (through `read`, which the application
turns into its read set) and answers either a record to create or a change to one
record. It never stores anything: `CareLedger.handle` runs the decision inside its unit
of work (one transaction, If-Match, idempotency, races retried on fresh copies).
Record ids a caller did not choose are drawn here, once, so a retried decision keeps
them.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.domain import Aggregate

from careledger.domain import commands as c
from careledger.domain.network import Clinic, Practitioner
from careledger.domain.patient import Patient
from careledger.domain.referral import Referral

A = TypeVar("A", bound=Aggregate)
Reader = Callable[[type[A], UUID], A]


@dataclass(frozen=True)
class Create:
    """A new record, made from what it reads (made again if a read was stale)."""

    make: Callable[[], Aggregate]


@dataclass(frozen=True)
class Change:
    """One record, changed by a decision on its current state."""

    record: type[Aggregate]
    record_id: UUID
    decide: Callable[[Any], None]


Decision = Create | Change
Handler = Callable[[Any, Reader[Any]], Decision]


def _new_id(chosen: str | None) -> str:
    return chosen or str(uuid.uuid4())


# ---------------------------------------------------------------------- the network


def register_clinic(cmd: c.RegisterClinic, read: Reader[Any]) -> Decision:
    return Create(lambda: Clinic.register(
        name=cmd.name, disciplines=list(cmd.disciplines), address=cmd.address,
        latitude=cmd.latitude, longitude=cmd.longitude,
        home_visit_radius_km=cmd.home_visit_radius_km, occurred_at=cmd.occurred_at,
        actor=cmd.actor))


def register_practitioner(cmd: c.RegisterPractitioner, read: Reader[Any]) -> Decision:
    return Create(lambda: Practitioner.register(
        name=cmd.name, profession=cmd.profession, occurred_at=cmd.occurred_at,
        actor=cmd.actor))


def add_credential(cmd: c.AddCredential, read: Reader[Any]) -> Decision:
    return Change(Practitioner, cmd.practitioner_id, lambda p: p.add_credential(
        kind=cmd.kind, number=cmd.number, issuer=cmd.issuer, expires_on=cmd.expires_on,
        occurred_at=cmd.occurred_at, actor=cmd.actor))


def affiliate(cmd: c.Affiliate, read: Reader[Any]) -> Decision:
    return Change(Practitioner, cmd.practitioner_id, lambda p: p.affiliate(
        clinic=read(Clinic, cmd.clinic_id), occurred_at=cmd.occurred_at, actor=cmd.actor))


def record_experience(cmd: c.RecordExperience, read: Reader[Any]) -> Decision:
    return Change(Practitioner, cmd.practitioner_id, lambda p: p.record_experience(
        conditions=list(cmd.conditions), occurred_at=cmd.occurred_at, actor=cmd.actor))


def offer_home_visits(cmd: c.OfferHomeVisits, read: Reader[Any]) -> Decision:
    return Change(Practitioner, cmd.practitioner_id, lambda p: p.offer_home_visits(
        radius_km=cmd.radius_km, occurred_at=cmd.occurred_at, actor=cmd.actor))


# ---------------------------------------------------------------------- patients


def register_patient(cmd: c.RegisterPatient, read: Reader[Any]) -> Decision:
    return Create(lambda: Patient.register(
        given_name=cmd.given_name, family_name=cmd.family_name, birth_date=cmd.birth_date,
        sex=cmd.sex, address=cmd.address, latitude=cmd.latitude, longitude=cmd.longitude,
        occurred_at=cmd.occurred_at, actor=cmd.actor))


def grant_consent(cmd: c.GrantConsent, read: Reader[Any]) -> Decision:
    return Change(Patient, cmd.patient_id, lambda p: p.grant_consent(
        occurred_at=cmd.occurred_at, actor=cmd.actor))


def revoke_consent(cmd: c.RevokeConsent, read: Reader[Any]) -> Decision:
    return Change(Patient, cmd.patient_id, lambda p: p.revoke_consent(
        reason=cmd.reason, occurred_at=cmd.occurred_at, actor=cmd.actor))


# ---------------------------------------------------------------------- the episode


def make_referral(cmd: c.MakeReferral, read: Reader[Any]) -> Decision:
    return Create(lambda: Referral.make(
        physician=read(Practitioner, cmd.physician_id), patient=read(Patient, cmd.patient_id),
        clinic=read(Clinic, cmd.clinic_id), discipline=str(cmd.discipline),
        diagnosis_codes=list(cmd.diagnosis_codes), precautions=list(cmd.precautions),
        contraindications=list(cmd.contraindications), urgency=cmd.urgency,
        authorized_visits=cmd.authorized_visits, reason=cmd.reason,
        occurred_at=cmd.occurred_at, actor=cmd.actor))


def _on_referral(cmd: c.OnReferral, decide: Callable[[Referral], None]) -> Decision:
    return Change(Referral, cmd.referral_id, decide)


def accept_referral(cmd: c.AcceptReferral, read: Reader[Any]) -> Decision:
    return _on_referral(cmd, lambda r: r.accept(
        practitioner=read(Practitioner, cmd.practitioner_id), occurred_at=cmd.occurred_at,
        actor=cmd.actor))


def decline_referral(cmd: c.DeclineReferral, read: Reader[Any]) -> Decision:
    return _on_referral(cmd, lambda r: r.decline(
        reason=cmd.reason, occurred_at=cmd.occurred_at, actor=cmd.actor))


def redirect_referral(cmd: c.RedirectReferral, read: Reader[Any]) -> Decision:
    return _on_referral(cmd, lambda r: r.redirect(
        clinic=read(Clinic, cmd.clinic_id), reason=cmd.reason, occurred_at=cmd.occurred_at,
        actor=cmd.actor))


def cancel_referral(cmd: c.CancelReferral, read: Reader[Any]) -> Decision:
    return _on_referral(cmd, lambda r: r.cancel(
        reason=cmd.reason, occurred_at=cmd.occurred_at, actor=cmd.actor))


def record_assessment(cmd: c.RecordAssessment, read: Reader[Any]) -> Decision:
    record_id = _new_id(cmd.assessment_id)
    return _on_referral(cmd, lambda r: r.record_assessment(
        assessment_id=record_id, practitioner=read(Practitioner, cmd.practitioner_id),
        history=cmd.history, pain_nprs=cmd.pain_nprs,
        range_of_motion=[dict(m) for m in cmd.range_of_motion],
        muscle_tests=[dict(m) for m in cmd.muscle_tests],
        functional_instrument=cmd.functional_instrument,
        functional_score=cmd.functional_score, findings=cmd.findings,
        red_flags=list(cmd.red_flags), occurred_at=cmd.occurred_at, actor=cmd.actor))


def draft_plan(cmd: c.DraftPlan, read: Reader[Any]) -> Decision:
    record_id = _new_id(cmd.plan_id)
    return _on_referral(cmd, lambda r: r.draft_plan(
        plan_id=record_id, practitioner=read(Practitioner, cmd.practitioner_id),
        goals=list(cmd.goals), techniques=list(cmd.techniques),
        frequency_per_week=cmd.frequency_per_week, duration_weeks=cmd.duration_weeks,
        override_reason=cmd.override_reason, occurred_at=cmd.occurred_at, actor=cmd.actor))


def revise_plan(cmd: c.RevisePlan, read: Reader[Any]) -> Decision:
    return _on_referral(cmd, lambda r: r.revise_plan(
        practitioner=read(Practitioner, cmd.practitioner_id), goals=list(cmd.goals),
        techniques=list(cmd.techniques), frequency_per_week=cmd.frequency_per_week,
        duration_weeks=cmd.duration_weeks, reason=cmd.reason,
        override_reason=cmd.override_reason, occurred_at=cmd.occurred_at, actor=cmd.actor))


def certify_plan(cmd: c.CertifyPlan, read: Reader[Any]) -> Decision:
    return _on_referral(cmd, lambda r: r.certify_plan(
        physician=read(Practitioner, cmd.physician_id), certified_from=cmd.certified_from,
        certified_until=cmd.certified_until, occurred_at=cmd.occurred_at, actor=cmd.actor))


def recertify_plan(cmd: c.RecertifyPlan, read: Reader[Any]) -> Decision:
    return _on_referral(cmd, lambda r: r.recertify_plan(
        physician=read(Practitioner, cmd.physician_id), certified_from=cmd.certified_from,
        certified_until=cmd.certified_until, occurred_at=cmd.occurred_at, actor=cmd.actor))


def schedule_session(cmd: c.ScheduleSession, read: Reader[Any]) -> Decision:
    record_id = _new_id(cmd.session_id)
    return _on_referral(cmd, lambda r: r.schedule_session(
        session_id=record_id, practitioner=read(Practitioner, cmd.practitioner_id),
        scheduled_for=cmd.scheduled_for, location=cmd.location,
        occurred_at=cmd.occurred_at, actor=cmd.actor))


def complete_session(cmd: c.CompleteSession, read: Reader[Any]) -> Decision:
    return _on_referral(cmd, lambda r: r.complete_session(
        session_id=cmd.session_id, practitioner=read(Practitioner, cmd.practitioner_id),
        soap=dict(cmd.soap), techniques=list(cmd.techniques), pain_before=cmd.pain_before,
        pain_after=cmd.pain_after, location=cmd.location,
        functional_score=cmd.functional_score,
        goal_measurements=[dict(m) for m in cmd.goal_measurements],
        override_reason=cmd.override_reason, occurred_at=cmd.occurred_at, actor=cmd.actor))


def cancel_session(cmd: c.CancelSession, read: Reader[Any]) -> Decision:
    return _on_referral(cmd, lambda r: r.cancel_session(
        session_id=cmd.session_id, reason=cmd.reason, occurred_at=cmd.occurred_at,
        actor=cmd.actor))


def record_no_show(cmd: c.RecordNoShow, read: Reader[Any]) -> Decision:
    return _on_referral(cmd, lambda r: r.record_no_show(
        session_id=cmd.session_id, occurred_at=cmd.occurred_at, actor=cmd.actor))


def send_progress_report(cmd: c.SendProgressReport, read: Reader[Any]) -> Decision:
    record_id = _new_id(cmd.report_id)
    return _on_referral(cmd, lambda r: r.send_progress_report(
        report_id=record_id, practitioner=read(Practitioner, cmd.practitioner_id),
        summary=cmd.summary, goal_status=[dict(g) for g in cmd.goal_status],
        occurred_at=cmd.occurred_at, actor=cmd.actor))


def discharge(cmd: c.Discharge, read: Reader[Any]) -> Decision:
    return _on_referral(cmd, lambda r: r.discharge(
        practitioner=read(Practitioner, cmd.practitioner_id), outcomes=dict(cmd.outcomes),
        summary=cmd.summary, occurred_at=cmd.occurred_at, actor=cmd.actor))


def amend(cmd: c.Amend, read: Reader[Any]) -> Decision:
    return _on_referral(cmd, lambda r: r.amend(
        record_id=cmd.record_id, reason=cmd.reason, changes=dict(cmd.changes),
        author=cmd.actor, occurred_at=cmd.occurred_at))


def request_amendment(cmd: c.RequestAmendment, read: Reader[Any]) -> Decision:
    request_id = _new_id(cmd.request_id)
    return _on_referral(cmd, lambda r: r.request_amendment(
        request_id=request_id, record_id=cmd.record_id, changes=dict(cmd.changes),
        reason=cmd.reason, occurred_at=cmd.occurred_at, actor=cmd.actor))


def accept_amendment(cmd: c.AcceptAmendment, read: Reader[Any]) -> Decision:
    return _on_referral(cmd, lambda r: r.accept_amendment(
        request_id=cmd.request_id, occurred_at=cmd.occurred_at, actor=cmd.actor))


def deny_amendment(cmd: c.DenyAmendment, read: Reader[Any]) -> Decision:
    return _on_referral(cmd, lambda r: r.deny_amendment(
        request_id=cmd.request_id, basis=cmd.basis, explanation=cmd.explanation,
        occurred_at=cmd.occurred_at, actor=cmd.actor))


def file_disagreement(cmd: c.FileDisagreement, read: Reader[Any]) -> Decision:
    return _on_referral(cmd, lambda r: r.file_disagreement(
        request_id=cmd.request_id, statement=cmd.statement, occurred_at=cmd.occurred_at,
        actor=cmd.actor))


#: Every command, and what decides it.
HANDLERS: dict[type[c.Command], Handler] = {
    c.RegisterClinic: register_clinic,
    c.RegisterPractitioner: register_practitioner,
    c.AddCredential: add_credential,
    c.Affiliate: affiliate,
    c.RecordExperience: record_experience,
    c.OfferHomeVisits: offer_home_visits,
    c.RegisterPatient: register_patient,
    c.GrantConsent: grant_consent,
    c.RevokeConsent: revoke_consent,
    c.MakeReferral: make_referral,
    c.AcceptReferral: accept_referral,
    c.DeclineReferral: decline_referral,
    c.RedirectReferral: redirect_referral,
    c.CancelReferral: cancel_referral,
    c.RecordAssessment: record_assessment,
    c.DraftPlan: draft_plan,
    c.RevisePlan: revise_plan,
    c.CertifyPlan: certify_plan,
    c.RecertifyPlan: recertify_plan,
    c.ScheduleSession: schedule_session,
    c.CompleteSession: complete_session,
    c.CancelSession: cancel_session,
    c.RecordNoShow: record_no_show,
    c.SendProgressReport: send_progress_report,
    c.Discharge: discharge,
    c.Amend: amend,
    c.RequestAmendment: request_amendment,
    c.AcceptAmendment: accept_amendment,
    c.DenyAmendment: deny_amendment,
    c.FileDisagreement: file_disagreement,
}
