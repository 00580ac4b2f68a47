"""The episode's documents as print-ready pages: the plan of care for the physician's
signature, a progress report, the discharge summary, and the records packet an insurer
asks for. Each is read under the access rules and logged as a disclosure (with its
recipient, when it is handed to one) before it is written.

The pages are Django templates (`careledger/web/templates/printouts/`): escaped by
Django, printed by the browser with their own print stylesheet, and say everything in
the clinic's words (names, NPIs, dates), never ids.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any
from uuid import UUID

import psycopg
from django.template.loader import render_to_string

from careledger.access.policy import authorize
from careledger.access.tokens import Principal
from careledger.consumers.envelopes import Streams, envelope_of
from careledger.domain.application import CareLedger
from careledger.domain.body import Site
from careledger.domain.clinical import FunctionalInstrument
from careledger.domain.errors import NotFound
from careledger.domain.network import Clinic, Practitioner
from careledger.domain.patient import Patient
from careledger.domain.precautions import CodedPrecaution
from careledger.domain.referral import Referral
from careledger.gateways.printouts.record import Episode, fold
from careledger.infra.eventstore import read_patient_log


class Printout(StrEnum):
    PLAN_OF_CARE = "plan-of-care"
    PROGRESS_REPORT = "progress-report"
    DISCHARGE_SUMMARY = "discharge-summary"
    RECORDS_PACKET = "records-packet"


TITLES = {Printout.PLAN_OF_CARE: "Plan of care", Printout.PROGRESS_REPORT: "Progress report",
          Printout.DISCHARGE_SUMMARY: "Discharge summary",
          Printout.RECORDS_PACKET: "Records packet"}


@dataclass(frozen=True)
class Asked:
    kind: Printout
    #: Who it is handed to (an insurer's name), for the disclosure.
    recipient: str | None = None
    #: Which progress report (1 the first); none: the latest.
    report: int | None = None

    @property
    def logged_as(self) -> str:
        to = f" to {self.recipient}" if self.recipient else ""
        return f"printout:{self.kind}{to}"


def print_page(conn: psycopg.Connection[Any], app: CareLedger, views: str,
               principal: Principal, referral_id: UUID, asked: Asked) -> str:
    """The page's HTML; NotFound when there is no such episode or document, or the caller
    may not read it (the access log holds the attempt, allowed or not)."""
    try:
        referral = app.load(Referral, referral_id)
    except NotFound:
        raise NotFound("no referral with that id") from None
    authorize(conn, views, principal, referral.patient_id, asked.logged_as)
    streams = Streams(app)
    envelopes = [envelope_of(app, streams, entry)
                 for entry in read_patient_log(conn, referral.patient_id)]
    episode = fold(envelopes, referral_id)
    if episode is None:
        raise NotFound("no referral with that id")
    context = _context(app, episode, referral.patient_id, referral.clinic_id, asked)
    return render_to_string(f"printouts/{asked.kind.replace('-', '_')}.html", context)


def _context(app: CareLedger, episode: Episode, patient_id: UUID, clinic_id: UUID,
             asked: Asked) -> dict[str, Any]:
    patient = app.load(Patient, patient_id)
    made = episode.made
    physician = _person(app, made.get("physician_id"))
    therapist = _person(app, episode.therapist_id)
    clinic = app.load(Clinic, clinic_id)  # where the episode is now (after a redirect)
    reports = episode.reports
    report = None
    if asked.kind is Printout.PROGRESS_REPORT:
        if not reports or (asked.report is not None and not 1 <= asked.report <= len(reports)):
            raise NotFound("no such progress report in this episode")
        report = reports[(asked.report or len(reports)) - 1]
    if asked.kind is Printout.DISCHARGE_SUMMARY and episode.discharge is None:
        raise NotFound("the episode has no discharge yet")
    if asked.kind is Printout.PLAN_OF_CARE and episode.plan is None:
        raise NotFound("the episode has no plan of care yet")
    attendance = episode.attendance()
    return {
        "title": TITLES[asked.kind], "kind": str(asked.kind), "recipient": asked.recipient,
        "patient": {"name": f"{patient.given_name} {patient.family_name}",
                    "born": patient.birth_date, "sex": patient.sex},
        "clinic": {"name": clinic.name, "address": clinic.address,
                   "npi": (clinic.billing or {}).get("npi")},
        "physician": physician, "therapist": therapist,
        "discipline": str(made.get("discipline", "")).replace("_", " "),
        "diagnoses": made.get("diagnoses", []),
        "reason": made.get("reason"),
        "precautions": _precautions(made),
        "contraindications": [_words(c) for c in made.get("contraindications", [])],
        "assessment": episode.assessment, "assessed_on": episode.assessed_on,
        "unit": _unit(episode),
        "plan": _plan(episode), "goals": _goals(episode),
        "certification": _certification(app, episode),
        "visits": {"used": attendance["completed"], "authorized": episode.visits_authorized,
                   **attendance},
        "measures": _measures(episode),
        "sessions": [_session(n, s) for n, s in enumerate(episode.completed, start=1)],
        "missed": sorted((s for s in episode.sessions.values()
                          if s.status in ("cancelled", "no_show")),
                         key=lambda s: (s.on or s.session_id, s.session_id)),
        "reports": reports, "report": report,
        "report_number": reports.index(report) + 1 if report else None,
        "discharge": episode.discharge,
        "outcomes": _outcomes(episode),
    }


def _person(app: CareLedger, pid: object) -> dict[str, Any] | None:
    if not pid:
        return None
    p = app.load(Practitioner, UUID(str(pid)))
    return {"name": p.name, "npi": p.npi, "profession": _words(p.profession)}


def _unit(episode: Episode) -> str:
    """How the episode's functional scores read: "%" for the disability indices."""
    chosen = (episode.assessment or {}).get("functional_instrument")
    return FunctionalInstrument(chosen).unit if chosen else "%"


def _date(value: object) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def _words(code: object) -> str:
    return str(code).replace("_", " ")


def _sites(sites: list[dict[str, Any]] | None) -> str:
    return ", ".join(Site.of(s["region"], s.get("side")).label for s in sites or [])


def _precautions(made: dict[str, Any]) -> list[str]:
    coded = [CodedPrecaution.of(c["code"], Site.of(c["site"]["region"], c["site"].get("side"))
                                if c.get("site") else None).label
             for c in made.get("coded_precautions", [])]
    return coded + [str(p) for p in made.get("precautions", [])]


def _plan(episode: Episode) -> dict[str, Any] | None:
    plan = episode.plan
    if plan is None:
        return None
    sites = plan.get("sites") or {}
    return {"techniques": [{"name": _words(t), "regions": _sites(sites.get(t))}
                           for t in plan.get("techniques", [])],
            "frequency": plan.get("frequency_per_week"), "weeks": plan.get("duration_weeks"),
            "drafted_on": episode.planned_on, "revision": plan.get("revision")}


def _latest(episode: Episode) -> dict[str, float]:
    latest: dict[str, float] = {}
    for session in episode.completed:
        for m in (session.note or {}).get("goal_measurements", []):
            latest[str(m["goal_id"])] = m["value"]
    return latest


def _goals(episode: Episode) -> list[dict[str, Any]]:
    latest = _latest(episode)
    return [{**g, "due": _date(g["due"]), "latest": latest.get(str(g["goal_id"]))}
            for g in (episode.plan or {}).get("goals", [])]


def _outcomes(episode: Episode) -> dict[str, str]:
    outcomes = (episode.discharge or {}).get("outcomes") or []
    if isinstance(outcomes, dict):
        return {str(k): _words(v) for k, v in outcomes.items()}
    return {str(o["goal_id"]): _words(o["outcome"]) for o in outcomes}


def _certification(app: CareLedger, episode: Episode) -> dict[str, Any] | None:
    if not episode.certifications:
        return None
    last = episode.certifications[-1]
    return {"from": _date(last["certified_from"]), "until": _date(last["certified_until"]),
            "signed_on": last["signed_on"], "again": last["again"],
            "by": _person(app, last["physician_id"])}


def _measures(episode: Episode) -> list[dict[str, Any]]:
    """Pain and function over time: at assessment, then at each session."""
    rows = []
    if episode.assessment is not None:
        a = episode.assessment
        rows.append({"on": episode.assessed_on, "when": "Assessment", "pain": a["pain_nprs"],
                     "function": a.get("functional_score"),
                     "instrument": a.get("functional_instrument")})
    instrument = (episode.assessment or {}).get("functional_instrument")
    for n, s in enumerate(episode.completed, start=1):
        note = s.note or {}
        rows.append({"on": s.on, "when": f"Visit {n}", "pain": note.get("pain_after"),
                     "pain_before": note.get("pain_before"),
                     "function": note.get("functional_score"), "instrument": instrument})
    return rows


def _session(n: int, s: Any) -> dict[str, Any]:
    note = s.note or {}
    return {"number": n, "on": s.on, "late": s.late, "recorded_on": s.recorded_on,
            "amended": s.amended, "soap": note.get("soap", {}),
            "techniques": [{"name": _words(t["technique"]), "minutes": t["minutes"],
                            "regions": _sites(t.get("sites"))}
                           for t in note.get("techniques", [])],
            "services": note.get("services", []),
            "units": note.get("total_units"), "minutes": note.get("total_timed_minutes"),
            "pain_before": note.get("pain_before"), "pain_after": note.get("pain_after"),
            "function": note.get("functional_score"),
            "location": _words(note.get("location", "clinic"))}
