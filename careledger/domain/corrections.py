"""What an amendment may change, per kind of record, and what each value must be.

An amendment corrects what a record says (a misheard pain score, a wrong knee). It names
fields of that record, each checked as the command that made the record checked it, so
that every view can show the value as it now stands. A field that has its own command
(more visits, a certification, the discharge, consent) is refused with the command to
use, and a field the record does not have is refused: nothing is accepted and ignored.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any

from careledger.domain.billing import billed_units, billing_lines, service_lines
from careledger.domain.body import sites_of
from careledger.domain.clinical import (
    TENDER_POINTS,
    AmendableRecord,
    Diagnosis,
    FunctionalInstrument,
    GoalOutcome,
    SessionLocation,
    Technique,
    Urgency,
    pain_score,
    percent_score,
)
from careledger.domain.errors import InvalidInput

Check = Callable[[Any, str], Any]

#: Fields that only a command of their own changes, and that command (its operation).
OWN_COMMANDS: dict[str, str] = {
    "authorized_visits": "authorize_visits",
    "visits": "authorize_visits",
    "authorizations": "authorize_visits",
    "certified_from": "certify_plan or recertify_plan",
    "certified_until": "certify_plan or recertify_plan",
    "certification": "certify_plan or recertify_plan",
    "discharge": "discharge",
    "discharged": "discharge",
    "status": "the command for the step (accept_referral, cancel_session, discharge...)",
    "consent": "grant_consent or revoke_consent",
    "clinic_id": "redirect_referral",
    "scheduled_for": "cancel_session, then schedule_session",
    "billing_lines": "an amendment of `techniques` (the units follow from its minutes)",
    "total_units": "an amendment of `techniques` (the units follow from its minutes)",
    "total_timed_minutes": "an amendment of `techniques` (the units follow from its minutes)",
}


def _text(value: Any, field: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > 4000:
        raise InvalidInput("a corrected text is 1-4000 characters", field=field)
    return value


def _optional_text(value: Any, field: str) -> str | None:
    return None if value is None else _text(value, field)


def _texts(value: Any, field: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidInput("a corrected list holds texts", field=field)
    return [v.strip() for v in value if v.strip()]


def _choice(kind: type[Any]) -> Check:
    def check(value: Any, field: str) -> str:
        try:
            return str(kind(value))
        except ValueError:
            allowed = ", ".join(str(k) for k in kind)
            raise InvalidInput(f"a corrected value is one of: {allowed}", field=field) from None
    return check


def _choices(kind: type[Any]) -> Check:
    one = _choice(kind)

    def check(value: Any, field: str) -> list[str]:
        if not isinstance(value, list):
            raise InvalidInput("a corrected list holds the allowed values", field=field)
        return sorted({one(v, field) for v in value})
    return check


def _number(low: float, high: float, *, whole: bool = False) -> Check:
    def check(value: Any, field: str) -> int | float:
        if isinstance(value, bool) or not isinstance(value, int | float) or (
                whole and not isinstance(value, int)) or not low <= value <= high:
            kind = "a whole number" if whole else "a number"
            raise InvalidInput(f"a corrected value is {kind} from {low:g} to {high:g}",
                               field=field)
        return value
    return check


def _pain(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput("pain is scored 0-10 (NPRS)", field=field)
    return pain_score(value, field)


def _percent(value: Any, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput("functional scores (ODI, NDI) are 0-100 percent", field=field)
    return percent_score(float(value), field)


def _diagnoses(value: Any, field: str) -> list[dict[str, str]]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise InvalidInput("corrected diagnoses are a list of ICD-10-CM codes", field=field)
    return [Diagnosis.of(code).as_dict() for code in value]


def _techniques_minutes(value: Any, field: str) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not value:
        raise InvalidInput("corrected techniques list each with its minutes", field=field)
    technique, minutes = _choice(Technique), _number(1, 240, whole=True)
    out = []
    for item in value:
        if not isinstance(item, dict) or not (
                {"technique", "minutes"} <= set(item) <= {"technique", "minutes", "sites"}):
            raise InvalidInput("corrected techniques list each with its minutes (and, "
                               "optionally, its body sites)", field=field)
        sites = item.get("sites") or []
        if not isinstance(sites, list) or not all(isinstance(s, dict) for s in sites):
            raise InvalidInput("a technique's sites are a list of body regions", field=field)
        out.append({"technique": technique(item["technique"], field),
                    "minutes": minutes(item["minutes"], field),
                    "sites": [s.as_dict() for s in sites_of(sites, field)]})
    return out


def _sites(value: Any, field: str) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise InvalidInput("corrected sites are a list of body regions", field=field)
    return [s.as_dict() for s in sites_of(value, field)]


def _records(value: Any, field: str) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise InvalidInput("a corrected list holds objects, as the record's did", field=field)
    return value


def _outcomes(value: Any, field: str) -> dict[str, str]:
    if not isinstance(value, dict):
        raise InvalidInput("corrected outcomes give each goal's outcome", field=field)
    outcome = _choice(GoalOutcome)
    return {str(goal): outcome(v, field) for goal, v in value.items()}


_SOAP = {f"soap.{part}": _text for part in ("subjective", "objective", "assessment", "plan")}

#: Per kind of record, the fields an amendment may correct and how each is checked.
AMENDABLE: dict[AmendableRecord, dict[str, Check]] = {
    AmendableRecord.REFERRAL: {
        "diagnoses": _diagnoses, "precautions": _texts,
        "contraindications": _choices(Technique), "urgency": _choice(Urgency),
        "reason": _text,
    },
    AmendableRecord.ASSESSMENT: {
        "history": _text, "pain_nprs": _pain, "range_of_motion": _records,
        "muscle_tests": _records, "functional_instrument": _choice(FunctionalInstrument),
        "functional_score": _percent, "findings": _text, "red_flags": _texts,
        "tender_points": _number(0, TENDER_POINTS, whole=True), "pain_locations": _sites,
    },
    AmendableRecord.PLAN: {
        "goals": _records, "techniques": _choices(Technique),
        "frequency_per_week": _number(1, 7, whole=True),
        "duration_weeks": _number(1, 52, whole=True), "override_reason": _optional_text,
    },
    AmendableRecord.SESSION: {
        **_SOAP, "techniques": _techniques_minutes, "pain_before": _pain, "pain_after": _pain,
        "location": _choice(SessionLocation), "functional_score": _percent,
        "goal_measurements": _records, "override_reason": _optional_text,
        "tender_points": _number(0, TENDER_POINTS, whole=True),
    },
    AmendableRecord.PROGRESS_REPORT: {"summary": _text, "goal_status": _records},
    AmendableRecord.DISCHARGE: {"outcomes": _outcomes, "summary": _text},
    AmendableRecord.MESSAGE: {"body": _text},
}


def checked(kind: str, changes: Mapping[str, Any]) -> dict[str, Any]:
    """The changes, each checked against the record's fields; refused with what to do."""
    fields = AMENDABLE[AmendableRecord(kind)]
    out: dict[str, Any] = {}
    for name, value in changes.items():
        if name in OWN_COMMANDS and name not in fields:
            raise InvalidInput(f"`{name}` is not amended: use {OWN_COMMANDS[name]}",
                               field="changes")
        check = fields.get(name)
        if check is None:
            # The name is the client's, never echoed (it could be anything they typed).
            raise InvalidInput(f"a {kind.replace('_', ' ')} has no such field to amend; "
                               f"its fields: {', '.join(sorted(fields))}", field="changes")
        out[name] = check(value, "changes")
    return out


def as_amended(kind: str, data: Mapping[str, Any],
               amendments: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The record's fields as they now stand: each amendment's changes over the original,
    oldest first (a `soap.objective` names a part of `soap`). A session's billing follows
    its techniques, as when the note was written."""
    now: dict[str, Any] = {k: (dict(v) if isinstance(v, dict) else v) for k, v in data.items()}
    for changes in amendments:
        for name, value in changes.items():
            head, _, part = name.partition(".")
            if part:
                now[head] = {**(now.get(head) or {}), part: value}
            else:
                now[name] = value
        if kind == AmendableRecord.SESSION and "techniques" in changes:
            now.update(session_billing(now["techniques"], now.get("services") or ()))
    return now


def session_units(techniques: Iterable[Mapping[str, Any]],
                  services: Iterable[str] = ()) -> dict[str, int]:
    """The units by CPT code corrected techniques bill (what the session's visit holds),
    with the session's untimed services, which no amendment changes."""
    return billed_units(session_billing(techniques, services)["billing_lines"])


def session_billing(techniques: Iterable[Mapping[str, Any]],
                    services: Iterable[str] = ()) -> dict[str, Any]:
    """A session's billing fields from its techniques and minutes (billing.py's rule) and
    its untimed services."""
    pairs = [(Technique(t["technique"]), int(t["minutes"])) for t in techniques]
    lines = billing_lines(pairs) + service_lines(services)
    return {"billing_lines": [line.as_dict() for line in lines],
            "total_timed_minutes": sum(m for _, m in pairs),
            "total_units": sum(line.units for line in lines)}


def valid_changes(kind: str, changes: Mapping[str, Any],
                  wanted: Collection[str]) -> dict[str, Any]:
    """The `wanted` changes that pass their field's check, as checked: what a view may hold
    of an amendment stored before amendments were checked (one naming no field of its
    record, or a value no command would take, stays on the timeline and moves no view).
    Only the fields a view holds are checked: a process that never validates a diagnosis
    never loads the ICD-10-CM code set."""
    fields = AMENDABLE.get(AmendableRecord(kind), {})
    kept = {}
    for name, value in changes.items():
        check = fields.get(name)
        if check is None or name not in wanted:
            continue
        try:
            kept[name] = check(value, "changes")
        except InvalidInput:
            continue
    return kept


def history(kind: str, data: Mapping[str, Any], amendments: Iterable[Mapping[str, Any]],
            fields: Collection[str]) -> list[dict[str, Any]]:
    """What each amendment changed of `fields`, oldest first: the field, its value
    before and after, and the amendment's reason and time (each amendment a mapping of
    its `changes`, `reason` and `at`). Views give the value as it now stands; this is
    the original and each correction beside it."""
    before = dict(data)
    out = []
    for amendment in amendments:
        after = as_amended(kind, before, [amendment["changes"]])
        out += [{"field": name, "original": before.get(name), "current": after.get(name),
                 "reason": amendment.get("reason"), "at": amendment.get("at")}
                for name in fields if before.get(name) != after.get(name)]
        before = after
    return out
