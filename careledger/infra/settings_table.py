"""The README's configuration table, written from the settings' fields.

One row a variable, in the model's order: its name, its default as an operator reads it
(`unset: …` where the field says what unset does), its meaning (the field's description).
What the model does not read but an operator sets all the same (TLS to PostgreSQL, in
the URL; OpenTelemetry's own variables) follows as fixed rows. `tools/settings_table.py`
writes it into README.md; tests/unit/test_settings_table.py fails when the two differ.
"""

from __future__ import annotations

from pathlib import Path

from pydantic.fields import FieldInfo

from careledger.infra.settings_model import ENV_NAMES, Settings

HEADER = ("| variable | default | meaning |", "|---|---|---|")
#: Set by the operator, read by someone else than `Settings`.
FIXED_ROWS = (
    "| TLS to PostgreSQL | in `CARELEDGER_DATABASE_URL` | `?sslmode=verify-full&sslrootcert="
    "/path/ca.pem` (and `sslcert`, `sslkey`): the migrations, the application's role and "
    "the library's pool all use them |",
    "| `OTEL_EXPORTER_OTLP_ENDPOINT` (and the other `OTEL_*`) | unset: no export | traces and "
    "metrics go to this OTLP/HTTP collector (read by the OpenTelemetry SDK); "
    "`OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES` win over CareLedger's names "
    "(`careledger-api`, `-relay`, `-consumers`) |",
)


def default_text(field: FieldInfo) -> str:
    """How the default reads: the field's own words where it has them, else its value."""
    extra = field.json_schema_extra
    if isinstance(extra, dict) and isinstance(extra.get("default_text"), str):
        return str(extra["default_text"])
    value = field.get_default(call_default_factory=False)
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, tuple):
        return f"`{','.join(map(str, value))}`"
    if isinstance(value, str | Path):
        return f"`{value}`"
    raise ValueError(f"the default of {field} cannot be shown: give it a default_text")


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def rows() -> list[str]:
    """The variables' rows, in the model's order, then the fixed ones."""
    return [f"| `{ENV_NAMES[name]}` | {_cell(default_text(field))} | "
            f"{_cell(field.description or '')} |"
            for name, field in Settings.model_fields.items()] + list(FIXED_ROWS)


def markdown_table() -> str:
    """The whole table, as README.md holds it between its settings markers."""
    return "\n".join([*HEADER, *rows()]) + "\n"
