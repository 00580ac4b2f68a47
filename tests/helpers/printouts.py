"""A whole 12-visit episode recorded for printing: referred, assessed, planned, certified,
authorized again, twelve sessions (the last written up days late), a progress report
after the tenth, a cancellation, a discharge. Its times are today's, so that only the
late note is a late entry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

from careledger.domain.application import CareLedger
from careledger.domain.authorizing import AuthorizeVisits
from careledger.domain.clinical import CredentialKind, FunctionalInstrument, GoalOutcome
from careledger.domain.closing import Discharge, SendProgressReport
from careledger.domain.network import AddCredential
from careledger.domain.planning import CertifyPlan
from careledger.domain.referral import Referral
from careledger.domain.treatment import CancelSession
from tests.helpers.care import episode, schedule, session
from tests.helpers.network import Network

THERAPIST_NPI = "1003000126"


def twelve_visits(app: CareLedger, network: Network) -> UUID:
    now = datetime.now(UTC).replace(microsecond=0)
    start = now - timedelta(days=5)
    app.handle(AddCredential(practitioner_id=network.therapist, kind=CredentialKind.NPI,
                             number=THERAPIST_NPI, issuer="CMS", expires_on=None,
                             occurred_at=start, actor="network_admin:t"))
    rid = episode(app, network, clinic=network.clinic, therapist=network.therapist,
                  at=start, code="M54.50", instrument=FunctionalInstrument.ODI, pain=7,
                  score=48.0, reason="low back pain for six weeks")
    app.handle(CertifyPlan(referral_id=rid, physician_id=network.physician,
                           certified_from=start.date(),
                           certified_until=(start + timedelta(days=60)).date(),
                           occurred_at=start + timedelta(days=2, hours=3),
                           actor=f"physician:{network.physician}"))
    app.handle(AuthorizeVisits(referral_id=rid, visits=5, starts_on=start.date(),
                               physician_id=network.physician,
                               occurred_at=start + timedelta(days=2, hours=4),
                               actor=f"physician:{network.physician}"))
    # Visit 1 three days ago, written up only now (a late entry); the rest today.
    session(app, rid, network.therapist, "s01", now - timedelta(days=3), pain=7, score=46.0)
    for n in range(2, 13):
        at = now - timedelta(hours=14 - n)
        session(app, rid, network.therapist, f"s{n:02d}", at, pain=max(7 - n // 2, 1),
                score=46.0 - 2 * n)
        if n == 10:
            app.handle(SendProgressReport(
                referral_id=rid, practitioner_id=network.therapist,
                summary="Pain and function improving; continuing the plan.",
                goal_status=[{"goal_id": "pain", "latest": 3, "note": ""}],
                occurred_at=at + timedelta(minutes=30), actor="therapist:t"))
    schedule(app, rid, network.therapist, "s13", now - timedelta(hours=1, minutes=30))
    app.handle(CancelSession(referral_id=rid, session_id="s13", reason="patient travelling",
                             occurred_at=now - timedelta(hours=1), actor="therapist:t"))
    app.handle(Discharge(referral_id=rid, practitioner_id=network.therapist,
                         outcomes={"pain": GoalOutcome.MET,
                                   "function": GoalOutcome.PARTIALLY_MET},
                         summary="Goals met or nearly; home program given.",
                         occurred_at=now - timedelta(minutes=30), actor="therapist:t"))
    done = app.load(Referral, rid)  # the premise every printing test stands on
    assert (done.visits_completed, done.status) == (12, "discharged"), done.status
    return rid
