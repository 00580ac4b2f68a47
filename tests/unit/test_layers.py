"""The layers are contracts that fail the build, not a diagram: each holds today, and an
import across a layer (in a copy of the package) breaks the lint."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import ROOT

LINT = str(Path(sys.executable).with_name("lint-imports"))


def lint(cwd: Path, package_parent: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(package_parent)}
    return subprocess.run([LINT, "--no-cache"], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120, check=False)


@pytest.fixture(scope="module")
def package_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The package and its contracts, somewhere an edit harms nothing."""
    root = tmp_path_factory.mktemp("layers")
    shutil.copytree(ROOT / "careledger", root / "careledger",
                    ignore=shutil.ignore_patterns("__pycache__", "*.tsv", "static"))
    shutil.copy(ROOT / "pyproject.toml", root / "pyproject.toml")
    return root


def test_every_contract_holds_today() -> None:
    done = lint(ROOT, ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


@pytest.mark.parametrize(("module", "line", "contract"), [
    ("domain/plan.py", "import careledger.infra.settings", "Layers"),
    ("projections/caseload.py", "import careledger.consumers.applier", "Layers"),
    ("domain/clinical.py", "import psycopg", "Domain and view handlers"),
    ("graphql/patient/types.py", "import careledger.graphql.worklists.types",
     "GraphQL features stand alone"),
    ("gateways/commanding.py", "import confluent_kafka", "Only infra, the relay"),
])
def test_an_import_across_a_layer_breaks_the_lint(package_copy: Path, module: str, line: str,
                                                   contract: str) -> None:
    path = package_copy / "careledger" / module
    original = path.read_text()
    path.write_text(original + f"\n{line}  # across a layer\n")
    try:
        done = lint(package_copy, package_copy)
    finally:
        path.write_text(original)
    assert done.returncode == 1, done.stdout + done.stderr
    broken = done.stdout.split("Broken contracts", 1)[-1]
    assert contract in broken, done.stdout
