"""Every command has one handler, one stable name, and a way in over HTTP."""

from __future__ import annotations

import ast
import dataclasses

from careledger.domain.commands import Command
from careledger.domain.episode import OnReferral
from careledger.domain.handlers import HANDLERS
from tests.helpers import ROOT

#: Commands only as shared fields, never sent themselves.
BASES = {Command, OnReferral}


def _subclasses(cls: type) -> set[type]:
    return {cls, *(s for sub in cls.__subclasses__() for s in _subclasses(sub))}


#: Every command declared anywhere in the domain (each stage's module declares its own).
COMMANDS = _subclasses(Command) - BASES


def test_each_command_has_exactly_one_handler() -> None:
    assert set(HANDLERS) == COMMANDS


def test_each_command_has_its_own_name_and_is_a_frozen_record() -> None:
    names = [cls.NAME for cls in COMMANDS]
    assert len(set(names)) == len(names)
    for cls in COMMANDS:
        params = cls.__dataclass_params__  # type: ignore[attr-defined]
        assert dataclasses.is_dataclass(cls) and params.frozen, cls
        fields = {f.name for f in dataclasses.fields(cls)}
        assert {"occurred_at", "actor"} <= fields, cls  # the valid time and who


def test_each_command_is_sent_by_some_route() -> None:
    sent: set[str] = set()
    for path in (ROOT / "careledger" / "gateways" / "routes").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call):
                func = node.func
                sent.add(func.attr if isinstance(func, ast.Attribute) else
                         getattr(func, "id", ""))
    assert {cls.__name__ for cls in COMMANDS} - sent == set()
