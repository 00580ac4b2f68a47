"""Fail on an event's name written out as a string, anywhere but where it is declared.

    .venv/bin/python tools/check_event_names.py [paths...]    (part of `make lint`)

An event is declared once, as a class with its `TOPIC` (careledger/domain). Everything
else refers to the class (`Referral.SessionCompleted`, `.TOPIC`, `.KIND`), so a typo is an
error where it is made, not a view that silently never updates. This finds the strings
that would bring that back: any `careledger:…` topic, and any `<Aggregate>.<Name>` of one
of the domain's aggregates, in Python string literals (docstrings aside: they are prose)
and in the page's JavaScript and HTML (comments aside). The only exceptions are the
declarations themselves and the tests that load events stored by earlier versions, which
must spell the stored names as they were (`ALLOWED`).
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from careledger.domain.catalogue import AGGREGATES  # noqa: E402

DEFAULT_PATHS = ("careledger", "tests", "bench", "tools")
NAMES = "|".join(a.__name__ for a in AGGREGATES)
PATTERN = re.compile(rf"careledger:[A-Z][A-Za-z]*(?:\.[A-Z][A-Za-z]*)?"
                     rf"|\b(?:{NAMES})\.[A-Z][A-Za-z]*\b")

#: Tests that read events stored by an earlier version, by file and function ("*": all).
ALLOWED: dict[str, set[str]] = {
    "tests/fixtures/golden/build.py": {"*"},
    "tests/integration/test_event_store.py": {"test_events_are_stored_under_explicit_stable_names",
                                  "test_a_version_1_referral_is_upcast_when_loaded"},
}


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def _declarations(tree: ast.AST, path: Path) -> set[int]:
    """The `TOPIC = "careledger:…"` of the domain's classes."""
    if "domain" not in path.parts:
        return set()
    return {id(node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
            and any(isinstance(t, ast.Name) and t.id == "TOPIC" for t in node.targets)}


def _allowed_functions(tree: ast.AST, names: set[str]) -> set[int]:
    inside = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name in names:
            inside |= {id(n) for n in ast.walk(node)}
    return inside


def python_findings(path: Path, relative: str) -> Iterator[tuple[int, str]]:
    allowed = ALLOWED.get(relative, set())
    if "*" in allowed:
        return
    tree = ast.parse(path.read_text(), filename=str(path))
    skip = _docstrings(tree) | _declarations(tree, path) | _allowed_functions(tree, allowed)
    for node in ast.walk(tree):
        if (isinstance(node, ast.Constant) and isinstance(node.value, str)
                and id(node) not in skip):
            for match in PATTERN.finditer(node.value):
                yield node.lineno, match.group()


_JS_COMMENT = re.compile(r"/\*.*?\*/|(?<![:\"'])//[^\n]*|<!--.*?-->", re.S)


def text_findings(path: Path) -> Iterator[tuple[int, str]]:
    text = path.read_text()
    # Comments become blank lines of the same count, so line numbers stay true.
    text = _JS_COMMENT.sub(lambda m: "\n" * m.group().count("\n"), text)
    for number, line in enumerate(text.splitlines(), start=1):
        for match in PATTERN.finditer(line):
            yield number, match.group()


def findings(paths: list[Path]) -> list[str]:
    found = []
    for base in paths:
        files = [base] if base.is_file() else sorted(base.rglob("*"))
        for path in files:
            relative = path.resolve().relative_to(ROOT).as_posix()
            if path.suffix == ".py":
                hits = python_findings(path, relative)
            elif path.suffix in (".js", ".html"):
                hits = text_findings(path)
            else:
                continue
            found += [f"{relative}:{line}: {name!r} names an event as a string; refer to "
                      "its class instead (its TOPIC, or its KIND as the views name it)"
                      for line, name in hits]
    return found


def main(argv: list[str]) -> int:
    paths = [Path(p) for p in argv] or [ROOT / p for p in DEFAULT_PATHS]
    found = findings(paths)
    for line in found:
        print(line)
    if found:
        print(f"{len(found)} event name(s) written out as strings", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
