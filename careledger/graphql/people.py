"""People by name, as they were: the GraphQL face of `access.people`, shared by the
patient's record, the physician's worklist and the auditor's reports."""

from __future__ import annotations

import strawberry

from careledger.access import people


@strawberry.type(description="Someone as they were when the event happened or the read "
                 "was made: a practitioner renamed later, or who has left a clinic since, "
                 "is shown as they were then.")
class Person:
    role: str = strawberry.field(description="The role they acted in: physician, "
                                 "therapist, clinic_admin, network_admin, auditor.")
    name: str | None = strawberry.field(description="The practitioner's name then; none "
                                        "for someone the directory does not list.")
    profession: str | None
    clinics: list[str] = strawberry.field(description="The clinics they worked at then.")
    label: str = strawberry.field(description="How a page names them: `Ana Ruiz "
                                  "(Therapist, Riverside Clinic)`, or the role alone.")

    @classmethod
    def of(cls, person: people.Person) -> Person:
        return cls(role=person.role, name=person.name, profession=person.profession,
                   clinics=list(person.clinics), label=person.label)
