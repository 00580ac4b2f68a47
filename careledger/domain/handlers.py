"""The one table of handlers: every command, and what decides it.

Each stage of the record declares its commands and their handlers beside its rules
(network.py, clinic_billing.py, staffing.py, identity.py, patient.py, referral.py, intake.py,
assessment.py, planning.py, authorizing.py, treatment.py, closing.py, messaging.py,
amendments.py); `CareLedger.handle` looks a command up here.
"""

from __future__ import annotations

from careledger.domain import (
    amendments,
    assessment,
    attaching,
    authorizing,
    clinic_billing,
    closing,
    education,
    identity,
    intake,
    messaging,
    network,
    patient,
    planning,
    referral,
    staffing,
    treatment,
)
from careledger.domain.commands import Command, Handler

HANDLERS: dict[type[Command], Handler] = {
    **network.HANDLERS, **clinic_billing.HANDLERS, **staffing.HANDLERS, **patient.HANDLERS,
    **referral.HANDLERS, **education.HANDLERS, **identity.HANDLERS,
    **intake.HANDLERS, **assessment.HANDLERS, **planning.HANDLERS, **authorizing.HANDLERS,
    **treatment.HANDLERS, **closing.HANDLERS, **messaging.HANDLERS, **attaching.HANDLERS,
    **amendments.HANDLERS,
}
