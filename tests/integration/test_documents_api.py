"""Documents attached to the record, through the public API and GraphQL on the real
PostgreSQL: a signed consent form and a referral letter attached to the patient, an
imaging report to a message of the episode; read back byte for byte by the care team,
"not found" for an outsider (reading or attaching), every read in the access log;
refused over the size limit or of a type the record does not take (problem+json); named
by a consent decision and a referral; in the FHIR export as DocumentReference; and their
bytes covered by `audit verify`, which finds a document changed behind its back."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from typing import Any
from uuid import UUID

import psycopg
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from fhir.resources.R4B.bundle import Bundle
from typer.testing import CliRunner

from careledger.access.tokens import Role
from careledger.audit import keys
from careledger.audit.findings import Kind
from careledger.audit.verify import verify
from careledger.domain.application import CareLedger
from careledger.domain.documents import MAX_BYTES
from careledger.infra.settings import Settings
from careledger.main import bootstrap
from careledger.main.cli import cli
from tests.helpers.api import assert_problem, post, referral_body
from tests.helpers.fhir_check import node_errors
from tests.helpers.graphql import ask, sync_views
from tests.helpers.network import Network

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n% signed consent, page 1\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8
DOCUMENTS = """query ($id: UUID!) { patient(id: $id) { documents {
  documentId referralId messageId title category mediaType size sha256 url } } }"""


def _auth(network: Network, role: Role, subject: UUID, clinics: list[UUID] | None = None
          ) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": "Bearer " + network.token(role, subject, clinics)}


def upload(client: Any, network: Network, auth: dict[str, str], data: bytes, *,
           name: str = "form.pdf", **fields: Any) -> Any:
    form = {"title": "Signed consent form", "category": "consent_form", **fields}
    return client.post(f"/api/v1/patients/{network.patient}/documents",
                       data={**form, "file": SimpleUploadedFile(name, data)}, **auth)


def read(client: Any, network: Network, auth: dict[str, str], sha256: str) -> Any:
    return client.get(f"/api/v1/patients/{network.patient}/documents/{sha256}", **auth)


def test_documents_are_attached_read_back_named_and_exported(
    client: Any, network: Network, app: CareLedger, db: bootstrap.Database,
) -> None:
    p = network.physician_auth
    t = _auth(network, Role.THERAPIST, network.therapist, [network.clinic])
    desk = _auth(network, Role.CLINIC_ADMIN, uuid.uuid4(), [network.clinic])
    form = upload(client, network, desk, PDF)
    assert form.status_code == 201, form.content
    form_sha = hashlib.sha256(PDF).hexdigest()
    # The consent decision and the referral name their signed forms by it.
    decided = post(client, f"/patients/{network.patient}/consent-decisions", {
        "clinic_id": str(network.clinic), "decision": "permit", "form_reference": form_sha},
        desk)
    assert decided.status_code == 201, decided.content
    assert_problem(post(client, f"/patients/{network.patient}/consent-decisions", {
        "clinic_id": str(network.clinic), "decision": "permit",
        "form_reference": "0" * 64}, desk), 422, "invalid_input")
    assert_problem(post(client, "/referrals", referral_body(network, signed_form="1" * 64),
                        p), 422, "invalid_input")
    made = post(client, "/referrals", referral_body(network, signed_form=form_sha), p)
    assert made.status_code == 201, made.content
    rid = made.json()["id"]
    assert post(client, f"/referrals/{rid}/acceptance", {}, t).status_code == 201
    assert post(client, f"/referrals/{rid}/messages", {
        "message_id": "q1", "kind": "question", "body": "The MRI report is attached."},
        t).status_code == 201
    scan = upload(client, network, t, PNG, name="mri.png", title="Lumbar MRI report",
                  category="imaging_report", referral_id=rid, message_id="q1")
    assert scan.status_code == 201, scan.content
    scan_sha = hashlib.sha256(PNG).hexdigest()
    sync_views(app, db)  # the referral's care team, as every read by id asks it

    # Byte for byte, to each of the care team; the type it is, never sniffed again.
    for auth in (p, t):
        answer = read(client, network, auth, scan_sha)
        assert answer.status_code == 200
        assert b"".join(answer.streaming_content if answer.streaming else [answer.content]) \
            == PNG
        assert answer["Content-Type"] == "image/png"
        assert answer["X-Content-Type-Options"] == "nosniff"
    assert read(client, network, p, form_sha).content == PDF
    assert_problem(read(client, network, p, "a" * 64), 404, "not_found")
    listed = ask(client, network.token(Role.PHYSICIAN, network.physician), DOCUMENTS,
                 id=str(network.patient))["data"]["patient"]["documents"]
    assert [(d["title"], d["sha256"], d["referralId"], d["messageId"], d["size"])
            for d in listed] == [("Signed consent form", form_sha, None, None, len(PDF)),
                                 ("Lumbar MRI report", scan_sha, rid, "q1", len(PNG))]

    exported = client.get(f"/api/v1/patients/{network.patient}/fhir", **p).content.decode()
    # The export, its Communication, CommunicationRequest, DocumentReference and per-clinic
    # Consent among the rest, round-trips through fhir.resources and passes node's validator.
    assert Bundle.model_validate_json(exported).model_dump_json() == exported
    bundle = json.loads(exported)
    resources = [e["resource"] for e in bundle["entry"]]
    assert {"Communication", "CommunicationRequest", "DocumentReference", "Consent"} <= {
        r["resourceType"] for r in resources}
    assert node_errors(resources) == []
    references = {r["identifier"][0]["value"]: r for r in resources
                  if r["resourceType"] == "DocumentReference"}
    assert set(references) == {form_sha, scan_sha}
    attachment = references[scan_sha]["content"][0]["attachment"]
    assert attachment["hash"] == base64.b64encode(hashlib.sha1(PNG).digest()).decode()
    assert (attachment["contentType"], attachment["size"]) == ("image/png", len(PNG))
    question = next(r for r in resources if r["resourceType"] == "Communication"
                    and r.get("topic", {}).get("text") == "Question")
    assert {"reference": f"urn:uuid:{question['id']}"} in references[scan_sha]["context"][
        "related"]
    consent = next(r for r in resources if r["resourceType"] == "Consent"
                   and r["provision"].get("actor"))
    assert consent["sourceReference"] == {
        "reference": f"urn:uuid:{references[form_sha]['id']}"}

    with psycopg.connect(db.app_url) as conn:
        logged = conn.execute(
            "SELECT principal, allowed FROM careledger.access_log WHERE fields = %s",
            (f"document {scan_sha}",)).fetchall()
    assert set(logged) >= {(network.physician, True), (network.therapist, True)}


def test_an_outsider_neither_reads_nor_attaches_and_bad_files_are_refused(
    client: Any, network: Network, app: CareLedger, db: bootstrap.Database,
) -> None:
    p = _auth(network, Role.CLINIC_ADMIN, uuid.uuid4(), [network.clinic])
    assert upload(client, network, p, PDF).status_code == 201
    sha = hashlib.sha256(PDF).hexdigest()
    made = post(client, "/referrals", referral_body(network), network.physician_auth)
    assert made.status_code == 201
    sync_views(app, db)
    stranger = uuid.uuid4()
    outsider = _auth(network, Role.PHYSICIAN, stranger)
    other_clinic = _auth(network, Role.THERAPIST, network.other_therapist,
                         [network.other_clinic])
    for auth in (outsider, other_clinic):
        assert_problem(read(client, network, auth, sha), 404, "not_found")
        assert_problem(upload(client, network, auth, PDF), 404, "not_found")
    assert_problem(read(client, network, {}, sha), 401, "not_authenticated")
    # The episode of one patient, named under another's path: nothing stored for either.
    t = _auth(network, Role.THERAPIST, network.therapist, [network.clinic])
    scan = PNG + uuid.uuid4().bytes
    elsewhere = client.post(f"/api/v1/patients/{uuid.uuid4()}/documents", data={
        "title": "scan", "referral_id": made.json()["id"],
        "file": SimpleUploadedFile("a.png", scan)}, **t)
    assert_problem(elsewhere, 404, "not_found")
    with psycopg.connect(db.app_url) as conn:
        assert conn.execute("SELECT count(*) FROM careledger.documents WHERE sha256 = %s",
                            (hashlib.sha256(scan).hexdigest(),)).fetchone() == (0,)
    with psycopg.connect(db.app_url) as conn:
        denied = conn.execute(
            "SELECT count(*) FROM careledger.access_log WHERE principal = %s AND NOT allowed"
            " AND fields = %s", (stranger, f"document {sha}")).fetchone()
    assert denied == (1,)

    refused = assert_problem(upload(client, network, p, b"just some text", name="a.pdf"),
                             415, "unsupported_media_type")
    assert "PDF" in refused["detail"]
    big = b"%PDF-" + b"0" * MAX_BYTES
    assert_problem(upload(client, network, p, big), 413, "body_too_large")
    assert_problem(upload(client, network, p, PDF, title=""), 422, "invalid_request")


def test_the_app_cannot_change_a_document_and_audit_verify_finds_one_changed(
    client: Any, network: Network, db: bootstrap.Database, settings: Settings,
) -> None:
    desk = _auth(network, Role.CLINIC_ADMIN, uuid.uuid4(), [network.clinic])
    assert upload(client, network, desk, PNG).status_code == 201
    sha = hashlib.sha256(PNG).hexdigest()
    with psycopg.connect(db.app_url) as conn:
        for statement in ("UPDATE careledger.documents SET content = 'x'",
                          "DELETE FROM careledger.documents"):
            with pytest.raises(psycopg.Error), conn.transaction():
                conn.execute(statement)
    public = [keys.load_or_create(settings.audit_key_path).public_key()]
    with psycopg.connect(db.app_url, autocommit=True) as conn:
        report = verify(conn, public)
    assert not [f for f in report.findings
                if f.kind in (Kind.DOCUMENT_CHANGED, Kind.DOCUMENT_MISSING)]
    assert report.documents >= 1 and "hash to their names" in report.summary()
    with psycopg.connect(db.admin_url, autocommit=True) as admin:
        # Someone with the owner's rights drops the guards and changes the bytes.
        admin.execute("ALTER TABLE careledger.documents DROP CONSTRAINT named_by_its_hash")
        admin.execute("ALTER TABLE careledger.documents DISABLE TRIGGER append_only")
        try:
            admin.execute("UPDATE careledger.documents SET content = %s WHERE sha256 = %s",
                          (PNG[:8] + b"\x00" * (len(PNG) - 8), sha))
            found = [f for f in verify(admin, public).findings
                     if f.kind is Kind.DOCUMENT_CHANGED]
            assert found and sha in found[0].detail
            # The command line an auditor runs says the same, and fails.
            said = CliRunner().invoke(cli, ["audit", "verify"], env={
                "CARELEDGER_DATABASE_URL": db.admin_url,
                "CARELEDGER_APP_DB_PASSWORD": settings.app_db_password,
                "CARELEDGER_DATA_DIR": str(settings.data_dir)})
            assert said.exit_code != 0 and sha in said.output, said.output
        finally:
            admin.execute("UPDATE careledger.documents SET content = %s WHERE sha256 = %s",
                          (PNG, sha))
            admin.execute("ALTER TABLE careledger.documents ENABLE TRIGGER append_only")
            admin.execute("ALTER TABLE careledger.documents ADD CONSTRAINT named_by_its_hash"
                          " CHECK (sha256 = encode(sha256(content), 'hex'))")
