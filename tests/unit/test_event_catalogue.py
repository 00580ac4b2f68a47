"""Every event is declared once, and every consumer of events places every one of them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from careledger.domain.catalogue import AGGREGATES, EVENTS, aggregate_of, by_kind, by_topic
from careledger.domain.referral import Referral
from careledger.gateways.fhir.record import NOT_MAPPED, PatientRecord
from careledger.projections import all_projections
from careledger.web.events import FORMATS, SHOWN, catalogue
from tests.helpers import ROOT


def test_every_event_has_a_stable_topic_of_its_own_aggregate() -> None:
    assert len(EVENTS) == 47
    assert len({e.TOPIC for e in EVENTS}) == len(EVENTS)
    for event in EVENTS:
        aggregate = aggregate_of(event)
        assert f"{vars(aggregate)['TOPIC']}.{event.__name__}" == event.TOPIC
        assert f"{aggregate.__name__}.{event.__name__}" == event.KIND
        assert by_topic(event.TOPIC) is event and by_kind(event.KIND) is event
    assert {aggregate_of(e) for e in EVENTS} == set(AGGREGATES)


def test_every_event_carries_both_times_and_its_author() -> None:
    for event in EVENTS:
        assert {"occurred_at", "actor"} <= set(event.__dataclass_fields__), event.KIND


def test_each_projection_handles_or_ignores_every_event() -> None:
    for projection in all_projections():
        assert projection.unplaced() == [], projection.name
        assert not projection.handled & projection.ignored, projection.name
        assert projection.handled, f"{projection.name} handles nothing"


def test_the_fhir_export_maps_or_declares_unmapped_every_event() -> None:
    mapped = PatientRecord("p").mapped
    assert mapped | NOT_MAPPED == set(EVENTS)
    assert not mapped & NOT_MAPPED


def test_the_page_has_a_label_and_known_formats_for_every_event() -> None:
    assert set(SHOWN) == set(EVENTS)
    served = catalogue()
    assert set(served["events"]) == {e.KIND for e in EVENTS}
    for kind, shown in served["events"].items():
        assert shown["label"] and kind not in shown["label"]
        assert all(d["format"] in FORMATS for d in shown["details"])
        for line in shown["details"]:
            event = by_kind(kind)
            assert event is not None
            for name in (*line["fields"], line.get("termField")):
                if name:
                    assert name.split(".")[0] in event.__dataclass_fields__, (kind, name)
    grouped = [k for g in served["groups"] for k in g["kinds"]]
    assert len(grouped) == len(set(grouped))
    assert Referral.SessionCompleted.KIND in grouped
    json.dumps(served)  # the page reads it as JSON


def test_the_formats_the_server_names_are_the_ones_the_page_knows() -> None:
    page = (ROOT / "careledger/web/static/web/details.js").read_text()
    declared = page[page.index("const FORMATS = {"):page.index("};", page.index("const FORMATS"))]
    assert {f for f in FORMATS if f"\n  {f}:" in declared} == FORMATS


def _check(*paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "tools/check_event_names.py"),
                           *map(str, paths)], capture_output=True, text=True, check=False)


def test_no_event_name_is_written_out_as_a_string() -> None:
    done = _check()
    assert done.returncode == 0, done.stdout


def test_the_check_finds_a_name_written_out(tmp_path: Path) -> None:
    made, typo = ".".join(["Referral", "Made"]), ".".join(["Referral", "ProgresReported"])
    topic = "careledger:" + ".".join(["Patient", "Registered"])
    inside = ROOT / "tests" / "unit" / f"planted_{tmp_path.name}"
    inside.mkdir()
    try:
        (inside / "view.py").write_text(
            f'"""A docstring may say {made}."""\n'
            f'KINDS = ["{typo}"]  # a typo: no such event\n')
        (inside / "page.js").write_text(
            f'// a comment may say {made}\nconst t = "{topic}";\n')
        done = _check(inside)
    finally:
        for f in inside.iterdir():
            f.unlink()
        inside.rmdir()
    assert done.returncode == 1
    assert f"view.py:2: '{typo}'" in done.stdout
    assert f"page.js:2: '{topic}'" in done.stdout
    assert "view.py:1" not in done.stdout and "page.js:1" not in done.stdout


def test_the_page_learns_the_deadlines_from_the_domain() -> None:
    from careledger.domain import deadlines

    rules = catalogue()["rules"]
    assert rules["certificationMaxDays"] == deadlines.CERTIFICATION_MAX_DAYS
    assert rules["certificationGraceDays"] == deadlines.CERTIFICATION_GRACE_DAYS
    assert rules["recertifyWithinDays"] == deadlines.RECERTIFY_WITHIN_DAYS
    assert rules["progressReportEveryVisits"] == deadlines.PROGRESS_REPORT_EVERY_VISITS


def test_each_view_of_care_places_the_events_in_the_one_table() -> None:
    from careledger.projections.placement import CARE_EVENTS, LEAVES_ASIDE, NETWORK_EVENTS

    views = {p.name: p for p in all_projections()}
    assert set(LEAVES_ASIDE) == set(views) - {"timeline", "directory"}
    assert set(CARE_EVENTS) | set(NETWORK_EVENTS) == set(EVENTS)
    assert views["timeline"].handled == set(CARE_EVENTS)  # a new event of care shows there
    for name, aside in LEAVES_ASIDE.items():
        assert not set(aside) & set(NETWORK_EVENTS), name
