"""A small network built through the application's commands: two clinics, a physician,
therapists (one with an expired license), a consenting patient; and episodes on it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from uuid import UUID

from careledger.access.tokens import Role, TokenService
from careledger.domain.application import CareLedger
from careledger.domain.clinical import CredentialKind, Discipline, Profession
from careledger.domain.intake import AcceptReferral
from careledger.domain.network import AddCredential, Affiliate, RegisterClinic, RegisterPractitioner
from careledger.domain.patient import GrantConsent, RegisterPatient
from careledger.domain.referral import MakeReferral
from careledger.infra.settings import Settings

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TOKEN_SECRET = "test-secret-" + "x" * 24


@dataclass
class Network:
    """A small network: two clinics, a physician, therapists, a consenting patient."""

    clinic: UUID
    other_clinic: UUID
    physician: UUID
    therapist: UUID
    other_therapist: UUID
    expired_therapist: UUID
    patient: UUID
    tokens: TokenService

    def token(self, role: Role, subject: UUID, clinics: list[UUID] | None = None) -> str:
        return self.tokens.issue(subject=subject, role=role, clinics=clinics or [])

    @property
    def physician_auth(self) -> dict[str, str]:
        return {"HTTP_AUTHORIZATION": "Bearer " + self.token(Role.PHYSICIAN, self.physician)}

    @property
    def therapist_auth(self) -> dict[str, str]:
        return {"HTTP_AUTHORIZATION": "Bearer "
                + self.token(Role.THERAPIST, self.therapist, [self.clinic])}

    @property
    def other_therapist_auth(self) -> dict[str, str]:
        return {"HTTP_AUTHORIZATION": "Bearer "
                + self.token(Role.THERAPIST, self.other_therapist, [self.other_clinic])}


def build_network(app: CareLedger, tokens: TokenService) -> Network:
    actor = "network_admin:test"
    clinic = app.handle(RegisterClinic(
        name="Riverside", disciplines=[Discipline.MEDICAL_MASSAGE], address="1 River St",
        latitude=42.6, longitude=-73.7, home_visit_radius_km=10, occurred_at=NOW, actor=actor,
    )).aggregate_id
    other = app.handle(RegisterClinic(
        name="Hudson", disciplines=[Discipline.MEDICAL_MASSAGE, Discipline.PHYSICAL_THERAPY],
        address="2 Broadway", latitude=42.7, longitude=-73.6, home_visit_radius_km=0,
        occurred_at=NOW, actor=actor,
    )).aggregate_id
    physician = app.handle(RegisterPractitioner(
        name="Dr. Ada Reyes", profession=Profession.PHYSICIAN, occurred_at=NOW, actor=actor
    )).aggregate_id
    app.handle(AddCredential(practitioner_id=physician, kind=CredentialKind.NPI,
                             number="1234567893", issuer="CMS",
                             expires_on=None, occurred_at=NOW, actor=actor))
    app.handle(AddCredential(practitioner_id=physician, kind=CredentialKind.STATE_LICENSE,
                             number="MD-1",
                             issuer="NYSED", expires_on=date(2030, 1, 1), occurred_at=NOW,
                             actor=actor))

    def therapist(clinic_id: UUID, expires: date) -> UUID:
        tid = app.handle(RegisterPractitioner(
            name="Sam Lee", profession=Profession.MEDICAL_MASSAGE_THERAPIST, occurred_at=NOW,
            actor=actor,
        )).aggregate_id
        app.handle(AddCredential(practitioner_id=tid, kind=CredentialKind.STATE_LICENSE,
                                 number=f"LMT-{tid.hex[:6]}",
                                 issuer="NYSED", expires_on=expires, occurred_at=NOW, actor=actor))
        app.handle(Affiliate(practitioner_id=tid, clinic_id=clinic_id, occurred_at=NOW,
                             actor=actor))
        return tid

    patient = app.handle(RegisterPatient(
        given_name="Maria", family_name="Okafor", birth_date=date(1972, 5, 4), sex="female",
        address="9 Elm St", latitude=42.65, longitude=-73.75, occurred_at=NOW, actor=actor,
    )).aggregate_id
    app.handle(GrantConsent(patient_id=patient, occurred_at=NOW, actor=actor))
    return Network(
        clinic=clinic,
        other_clinic=other,
        physician=physician,
        therapist=therapist(clinic, date(2030, 1, 1)),
        other_therapist=therapist(other, date(2030, 1, 1)),
        expired_therapist=therapist(clinic, NOW.date() - timedelta(days=1)),
        patient=patient,
        tokens=tokens,
    )


def open_episode(app: CareLedger, network: Network, *, authorized_visits: int = 6,
                 accept: bool = False) -> UUID:
    """A referral from the network's physician to its first clinic, optionally accepted."""
    from careledger.domain.clinical import Technique, Urgency

    rid = app.handle(MakeReferral(
        physician_id=network.physician, patient_id=network.patient, clinic_id=network.clinic,
        discipline=Discipline.MEDICAL_MASSAGE, diagnosis_codes=["M54.50"], precautions=[],
        contraindications=[Technique.DEEP_TISSUE], urgency=Urgency.ROUTINE,
        authorized_visits=authorized_visits, reason="", occurred_at=NOW, actor="physician:t",
    )).aggregate_id
    if accept:
        app.handle(AcceptReferral(referral_id=rid, practitioner_id=network.therapist,
                                  occurred_at=NOW, actor="t"))
    return rid


def referral_to_a_new_patient(app: CareLedger, network: Network, *,
                              made: datetime = NOW) -> UUID:
    """Another consenting patient, referred by the network's physician to its clinic."""
    from careledger.domain.clinical import Urgency

    patient = app.handle(RegisterPatient(
        given_name="Other", family_name="Person", birth_date=date(1980, 1, 1), sex="male",
        address="", latitude=None, longitude=None, occurred_at=NOW, actor="t",
    )).aggregate_id
    # Consent is in force from the day it is given: by the day of the referral.
    app.handle(GrantConsent(patient_id=patient, occurred_at=min(NOW, made), actor="t"))
    return app.handle(MakeReferral(
        physician_id=network.physician, patient_id=patient, clinic_id=network.clinic,
        discipline=Discipline.MEDICAL_MASSAGE, diagnosis_codes=["M54.2"], precautions=[],
        contraindications=[], urgency=Urgency.ROUTINE, authorized_visits=4, reason="",
        occurred_at=made, actor="physician:t")).aggregate_id


def referrals_in(settings: Settings, count: int) -> tuple[Network, list[UUID], TokenService]:
    """A store migrated and given a network and `count` accepted referrals of 200 visits
    each (room for every command a test sends), then closed: for tests whose own
    processes do the rest."""
    from careledger.main import bootstrap

    db = bootstrap.database(settings)
    bootstrap.run_migrations(db)
    app = bootstrap.application(db, settings)
    try:
        tokens = TokenService(settings.token_secret)
        network = build_network(app, tokens)
        referrals = [open_episode(app, network, accept=True, authorized_visits=200)
                     for _ in range(count)]
    finally:
        app.close()
    return network, referrals, tokens
