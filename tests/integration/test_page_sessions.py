"""The pages' sessions with no identity provider (the demo, the tests): a token sent once
to `/app/session` opens a cookie session; the cookie alone then reads, and changes only
with the session's CSRF token; an idle session ends at the server; signing out ends it.
And the commands that say who may sign in, through the API."""

from __future__ import annotations

import json
import uuid
from typing import Any

import psycopg

from careledger.access.sessions import COOKIE, CSRF_HEADER
from careledger.access.tokens import Role
from careledger.main import bootstrap
from tests.helpers.network import Network

ME = json.dumps({"query": "{ me { id role } }"})


def open_session(client: Any, token: str) -> dict[str, Any]:
    answer = client.post("/app/session", json.dumps({"token": token}),
                         content_type="application/json")
    assert answer.status_code == 200, answer.content
    cookie = answer.cookies[COOKIE]
    assert cookie["httponly"] and cookie["secure"] and cookie["samesite"] == "Lax"
    return dict(answer.json())


def me(client: Any, csrf: str = "") -> dict[str, Any]:
    """`me`, over the cookie; a GraphQL POST is a request like any other: with the token."""
    return dict(client.post("/graphql", ME, content_type="application/json",
                            headers={CSRF_HEADER: csrf}).json())


def test_a_token_opens_a_cookie_session_that_reads_as_its_principal(
    client: Any, network: Network
) -> None:
    assert client.get("/app/session").json() == {"signedIn": False, "signIn": "token"}
    opened = open_session(client, network.token(Role.PHYSICIAN, network.physician))
    assert opened["signedIn"] and opened["role"] == "physician" and opened["csrf"]
    assert opened["idleSeconds"] == 15 * 60
    assert me(client, opened["csrf"])["data"]["me"] == {"id": str(network.physician),
                                                        "role": "physician"}
    assert me(client)["code"] == "csrf_failed"
    assert client.get("/app/session").json()["csrf"] == opened["csrf"]


def test_a_bad_token_opens_nothing(client: Any) -> None:
    answer = client.post("/app/session", json.dumps({"token": "not-a-token"}),
                         content_type="application/json")
    assert answer.status_code == 401
    assert COOKIE not in answer.cookies
    other_site = client.post("/app/session", json.dumps({"token": "x"}),
                             content_type="application/json",
                             HTTP_ORIGIN="https://elsewhere.example")
    assert other_site.status_code == 403


def test_a_change_through_the_cookie_needs_the_sessions_csrf_token(
    client: Any, network: Network
) -> None:
    opened = open_session(client, network.token(Role.NETWORK_ADMIN, uuid.uuid4()))
    body = json.dumps({"name": "Lakeside", "disciplines": ["physical_therapy"],
                       "address": "3 Lake Rd", "latitude": 42.1, "longitude": -73.2})
    refused = client.post("/api/v1/clinics", body, content_type="application/json")
    assert refused.status_code == 403
    assert refused["Content-Type"].startswith("application/problem+json")
    assert refused.json()["code"] == "csrf_failed"
    wrong = client.post("/api/v1/clinics", body, content_type="application/json",
                        headers={CSRF_HEADER: "not-the-token"})
    assert wrong.status_code == 403
    done = client.post("/api/v1/clinics", body, content_type="application/json",
                       headers={CSRF_HEADER: opened["csrf"]})
    assert done.status_code == 201, done.content


def test_an_idle_session_ends_at_the_server_and_signing_out_ends_any(
    client: Any, network: Network, db: bootstrap.Database
) -> None:
    opened = open_session(client, network.token(Role.PHYSICIAN, network.physician))
    assert "data" in me(client, opened["csrf"])
    # Sixteen minutes without a request (the idle time is fifteen), as the clock sees it.
    with psycopg.connect(db.admin_url) as conn:
        moved = conn.execute("UPDATE careledger.page_sessions SET last_seen_at = "
                             "last_seen_at - interval '16 minutes' WHERE csrf = %s",
                             (opened["csrf"],)).rowcount
    assert moved == 1
    assert me(client, opened["csrf"])["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert client.get("/app/session").json()["signedIn"] is False

    again = open_session(client, network.token(Role.PHYSICIAN, network.physician))
    refused = client.post("/app/sign-out")  # without the CSRF token: not this page's
    assert refused.status_code == 403
    out = client.post("/app/sign-out", headers={CSRF_HEADER: again["csrf"]})
    assert out.status_code == 200 and out.json()["then"].startswith("/app/")
    assert me(client, again["csrf"])["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    with psycopg.connect(db.admin_url) as conn:
        left = conn.execute("SELECT count(*) FROM careledger.page_sessions WHERE csrf = %s",
                            (again["csrf"],)).fetchone()
    assert left == (0,)


def test_the_application_role_cannot_read_a_cookie_back_from_the_sessions(
    client: Any, network: Network, db: bootstrap.Database
) -> None:
    open_session(client, network.token(Role.PHYSICIAN, network.physician))
    cookie = client.cookies[COOKIE].value
    with psycopg.connect(db.app_url) as conn:
        rows = conn.execute("SELECT cookie_sha256, csrf FROM careledger.page_sessions").fetchall()
    assert rows and all(cookie.encode() not in bytes(digest) for digest, _ in rows)
    assert all(cookie != csrf for _, csrf in rows)


def test_a_network_administrator_registers_staff_and_links_sign_ins(
    client: Any, network: Network
) -> None:
    admin = {"HTTP_AUTHORIZATION": "Bearer " + network.token(Role.NETWORK_ADMIN, uuid.uuid4())}

    def post(path: str, body: dict[str, Any], auth: dict[str, str] = admin) -> Any:
        return client.post(f"/api/v1{path}", json.dumps(body),
                           content_type="application/json", **auth)

    biller = post("/staff", {"name": "Pat Quinn", "role": "biller",
                             "clinic_ids": [str(network.clinic)]})
    assert biller.status_code == 201, biller.content
    no_clinic = post("/staff", {"name": "Lee Park", "role": "clinic_admin"})
    assert no_clinic.status_code == 422
    issuer, subject = "https://id.example.org/realms/clinics", f"u-{uuid.uuid4()}"
    linked = post("/sign-ins", {"issuer": issuer, "subject": subject,
                                "staff_member_id": biller.json()["id"]})
    assert linked.status_code == 201, linked.content
    twice = post("/sign-ins", {"issuer": issuer, "subject": subject,
                               "practitioner_id": str(network.physician)})
    assert twice.status_code == 409
    both = post("/sign-ins", {"issuer": issuer, "subject": "s2",
                              "practitioner_id": str(network.physician),
                              "staff_member_id": biller.json()["id"]})
    assert both.status_code == 422
    nobody = post("/sign-ins", {"issuer": issuer, "subject": "s3",
                                "practitioner_id": str(uuid.uuid4())})
    assert nobody.status_code == 404
    assert post("/sign-ins/unlink", {"issuer": issuer, "subject": subject}).status_code == 201
    relinked = post("/sign-ins", {"issuer": issuer, "subject": subject,
                                  "practitioner_id": str(network.physician)})
    assert relinked.status_code == 201
    assert relinked.json()["id"] == linked.json()["id"]  # one record per sign-in
    physician = {"HTTP_AUTHORIZATION": "Bearer " + network.token(Role.PHYSICIAN,
                                                                  network.physician)}
    assert post("/sign-ins/unlink", {"issuer": issuer, "subject": subject},
                physician).status_code == 403
