"""What an amendment may name, and the record as it now stands."""

from __future__ import annotations

import pytest

from careledger.domain.corrections import as_amended, checked, valid_changes
from careledger.domain.errors import InvalidInput


@pytest.mark.parametrize(("kind", "field", "command"), [
    ("referral", "authorized_visits", "authorize_visits"),
    ("plan", "certified_until", "certify_plan or recertify_plan"),
    ("discharge", "discharged", "discharge"),
    ("session", "total_units", "an amendment of `techniques`"),
])
def test_a_field_with_its_own_command_is_refused_with_that_command(
        kind: str, field: str, command: str) -> None:
    with pytest.raises(InvalidInput, match=f"use {command}") as refused:
        checked(kind, {field: 1})
    assert refused.value.field == "changes"


def test_a_field_the_record_lacks_is_refused_without_echoing_it() -> None:
    with pytest.raises(InvalidInput) as refused:
        checked("assessment", {"<script>": "x"})
    assert "<script>" not in str(refused.value)
    assert "pain_nprs" in str(refused.value)  # it lists the fields the record has


@pytest.mark.parametrize(("kind", "changes"), [
    ("assessment", {"pain_nprs": 11}), ("assessment", {"pain_nprs": "6"}),
    ("assessment", {"pain_nprs": True}), ("session", {"location": "moon"}),
    ("session", {"techniques": [{"technique": "myofascial_release", "minutes": 0}]}),
    ("referral", {"diagnoses": ["XYZ"]}), ("plan", {"frequency_per_week": 2.5}),
    ("discharge", {"outcomes": {"pain": "cured"}}), ("session", {"soap.plan": ""}),
])
def test_a_value_is_checked_as_the_command_that_made_the_record_checked_it(
        kind: str, changes: dict[str, object]) -> None:
    with pytest.raises(InvalidInput):
        checked(kind, changes)


def test_checked_values_are_kept_as_the_record_holds_them() -> None:
    assert checked("referral", {"diagnoses": ["m54.50"], "urgency": "urgent"}) == {
        "diagnoses": [{"code": "M54.50", "description": checked(
            "referral", {"diagnoses": ["M54.50"]})["diagnoses"][0]["description"]}],
        "urgency": "urgent"}


def test_the_record_as_it_now_stands_applies_each_amendment_in_order() -> None:
    note = {"soap": {"subjective": "a", "plan": "b"}, "pain_after": 5,
            "techniques": [{"technique": "myofascial_release", "minutes": 20}],
            "billing_lines": [{"cpt": "97140", "minutes": 20, "units": 1}], "total_units": 1}
    now = as_amended("session", note, [{"pain_after": 4}, {"soap.plan": "c"},
                                       {"techniques": [{"technique": "myofascial_release",
                                                        "minutes": 38}]}])
    assert now["pain_after"] == 4 and now["soap"] == {"subjective": "a", "plan": "c"}
    assert now["total_units"] == 3 and now["billing_lines"][0]["units"] == 3
    assert note["pain_after"] == 5 and note["soap"]["plan"] == "b"  # the original stays


def test_a_view_keeps_only_what_passes_of_an_amendment_stored_unchecked() -> None:
    stored = {"pain_nprs": "six", "functional_score": 40, "note": "x"}
    assert valid_changes("assessment", stored, {"pain_nprs", "functional_score"}) == {
        "functional_score": 40.0}
