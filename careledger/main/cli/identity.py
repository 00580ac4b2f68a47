"""Who may sign in, from the command line: the operator registers the first network
administrator and links their sign-in at the identity provider (after that, a network
administrator does the same through the API). Each is a command of the log, recorded
with the operator as its actor."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

import typer

from careledger.main.cli.common import commands, console, fail, open_database, read_settings

staff_cli = commands("The network's staff besides practitioners (administrators, "
                     "billers, auditors).")
identity_cli = commands("Sign-ins at the identity provider, linked to people of the "
                        "directory.")
OPERATOR = "operator:cli"


def _handle(command: object) -> UUID:
    from careledger.domain.errors import DomainError
    from careledger.main import bootstrap

    settings = read_settings()
    db = open_database(settings)
    bootstrap.run_migrations(db)
    app = bootstrap.application(db, settings)
    try:
        recorded = app.handle(command)  # type: ignore[arg-type]
    except DomainError as e:
        fail(str(e))
        raise  # fail() exits; for the type checker
    finally:
        app.close()
    return recorded.aggregate_id


@staff_cli.command("register")
def staff_register(
    name: Annotated[str, typer.Option(help="The name they go by.")],
    role: Annotated[str, typer.Option(help="clinic_admin, network_admin, auditor or biller")],
    clinic: Annotated[list[str] | None, typer.Option(
        help="A clinic they act for (clinic administrators and billers); repeat for more.")]
    = None,
) -> None:
    """Register a staff member; prints their id."""
    from careledger.domain.identity import RegisterStaffMember, StaffRole

    try:
        parsed = StaffRole(role)
        clinics = [UUID(c) for c in clinic or []]
    except ValueError:
        fail("role is one of " + ", ".join(r.value for r in StaffRole)
             + "; clinics are ids (UUIDs)")
        return
    print(_handle(RegisterStaffMember(name=name, role=parsed, clinic_ids=clinics,
                                      occurred_at=datetime.now(UTC), actor=OPERATOR)))


@identity_cli.command("link")
def identity_link(
    subject: Annotated[str, typer.Option(help="The `sub` the provider gives this person.")],
    issuer: Annotated[str | None, typer.Option(
        help="The provider's issuer URL (default: CARELEDGER_OIDC_ISSUER).")] = None,
    practitioner: Annotated[str | None, typer.Option(help="A practitioner's id…")] = None,
    staff: Annotated[str | None, typer.Option(help="…or a staff member's id.")] = None,
) -> None:
    """Let (issuer, subject) sign in as a practitioner or a staff member."""
    from careledger.domain.identity import LinkSignIn, PersonKind

    issuer = issuer or read_settings().oidc_issuer
    if not issuer:
        fail("name the provider: --issuer URL, or set CARELEDGER_OIDC_ISSUER")
        return
    if (practitioner is None) == (staff is None):
        fail("name exactly one person: --practitioner ID or --staff ID")
        return
    try:
        person = UUID(practitioner or staff or "")
    except ValueError:
        fail("a person's id is a UUID (the id their registration printed)")
        return
    kind = PersonKind.PRACTITIONER if practitioner else PersonKind.STAFF
    _handle(LinkSignIn(issuer=issuer, subject=subject, person_id=person, person_kind=kind,
                       occurred_at=datetime.now(UTC), actor=OPERATOR))
    console().print(f"[green]linked[/green]: {subject} at {issuer} signs in as that "
                    f"{kind.value.replace('_', ' ')}")


@identity_cli.command("unlink")
def identity_unlink(
    subject: Annotated[str, typer.Option(help="The `sub` the provider gives this person.")],
    issuer: Annotated[str | None, typer.Option(
        help="The provider's issuer URL (default: CARELEDGER_OIDC_ISSUER).")] = None,
) -> None:
    """Stop (issuer, subject) signing in (within seconds: the API remembers 5 s)."""
    from careledger.domain.identity import UnlinkSignIn

    issuer = issuer or read_settings().oidc_issuer
    if not issuer:
        fail("name the provider: --issuer URL, or set CARELEDGER_OIDC_ISSUER")
        return
    _handle(UnlinkSignIn(issuer=issuer, subject=subject, occurred_at=datetime.now(UTC),
                         actor=OPERATOR))
    console().print(f"[green]unlinked[/green]: {subject} at {issuer} signs in no more")
