"""Signing in to the pages through a real identity provider, in headless Chromium: the
authorization code flow with PKCE at the provider's own forms, a session cookie no
script can read, the CSRF token on every change, automatic logoff, and signing out at
the provider too. No token is ever in the page's storage or in an address.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest

from careledger.access.sessions import COOKIE
from careledger.access.tokens import TokenService
from careledger.domain.application import CareLedger
from careledger.domain.identity import LinkSignIn, PersonKind
from careledger.main import bootstrap
from tests.helpers.browser import NO_CHROMIUM, NO_PLAYWRIGHT, find_chromium
from tests.helpers.care import DAY, two_clinic_care
from tests.helpers.network import build_network
from tests.helpers.oidc import OidcProvider
from tests.helpers.processes import LiveServer
from tests.helpers.web import VIEWPORT, WAIT_MS, Follower, screenshot

pytestmark = pytest.mark.browser

CHROMIUM = find_chromium()
if CHROMIUM is None:
    pytest.skip(NO_CHROMIUM, allow_module_level=True)
playwright_api = pytest.importorskip("playwright.sync_api", reason=NO_PLAYWRIGHT)
sync_playwright, expect = playwright_api.sync_playwright, playwright_api.expect
#: The API's default idle time (CARELEDGER_SESSION_IDLE_MINUTES), and a little more.
PAST_IDLE = "15:10"


def sign_in_at_provider(page: Any, subject: str) -> None:
    page.get_by_role("link", name="Sign in").click()
    page.locator('input[name="login"]').fill(subject)
    page.locator('input[name="password"]').fill("any password")
    page.get_by_role("button", name="Sign-in").click()
    page.get_by_role("button", name="Continue").click()  # the provider's consent
    page.get_by_text("Signed in as a physician").wait_for(timeout=WAIT_MS)


def test_a_physician_signs_in_through_the_provider_certifies_and_is_signed_out(
    app: CareLedger, db: bootstrap.Database, tokens: TokenService, follower: Follower,
    browser: Any, provider: OidcProvider, oidc_server: LiveServer,
    capsys: pytest.CaptureFixture[str]
) -> None:
    network = build_network(app, tokens)
    care = two_clinic_care(app, network, datetime.now(UTC) - 20 * DAY)
    subject = f"dr-{uuid.uuid4().hex[:10]}"
    app.handle(LinkSignIn(issuer=provider.issuer, subject=subject, person_id=network.physician,
                          person_kind=PersonKind.PRACTITIONER, occurred_at=datetime.now(UTC),
                          actor="operator:test"))
    follower.catch_up()

    context = browser.new_context(viewport=VIEWPORT, timezone_id="UTC", locale="en-US")
    # The provider's own pages ask for a web font; this machine has no other network.
    context.route("https://fonts.googleapis.com/**", lambda route: route.abort())
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    ours: list[str] = []
    errors: list[str] = []
    certifications: list[Any] = []
    page.on("request", lambda r: ours.append(r.url) if r.url.startswith(oidc_server.url)
            else None)
    page.on("request", lambda r: certifications.append(r)
            if r.url.endswith("/plan/certification") else None)
    page.on("console", lambda m: errors.append(m.text) if m.type == "error"
            and m.location.get("url", "").startswith(oidc_server.url) else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.clock.install()

    page.goto(f"{oidc_server.url}/app/")
    sign_in_at_provider(page, subject)
    cookies = {c["name"]: c for c in context.cookies(oidc_server.url)}
    session = cookies[COOKIE]
    assert session["httpOnly"] and session["secure"] and session["sameSite"] == "Lax"

    # Certify a plan: the page sends the session's CSRF token with the command.
    waiting = page.locator(f'#awaiting-list li[data-referral="{care.hudson}"]')
    waiting.get_by_role("button", name="Certify").click()
    expect(page.locator("#certify-result")).to_contain_text("Plan certified for Maria Okafor")
    screenshot(page, "signed-in-through-provider.png", capsys)
    sent = certifications[0]
    assert sent.headers.get("x-csrf-token")
    # The same request without it is refused, and records nothing.
    # (Sent with the browser context's own cookies, as the page would send it.)
    answer = page.request.post(sent.url, data=sent.post_data,
                               headers={"Content-Type": "application/json"})
    refused = [answer.status, answer.json()["code"]]
    assert refused == [403, "csrf_failed"]
    with psycopg.connect(db.app_url) as conn:
        certified = conn.execute(
            "SELECT count(*) FROM careledger.careledger_events WHERE originator_id = %s "
            "AND topic LIKE %s", (care.hudson, "%PlanCertified")).fetchone()
    assert certified == (1,)

    # No token in the page's storage or in any address it asked for.
    stored = page.evaluate("JSON.stringify([{...localStorage}, {...sessionStorage}])")
    assert json.loads(stored) == [{}, {}]
    assert page.evaluate("document.cookie") == ""
    assert not [u for u in ours if "eyJ" in u or "token=" in u]

    # Signing out ends the session here and at the provider: the next sign-in asks again.
    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("button", name="Yes, sign me out").click()
    expect(page.get_by_role("link", name="Sign in")).to_be_visible()
    assert page.evaluate("fetch('/app/session').then(r => r.json())")["signedIn"] is False
    sign_in_at_provider(page, subject)

    # Automatic logoff: after the idle time without a key or a click, the screen clears
    # and the session ends at the server.
    page.clock.fast_forward(PAST_IDLE)
    expect(page.locator("#sign-in-error")).to_contain_text("without activity")
    expect(page.locator("#awaiting-list")).to_have_count(0)
    for _ in range(50):  # the page tells the server right after it clears the screen
        if page.evaluate("fetch('/app/session').then(r => r.json())")["signedIn"] is False:
            break
        page.wait_for_timeout(200)
    assert page.evaluate("fetch('/app/session').then(r => r.json())")["signedIn"] is False
    context.close()
    assert errors == []
