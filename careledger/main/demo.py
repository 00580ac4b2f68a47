"""What `careledger up --demo` prints once everything answers: URLs, tokens, examples.

Every example is a `curl` line that works as printed (shell-quoted, tokens included),
against the demo network `careledger seed` recorded in the data folder.
"""

from __future__ import annotations

import json
import shlex
from datetime import date, timedelta
from typing import Any
from urllib.parse import quote
from uuid import UUID, uuid5

from careledger.access.tokens import Role, TokenService

TOKEN_HOURS = 12

#: The demo's principals: label, role, the demo network's key for their id.
PRINCIPALS = (
    ("physician", Role.PHYSICIAN, "demo_physician"),
    ("therapist", Role.THERAPIST, "demo_therapist"),
    ("clinic admin", Role.CLINIC_ADMIN, "demo_clinic_admin"),
    ("auditor", Role.AUDITOR, "demo_auditor"),
    ("biller", Role.BILLER, "demo_biller"),
)


def issue_tokens(network: dict[str, Any], secret: str) -> dict[str, str]:
    """A token per demo principal; therapist and clinic admin hold the demo clinic."""
    tokens = TokenService(secret)
    clinic = UUID(network["demo_therapist_clinic"])
    issued = {}
    for label, role, key in PRINCIPALS:
        # A network seeded before clinic admins and auditors were recorded: derive ids.
        subject = UUID(network.get(key) or str(uuid5(UUID(network["demo_physician"]), key)))
        clinics = [clinic] if role in (Role.THERAPIST, Role.CLINIC_ADMIN, Role.BILLER) else []
        issued[label] = tokens.issue(subject=subject, role=role, clinics=clinics,
                                     ttl=timedelta(hours=TOKEN_HOURS))
    return issued


def timeline_query(patient: str) -> str:
    return (f'{{ patient(id: "{patient}") {{ timeline(first: 10) {{ events '
            "{ kind occurredAt recordedAt clinicId } hasNextPage } } }")


def graphql_curl(base: str, token: str, query: str) -> str:
    body = json.dumps({"query": query})
    return (f"curl -s {base}/graphql -H {shlex.quote('Authorization: Bearer ' + token)} "
            f"-H 'Content-Type: application/json' -d {shlex.quote(body)}")


def timeline_url(base: str, token: str, patient: str) -> str:
    """GraphiQL with the timeline query and the bearer header filled in."""
    headers = json.dumps({"Authorization": f"Bearer {token}"})
    return (f"{base}/graphql?q={quote(timeline_query(patient), safe='')}"
            f"&headers={quote(headers, safe='')}")


def examples(base: str, network: dict[str, Any], tokens: dict[str, str]
             ) -> list[tuple[str, str]]:
    """(what it shows, the curl line): four reads and a command."""
    patient, clinic = network["demo_patient"], network["demo_therapist_clinic"]
    today = date.today()
    claims = (f"{base}/api/v1/clinics/{clinic}/claims?from={today - timedelta(days=30)}"
              f"&to={today}&format=csv")
    register = json.dumps({"given_name": "Jo", "family_name": "Doe",
                           "birth_date": "1980-02-03", "sex": "female"})
    return [
        ("the demo physician reads the demo patient's shared timeline (GraphQL)",
         graphql_curl(base, tokens["physician"], timeline_query(patient))),
        ("the clinic admin reads the clinic's open caseload (GraphQL)",
         graphql_curl(base, tokens["clinic admin"],
                      f'{{ clinic(id: "{clinic}") {{ caseload {{ patientId status planStatus '
                      "visitsUsed visitsAuthorized nextSession } } }")),
        ("the auditor lists every read of the demo patient's record, yours included (GraphQL)",
         graphql_curl(base, tokens["auditor"],
                      f'{{ accessReport(patientId: "{patient}") {{ at role fields allowed '
                      "basis } }")),
        ("the biller exports the clinic's claims for the last 30 days, as CSV (REST)",
         f"curl -s {shlex.quote(claims)} "
         f"-H {shlex.quote('Authorization: Bearer ' + tokens['biller'])}"),
        ("a command (REST, /api/v1): the physician registers a patient; 201 with its id",
         f"curl -s -X POST {base}/api/v1/patients "
         f"-H {shlex.quote('Authorization: Bearer ' + tokens['physician'])} "
         f"-H 'Content-Type: application/json' -d {shlex.quote(register)}"),
    ]


def banner(*, base: str, graphiql: bool, postgres: str, kafka: str,
           network: dict[str, Any] | None, token_secret: str, streams: str | None = None
           ) -> str:
    lines = [f"CareLedger is ready at {base}",
             f"  Web timeline   {base}/app/ (local sign-in, no identity provider: paste "
             "the physician's token below)",
             f"  GraphiQL       {base}/graphql" if graphiql else
             f"  GraphQL        {base}/graphql (GraphiQL on loopback, or with CARELEDGER_DEBUG=1)",
             f"  OpenAPI docs   {base}/api/v1/docs",
             *([f"  Live streams   {streams} (server-sent events; the pages follow them)"]
               if streams else []),
             f"  PostgreSQL     {postgres}",
             f"  Kafka          {kafka}"]
    if network is None:
        lines += ["", "No demo data: `careledger up --demo` seeds a network; "
                  "`careledger token issue` makes tokens."]
        return "\n".join(lines)
    tokens = issue_tokens(network, token_secret)
    if graphiql:
        lines += ["", "The demo patient's shared timeline, in GraphiQL as the demo physician "
                  "(open it, press Run):",
                  f"  {timeline_url(base, tokens['physician'], network['demo_patient'])}"]
    lines += ["", f"Demo tokens (valid {TOKEN_HOURS} hours):"]
    lines += [f"  {label:<13} {token}" for label, token in tokens.items()]
    lines += ["", "Try these (each works as printed):"]
    for what, command in examples(base, network, tokens):
        lines += [f"  # {what}", f"  {command}"]
    return "\n".join(lines)
