"""The episode's documents printed to PDF by headless Chromium, as a clinic prints them:
`pdftotext` (Debian's poppler-utils) reads back each one's text, finds no navigation or
filters, and counts the pages of a 12-visit episode's; each print is a disclosure in the
access log."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import psycopg
import pytest

from careledger.domain.application import CareLedger
from careledger.main import bootstrap
from tests.helpers.browser import NO_CHROMIUM, NO_PLAYWRIGHT, find_chromium
from tests.helpers.graphql import sync_views
from tests.helpers.network import Network
from tests.helpers.printouts import THERAPIST_NPI, twelve_visits

CHROMIUM = find_chromium()
if CHROMIUM is None:
    pytest.skip(NO_CHROMIUM, allow_module_level=True)
sync_playwright = pytest.importorskip("playwright.sync_api",
                                      reason=NO_PLAYWRIGHT).sync_playwright
if shutil.which("pdftotext") is None or shutil.which("pdfinfo") is None:
    pytest.skip("printing tests skipped: no pdftotext (make test installs Debian's "
                "poppler-utils with apt-get when it runs as root)", allow_module_level=True)

#: Pages each document of the 12-visit episode prints on (A4, the print stylesheet).
PAGES = {"plan-of-care": (1, 2), "progress-report": (1, 2), "discharge-summary": (1, 2),
         "records-packet": (3, 8)}
#: What the web page's chrome says: none of it belongs on paper.
CHROME = ("Sign out", "Filter", "Search", "As of", "GraphiQL", "Worklist")


def _pdf(html: str, path: Path) -> tuple[str, int]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            page = browser.new_page()
            page.set_content(html, wait_until="load")
            page.emulate_media(media="print")
            page.pdf(path=str(path), format="A4", prefer_css_page_size=True)
        finally:
            browser.close()
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True,
                          text=True, check=True, timeout=60).stdout
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True,
                          timeout=60).stdout
    pages = int(next(line.split()[-1] for line in info.splitlines()
                     if line.startswith("Pages:")))
    return text, pages


def test_each_document_prints_to_pdf_with_its_text_and_no_navigation(
    client: Any, network: Network, app: CareLedger, db: bootstrap.Database, tmp_path: Path,
) -> None:
    rid = twelve_visits(app, network)
    sync_views(app, db)
    printed = {}
    for kind, (least, most) in PAGES.items():
        html = client.get(f"/api/v1/referrals/{rid}/printouts/{kind}",
                          {"recipient": "Empire Plan"} if kind == "records-packet" else {},
                          **network.physician_auth).content.decode()
        text, pages = _pdf(html, tmp_path / f"{kind}.pdf")
        printed[kind] = text
        assert least <= pages <= most, (kind, pages)
        flat = " ".join(text.split())
        assert "Maria Okafor" in flat and "M54.50" in flat and "NPI 1234567893" in flat, kind
        assert not [word for word in CHROME if word in flat], kind
    assert "Physician's signature" in " ".join(printed["plan-of-care"].split())
    assert f"NPI {THERAPIST_NPI}" in printed["progress-report"]
    packet = " ".join(printed["records-packet"].split())
    assert all(f"Visit {n}," in packet for n in range(1, 13))
    assert packet.count("Late entry, written") == 1
    assert "Printed from the clinic's record for Empire Plan" in packet
    with psycopg.connect(db.app_url) as conn:
        logged = [row[0] for row in conn.execute(
            "SELECT fields FROM careledger.access_log WHERE patient_id = %s AND allowed"
            " AND fields LIKE 'printout:%%' ORDER BY id", (network.patient,)).fetchall()]
    assert logged == ["printout:plan-of-care", "printout:progress-report",
                      "printout:discharge-summary", "printout:records-packet to Empire Plan"]
