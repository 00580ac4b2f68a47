"""Every invariant the domain enforces (docs/architecture.md), each on its own, in memory."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from careledger.access.tokens import TokenService
from careledger.domain.amendments import (
    AcceptAmendment,
    Amend,
    DenyAmendment,
    FileDisagreement,
    RequestAmendment,
)
from careledger.domain.application import CareLedger
from careledger.domain.clinical import (
    CredentialKind,
    DenialBasis,
    Goal,
    GoalOutcome,
    Profession,
    SessionLocation,
    Technique,
)
from careledger.domain.closing import Discharge
from careledger.domain.errors import InvalidInput, InvariantViolated, NotFound, VersionConflict
from careledger.domain.intake import AcceptReferral, CancelReferral
from careledger.domain.network import AddCredential, RegisterPractitioner
from careledger.domain.patient import RevokeConsent
from careledger.domain.planning import CertifyPlan, RevisePlan
from careledger.domain.precautions import Applied
from careledger.domain.referral import Referral
from careledger.domain.treatment import (
    AcknowledgePlanDeviation,
    CancelSession,
    CompleteSession,
    ScheduleSession,
)
from tests.helpers.episode import GOAL, SOAP, accepted, assess, plan, refer, session
from tests.helpers.network import NOW, build_network


@pytest.fixture()
def app() -> CareLedger:
    return CareLedger()


@pytest.fixture()
def net(app: CareLedger):  # type: ignore[no-untyped-def]
    return build_network(app, TokenService("unit-test-secret-0123456789"))


# --- only a credentialed physician refers ----------------------------------------------


def test_a_therapist_cannot_refer(app: CareLedger, net) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvariantViolated, match="only a physician refers"):
        refer(app, net, physician_id=net.therapist)


def test_a_physician_without_npi_cannot_refer(app: CareLedger,
                                              net) -> None:  # type: ignore[no-untyped-def]
    doc = app.handle(RegisterPractitioner(name="Dr. No", profession=Profession.PHYSICIAN,
                                          occurred_at=NOW, actor="a")).aggregate_id
    app.handle(AddCredential(practitioner_id=doc, kind=CredentialKind.STATE_LICENSE, number="MD-9",
                             issuer="NYSED",
                             expires_on=date(2030, 1, 1), occurred_at=NOW, actor="a"))
    with pytest.raises(InvariantViolated, match="NPI"):
        refer(app, net, physician_id=doc)


def test_a_physician_with_an_expired_license_cannot_refer(app: CareLedger,
                                                          net) -> None:  # type: ignore[no-untyped-def]
    lapsed = app.handle(RegisterPractitioner(name="Dr. Lapsed", profession=Profession.PHYSICIAN,
                                             occurred_at=NOW, actor="a")).aggregate_id
    app.handle(AddCredential(practitioner_id=lapsed, kind=CredentialKind.NPI, number="1245319599",
                             issuer="CMS", expires_on=None, occurred_at=NOW, actor="a"))
    app.handle(AddCredential(practitioner_id=lapsed, kind=CredentialKind.STATE_LICENSE,
                             number="MD-2", issuer="NYSED", expires_on=NOW.date() - timedelta(1),
                             occurred_at=NOW, actor="a"))
    with pytest.raises(InvariantViolated, match="license"):
        refer(app, net, physician_id=lapsed)


def test_an_npi_must_pass_its_check_digit(app: CareLedger,
                                          net) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidInput, match="NPI"):
        app.handle(AddCredential(practitioner_id=net.physician, kind=CredentialKind.NPI,
                                 number="1234567890",
                                 issuer="CMS", expires_on=None, occurred_at=NOW, actor="a"))


# --- a referral carries at least one valid ICD-10 code ---------------------------------


def test_a_referral_needs_a_diagnosis(app: CareLedger, net) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidInput, match="at least one ICD-10"):
        refer(app, net, diagnosis_codes=[])


@pytest.mark.parametrize("code", ["XYZ", "M54.5", "M99.999"])
def test_a_referral_refuses_codes_that_are_not_billable_icd10(  # type: ignore[no-untyped-def]
    app: CareLedger, net, code: str
) -> None:
    with pytest.raises(InvalidInput):
        refer(app, net, diagnosis_codes=[code])


def test_a_referral_records_the_diagnosis_description(app: CareLedger,
                                                      net) -> None:  # type: ignore[no-untyped-def]
    rid = refer(app, net, diagnosis_codes=["m54.50"])
    assert app.load(Referral, rid).diagnoses == [
        {"code": "M54.50", "description": "Low back pain, unspecified"}
    ]


def test_a_referral_needs_the_patients_consent(app: CareLedger,
                                               net) -> None:  # type: ignore[no-untyped-def]
    app.handle(RevokeConsent(patient_id=net.patient, reason="moved away", occurred_at=NOW,
                             actor="p"))
    with pytest.raises(InvariantViolated, match="consented"):
        refer(app, net)


# --- only a qualified, affiliated, licensed practitioner assesses or treats ------------


def test_a_practitioner_of_another_discipline_cannot_accept(app: CareLedger,
                                                            net) -> None:  # type: ignore[no-untyped-def]
    rid = refer(app, net)
    with pytest.raises(InvariantViolated, match="discipline"):
        app.handle(AcceptReferral(referral_id=rid, practitioner_id=net.physician, occurred_at=NOW,
                                  actor="t"))


def test_a_practitioner_of_another_clinic_cannot_accept(app: CareLedger,
                                                        net) -> None:  # type: ignore[no-untyped-def]
    rid = refer(app, net)
    with pytest.raises(InvariantViolated, match="affiliated"):
        app.handle(AcceptReferral(referral_id=rid, practitioner_id=net.other_therapist,
                                  occurred_at=NOW, actor="t"))


def test_a_practitioner_with_an_expired_license_cannot_assess(app: CareLedger,
                                                              net) -> None:  # type: ignore[no-untyped-def]
    rid = accepted(app, net)
    with pytest.raises(InvariantViolated, match="license"):
        assess(app, net, rid, who=net.expired_therapist)


# --- no plan without an assessment; a plan has a measurable goal -----------------------


def test_no_plan_without_an_assessment(app: CareLedger,
                                       net) -> None:  # type: ignore[no-untyped-def]
    rid = accepted(app, net)
    with pytest.raises(InvariantViolated, match="assessment first"):
        plan(app, net, rid)


def test_a_plan_has_at_least_one_goal(app: CareLedger, net) -> None:  # type: ignore[no-untyped-def]
    rid = accepted(app, net)
    assess(app, net, rid)
    with pytest.raises(InvariantViolated, match="measurable goal"):
        plan(app, net, rid, goals=())


def test_a_goal_is_measurable() -> None:
    with pytest.raises(InvalidInput, match="differ"):
        Goal(goal_id="g", description="", metric="NPRS", baseline=5, target=5, unit="points",
             due=date(2026, 5, 1))


# --- no session beyond authorized visits -----------------------------------------------


def test_no_session_beyond_authorized_visits(app: CareLedger,
                                             net) -> None:  # type: ignore[no-untyped-def]
    rid = accepted(app, net, authorized_visits=2)
    assess(app, net, rid)
    plan(app, net, rid)
    session(app, net, rid, "s1")
    session(app, net, rid, "s2")
    with pytest.raises(InvariantViolated, match="authorized visits"):
        app.handle(ScheduleSession(referral_id=rid, practitioner_id=net.therapist,
                                   scheduled_for=NOW,
                                   location=SessionLocation.CLINIC, occurred_at=NOW, actor="t"))


def test_a_cancelled_session_frees_its_visit(app: CareLedger,
                                             net) -> None:  # type: ignore[no-untyped-def]
    rid = accepted(app, net, authorized_visits=1)
    app.handle(ScheduleSession(referral_id=rid, practitioner_id=net.therapist, scheduled_for=NOW,
                               location=SessionLocation.HOME, occurred_at=NOW, actor="t",
                               session_id="s1"))
    app.handle(CancelSession(referral_id=rid, session_id="s1", reason="ill", occurred_at=NOW,
                             actor="t"))
    app.handle(ScheduleSession(referral_id=rid, practitioner_id=net.therapist, scheduled_for=NOW,
                               location=SessionLocation.CLINIC, occurred_at=NOW, actor="t",
                               session_id="s2"))
    assert app.load(Referral, rid).sessions == {"s1": "cancelled", "s2": "scheduled"}


# --- contraindicated techniques need an explicit override with a reason ----------------


def test_a_contraindicated_technique_is_refused(app: CareLedger,
                                                net) -> None:  # type: ignore[no-untyped-def]
    rid = accepted(app, net)
    assess(app, net, rid)
    plan(app, net, rid)
    with pytest.raises(InvariantViolated, match=r"contraindicated.*deep_tissue"):
        session(app, net, rid, "s1", techniques=[(Technique.DEEP_TISSUE, 20)])


def test_a_session_beyond_the_plan_needs_a_reason_and_is_acknowledged_once(
        app: CareLedger, net) -> None:  # type: ignore[no-untyped-def]
    rid = accepted(app, net)
    assess(app, net, rid)
    plan(app, net, rid)  # myofascial release only
    beyond = [(Technique.TRIGGER_POINT, 15)]
    with pytest.raises(InvariantViolated, match="trigger point: not in the plan"):
        session(app, net, rid, "s1", techniques=beyond)
    app.handle(CompleteSession(
        referral_id=rid, session_id="s1", practitioner_id=net.therapist, soap=SOAP,
        techniques=beyond, pain_before=6, pain_after=5, location=SessionLocation.CLINIC,
        functional_score=None, goal_measurements=[], override_reason=None,
        off_plan_reason="an active trigger point", occurred_at=NOW, actor="t"))
    session(app, net, rid, "s2", techniques=beyond, off_plan="still there")
    referral = app.repository.get(rid)
    assert referral.deviations == {"s1": ["trigger point: not in the plan"],
                                   "s2": ["trigger point: not in the plan"]}
    with pytest.raises(InvariantViolated, match="referring physician"):
        app.handle(AcknowledgePlanDeviation(referral_id=rid, physician_id=net.therapist,
                                            session_id="s1", occurred_at=NOW, actor="t"))
    app.handle(AcknowledgePlanDeviation(referral_id=rid, physician_id=net.physician,
                                        session_id="s1", occurred_at=NOW, actor="p"))
    with pytest.raises(InvariantViolated, match="nothing beyond the plan"):
        app.handle(AcknowledgePlanDeviation(referral_id=rid, physician_id=net.physician,
                                            session_id="s1", occurred_at=NOW, actor="p"))
    assert list(app.repository.get(rid).deviations) == ["s2"]
    app.handle(RevisePlan(referral_id=rid, practitioner_id=net.therapist, goals=[GOAL],
                          techniques=[Technique.MYOFASCIAL_RELEASE, Technique.TRIGGER_POINT],
                          frequency_per_week=2, duration_weeks=6, reason="trigger points",
                          override_reason=None, occurred_at=NOW, actor="t"))
    assert app.repository.get(rid).deviations == {}  # the revised plan answers s2
    revised = app.repository.get(rid).require_plan()
    assert revised.deviations([Applied(Technique.TRIGGER_POINT)]) == []  # within it now


def test_an_override_with_a_reason_is_recorded(app: CareLedger,
                                               net) -> None:  # type: ignore[no-untyped-def]
    rid = accepted(app, net)
    assess(app, net, rid)
    plan(app, net, rid, techniques=(Technique.MYOFASCIAL_RELEASE, Technique.DEEP_TISSUE),
         override="planned light pressure only")
    session(app, net, rid, "s1", techniques=[(Technique.DEEP_TISSUE, 20)],
            override="physician cleared light pressure by phone")
    completed = [e for e in app.events.get(rid) if type(e).__name__ == "SessionCompleted"]
    assert completed[0].override_reason == "physician cleared light pressure by phone"  # type: ignore[attr-defined]
    assert completed[0].overridden == [  # type: ignore[attr-defined]
        "contraindicated by the referral: deep_tissue"]
    assert completed[0].billing_lines == [{"cpt": "97124", "minutes": 20,
                                           "units": 1}]  # type: ignore[attr-defined]


def test_a_plan_with_a_contraindicated_technique_needs_an_override(app: CareLedger,
                                                                   net) -> None:  # type: ignore[no-untyped-def]
    rid = accepted(app, net)
    assess(app, net, rid)
    with pytest.raises(InvariantViolated, match="contraindicated"):
        plan(app, net, rid, techniques=(Technique.DEEP_TISSUE,))


# --- nothing after discharge but amendments --------------------------------------------


def test_nothing_after_discharge_except_amendments(app: CareLedger,
                                                   net) -> None:  # type: ignore[no-untyped-def]
    rid = accepted(app, net)
    assess(app, net, rid)
    plan(app, net, rid)
    session(app, net, rid, "s1")
    app.handle(Discharge(referral_id=rid, practitioner_id=net.therapist,
                         outcomes={"pain": GoalOutcome.MET},
                         summary="goals met", occurred_at=NOW, actor="t"))
    with pytest.raises(InvariantViolated, match="discharged"):
        app.handle(ScheduleSession(referral_id=rid, practitioner_id=net.therapist,
                                   scheduled_for=NOW,
                                   location=SessionLocation.CLINIC, occurred_at=NOW, actor="t"))
    with pytest.raises(InvariantViolated, match="discharged"):
        app.handle(CancelReferral(referral_id=rid, reason="x", occurred_at=NOW, actor="t"))
    app.handle(Amend(referral_id=rid, record_id="s1", reason="pain after was 3, not 4",
                     changes={"pain_after": 3},
                     occurred_at=NOW + timedelta(days=1), actor="therapist:x"))
    names = [type(e).__name__ for e in app.events.get(rid)]
    assert names[-2:] == ["Discharged", "Amended"]
    assert "SessionCompleted" in names  # the original stays beside its amendment


def test_an_amendment_points_at_a_record_of_the_episode(app: CareLedger,
                                                        net) -> None:  # type: ignore[no-untyped-def]
    rid = accepted(app, net)
    with pytest.raises(InvariantViolated, match="no such record"):
        app.handle(Amend(referral_id=rid, record_id="nope", reason="r", changes={"a": 1},
                         occurred_at=NOW,
                         actor="t"))


def test_a_patients_request_to_amend_is_accepted_or_denied_and_a_denial_answered(
    app: CareLedger, net  # type: ignore[no-untyped-def]
) -> None:
    rid = accepted(app, net)
    assess(app, net, rid)
    plan(app, net, rid)
    session(app, net, rid, "s1")
    app.handle(Discharge(referral_id=rid, practitioner_id=net.therapist,
                         outcomes={"pain": GoalOutcome.MET},
                         summary="goals met", occurred_at=NOW, actor="t"))
    later = NOW + timedelta(days=3)
    # Requested after discharge, too: the right to amend outlives the episode.
    app.handle(RequestAmendment(referral_id=rid, request_id="r1", record_id="s1",
                                changes={"pain_after": 2},
                                reason="I told them 2", occurred_at=later, actor="clinic-admin:a"))
    app.handle(AcceptAmendment(referral_id=rid, request_id="r1", occurred_at=later,
                               actor="therapist:x"))
    with pytest.raises(InvariantViolated, match="already accepted"):
        app.handle(DenyAmendment(referral_id=rid, request_id="r1",
                                 basis=DenialBasis.ACCURATE_AND_COMPLETE,
                                 explanation="x", occurred_at=later, actor="therapist:x"))
    app.handle(RequestAmendment(referral_id=rid, request_id="r2", record_id="s1",
                                changes={"soap.objective": "none"},
                                reason="no test was done", occurred_at=later,
                                actor="clinic-admin:a"))
    with pytest.raises(InvariantViolated, match="answers a denied request"):
        app.handle(FileDisagreement(referral_id=rid, request_id="r2", statement="s",
                                    occurred_at=later,
                                    actor="clinic-admin:a"))
    with pytest.raises(InvalidInput, match="explains"):
        app.handle(DenyAmendment(referral_id=rid, request_id="r2",
                                 basis=DenialBasis.ACCURATE_AND_COMPLETE,
                                 explanation=" ", occurred_at=later, actor="therapist:x"))
    app.handle(DenyAmendment(referral_id=rid, request_id="r2",
                             basis=DenialBasis.ACCURATE_AND_COMPLETE,
                             explanation="the range of motion was measured", occurred_at=later,
                             actor="therapist:x"))
    app.handle(FileDisagreement(referral_id=rid, request_id="r2",
                                statement="no one measured anything",
                                occurred_at=later, actor="clinic-admin:a"))
    with pytest.raises(InvariantViolated, match="already made"):
        app.handle(RequestAmendment(referral_id=rid, request_id="r2", record_id="s1",
                                    changes={"a": 1},
                                    reason="again", occurred_at=later, actor="clinic-admin:a"))
    with pytest.raises(InvariantViolated, match="no such record"):
        app.handle(RequestAmendment(referral_id=rid, record_id="nope", changes={"a": 1}, reason="r",
                                    occurred_at=later, actor="clinic-admin:a"))
    names = [type(e).__name__ for e in app.events.get(rid)]
    assert names[-6:] == ["AmendmentRequested", "AmendmentAccepted", "Amended",
                          "AmendmentRequested", "AmendmentDenied", "DisagreementFiled"]
    assert "SessionCompleted" in names  # the original record stays as it was
    statuses = {k: v["status"] for k, v in app.load(Referral, rid).amendment_requests.items()}
    assert statuses == {"r1": "accepted", "r2": "disputed"}


def test_a_snapshot_from_before_amendment_requests_still_loads(
    app: CareLedger, net  # type: ignore[no-untyped-def]
) -> None:
    rid = accepted(app, net)
    referral = app.load(Referral, rid)
    old = Referral.Snapshot.take(referral)
    state = dict(old.state)
    del state["amendment_requests"]
    state.pop("class_version", None)  # as version 1 stored it
    restored = Referral.Snapshot(originator_id=old.originator_id,
                                 originator_version=old.originator_version,
                                 timestamp=old.timestamp, topic=old.topic, state=state).mutate(None)
    assert restored.amendment_requests == {}


def test_a_snapshot_from_before_the_plan_was_a_value_object_still_loads(
    app: CareLedger, net  # type: ignore[no-untyped-def]
) -> None:
    rid = accepted(app, net)
    assess(app, net, rid)
    plan(app, net, rid)
    app.handle(CertifyPlan(referral_id=rid, physician_id=net.physician,
                           certified_from=date(2026, 3, 2), certified_until=date(2026, 5, 31),
                           occurred_at=NOW, actor="p"))
    session(app, net, rid, "s1")
    referral = app.load(Referral, rid)
    assert referral.plan is not None
    old = Referral.Snapshot.take(referral)
    state = dict(old.state)
    # As version 2 stored them: the plan a dict of JSON values, the first treatment a string.
    state["plan"] = {"plan_id": referral.plan.plan_id, "revision": referral.plan.revision,
                     "goal_ids": list(referral.plan.goal_ids),
                     "certified_until": "2026-05-31", "certified_revision": 1}
    state["first_treatment_on"] = referral.first_treatment_on.isoformat()  # type: ignore[union-attr]
    state["class_version"] = 2
    restored = Referral.Snapshot(originator_id=old.originator_id,
                                 originator_version=old.originator_version,
                                 timestamp=old.timestamp, topic=old.topic, state=state).mutate(None)
    assert restored.plan == referral.plan
    assert restored.plan.certified and restored.first_treatment_on == referral.first_treatment_on


# --- certification ---------------------------------------------------------------------


def test_certification_lasts_at_most_90_days(app: CareLedger,
                                             net) -> None:  # type: ignore[no-untyped-def]
    rid = accepted(app, net)
    assess(app, net, rid)
    plan(app, net, rid)
    with pytest.raises(InvariantViolated, match="90 days"):
        app.handle(CertifyPlan(referral_id=rid, physician_id=net.physician,
                               certified_from=date(2026, 3, 2),
                               certified_until=date(2026, 6, 2), occurred_at=NOW, actor="p"))
    app.handle(CertifyPlan(referral_id=rid, physician_id=net.physician, certified_from=date(2026, 3,
                                                                                            2),
                           certified_until=date(2026, 5, 31), occurred_at=NOW, actor="p"))
    certified = app.load(Referral, rid).plan
    assert certified is not None and certified.certified_until == date(2026, 5, 31)


def test_an_uncertified_plan_is_flagged_30_days_after_first_treatment(app: CareLedger,
                                                                      net) -> None:  # type: ignore[no-untyped-def]
    rid = accepted(app, net)
    assess(app, net, rid)
    plan(app, net, rid)
    session(app, net, rid, "s1")
    referral = app.load(Referral, rid)
    assert not referral.certification_overdue(NOW.date() + timedelta(days=30))
    assert referral.certification_overdue(NOW.date() + timedelta(days=31))


# --- commands on a stale version fail --------------------------------------------------


def test_a_command_on_a_stale_version_conflicts(app: CareLedger,
                                                net) -> None:  # type: ignore[no-untyped-def]
    rid = refer(app, net)
    with pytest.raises(VersionConflict):
        app.handle(AcceptReferral(referral_id=rid, practitioner_id=net.therapist, occurred_at=NOW,
                                  actor="t"), expected_version=7)
    assert app.handle(AcceptReferral(referral_id=rid, practitioner_id=net.therapist,
                                     occurred_at=NOW, actor="t"), expected_version=1).version == 2


def test_an_unknown_or_mistyped_id_is_not_found(app: CareLedger,
                                                net) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(NotFound):
        app.handle(AcceptReferral(referral_id=net.patient, practitioner_id=net.therapist,
                                  occurred_at=NOW,
                                  actor="t"))


def test_clinical_times_carry_a_zone(app: CareLedger, net) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidInput, match="UTC offset"):
        refer(app, net, occurred_at=datetime(2026, 3, 2, 9, 0))
    # Python takes offsets up to 24 hours; no zone on Earth is past 14 (nor can
    # PostgreSQL hold one past 15:59).
    far = timezone(timedelta(hours=20, minutes=13))
    with pytest.raises(InvalidInput, match="between -14:00 and \\+14:00"):
        refer(app, net, occurred_at=datetime(2026, 3, 2, 9, 0, tzinfo=far))
    refer(app, net, occurred_at=datetime(2026, 3, 2, 9, 0, tzinfo=timezone(timedelta(hours=14))))
