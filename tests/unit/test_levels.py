"""The unit level stands alone: it imports no Kafka client, and no test imports another."""

from __future__ import annotations

import ast
import subprocess
import sys

from tests.helpers import ROOT

UNIT = sorted((ROOT / "tests" / "unit").glob("test_*.py"))


def test_the_unit_tests_import_without_a_kafka_client() -> None:
    modules = [f"tests.unit.{path.stem}" for path in UNIT]
    code = ("import importlib, sys\n"
            "sys.modules['confluent_kafka'] = None  # importing it now raises ImportError\n"
            "import tests.conftest\n"
            f"for name in {modules!r}:\n"
            "    importlib.import_module(name)\n"
            "print(len(sys.modules))\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert len(UNIT) >= 10


def test_no_test_imports_another_test_module() -> None:
    for path in (ROOT / "tests").rglob("*.py"):
        if "fixtures" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                last = node.module.rsplit(".", 1)[-1]
                assert not (node.module.startswith("tests.")
                            and (last.startswith("test_") or last == "conftest")), (
                    f"{path.relative_to(ROOT)} imports {node.module}: share it through "
                    "tests/helpers or a fixture")
