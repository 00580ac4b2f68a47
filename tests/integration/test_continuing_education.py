"""Continuing education through the public API and GraphQL on the real PostgreSQL: a
practitioner (or an administrator of their clinic, or the network's) records the courses
they completed; each practitioner's standing against their licence's renewal rule is
current, hours short, or a licence expiring within 60 days; a clinic's administrator sees
who needs attention first; the directory shows whether continuing education is current.
(Treatment refused on an expired licence is tests/unit/test_invariants.py's.)"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

from django.core.files.uploadedfile import SimpleUploadedFile

from careledger.access.tokens import Role
from careledger.domain.application import CareLedger
from careledger.domain.clinical import CredentialKind
from careledger.domain.network import AddCredential, RecordExperience
from careledger.main import bootstrap
from tests.helpers.api import assert_problem, post
from tests.helpers.graphql import ask, sync_views
from tests.helpers.network import NOW, Network

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n% AMTA certificate\n%%EOF\n"
STAFF = """query ($id: UUID!) { staffStanding(clinicId: $id) { practitionerId needsAttention
  continuingEducation { standing current hoursDone hoursNeeded licenceExpiresOn board } } }"""
MATCH = """{ matchPractitioners(condition: "M54.50", discipline: "medical_massage",
  near: {latitude: 42.6, longitude: -73.7, withinKm: 50}) { practitionerId
  continuingEducation { current standing hoursDone } } }"""


def test_courses_give_each_practitioner_a_standing_and_the_clinic_sees_who_needs_attention(
    client: Any, network: Network, app: CareLedger, db: bootstrap.Database,
) -> None:
    today = datetime.now(UTC).date()
    # The third therapist's licence, recorded again: it expires within 60 days.
    soon = network.expired_therapist
    app.handle(AddCredential(practitioner_id=soon, kind=CredentialKind.STATE_LICENSE,
                             number="LMT-SOON", issuer="NY State Education Department",
                             expires_on=today + timedelta(days=30), occurred_at=NOW,
                             actor="network_admin:t"))
    # Sam's licence renewed with New York's board: a three-year registration to next year.
    renewed = today + timedelta(days=400)
    app.handle(AddCredential(practitioner_id=network.therapist,
                             kind=CredentialKind.STATE_LICENSE,
                             number=f"LMT-{network.therapist.hex[:6]}",
                             issuer="NY State Education Department", expires_on=renewed,
                             occurred_at=NOW, actor="network_admin:t"))
    app.handle(RecordExperience(practitioner_id=network.therapist, conditions=["M54.50"],
                                occurred_at=NOW, actor="network_admin:t"))
    own = {"HTTP_AUTHORIZATION": "Bearer "
           + network.token(Role.THERAPIST, network.therapist, [network.clinic])}
    desk = {"HTTP_AUTHORIZATION": "Bearer "
            + network.token(Role.CLINIC_ADMIN, uuid4(), [network.clinic])}
    path = f"/practitioners/{network.therapist}/continuing-education"
    course = {"title": "Medical massage for low back pain", "provider": "AMTA",
              "hours": 12, "category": "clinical", "completed_on": str(today),
              "certificate": "AMTA-2026-7781"}
    assert post(client, path, course, own).status_code == 201
    assert post(client, path, {**course, "title": "Ethics in practice", "hours": 4,
                               "category": "ethics"}, desk).status_code == 201
    # Refused, each with a reason: a course not yet completed, no hours, another clinic's
    # administrator, another practitioner.
    tomorrow = str(today + timedelta(days=1))
    assert_problem(post(client, path, {**course, "completed_on": tomorrow}, own), 422,
                   "invalid_input")
    assert_problem(post(client, path, {**course, "hours": 0}, own), 422, "invalid_request")
    elsewhere = {"HTTP_AUTHORIZATION": "Bearer "
                 + network.token(Role.CLINIC_ADMIN, uuid4(), [network.other_clinic])}
    assert_problem(post(client, path, course, elsewhere), 404, "not_found")
    colleague = {"HTTP_AUTHORIZATION": "Bearer "
                 + network.token(Role.THERAPIST, network.other_therapist, [network.clinic])}
    assert_problem(post(client, path, course, colleague), 404, "not_found")
    sync_views(app, db)

    admin_token = desk["HTTP_AUTHORIZATION"].removeprefix("Bearer ")
    standing = {s["practitionerId"]: s for s in ask(
        client, admin_token, STAFF, id=str(network.clinic))["data"]["staffStanding"]}
    assert standing[str(soon)]["continuingEducation"]["standing"] == "licence_expiring"
    assert standing[str(network.therapist)]["continuingEducation"] == {
        "standing": "hours_short", "current": False, "hoursDone": 16.0, "hoursNeeded": 36.0,
        "licenceExpiresOn": str(renewed), "board": "NY State Education Department"}
    assert all(s["needsAttention"] for s in standing.values())
    # Twenty more hours, with a copy of the certificate: current, in the directory too.
    upload = client.post(f"/api/v1/practitioners/{network.therapist}/certificates",
                         {"file": SimpleUploadedFile("cert.pdf", PDF)}, **own)
    assert upload.status_code == 201, upload.content
    sha = upload.json()["sha256"]
    assert upload.json() == {"sha256": hashlib.sha256(PDF).hexdigest(), "size": len(PDF),
                             "media_type": "application/pdf"}
    refused = assert_problem(post(client, path, {**course, "certificate_sha256": "0" * 64},
                                  own), 422, "invalid_input")
    assert refused["errors"][0]["field"] == "certificate_sha256"
    assert post(client, path, {**course, "title": "Lymphatic drainage", "hours": 20,
                               "certificate_sha256": sha}, own).status_code == 201
    copy = client.get(f"/api/v1/practitioners/{network.therapist}/certificates/{sha}", **desk)
    assert (copy.status_code, copy.content, copy["Content-Type"]) == (
        200, PDF, "application/pdf")
    for who in (elsewhere, colleague):
        assert_problem(client.get(f"/api/v1/practitioners/{network.therapist}/certificates/"
                                  f"{sha}", **who), 404, "not_found")
    assert_problem(client.post(f"/api/v1/practitioners/{network.therapist}/certificates",
                               {"file": SimpleUploadedFile("x.txt", b"plain text")}, **own),
                   415, "unsupported_media_type")
    sync_views(app, db)
    staff = ask(client, admin_token, STAFF, id=str(network.clinic))["data"]["staffStanding"]
    # Who needs attention comes first: the licence expiring, then the one that is current.
    assert [(s["practitionerId"], s["needsAttention"]) for s in staff] == [
        (str(soon), True), (str(network.therapist), False)]
    assert staff[1]["continuingEducation"]["hoursDone"] == 36.0
    matches = ask(client, admin_token, MATCH)["data"]["matchPractitioners"]
    found = {m["practitionerId"]: m["continuingEducation"] for m in matches}
    assert found[str(network.therapist)] == {"current": True, "standing": "current",
                                             "hoursDone": 36.0}
    # Another clinic's administrator sees nothing of this clinic's staff.
    outsider = elsewhere["HTTP_AUTHORIZATION"].removeprefix("Bearer ")
    hidden = ask(client, outsider, STAFF, id=str(network.clinic))
    assert hidden["errors"][0]["extensions"] == {"code": "NOT_FOUND"}
