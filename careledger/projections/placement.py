"""Which events each view of a patient's care leaves aside: every view places every event.

A view handles an event (its module's `@handles`) or says here that it has no use for
it, so an event added to the domain is placed in every view in this one table, and
tests/unit/test_event_catalogue.py names each view that has not placed it. Two views
place events by their record instead: the timeline shows every event of a patient's care
and the directory every event of the network (timeline.py, directory.py); the views of
care all leave the network's events aside.
"""

from __future__ import annotations

from careledger.domain.catalogue import events_of
from careledger.domain.events import CareEvent
from careledger.domain.identity import SignIn, StaffMember
from careledger.domain.network import Clinic, Practitioner
from careledger.domain.patient import Patient
from careledger.domain.referral import Referral

#: The directory's events: no view of a patient's care needs them.
NETWORK_EVENTS = events_of(Clinic, Practitioner, StaffMember, SignIn)
#: The events of a patient's care: the directory needs none of them.
CARE_EVENTS = events_of(Patient, Referral)

#: For each view of care, the events of care it has no use for.
LEAVES_ASIDE: dict[str, list[type[CareEvent]]] = {
    "billing": [
        Patient.Registered, Patient.ConsentGranted, Patient.ConsentRevoked, Patient.ConsentDecided,
        Referral.Made,
        Referral.Accepted, Referral.Declined, Referral.Redirected, Referral.Cancelled,
        Referral.AssessmentRecorded, Referral.PlanDrafted, Referral.PlanRevised,
        Referral.VisitsAuthorized, Referral.SessionScheduled, Referral.SessionCancelled,
        Referral.PatientDidNotAttend, Referral.ProgressReported, Referral.Discharged,
        Referral.AmendmentRequested, Referral.AmendmentAccepted,
        Referral.AmendmentDenied, Referral.DisagreementFiled,
        Referral.PlanDeviationAcknowledged,
        Referral.MessageSent, Referral.MessageAcknowledged,
        Patient.DocumentAttached, Referral.DocumentAttached,
        Patient.CoverageRecorded,
    ],
    "care_team": [
        Referral.Accepted, Referral.Declined, Referral.Cancelled, Referral.AssessmentRecorded,
        Referral.PlanDrafted, Referral.PlanRevised, Referral.PlanCertified,
        Referral.PlanRecertified, Referral.VisitsAuthorized, Referral.SessionScheduled,
        Referral.SessionCompleted, Referral.SessionCancelled, Referral.PatientDidNotAttend,
        Referral.ProgressReported, Referral.PlanDeviationAcknowledged,
        Referral.Discharged, Referral.Amended, Referral.AmendmentRequested,
        Referral.AmendmentAccepted, Referral.AmendmentDenied, Referral.DisagreementFiled,
        Referral.MessageSent, Referral.MessageAcknowledged,
        Patient.DocumentAttached, Referral.DocumentAttached,
        Patient.CoverageRecorded,
    ],
    "caseload": [
        Patient.Registered, Patient.ConsentGranted, Patient.ConsentRevoked, Patient.ConsentDecided,
        Referral.AssessmentRecorded, Referral.ProgressReported,
        Referral.AmendmentRequested, Referral.AmendmentAccepted, Referral.AmendmentDenied,
        Referral.DisagreementFiled, Referral.PlanDeviationAcknowledged,
        Referral.MessageSent, Referral.MessageAcknowledged,
        Patient.DocumentAttached, Referral.DocumentAttached,
        Patient.CoverageRecorded,
    ],
    "goals": [
        Patient.Registered, Patient.ConsentGranted, Patient.ConsentRevoked, Patient.ConsentDecided,
        Referral.Made,
        Referral.Accepted, Referral.Declined, Referral.Redirected, Referral.Cancelled,
        Referral.AssessmentRecorded, Referral.PlanCertified, Referral.PlanRecertified,
        Referral.VisitsAuthorized, Referral.SessionScheduled, Referral.SessionCancelled,
        Referral.PatientDidNotAttend, Referral.ProgressReported,
        Referral.AmendmentRequested, Referral.AmendmentAccepted, Referral.AmendmentDenied,
        Referral.DisagreementFiled, Referral.PlanDeviationAcknowledged,
        Referral.MessageSent, Referral.MessageAcknowledged,
        Patient.DocumentAttached, Referral.DocumentAttached,
        Patient.CoverageRecorded,
    ],
    "worklist": [
        Patient.Registered, Patient.ConsentGranted, Patient.ConsentRevoked, Patient.ConsentDecided,
        Referral.Made,
        Referral.Accepted, Referral.Declined, Referral.Redirected, Referral.Cancelled,
        Referral.PlanDrafted, Referral.PlanCertified,
        Referral.PlanRecertified, Referral.VisitsAuthorized, Referral.SessionScheduled,
        Referral.SessionCancelled, Referral.PatientDidNotAttend, Referral.Discharged,
        Referral.AmendmentRequested, Referral.AmendmentAccepted, Referral.AmendmentDenied,
        Referral.DisagreementFiled,
        Referral.MessageAcknowledged,
        Patient.DocumentAttached, Referral.DocumentAttached,
        Patient.CoverageRecorded,
    ],
}


def ignored(view: str) -> list[type[CareEvent]]:
    """What the view declares it ignores: the network's events, and its own list here."""
    return [*NETWORK_EVENTS, *LEAVES_ASIDE[view]]
