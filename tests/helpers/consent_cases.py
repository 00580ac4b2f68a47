"""The rows of the consent rule's table (domain/consent.py) as cases: the unit test walks
them through the domain's rule, the integration test through the database's."""

from __future__ import annotations

from datetime import date

from careledger.domain.consent import ConsentDecision, Purpose, Reader

DAY = date(2026, 3, 10)
B, E = "clinic-b", "clinic-e"


def decision(clinic: str | None, permit: bool, *, starts: date = date(2026, 3, 1),
             ends: date | None = None) -> ConsentDecision:
    return ConsentDecision(decision_id=f"{clinic}-{permit}-{starts}", clinic_id=clinic,
                           purpose=Purpose.TREATMENT, permit=permit, starts_on=starts,
                           ends_on=ends, form_reference="form-1")


NETWORK_GRANT = decision(None, True)
NETWORK_REVOKE = decision(None, False)

CASES = [
    # (why, reader, exists, current referral, decisions oldest first, clinic, may read)
    ("an auditor reads any patient that exists", Reader.AUDITOR, True, False,
     [NETWORK_REVOKE], None, True),
    ("nobody reads a patient that does not exist", Reader.AUDITOR, False, False, [], None,
     False),
    ("the referring physician reads the episodes they ordered, consent or not",
     Reader.REFERRING_PHYSICIAN, True, False, [NETWORK_GRANT, NETWORK_REVOKE], None, True),
    ("a clinic with a current referral reads under a network grant", Reader.CLINIC, True,
     True, [NETWORK_GRANT], B, True),
    ("a clinic's revoke beats a network grant", Reader.CLINIC, True, True,
     [NETWORK_GRANT, decision(B, False)], B, False),
    ("...and only for that clinic", Reader.CLINIC, True, True,
     [NETWORK_GRANT, decision(B, False)], E, True),
    ("a clinic's revoke beats a network grant recorded after it", Reader.CLINIC, True, True,
     [decision(B, False), NETWORK_GRANT], B, False),
    ("a later decision of the same scope beats an earlier one", Reader.CLINIC, True, True,
     [NETWORK_GRANT, decision(B, False), decision(B, True)], B, True),
    ("a network revoke closes every clinic", Reader.CLINIC, True, True,
     [NETWORK_GRANT, decision(E, True), NETWORK_REVOKE], E, False),
    ("a clinic's own grant is consent enough", Reader.CLINIC, True, True,
     [decision(B, True)], B, True),
    ("no decision in force: no consent", Reader.CLINIC, True, True, [], B, False),
    ("a decision not yet in force does not count", Reader.CLINIC, True, True,
     [decision(B, True, starts=date(2026, 4, 1))], B, False),
    ("a grant whose period ended does not count", Reader.CLINIC, True, True,
     [decision(B, True, ends=date(2026, 3, 9))], B, False),
    ("a revoke whose period ended no longer denies", Reader.CLINIC, True, True,
     [NETWORK_GRANT, decision(B, False, ends=date(2026, 3, 9))], B, True),
    ("its last day is in force", Reader.CLINIC, True, True,
     [decision(B, True, ends=DAY)], B, True),
    ("a clinic whose referral was redirected away reads no more", Reader.CLINIC, True,
     False, [NETWORK_GRANT], B, False),
    ("anyone else reads nothing", Reader.OTHER, True, True, [NETWORK_GRANT], B, False),
]

