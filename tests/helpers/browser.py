"""Debian's Chromium for the browser and printing tests, found once."""

from __future__ import annotations

import os
import shutil


def find_chromium() -> str | None:
    """Debian's chromium (what `make test` installs), or CARELEDGER_CHROMIUM."""
    for candidate in (os.environ.get("CARELEDGER_CHROMIUM"), shutil.which("chromium"),
                      shutil.which("chromium-browser"), shutil.which("google-chrome")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


#: Why the browser tests skip when there is none.
NO_CHROMIUM = ("browser tests skipped: no Chromium found (make test installs Debian's "
               "chromium with apt-get when it runs as root; or set CARELEDGER_CHROMIUM)")
NO_PLAYWRIGHT = ("browser tests skipped: the playwright package is missing "
                 "(pip install -e '.[dev]')")
