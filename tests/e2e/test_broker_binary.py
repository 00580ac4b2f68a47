"""The embedded broker runs from the environment it was installed into: nothing of it
lands in the home directory, and `make clean` (which removes the venv) removes it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from careledger.infra.embedded_broker import EmbeddedBroker, broker_binary


def test_the_broker_runs_in_place_from_the_venv_and_leaves_home_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("CALF_TANSU_BIN", raising=False)
    binary = Path(broker_binary())
    assert binary.resolve().is_relative_to(Path(sys.prefix).resolve()), binary
    broker = EmbeddedBroker(tmp_path / "broker")
    try:
        broker.start()
    finally:
        broker.stop()
    assert not home.exists()
