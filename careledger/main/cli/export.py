"""`careledger export`: a patient's record for someone outside the network."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer

from careledger.main.cli.common import (
    AsOperator,
    commands,
    console,
    fail,
    open_database,
    parse_operator,
    parse_patient,
    read_settings,
)

export_cli = commands("Exports of a patient's record.")

@export_cli.command("fhir")
def export_fhir(
    patient: Annotated[str, typer.Option(help="The patient's id.")],
    operator: AsOperator = None,
    output: Annotated[Path | None, typer.Option(
        help="Write the Bundle to this file (readable by you only); else to stdout.")] = None,
) -> None:
    """The patient's record as a FHIR R4 Bundle, read from the event log (an auditor's read,
    in the access log like any other)."""
    import psycopg

    from careledger.access.policy import PatientNotFound
    from careledger.access.tokens import Principal, Role
    from careledger.gateways.fhir.export import ASKED_CLI, export_patient
    from careledger.main import bootstrap
    from careledger.projections import live_generation

    patient_id, operator_id = parse_patient(patient), parse_operator(operator)
    settings = read_settings()
    db = open_database(settings)
    app = bootstrap.application(db, settings)
    auditor = Principal(subject=operator_id, role=Role.AUDITOR, clinics=frozenset())
    try:
        with psycopg.connect(db.app_url, autocommit=True) as conn:
            bundle = export_patient(conn, app, views=live_generation(conn)[0],
                                    principal=auditor, patient_id=patient_id, asked=ASKED_CLI)
    except PatientNotFound:
        fail(f"no patient {patient_id} in the views (one registered a moment ago appears "
             "once `careledger consume` has applied it); the attempt is in the access log")
        return
    except psycopg.Error as e:
        fail(f"the export could not read PostgreSQL ({type(e).__name__}: "
             f"{str(e).splitlines()[0][:200]}); is the schema migrated (`careledger migrate`)?")
        return
    finally:
        app.close()
    parsed = json.loads(bundle)
    text = json.dumps(parsed, indent=2, ensure_ascii=False)
    if output is None:
        print(text)
        return
    fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text + "\n")
    console().print(f"[green]wrote[/green] {len(parsed.get('entry', []))} resources of patient "
                    f"{patient_id} to {output}")
