"""Who someone was at a moment: the name, profession and clinics a practitioner had
when an event happened or a read was made, for showing people by name.

Events and the access log name people by role and id (`therapist:<id>`), never by name,
so no name is copied into a clinical record; the directory keeps each practitioner's
names and clinics with the time each took effect (`practitioner_names`). A lookup is one
statement for any number of (person, moment) pairs. Anyone the directory does not list
(an administrator, an auditor, an operator of the command line) is shown by role.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg import sql

#: How the clinic calls each role a token or an event's actor names.
ROLE_TITLES = {
    "physician": "Physician", "therapist": "Therapist", "clinic_admin": "Clinic administrator",
    "network_admin": "Network administrator", "auditor": "Auditor", "patient": "Patient",
    "operator": "Operator",
}


@dataclass(frozen=True)
class Person:
    """Someone as they were at one moment."""

    role: str
    name: str | None = None
    profession: str | None = None
    clinics: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """`Ana Ruiz (Therapist, Riverside Clinic)`, or the role alone when unnamed."""
        title = ROLE_TITLES.get(self.role, self.role.replace("_", " ").capitalize())
        if self.name is None:
            return title
        return f"{self.name} ({', '.join((title, *self.clinics))})"


def parse_actor(actor: str | None) -> tuple[str, UUID | None]:
    """`therapist:<id>` as (role, id); an actor with no id (or none) as (role, None)."""
    role, _, rest = (actor or "unknown").partition(":")
    try:
        return role, UUID(rest)
    except ValueError:
        return role, None


def person_sql(id_column: str, at_column: str) -> str:
    """A subquery giving, as JSON (`name`, `profession`, `clinics`), the practitioner
    `id_column` names as they were at `at_column`: for a list that shows people in one
    statement. `{v}` is the views' schema; NULL for anyone the directory does not list.
    The row in force at the moment is the one taken; for a moment before the first row
    (one clock's jitter between the log's stamp and the access log's), the first."""
    return f"""(SELECT json_build_object('name', n.name, 'profession', n.profession,
         'clinics', ARRAY(SELECT c.name FROM {{v}}.clinics c WHERE c.clinic_id = ANY(n.clinic_ids)
                           ORDER BY array_position(n.clinic_ids, c.clinic_id)))
       FROM {{v}}.practitioner_names n WHERE n.practitioner_id = {id_column}
      ORDER BY n.since <= {at_column} DESC,
               CASE WHEN n.since <= {at_column} THEN n.position END DESC NULLS LAST,
               n.position
      LIMIT 1)"""


def person(role: str, found: dict[str, Any] | None) -> Person:
    """A Person from `person_sql`'s JSON."""
    if not found:
        return Person(role=role)
    return Person(role=role, name=found["name"], profession=found["profession"],
                  clinics=tuple(found["clinics"] or ()))


_LOOKUP = f"""
SELECT w.i, {person_sql("w.id", "w.at")}
  FROM unnest(%s::uuid[], %s::timestamptz[]) WITH ORDINALITY AS w(id, at, i)
"""


def people_at(conn: Any, views: str, wanted: Iterable[tuple[str, UUID | None, datetime]]
              ) -> dict[tuple[str, UUID | None, datetime], Person]:
    """Each (role, id, moment) as the person was then; every one asked is answered."""
    asked = list(dict.fromkeys(wanted))
    found: dict[tuple[str, UUID | None, datetime], Person] = {
        key: Person(role=key[0]) for key in asked}
    named = [key for key in asked if key[1] is not None]
    if not named:
        return found
    rows = conn.execute(sql.SQL(_LOOKUP).format(v=sql.Identifier(views)), (
        [key[1] for key in named], [key[2] for key in named])).fetchall()
    for i, named_then in rows:
        key = named[int(i) - 1]
        found[key] = person(key[0], named_then)
    return found


def actors_at(conn: Any, views: str, actors: Iterable[tuple[str | None, datetime]]
              ) -> dict[tuple[str | None, datetime], Person]:
    """Each event's actor (`therapist:<id>`) at the event's recorded time."""
    pairs = list(dict.fromkeys(actors))
    keys = {(actor, at): (*parse_actor(actor), at) for actor, at in pairs}
    people = people_at(conn, views, keys.values())
    return {pair: people[key] for pair, key in keys.items()}
