"""Every row of the precautions table (domain/precautions.py), through the public API on
the real PostgreSQL: the physician refers with a coded precaution; the therapist's notes
try each technique it contraindicates or cautions, in its region and outside it. A
contraindicated one is refused (409) until an override with its reason is recorded,
then the override names what it overrode; a cautioned one is accepted with the caution
on the note, which the physician reads on the timeline; one outside the region passes
without a word. Sites are named as a clinic charts them, and bad ones are 422s."""

from __future__ import annotations

from typing import Any

import pytest

from careledger.access.tokens import Role
from careledger.domain.application import CareLedger
from careledger.domain.precautions import RULES, Precaution
from careledger.domain.referral import Referral
from careledger.main import bootstrap
from tests.helpers.api import assert_problem, post, referral_body
from tests.helpers.graphql import ask, sync_views
from tests.helpers.network import Network

SOAP = {"subjective": "a", "objective": "b", "assessment": "c", "plan": "d"}
NOTES = """query ($id: UUID!, $after: String) { patient(id: $id) {
  timeline(first: 100, after: $after) { events { kind data } endCursor hasNextPage } } }"""

CONTRA, CAUTION, CLEAR = "contraindicated", "cautioned", "clear"


def site(region: str, side: str | None = None) -> dict[str, Any]:
    return {"region": region, **({"side": side} if side else {})}


#: Per precaution: its site, and (technique, where it was applied, what it must give).
CASES: dict[Precaution, tuple[dict[str, Any] | None, list[tuple[str, list[Any], str]]]] = {
    Precaution.DEEP_VEIN_THROMBOSIS: (site("lower_leg", "left"), [
        ("swedish_massage", [site("thigh", "left")], CONTRA),  # the affected limb
        ("lymphatic_drainage", [site("foot", "left")], CONTRA),
        ("swedish_massage", [], CONTRA),  # where is not stated: it may have been there
        ("swedish_massage", [site("thigh", "right")], CLEAR),
        ("therapeutic_exercise", [site("lower_leg", "left")], CLEAR),  # not massage
    ]),
    Precaution.ANTICOAGULANT_THERAPY: (None, [
        ("deep_tissue", [site("lumbar")], CAUTION),
        ("trigger_point", [site("neck")], CAUTION),
        ("myofascial_release", [site("thoracic")], CAUTION),
        ("swedish_massage", [site("lumbar")], CLEAR),
    ]),
    Precaution.RECENT_SURGERY: (site("knee", "right"), [
        ("soft_tissue_mobilization", [site("knee", "right")], CONTRA),
        ("stretching", [site("knee", "right")], CONTRA),
        ("stretching", [site("thigh", "right")], CAUTION),  # near the site
        ("stretching", [site("thigh", "left")], CLEAR),
        ("swedish_massage", [site("thigh", "right")], CLEAR),
    ]),
    Precaution.LYMPHEDEMA: (site("forearm", "left"), [
        ("deep_tissue", [site("forearm", "left")], CONTRA),
        ("swedish_massage", [site("forearm", "left")], CAUTION),
        ("lymphatic_drainage", [site("forearm", "left")], CLEAR),  # indicated
        ("deep_tissue", [site("forearm", "right")], CLEAR),
    ]),
    Precaution.OPEN_WOUND: (site("hand", "right"), [
        ("swedish_massage", [site("hand", "right")], CONTRA),
        ("therapeutic_exercise", [site("hand", "right")], CONTRA),
        ("swedish_massage", [site("hand", "left")], CLEAR),
    ]),
    Precaution.FEVER: (None, [
        ("stretching", [site("neck")], CONTRA),
        ("swedish_massage", [site("foot", "left")], CONTRA),
    ]),
    Precaution.OSTEOPOROSIS: (None, [
        ("deep_tissue", [site("thoracic")], CAUTION),
        ("joint_mobilization", [site("hip", "left")], CAUTION),
        ("stretching", [site("shoulder", "right")], CAUTION),
        ("swedish_massage", [site("thoracic")], CLEAR),
    ]),
    Precaution.ACTIVE_CANCER_TREATMENT: (site("chest"), [
        ("deep_tissue", [site("chest")], CONTRA),  # over the treatment site
        ("deep_tissue", [site("lumbar")], CAUTION),
        ("swedish_massage", [site("chest")], CAUTION),
    ]),
    Precaution.PREGNANCY: (None, [
        ("deep_tissue", [site("abdomen")], CONTRA),
        ("myofascial_release", [site("abdomen")], CONTRA),
        ("deep_tissue", [site("thigh", "left")], CAUTION),  # the legs, and positioning
        ("swedish_massage", [site("lumbar")], CAUTION),  # positioning
    ]),
    Precaution.PERIPHERAL_NEUROPATHY: (site("foot", "left"), [
        ("deep_tissue", [site("foot", "left")], CAUTION),
        ("trigger_point", [site("foot", "left")], CAUTION),
        ("deep_tissue", [site("foot", "right")], CLEAR),
        ("swedish_massage", [site("foot", "left")], CLEAR),
    ]),
    Precaution.UNCONTROLLED_HYPERTENSION: (None, [
        ("deep_tissue", [site("lumbar")], CAUTION),
        ("swedish_massage", [site("lumbar")], CLEAR),
    ]),
}


def _at(n: int) -> str:
    return f"2026-03-{3 + n // 8:02d}T{9 + n % 8:02d}:00:00+00:00"


def _post(client: Any, network: Network, path: str, body: dict[str, Any]) -> Any:
    return post(client, path, body, network.therapist_auth)


def test_the_table_covers_every_precaution_it_declares() -> None:
    assert set(CASES) == set(Precaution) == set(RULES)
    for precaution, (where, _) in CASES.items():
        assert RULES[precaution].regional == (where is not None), precaution


def test_every_row_refuses_cautions_or_passes_in_and_outside_its_region(
    client: Any, network: Network, app: CareLedger, db: bootstrap.Database,
) -> None:
    expected: dict[str, tuple[Precaution, str, str]] = {}
    n = 0
    for precaution, (where, cases) in CASES.items():
        coded = {"code": precaution.value, **({"site": where} if where else {})}
        made = post(client, "/referrals", referral_body(
            network, contraindications=[], precautions=[], coded_precautions=[coded],
            authorized_visits=20), network.physician_auth)
        assert made.status_code == 201, made.content
        rid = made.json()["id"]
        assert _post(client, network, f"/referrals/{rid}/acceptance",
                     {"occurred_at": "2026-03-02T10:00:00+00:00"}).status_code == 201
        for technique, sites, outcome in cases:
            n += 1
            session = f"{precaution.value[:20]}-{n}"
            assert _post(client, network, f"/referrals/{rid}/sessions", {
                "session_id": session, "scheduled_for": _at(n),
                "occurred_at": "2026-03-02T10:00:00+00:00"}).status_code == 201
            note = {"soap": SOAP, "pain_before": 5, "pain_after": 4, "occurred_at": _at(n),
                    "techniques": [{"technique": technique, "minutes": 20, "sites": sites}]}
            path = f"/referrals/{rid}/sessions/{session}/completion"
            if outcome == CONTRA:
                refused = assert_problem(_post(client, network, path, note), 409,
                                         "invariant_violated")
                assert RULES[precaution].label in refused["detail"], refused
                assert "override" in refused["detail"]
                note["override_reason"] = "physician cleared it by phone today"
            answer = _post(client, network, path, note)
            assert answer.status_code == 201, (precaution, technique, sites, answer.content)
            expected[session] = (precaution, technique, outcome)
    sync_views(app, db)

    token = network.token(Role.PHYSICIAN, network.physician)
    notes: dict[str, dict[str, Any]] = {}
    after = None
    while True:
        page = ask(client, token, NOTES, id=str(network.patient),
                   after=after)["data"]["patient"]["timeline"]
        notes.update({e["data"]["session_id"]: e["data"] for e in page["events"]
                      if e["kind"] == Referral.SessionCompleted.KIND})
        if not page["hasNextPage"]:
            break
        after = page["endCursor"]
    for session, (precaution, technique, outcome) in expected.items():
        data, label = notes[session], RULES[precaution].label
        words = technique.replace("_", " ")
        overridden = [o for o in data["overridden"] if label in o and words in o]
        cautioned = [c for c in data["cautions"] if label in c and words in c]
        if outcome == CONTRA:
            assert overridden and not cautioned, (session, data)
        elif outcome == CAUTION:
            assert cautioned and not overridden, (session, data)
        else:
            assert not overridden and not cautioned, (session, data)


@pytest.mark.parametrize(("coded", "says"), [
    ({"code": "deep_vein_thrombosis"}, "name its body site"),
    ({"code": "fever", "site": site("neck")}, "name no site"),
    ({"code": "recent_surgery", "site": site("knee")}, "left or right"),
    ({"code": "recent_surgery", "site": site("lumbar", "left")}, "has no side"),
    ({"code": "bad_back"}, "code"),
])
def test_a_coded_precaution_that_cannot_be_checked_is_refused(
    client: Any, network: Network, coded: dict[str, Any], says: str,
) -> None:
    refused = assert_problem(post(client, "/referrals", referral_body(
        network, coded_precautions=[coded]), network.physician_auth), 422, "invalid_request")
    assert says in str(refused), refused
