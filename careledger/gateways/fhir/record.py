"""One patient's events, in log order, folded into FHIR resources and their Provenance.

A resource shows its record as it stands after the last event (a referral that was
accepted and then discharged is a completed ServiceRequest); its history is the
Provenance beside it, one per event, naming what that event created or changed, when it
happened (`occurredDateTime`), when the log stored it (`recorded`) and who did it.
Amendments change no resource: the original stays as recorded, and the amendment is a
Provenance (activity UPDATE) that targets the amended record's resources and carries
the reason and the changes, so both are visible.
"""

from __future__ import annotations

import html
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from careledger.domain.clinical import TECHNIQUE_CPT, Technique
from careledger.domain.events import CareEvent
from careledger.domain.network import Clinic, Practitioner
from careledger.domain.patient import Patient
from careledger.domain.referral import Referral
from careledger.gateways.fhir.vocabulary import (
    ACHIEVEMENT,
    CONDITION_CLINICAL,
    CONDITION_VERIFICATION,
    CONSENT_CATEGORY,
    CONSENT_SCOPE,
    CPT,
    DATA_OPERATION,
    DISCIPLINE,
    EVENT_TYPE,
    EXT_AMENDMENT,
    EXT_AMENDMENT_REQUEST,
    EXT_CERTIFICATION,
    EXT_LOG_ENTRY,
    EXT_TIMED_MINUTES,
    FUNCTIONAL,
    GOAL_ACHIEVEMENT,
    ICD10CM,
    JSON,
    NPRS,
    OBSERVATION_CATEGORY,
    PARTICIPANT_TYPE,
    SID_EVENT,
    SID_PATIENT,
    SID_RECORD,
    SID_REFERRAL,
    TECHNIQUE,
    V3_ACT_CODE,
    actor,
    clinic,
    coding,
    concept,
    label,
    measure,
    practitioner,
    quantity,
    ref,
    resource_id,
)
from careledger.projections.envelope import Envelope

log = logging.getLogger(__name__)

CREATE, UPDATE = "CREATE", "UPDATE"
#: Added to the record without changing it: a request to amend, its denial, a
#: statement of disagreement (v3 DataOperation).
APPEND = "APPEND"


@dataclass
class Episode:
    """What later events of a referral need from the earlier ones."""

    referral: str
    conditions: list[str]
    clinic_id: str
    contraindications: set[str]
    instrument: str | None = None
    #: The practitioner who accepted the episode: a revised plan is theirs.
    practitioner: str | None = None
    plan: str | None = None
    goals: dict[str, str] = field(default_factory=dict)  # goal id -> Goal resource id
    encounters: dict[str, str] = field(default_factory=dict)  # session id -> Encounter id


@dataclass
class Change:
    """What one event did to the record: the resources it created or changed."""

    activity: str
    targets: list[str]
    reason: str | None = None
    agent_type: str = "author"
    #: The record (referral, assessment, plan, session, report, discharge) it wrote.
    record: str | None = None
    extensions: list[JSON] = field(default_factory=list)
    entities: list[JSON] = field(default_factory=list)


#: Events of the network, not of a patient's care: never in a patient's log.
NOT_MAPPED: frozenset[type[CareEvent]] = frozenset({
    Clinic.Registered, Practitioner.Registered, Practitioner.CredentialAdded,
    Practitioner.Affiliated, Practitioner.AffiliationEnded, Practitioner.ExperienceRecorded,
    Practitioner.HomeVisitsOffered,
})


class PatientRecord:
    """Feed it the patient's envelopes in log order; read the resources back in order."""

    def __init__(self, patient_id: str) -> None:
        self.patient_id = patient_id
        self.patient_ref = ref(patient_id)
        self._resources: dict[str, JSON] = {}  # id -> resource, in order of creation
        self._episodes: dict[str, Episode] = {}
        #: (referral, record id) -> the record's resources and the Provenance that wrote it
        self._records: dict[tuple[str, str], tuple[list[str], str]] = {}
        self._consent: str | None = None
        self.last_position = 0
        self.last_recorded: datetime | None = None
        self.skipped = 0
        self._handlers: dict[type[CareEvent], Callable[[Envelope], Change]] = {
            Patient.Registered: self._registered,
            Patient.ConsentGranted: self._consent_granted,
            Patient.ConsentRevoked: self._consent_revoked,
            Referral.Made: self._made,
            Referral.Accepted: self._accepted,
            Referral.Declined: self._declined,
            Referral.Redirected: self._redirected,
            Referral.Cancelled: self._cancelled,
            Referral.AssessmentRecorded: self._assessed,
            Referral.PlanDrafted: self._plan_drafted,
            Referral.PlanRevised: self._plan_revised,
            Referral.PlanCertified: self._certified,
            Referral.PlanRecertified: self._certified,
            Referral.SessionScheduled: self._scheduled,
            Referral.SessionCompleted: self._completed,
            Referral.SessionCancelled: self._session_cancelled,
            Referral.PatientDidNotAttend: self._no_show,
            Referral.ProgressReported: self._progress_reported,
            Referral.Discharged: self._discharged,
            Referral.Amended: self._amended,
            Referral.AmendmentRequested: self._amendment_step,
            Referral.AmendmentAccepted: self._amendment_step,
            Referral.AmendmentDenied: self._amendment_step,
            Referral.DisagreementFiled: self._amendment_step,
        }
        self._by_topic = {event.TOPIC: handler for event, handler in self._handlers.items()}

    @property
    def mapped(self) -> frozenset[type[CareEvent]]:
        """The events this export maps to FHIR resources."""
        return frozenset(self._handlers)

    # ------------------------------------------------------------------ feeding

    def add(self, envelope: Envelope) -> None:
        handler = self._by_topic.get(envelope.type)
        if handler is None or envelope.occurred_at is None:
            # Not a record of this patient's care this version knows how to map (or an
            # entry it cannot decode): the log keeps it, the server log names it.
            log.warning("fhir export: %s at position %d is not mapped",
                        envelope.type, envelope.position)
            self.skipped += 1
            return
        change = handler(envelope)
        provenance = self._provenance(envelope, change)
        self._put(provenance)
        if change.record is not None:
            key = (str(envelope.aggregate_id), change.record)
            self._records[key] = (change.targets, provenance["id"])
        self.last_position = max(self.last_position, envelope.position)
        if self.last_recorded is None or envelope.recorded_at > self.last_recorded:
            self.last_recorded = envelope.recorded_at

    def resources(self) -> list[JSON]:
        """Every resource, in the log order of the event that created it."""
        return list(self._resources.values())

    # ------------------------------------------------------------------ plumbing

    def _put(self, resource: JSON) -> str:
        self._resources[resource["id"]] = resource
        return str(resource["id"])

    def _get(self, rid: str) -> JSON:
        return self._resources[rid]

    def _episode(self, envelope: Envelope) -> Episode:
        return self._episodes[str(envelope.aggregate_id)]

    def _provenance(self, envelope: Envelope, change: Change) -> JSON:
        assert envelope.occurred_at is not None
        provenance: JSON = {
            "resourceType": "Provenance",
            "id": str(envelope.event_id),
            "extension": [{"url": EXT_LOG_ENTRY, "extension": [
                {"url": "position", "valueString": str(envelope.position)},
                {"url": "hash", "valueString": envelope.hash},
            ]}, *change.extensions],
            "target": [ref(t) for t in change.targets],
            "occurredDateTime": envelope.occurred_at,
            "recorded": envelope.recorded_at,
            "activity": concept(coding(DATA_OPERATION, change.activity),
                                coding(EVENT_TYPE, envelope.kind), text=envelope.kind),
            "agent": [{
                "type": concept(coding(PARTICIPANT_TYPE, change.agent_type)),
                "who": actor(envelope.actor or "unknown"),
            }],
            "entity": [{
                "role": "source",
                "what": {"identifier": {"system": SID_EVENT, "value": str(envelope.event_id)},
                         "display": f"{envelope.type} at log position {envelope.position}"},
            }, *change.entities],
        }
        if change.reason:
            provenance["reason"] = [concept(text=change.reason)]
        return provenance

    def _based_on(self, episode: Episode) -> list[JSON]:
        return [ref(episode.referral)]

    # ------------------------------------------------------------------ the patient

    def _registered(self, e: Envelope) -> Change:
        d = e.data
        patient: JSON = {
            "resourceType": "Patient",
            "id": self.patient_id,
            "identifier": [{"system": SID_PATIENT, "value": self.patient_id}],
            "name": [{"family": d["family_name"], "given": [d["given_name"]]}],
            "gender": d["sex"],
            "birthDate": d["birth_date"],
        }
        return Change(CREATE, [self._put(patient)])

    def _consent_granted(self, e: Envelope) -> Change:
        consent: JSON = {
            "resourceType": "Consent",
            "id": resource_id("Consent", self.patient_id, e.aggregate_version),
            "status": "active",
            "scope": concept(coding(CONSENT_SCOPE, "patient-privacy", "Privacy Consent")),
            "category": [concept(CONSENT_CATEGORY)],
            "patient": self.patient_ref,
            "dateTime": e.occurred_at,
            "policyRule": concept(text=f"Sharing with the clinics of the network "
                                       f"(scope: {e.data.get('scope', 'network')})"),
            "provision": {"type": "permit"},
        }
        self._consent = self._put(consent)
        return Change(CREATE, [self._consent])

    def _consent_revoked(self, e: Envelope) -> Change:
        if self._consent is None:
            return Change(UPDATE, [self.patient_id], reason=e.data.get("reason"))
        self._get(self._consent)["status"] = "inactive"
        return Change(UPDATE, [self._consent], reason=e.data.get("reason"))

    # ------------------------------------------------------------------ the referral

    def _made(self, e: Envelope) -> Change:
        d = e.data
        referral = str(e.aggregate_id)
        physician = practitioner(d["physician_id"])
        conditions = []
        for diagnosis in d["diagnoses"]:
            conditions.append(self._put({
                "resourceType": "Condition",
                "id": resource_id("Condition", referral, diagnosis["code"]),
                "clinicalStatus": concept(coding(CONDITION_CLINICAL, "active")),
                "verificationStatus": concept(coding(CONDITION_VERIFICATION, "confirmed")),
                "code": concept(coding(ICD10CM, diagnosis["code"], diagnosis.get("description")),
                                text=diagnosis.get("description")),
                "subject": self.patient_ref,
                "recordedDate": e.occurred_at,
                "recorder": physician,
                "asserter": physician,
            }))
        notes = [f"Precaution: {p}" for p in d.get("precautions", [])]
        notes += [f"Contraindicated: {label(t)}" for t in d.get("contraindications", [])]
        if d.get("reason"):
            notes.insert(0, str(d["reason"]))
        request: JSON = {
            "resourceType": "ServiceRequest",
            "id": referral,
            "identifier": [{"system": SID_REFERRAL, "value": referral}],
            "status": "active",
            "intent": "order",
            "priority": d["urgency"],
            "code": concept(coding(DISCIPLINE, d["discipline"], label(d["discipline"])),
                            text=label(d["discipline"])),
            "quantityQuantity": quantity(d["authorized_visits"], "visits", "{visit}"),
            "subject": self.patient_ref,
            "authoredOn": e.occurred_at,
            "requester": physician,
            "performer": [clinic(d["clinic_id"])],
            "reasonReference": [ref(c) for c in conditions],
        }
        if notes:
            request["note"] = [{"text": n} for n in notes]
        self._put(request)
        self._episodes[referral] = Episode(
            referral=referral, conditions=conditions, clinic_id=str(d["clinic_id"]),
            contraindications=set(d.get("contraindications", [])))
        return Change(CREATE, [referral, *conditions], record=referral)

    def _accepted(self, e: Envelope) -> Change:
        episode = self._episode(e)
        request = self._get(episode.referral)
        episode.practitioner = str(e.data["practitioner_id"])
        request["performer"] = [clinic(episode.clinic_id), practitioner(episode.practitioner)]
        request["status"] = "active"
        return Change(UPDATE, [episode.referral])

    def _declined(self, e: Envelope) -> Change:
        episode = self._episode(e)
        self._get(episode.referral)["status"] = "on-hold"
        return Change(UPDATE, [episode.referral], reason=e.data.get("reason"))

    def _redirected(self, e: Envelope) -> Change:
        episode = self._episode(e)
        episode.clinic_id = str(e.data["clinic_id"])
        episode.practitioner = None
        request = self._get(episode.referral)
        request["performer"] = [clinic(episode.clinic_id)]
        request["status"] = "active"
        return Change(UPDATE, [episode.referral], reason=e.data.get("reason"))

    def _cancelled(self, e: Envelope) -> Change:
        episode = self._episode(e)
        self._get(episode.referral)["status"] = "revoked"
        return Change(UPDATE, [episode.referral], reason=e.data.get("reason"))

    # ------------------------------------------------------------------ observations

    def _observation(self, e: Envelope, rid: str, code: JSON, value: JSON,
                     episode: Episode, encounter: str | None = None) -> str:
        observation: JSON = {
            "resourceType": "Observation",
            "id": rid,
            "basedOn": self._based_on(episode),
            "status": "final",
            "category": [concept(coding(OBSERVATION_CATEGORY, "survey", "Survey"))],
            "code": code,
            "subject": self.patient_ref,
            "effectiveDateTime": e.occurred_at,
            "issued": e.recorded_at,
            "performer": [practitioner(e.data["practitioner_id"])],
            **value,
        }
        if encounter is not None:
            observation["encounter"] = ref(encounter)
        return self._put(observation)

    def _functional(self, e: Envelope, rid: str, instrument: str | None, score: float,
                    episode: Episode, encounter: str | None = None) -> str:
        known = FUNCTIONAL.get(instrument or "")
        code = (concept(known, text=f"{instrument} score") if known
                else concept(text="Functional score"))
        return self._observation(e, rid, code, {"valueQuantity": quantity(score, "%")},
                                 episode, encounter)

    def _assessed(self, e: Envelope) -> Change:
        d, episode = e.data, self._episode(e)
        record = str(d["assessment_id"])
        episode.instrument = str(d["functional_instrument"])
        base = (episode.referral, record)
        pain = self._observation(e, resource_id("Observation", *base, "nprs"),
                                 concept(NPRS, text="Pain at assessment (NPRS 0-10)"),
                                 {"valueInteger": d["pain_nprs"]}, episode)
        function = self._functional(e, resource_id("Observation", *base, "function"),
                                    episode.instrument, d["functional_score"], episode)
        notes = [f"History: {d['history']}"] if d.get("history") else []
        notes += [f"Range of motion: {_line(m)}" for m in d.get("range_of_motion", [])]
        notes += [f"Muscle test: {_line(m)}" for m in d.get("muscle_tests", [])]
        notes += [f"Red flag: {flag}" for flag in d.get("red_flags", [])]
        impression: JSON = {
            "resourceType": "ClinicalImpression",
            "id": resource_id("ClinicalImpression", *base),
            "identifier": [{"system": SID_RECORD, "value": f"{episode.referral}/{record}"}],
            "status": "completed",
            "description": "Initial assessment",
            "subject": self.patient_ref,
            "effectiveDateTime": e.occurred_at,
            "date": e.recorded_at,
            "assessor": practitioner(d["practitioner_id"]),
            "problem": [ref(c) for c in episode.conditions],
            "summary": d.get("findings") or None,
            "supportingInfo": [ref(pain), ref(function)],
        }
        if notes:
            impression["note"] = [{"text": n} for n in notes]
        self._put({k: v for k, v in impression.items() if v is not None})
        return Change(CREATE, [pain, function, impression["id"]], record=record)

    # ------------------------------------------------------------------ the plan

    def _plan_drafted(self, e: Envelope) -> Change:
        episode = self._episode(e)
        episode.plan = resource_id("CarePlan", episode.referral, e.data["plan_id"])
        goals = self._set_goals(e, episode, "proposed")
        plan: JSON = {
            "resourceType": "CarePlan",
            "id": episode.plan,
            "identifier": [{"system": SID_RECORD,
                            "value": f"{episode.referral}/{e.data['plan_id']}"}],
            "status": "draft",
            "intent": "plan",
            "subject": self.patient_ref,
            "created": e.occurred_at,
            "author": practitioner(e.data["practitioner_id"]),
            "addresses": [ref(c) for c in episode.conditions],
            "supportingInfo": [ref(episode.referral)],
        }
        self._put(plan)
        self._plan_content(plan, e, episode)
        return Change(CREATE, [episode.plan, *goals], record=str(e.data["plan_id"]))

    def _plan_revised(self, e: Envelope) -> Change:
        episode = self._episode(e)
        assert episode.plan is not None
        before = dict(episode.goals)
        goals = self._set_goals(e, episode, "proposed")
        for goal_id, rid in before.items():
            if goal_id not in episode.goals:  # dropped by the revision
                self._get(rid)["lifecycleStatus"] = "cancelled"
                goals.append(rid)
                episode.goals.pop(goal_id, None)
        plan = self._get(episode.plan)
        plan["status"] = "draft"  # a revision is signed again
        plan.pop("extension", None)
        self._plan_content(plan, e, episode)
        return Change(UPDATE, [episode.plan, *goals], reason=e.data.get("reason"))

    def _plan_content(self, plan: JSON, e: Envelope, episode: Episode) -> None:
        d = e.data
        weekly, weeks = int(d["frequency_per_week"]), int(d["duration_weeks"])
        plan["description"] = f"{weekly} sessions a week for {weeks} weeks"
        plan["goal"] = [ref(g) for g in episode.goals.values()]
        plan["activity"] = [{"detail": {
            "code": concept(coding(TECHNIQUE, t, label(t)), *_cpt(t), text=label(t)),
            "status": "scheduled",
            "scheduledTiming": {"repeat": {
                "frequency": weekly, "period": 1, "periodUnit": "wk",
                "boundsDuration": quantity(weeks, "wk"),
            }},
        }} for t in d["techniques"]]
        if d.get("override_reason"):
            plan["note"] = [{"text": f"Contraindication override: {d['override_reason']}"}]
        else:
            plan.pop("note", None)

    def _set_goals(self, e: Envelope, episode: Episode, status: str) -> list[str]:
        rids = []
        # A drafted plan names its practitioner; a revision is the treating one's.
        author = e.data.get("practitioner_id") or episode.practitioner
        for goal in e.data["goals"]:
            rid = resource_id("Goal", episode.referral, e.data["plan_id"], goal["goal_id"])
            self._put({
                "resourceType": "Goal",
                "id": rid,
                "identifier": [{"system": SID_RECORD, "value":
                                f"{episode.referral}/{e.data['plan_id']}/{goal['goal_id']}"}],
                "lifecycleStatus": status,
                "description": {"text": goal["description"] or goal["metric"]},
                "subject": self.patient_ref,
                "startDate": _when(e).date().isoformat(),
                "target": [{
                    "measure": measure(goal["metric"]),
                    "detailQuantity": {"value": goal["target"], "unit": goal["unit"]},
                    "dueDate": goal["due"],
                }],
                **({"expressedBy": practitioner(author)} if author else {}),
                "addresses": [ref(c) for c in episode.conditions],
                "note": [{"text": f"Baseline {goal['baseline']:g} {goal['unit']}"}],
            })
            episode.goals[goal["goal_id"]] = rid
            rids.append(rid)
        return rids

    def _certified(self, e: Envelope) -> Change:
        episode = self._episode(e)
        assert episode.plan is not None
        d = e.data
        plan = self._get(episode.plan)
        plan["status"] = "active"
        plan["extension"] = [{"url": EXT_CERTIFICATION, "extension": [
            {"url": "period", "valuePeriod": {"start": d["certified_from"],
                                              "end": d["certified_until"]}},
            {"url": "revision", "valueInteger": d["revision"]},
            {"url": "physician", "valueReference": practitioner(d["physician_id"])},
        ]}]
        for rid in episode.goals.values():
            self._get(rid)["lifecycleStatus"] = "active"
        return Change(UPDATE, [episode.plan, *episode.goals.values()], agent_type="attester")

    # ------------------------------------------------------------------ sessions

    def _encounter(self, e: Envelope, episode: Episode) -> JSON:
        session = str(e.data["session_id"])
        rid = episode.encounters.get(session)
        if rid is not None:
            return self._get(rid)
        rid = resource_id("Encounter", episode.referral, session)
        episode.encounters[session] = rid
        encounter: JSON = {
            "resourceType": "Encounter",
            "id": rid,
            "identifier": [{"system": SID_RECORD, "value": f"{episode.referral}/{session}"}],
            "status": "planned",
            "class": _encounter_class("clinic"),
            "subject": self.patient_ref,
            "basedOn": self._based_on(episode),
            "serviceProvider": clinic(episode.clinic_id),
        }
        self._put(encounter)
        return encounter

    def _scheduled(self, e: Envelope) -> Change:
        episode = self._episode(e)
        encounter = self._encounter(e, episode)
        encounter["class"] = _encounter_class(e.data["location"])
        encounter["participant"] = [{"individual": practitioner(e.data["practitioner_id"])}]
        encounter["period"] = {"start": e.data["scheduled_for"]}
        return Change(CREATE, [encounter["id"]])

    def _completed(self, e: Envelope) -> Change:
        d, episode = e.data, self._episode(e)
        session = str(d["session_id"])
        encounter = self._encounter(e, episode)
        eid = encounter["id"]
        encounter.update({
            "status": "finished",
            "class": _encounter_class(d["location"]),
            "participant": [{"individual": practitioner(d["practitioner_id"])}],
            "period": {"start": e.occurred_at},
            "length": quantity(d["total_timed_minutes"], "min"),
            "text": {"status": "additional", "div": _soap(d["soap"])},
        })
        base = (episode.referral, session)
        made = [eid,
                self._observation(e, resource_id("Observation", *base, "pain-before"),
                                  concept(NPRS, text="Pain before treatment (NPRS 0-10)"),
                                  {"valueInteger": d["pain_before"]}, episode, eid),
                self._observation(e, resource_id("Observation", *base, "pain-after"),
                                  concept(NPRS, text="Pain after treatment (NPRS 0-10)"),
                                  {"valueInteger": d["pain_after"]}, episode, eid)]
        if d.get("functional_score") is not None:
            made.append(self._functional(e, resource_id("Observation", *base, "function"),
                                         episode.instrument, d["functional_score"], episode,
                                         eid))
        procedures: dict[str, list[str]] = {}
        for i, used in enumerate(d["techniques"]):
            technique = str(used["technique"])
            cpt = _cpt(technique)
            procedure: JSON = {
                "resourceType": "Procedure",
                "id": resource_id("Procedure", *base, i, technique),
                "extension": [{"url": EXT_TIMED_MINUTES,
                               "valueQuantity": quantity(used["minutes"], "min")}],
                "basedOn": self._based_on(episode),
                "status": "completed",
                "code": concept(*cpt, coding(TECHNIQUE, technique, label(technique)),
                                text=label(technique)),
                "subject": self.patient_ref,
                "encounter": ref(eid),
                "performedDateTime": e.occurred_at,
                "performer": [{"actor": practitioner(d["practitioner_id"])}],
                "reasonReference": [ref(c) for c in episode.conditions],
            }
            if d.get("override_reason") and technique in episode.contraindications:
                procedure["note"] = [{"text": "Contraindicated by the referral; override: "
                                              f"{d['override_reason']}"}]
            made.append(self._put(procedure))
            for c in cpt:
                procedures.setdefault(c["code"], []).append(procedure["id"])
        for line in d.get("billing_lines", []):
            made.append(self._put({
                "resourceType": "ChargeItem",
                "id": resource_id("ChargeItem", *base, line["cpt"]),
                "extension": [{"url": EXT_TIMED_MINUTES,
                               "valueQuantity": quantity(line["minutes"], "min")}],
                "status": "billable",
                "code": concept(coding(CPT, str(line["cpt"])), text=f"CPT {line['cpt']}"),
                "subject": self.patient_ref,
                "context": ref(eid),
                "occurrenceDateTime": e.occurred_at,
                "performer": [{"actor": practitioner(d["practitioner_id"])}],
                "quantity": {"value": line["units"], "unit": "units"},
                "service": [ref(p) for p in procedures.get(str(line["cpt"]), [])],
            }))
        return Change(CREATE, made, record=session)

    def _session_cancelled(self, e: Envelope) -> Change:
        encounter = self._encounter(e, self._episode(e))
        encounter["status"] = "cancelled"
        return Change(UPDATE, [encounter["id"]], reason=e.data.get("reason"))

    def _no_show(self, e: Envelope) -> Change:
        encounter = self._encounter(e, self._episode(e))
        encounter["status"] = "cancelled"
        return Change(UPDATE, [encounter["id"]], reason="the patient did not attend")

    # ------------------------------------------------------------------ reporting, closing

    def _progress_reported(self, e: Envelope) -> Change:
        d, episode = e.data, self._episode(e)
        lines = [str(d["summary"]), f"{d['visits_to_date']} visits to date"]
        lines += [f"Goal {s.get('goal_id')}: latest {s.get('latest')}"
                  + (f" ({s['note']})" if s.get("note") else "") for s in d.get("goal_status", [])]
        rid = self._put({
            "resourceType": "Communication",
            "id": resource_id("Communication", episode.referral, d["report_id"]),
            "identifier": [{"system": SID_RECORD, "value": f"{episode.referral}/{d['report_id']}"}],
            "basedOn": self._based_on(episode),
            "status": "completed",
            "subject": self.patient_ref,
            "topic": concept(text="Progress report"),
            "about": [ref(episode.referral)] + ([ref(episode.plan)] if episode.plan else []),
            "sent": e.occurred_at,
            "recipient": [practitioner(d["physician_id"])],
            "sender": practitioner(d["practitioner_id"]),
            "payload": [{"contentString": line} for line in lines],
        })
        return Change(CREATE, [rid], record=str(d["report_id"]))

    def _discharged(self, e: Envelope) -> Change:
        d, episode = e.data, self._episode(e)
        self._get(episode.referral)["status"] = "completed"
        targets = [episode.referral]
        if episode.plan is not None:
            plan = self._get(episode.plan)
            plan["status"] = "completed"
            plan["note"] = [*plan.get("note", []),
                            {"text": f"Discharged after {d['visits']} visits: {d['summary']}"}]
            for activity in plan.get("activity", []):
                activity["detail"]["status"] = "completed"
            targets.append(episode.plan)
        for outcome in d["outcomes"]:
            rid = episode.goals.get(outcome["goal_id"])
            if rid is None:
                continue
            said = str(outcome["outcome"])
            self._get(rid).update({
                "lifecycleStatus": "completed",
                "achievementStatus": concept(
                    coding(GOAL_ACHIEVEMENT, ACHIEVEMENT.get(said, "no-progress")),
                    text=said.replace("_", " ")),
                "statusDate": _when(e).date().isoformat(),
            })
            targets.append(rid)
        return Change(UPDATE, targets, record="discharge")

    def _amended(self, e: Envelope) -> Change:
        d, episode = e.data, self._episode(e)
        record = str(d["record_id"])
        targets, original = self._records.get((episode.referral, record),
                                              ([episode.referral], None))
        entities = ([{"role": "revision", "what": ref(original)}]
                    if original is not None else [])
        extension = {"url": EXT_AMENDMENT, "extension": [
            {"url": "record", "valueIdentifier": {"system": SID_RECORD,
                                                  "value": f"{episode.referral}/{record}"}},
            {"url": "recordKind", "valueString": str(d["record_kind"])},
            {"url": "changes", "valueString": json.dumps(d["changes"], sort_keys=True)},
        ]}
        return Change(UPDATE, list(targets), reason=str(d["reason"]), extensions=[extension],
                      entities=entities)


    def _amendment_step(self, e: Envelope) -> Change:
        """A step of a patient's request to amend, beside the record it concerns."""
        d, episode = e.data, self._episode(e)
        record = str(d["record_id"])
        targets, original = self._records.get((episode.referral, record),
                                              ([episode.referral], None))
        parts: list[JSON] = [
            {"url": "record", "valueIdentifier": {"system": SID_RECORD,
                                                  "value": f"{episode.referral}/{record}"}},
            {"url": "request", "valueString": str(d["request_id"])},
        ]
        if "changes" in d:
            parts.append({"url": "changes",
                          "valueString": json.dumps(d["changes"], sort_keys=True)})
        parts += [{"url": key, "valueString": str(d[key])}
                  for key in ("basis", "explanation", "statement") if d.get(key)]
        entities = ([{"role": "revision", "what": ref(original)}]
                    if original is not None else [])
        reason = d.get("reason") or d.get("explanation") or d.get("statement")
        return Change(APPEND, list(targets), reason=str(reason) if reason else None,
                      extensions=[{"url": EXT_AMENDMENT_REQUEST, "extension": parts}],
                      entities=entities)


def _when(e: Envelope) -> datetime:
    assert e.occurred_at is not None, "events without a time are skipped before mapping"
    return e.occurred_at


def _encounter_class(location: str) -> JSON:
    """At the clinic an ambulatory encounter; at the patient's home, home health."""
    if location == "home":
        return coding(V3_ACT_CODE, "HH", "home health")
    return coding(V3_ACT_CODE, "AMB", "ambulatory")


def _cpt(technique: str) -> list[JSON]:
    try:
        return [coding(CPT, TECHNIQUE_CPT[Technique(technique)])]
    except ValueError:
        return []


def _soap(soap: dict[str, Any]) -> str:
    """The SOAP note as the Encounter's narrative (XHTML, every word escaped)."""
    parts = "".join(f"<p><b>{title}:</b> {html.escape(str(soap.get(key, '')))}</p>"
                    for key, title in (("subjective", "Subjective"), ("objective", "Objective"),
                                       ("assessment", "Assessment"), ("plan", "Plan")))
    return f'<div xmlns="http://www.w3.org/1999/xhtml">{parts}</div>'


def _line(entry: dict[str, Any]) -> str:
    return ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in entry.items())
