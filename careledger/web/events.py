"""How the pages name and show each event: the one place the browser learns it from.

The page fetches this as JSON (`/app/events.json`) before it draws anything: a label per
event in the clinic's words, the timeline filter's groups, for each event the lines of
detail it shows, as data (a term, a format the page knows, the fields it reads), and the
domain's deadlines (how long a certification may run, for the certify form). The
page itself names no event, so a new event is shown by adding it here, and a test holds
every event of the domain to having a label here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from careledger.domain import deadlines
from careledger.domain.catalogue import EVENTS
from careledger.domain.events import CareEvent
from careledger.domain.identity import SignIn, StaffMember
from careledger.domain.network import Clinic, Practitioner
from careledger.domain.patient import Patient
from careledger.domain.referral import Referral

#: The formats the page knows (`careledger/web/static/web/details.js`): a detail names
#: one and the fields it reads.
FORMATS = frozenset({
    "text", "words", "day", "when", "list", "words_list", "score", "diagnoses",
    "range_of_motion", "goals", "frequency", "period", "pain_change", "techniques",
    "units", "outcomes", "changes", "permit", "planned", "precautions", "sites", "bytes",
})


@dataclass(frozen=True)
class Detail:
    """One line of an event's description list: `term` (or the value of `term_field`,
    when the event has one), shown by `format` from `fields`, with a `unit` after it."""

    term: str
    format: str
    fields: tuple[str, ...]
    unit: str = ""
    term_field: str = ""

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"term": self.term, "format": self.format,
                                "fields": list(self.fields)}
        if self.unit:
            body["unit"] = self.unit
        if self.term_field:
            body["termField"] = self.term_field
        return body


def detail(term: str, format: str, *fields: str, unit: str = "",
           term_field: str = "") -> Detail:
    if format not in FORMATS:
        raise ValueError(f"the page has no format {format!r}")
    return Detail(term, format, fields, unit, term_field)


@dataclass(frozen=True)
class Shown:
    label: str
    group: str | None
    details: tuple[Detail, ...] = field(default=())
    #: Its clinic is where the patient was sent, not where anything happened.
    referring: bool = False


#: The timeline filter: groups a clinician thinks in.
GROUPS = (
    ("referral", "Referrals"),
    ("assessment", "Assessments"),
    ("plan", "Plans and certifications"),
    ("session", "Sessions"),
    ("report", "Progress reports and discharge"),
    ("message", "Messages"),
    ("document", "Documents"),
    ("amendment", "Amendments and requests"),
    ("patient", "Registration and consent"),
)

REASON = detail("Reason", "text", "reason")
#: What precautions wrote on a plan or a note, and what the therapist answered.
SCREENED = (detail("Cautions", "list", "cautions"),
            detail("Contraindicated", "list", "overridden"),
            detail("Override", "text", "override_reason"))
PLAN = (detail("Goals", "goals", "goals"),
        detail("Techniques", "planned", "techniques", "sites"),
        detail("Frequency", "frequency", "frequency_per_week", "duration_weeks"), *SCREENED)
DOCUMENT = (detail("Title", "text", "title"), detail("Kind", "words", "category"),
            detail("Size", "bytes", "size"))
CERTIFIED = (detail("Certified", "period", "certified_from", "certified_until"),)

SHOWN: dict[type[CareEvent], Shown] = {
    Clinic.Registered: Shown("Clinic registered", None),
    Clinic.BillingProviderRecorded: Shown("Billing provider on file", None),
    Clinic.FeeScheduleSet: Shown("Fee schedule set", None),
    Practitioner.Registered: Shown("Practitioner registered", None),
    Practitioner.Renamed: Shown("Name changed", None),
    Practitioner.CredentialAdded: Shown("Credential added", None),
    StaffMember.Registered: Shown("Staff member registered", None),
    SignIn.Linked: Shown("Sign-in linked", None),
    SignIn.Relinked: Shown("Sign-in linked again", None),
    SignIn.Unlinked: Shown("Sign-in unlinked", None),
    Practitioner.Affiliated: Shown("Joined a clinic", None),
    Practitioner.AffiliationEnded: Shown("Left a clinic", None),
    Practitioner.ExperienceRecorded: Shown("Experience recorded", None),
    Practitioner.HomeVisitsOffered: Shown("Home visits offered", None),
    Practitioner.ContinuingEducationRecorded: Shown("Continuing education recorded", None),
    Patient.Registered: Shown("Patient registered", "patient", (
        detail("Born", "day", "birth_date"), detail("Sex", "text", "sex"))),
    Patient.ConsentGranted: Shown("Consent to share granted", "patient"),
    Patient.ConsentRevoked: Shown("Consent to share revoked", "patient", (REASON,)),
    Patient.DocumentAttached: Shown("Document attached", "document", DOCUMENT),
    Patient.CoverageRecorded: Shown("Insurance coverage recorded", "patient", (
        detail("Payer", "text", "payer"), detail("Plan", "text", "plan"),
        detail("Order", "text", "order"), detail("In force", "period", "starts_on", "ends_on"))),
    Patient.ConsentDecided: Shown("Consent decision recorded", "patient", (
        detail("Decision", "permit", "permit"), detail("For", "words", "purpose"),
        detail("In force", "period", "starts_on", "ends_on"),
        detail("Signed form", "text", "form_reference"))),
    Referral.Made: Shown("Referral made", "referral", (
        detail("Discipline", "words", "discipline"),
        detail("Diagnoses", "diagnoses", "diagnoses"),
        detail("Urgency", "words", "urgency"),
        detail("Visits authorized", "text", "authorized_visits"),
        detail("Precautions", "precautions", "coded_precautions"),
        detail("Other precautions", "list", "precautions"),
        detail("Contraindicated", "words_list", "contraindications"),
        REASON), referring=True),
    Referral.Accepted: Shown("Referral accepted", "referral"),
    Referral.Declined: Shown("Referral declined", "referral", (REASON,)),
    Referral.Redirected: Shown("Referral redirected", "referral", (REASON,), referring=True),
    Referral.Cancelled: Shown("Referral cancelled", "referral", (REASON,)),
    Referral.AssessmentRecorded: Shown("Assessment", "assessment", (
        detail("Pain (NPRS)", "score", "pain_nprs", unit=" / 10"),
        detail("Functional score", "score", "functional_score", unit=" %",
               term_field="functional_instrument"),
        detail("History", "text", "history"),
        detail("Findings", "text", "findings"),
        detail("Tender points", "score", "tender_points", unit=" of 18"),
        detail("Pain located", "sites", "pain_locations"),
        detail("Range of motion", "range_of_motion", "range_of_motion"),
        detail("Red flags", "list", "red_flags"))),
    Referral.PlanDrafted: Shown("Treatment plan drafted", "plan", PLAN),
    Referral.PlanRevised: Shown("Treatment plan revised", "plan", (REASON, *PLAN)),
    Referral.PlanCertified: Shown("Plan certified", "plan", CERTIFIED),
    Referral.PlanRecertified: Shown("Plan recertified", "plan", CERTIFIED),
    Referral.VisitsAuthorized: Shown("More visits authorized", "referral", (
        detail("Visits", "text", "visits"),
        detail("From", "day", "starts_on"),
        detail("Until", "day", "ends_on"),
        detail("Payer", "text", "payer"),
        detail("Authorization number", "text", "number"),
        detail("Units", "text", "units"))),
    Referral.SessionScheduled: Shown("Session scheduled", "session", (
        detail("For", "when", "scheduled_for"),)),
    Referral.SessionCompleted: Shown("Session note", "session", (
        detail("Pain (NPRS)", "pain_change", "pain_before", "pain_after", unit=" / 10"),
        detail("Functional score", "score", "functional_score", unit=" %"),
        detail("Tender points", "score", "tender_points", unit=" of 18"),
        detail("Techniques", "techniques", "techniques"),
        detail("Billed", "units", "total_units"),
        detail("Subjective", "text", "soap.subjective"),
        detail("Objective", "text", "soap.objective"),
        detail("Assessment", "text", "soap.assessment"),
        detail("Plan", "text", "soap.plan"),
        *SCREENED,
        detail("Beyond the plan", "list", "off_plan"),
        detail("Why", "text", "off_plan_reason"))),
    Referral.PlanDeviationAcknowledged: Shown("Session beyond the plan acknowledged", "session", (
        detail("Note", "text", "note"),)),
    Referral.SessionCancelled: Shown("Session cancelled", "session", (REASON,)),
    Referral.PatientDidNotAttend: Shown("Patient did not attend", "session"),
    Referral.MessageSent: Shown("Message", "message", (
        detail("Kind", "words", "kind"),
        detail("Urgency", "words", "urgency"),
        detail("Message", "text", "body"))),
    Referral.MessageAcknowledged: Shown("Message acknowledged", "message"),
    Referral.DocumentAttached: Shown("Document attached", "document", DOCUMENT),
    Referral.ProgressReported: Shown("Progress report", "report", (
        detail("Visits to date", "text", "visits_to_date"),
        detail("Summary", "text", "summary"))),
    Referral.Discharged: Shown("Discharge", "report", (
        detail("Visits", "text", "visits"),
        detail("Goals", "outcomes", "outcomes"),
        detail("Summary", "text", "summary"))),
    Referral.Amended: Shown("Amendment", "amendment", (
        REASON, detail("Changes", "changes", "changes"))),
    Referral.AmendmentRequested: Shown("Patient's request to amend", "amendment", (
        REASON, detail("Asks for", "changes", "changes"))),
    Referral.AmendmentAccepted: Shown("Request to amend accepted", "amendment"),
    Referral.AmendmentDenied: Shown("Request to amend denied", "amendment", (
        detail("Ground", "words", "basis"), detail("Explanation", "text", "explanation"))),
    Referral.DisagreementFiled: Shown("Patient's statement of disagreement", "amendment", (
        detail("Statement", "text", "statement"),)),
}

#: Kinds the page asks for by role (the registration, for the patient's name and birth).
NAMED = {"registration": Patient.Registered}


def catalogue() -> dict[str, Any]:
    """What `/app/events.json` answers."""
    groups = [{"id": gid, "label": label,
               "kinds": [e.KIND for e in EVENTS if SHOWN[e].group == gid]}
              for gid, label in GROUPS]
    events = {e.KIND: {"label": SHOWN[e].label, "group": SHOWN[e].group,
                       "referring": SHOWN[e].referring,
                       "details": [d.as_json() for d in SHOWN[e].details]}
              for e in EVENTS}
    return {"groups": groups, "events": events,
            "named": {role: event.KIND for role, event in NAMED.items()},
            # The domain's figures (deadlines.py), so the page decides nothing itself.
            "rules": {"certificationMaxDays": deadlines.CERTIFICATION_MAX_DAYS,
                      "certificationGraceDays": deadlines.CERTIFICATION_GRACE_DAYS,
                      "recertifyWithinDays": deadlines.RECERTIFY_WITHIN_DAYS,
                      "progressReportEveryVisits": deadlines.PROGRESS_REPORT_EVERY_VISITS}}


@cache
def catalogue_json() -> bytes:
    return json.dumps(catalogue(), separators=(",", ":")).encode()
