"""The rule of who may read a patient's record, row by row of its table (domain/consent.py)."""

from __future__ import annotations

import pytest

from careledger.domain.consent import ConsentDecision, Reader, may_read
from tests.helpers.consent_cases import CASES, DAY


@pytest.mark.parametrize(("why", "reader", "exists", "current", "decisions", "clinic",
                          "allowed"), CASES, ids=[c[0] for c in CASES])
def test_the_rule(why: str, reader: Reader, exists: bool, current: bool,
                  decisions: list[ConsentDecision], clinic: str | None, allowed: bool
                  ) -> None:
    assert may_read(reader, exists=exists, current_referral=current, decisions=decisions,
                    clinic_id=clinic, on=DAY) is allowed
