"""README.md's configuration table is the one the settings' fields give."""

from __future__ import annotations

import re

from careledger.infra.settings import ENVIRONMENT_VARIABLES, markdown_table
from tests.helpers import ROOT

BEGIN, END = "<!-- settings:begin -->", "<!-- settings:end -->"


def test_the_readme_table_is_written_from_the_settings() -> None:
    readme = (ROOT / "README.md").read_text()
    assert readme.count(BEGIN) == 1 and readme.count(END) == 1, "the settings markers"
    written = readme.split(BEGIN, 1)[1].split(END, 1)[0].lstrip("\n")
    assert written == markdown_table(), (
        "README.md's configuration table differs from the settings' fields: run "
        "`python tools/settings_table.py`")


def test_the_table_has_a_row_for_every_variable_and_the_fixed_ones() -> None:
    table = markdown_table()
    named = re.findall(r"^\| `(CARELEDGER_[A-Z_]+)` \|", table, re.M)
    assert named == list(ENVIRONMENT_VARIABLES)
    assert "| TLS to PostgreSQL |" in table and "`OTEL_EXPORTER_OTLP_ENDPOINT`" in table
    rows = table.splitlines()[2:]
    assert all(row.count(" | ") >= 2 and row.startswith("| ") for row in rows)
    assert "| `CARELEDGER_DEBUG` | off (`up --demo`: on" in table
    assert "| `CARELEDGER_HTTP_PORT` | 8000 |" in table
    assert "| `CARELEDGER_OIDC_ALGORITHMS` | `RS256,ES256` |" in table
