"""The web pages' browser tests' shared parts: a tab that records what it logged and
asked for, a stand-in for the consumers, screenshots for a person to look at."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from careledger.domain.application import CareLedger
from careledger.infra.eventstore import CareLedgerRecorder
from careledger.main import bootstrap
from tests.helpers import ROOT
from tests.helpers.graphql import sync_views

SCREENSHOTS = ROOT / "build" / "screenshots"
#: A laptop screen.
VIEWPORT = {"width": 1366, "height": 860}
#: How long the page may take to show what a step expects.
WAIT_MS = 10_000


class Follower:
    """Stands in for the consumers: applies the log to the live views as it grows."""

    def __init__(self, app: CareLedger, db: bootstrap.Database) -> None:
        self.app, self.db = app, db
        self.position = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="views-follower", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.is_set():
            self.position = sync_views(self.app, self.db)
            self.stop.wait(0.1)

    def catch_up(self) -> None:
        """Wait until the views hold everything committed so far."""
        recorder = self.app.recorder
        assert isinstance(recorder, CareLedgerRecorder)
        head = recorder.horizon()
        deadline = time.monotonic() + 10
        while self.position < head:
            assert time.monotonic() < deadline, "the views did not catch up"
            time.sleep(0.02)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=10)


@dataclass
class Tab:
    """A browser tab, with what it logged and asked for (checked at the end of each test)."""

    page: Any
    base: str
    console_errors: list[str] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)

    def sign_in(self, token: str) -> None:
        response = self.page.goto(f"{self.base}/app/")
        assert response is not None and response.ok
        assert "script-src 'self'" in response.headers["content-security-policy"]
        self.page.get_by_label("Bearer token").fill(token)
        self.page.get_by_role("button", name="Sign in").click()
        self.page.get_by_text("Signed in as a").wait_for(timeout=WAIT_MS)


def screenshot(page: Any, name: str, capsys: pytest.CaptureFixture[str]) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / name
    page.screenshot(path=str(path), full_page=True)
    with capsys.disabled():
        print(f"\n  screenshot: {path}")
    return path
