"""An independent check of exported FHIR: lantanagroup's npm `fhir` package (FHIR R4's
own structure definitions, not fhir.resources' R4B models), run in node."""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

import pytest

from tests.helpers import ROOT

VALIDATOR = ROOT / "tests/validators"


def node_errors(resources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The errors the validator finds in these resources (none: an empty list)."""
    node = shutil.which("node")
    if node is None or not (VALIDATOR / "node_modules/fhir").exists():
        pytest.skip("node or the validator's packages are missing: run `make install`")
    done = subprocess.run([node, str(VALIDATOR / "validate.js")], input=json.dumps(resources),
                          capture_output=True, text=True, check=True, timeout=120)
    result: dict[str, Any] = json.loads(done.stdout)
    assert result["checked"] == len(resources)
    errors: list[dict[str, Any]] = result["errors"]
    return errors
