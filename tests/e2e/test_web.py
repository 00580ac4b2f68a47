"""The physician's web page, end to end in headless Chromium (Debian's) driven by Playwright.

The page is served by the real API process (`live_server`, gunicorn) and reads the real
GraphQL API and command API; a thread stands in for the consumers, replaying the log into
the live views as it grows. Screenshots go to build/screenshots/ for a person to look at.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
import pytest

from careledger.access.tokens import Role, TokenService
from careledger.domain.amendments import Amend
from careledger.domain.application import CareLedger
from careledger.domain.body import BodyRegion, Side, Site
from careledger.domain.clinical import SessionLocation, Technique
from careledger.domain.deadlines import CERTIFICATION_MAX_DAYS
from careledger.domain.messaging import MessageKind, MessageUrgency, Party, SendMessage
from careledger.domain.referral import Referral
from careledger.domain.treatment import CompleteSession
from careledger.main import bootstrap
from tests.helpers.browser import NO_CHROMIUM, NO_PLAYWRIGHT, find_chromium
from tests.helpers.care import DAY, SOAP, Care, schedule, session, two_clinic_care
from tests.helpers.network import Network, build_network
from tests.helpers.processes import LiveServer
from tests.helpers.web import VIEWPORT, WAIT_MS, Follower, Tab, screenshot

pytestmark = pytest.mark.browser



CHROMIUM = find_chromium()
if CHROMIUM is None:
    pytest.skip(NO_CHROMIUM, allow_module_level=True)
playwright_api = pytest.importorskip("playwright.sync_api", reason=NO_PLAYWRIGHT)
sync_playwright, expect = playwright_api.sync_playwright, playwright_api.expect


@dataclass
class Chart:
    network: Network
    care: Care
    #: A moment after everything but the late note was recorded, whole seconds (what the
    #: "as of" picker can hold), in UTC.
    before_late_note: datetime
    physician_token: str


@pytest.fixture()
def chart(app: CareLedger, tokens: TokenService, follower: Follower) -> Chart:
    """Two clinics' care, an amended note, and a note written up late."""
    network = build_network(app, tokens)
    care = two_clinic_care(app, network, datetime.now(UTC) - 20 * DAY)
    app.handle(Amend(referral_id=care.riverside, record_id="s01",
                     reason="pain after the session was 5, not 6",
                     changes={"pain_after": 5}, occurred_at=datetime.now(UTC),
                     actor=f"therapist:{network.therapist}"))
    schedule(app, care.riverside, network.therapist, "s03", care.start + 7 * DAY)
    # Everything so far was recorded before this whole second; the late note after it.
    cut = datetime.fromtimestamp(math.ceil(time.time()), UTC)
    time.sleep(max(0.0, cut.timestamp() - time.time()) + 0.05)
    session(app, care.riverside, network.therapist, "s03", care.start + 7 * DAY, pain=4,
            score=29.0, scheduled=True)
    follower.catch_up()
    return Chart(network=network, care=care, before_late_note=cut,
                 physician_token=network.token(Role.PHYSICIAN, network.physician))


@pytest.fixture()
def tab(browser: Any, live_server: LiveServer) -> Iterator[Tab]:
    context = browser.new_context(viewport=VIEWPORT, timezone_id="UTC", locale="en-US")
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    opened = Tab(page=page, base=live_server.url)
    page.on("console", lambda m: opened.console_errors.append(m.text)
            if m.type == "error" else None)
    page.on("pageerror", lambda e: opened.console_errors.append(str(e)))
    page.on("request", lambda r: opened.urls.append(r.url))
    yield opened
    context.close()
    # No script error and no Content-Security-Policy violation, on any page of the test;
    # and everything came from the server itself (nothing from any other network).
    assert opened.console_errors == []
    assert all(url.startswith(live_server.url) for url in opened.urls), opened.urls


def events(page: Any, **attributes: str) -> Any:
    selector = "#timeline > li" + "".join(f'[data-{k}="{v}"]' for k, v in attributes.items())
    return page.locator(selector)


def test_a_physician_signs_in_and_reads_the_shared_timeline_of_two_clinics(
    tab: Tab, chart: Chart, capsys: pytest.CaptureFixture[str]
) -> None:
    page = tab.page
    tab.sign_in(chart.physician_token)
    row = page.locator(f'#patients tr[data-patient="{chart.network.patient}"]')
    expect(row).to_contain_text("Maria Okafor")
    expect(row.locator(".badge").first).to_have_text("Plan awaiting your certification")
    expect(row).to_contain_text("Hudson")
    # Riverside: 8 visits authorized, three notes written.
    expect(row.locator("li", has_text="Riverside")).to_contain_text("5 visits left")
    row.get_by_role("link", name="Maria Okafor").click()

    expect(page.get_by_role("heading", level=1)).to_contain_text("Maria Okafor")
    expect(events(page, kind=Referral.SessionCompleted.KIND)).to_have_count(3)
    expect(events(page, clinic="Riverside").first).to_be_visible()
    expect(events(page, clinic="Hudson").first).to_be_visible()
    assert events(page, clinic="Hudson").count() >= 4  # made, accepted, assessed, planned
    # In valid-time order: the late note s03 stands between s01 and s02.
    notes = events(page, kind=Referral.SessionCompleted.KIND)
    assert [notes.nth(i).get_attribute("data-record") for i in range(3)] == ["s01", "s03", "s02"]
    home = events(page, kind=Referral.SessionCompleted.KIND, record="s02")
    expect(home.locator(".where")).to_contain_text("Patient's home")
    late = events(page, kind=Referral.SessionCompleted.KIND, record="s03")
    expect(late.locator(".late-note")).to_contain_text("Recorded")
    amended = events(page, kind=Referral.SessionCompleted.KIND, record="s01")
    expect(amended.get_by_role("complementary")).to_contain_text("pain after the session was 5")
    expect(amended.locator(".meta").first).to_contain_text("Sam Lee")
    # Progress: one figure per plan, each with a pain and a functional chart and a target.
    expect(page.locator("figure.plan")).to_have_count(2)
    expect(page.locator("figure.plan svg[role=img]")).to_have_count(4)
    expect(page.locator("figure.plan svg .target")).to_have_count(4)
    screenshot(page, "timeline.png", capsys)

    # Filter by clinic, then by kind: the server answers only those.
    page.get_by_label("Clinic", exact=True).select_option(label="Hudson")
    page.get_by_role("button", name="Apply filters").click()
    expect(page.locator("#timeline-status")).to_contain_text("at Hudson")
    expect(events(page, clinic="Riverside")).to_have_count(0)
    assert events(page, clinic="Hudson").count() >= 4
    page.get_by_label("Clinic", exact=True).select_option(label="All clinics")
    page.get_by_label("Kind").select_option(label="Sessions")
    page.get_by_role("button", name="Apply filters").click()
    expect(page.locator("#timeline-status")).to_contain_text("Sessions")
    kinds = set(page.locator("#timeline > li").evaluate_all("els => els.map(e => e.dataset.kind)"))
    assert kinds == {Referral.SessionScheduled.KIND, Referral.SessionCompleted.KIND}


def test_as_of_a_moment_before_a_late_note_the_note_is_not_there(
    tab: Tab, chart: Chart
) -> None:
    page = tab.page
    tab.sign_in(chart.physician_token)
    page.goto(f"{tab.base}/app/#/patient/{chart.network.patient}")
    late = events(page, kind=Referral.SessionCompleted.KIND, record="s03")
    expect(late).to_have_count(1)
    page.get_by_label("As of").fill(chart.before_late_note.strftime("%Y-%m-%dT%H:%M:%S"))
    page.get_by_role("button", name="Apply filters").click()
    expect(page.locator("#timeline-status")).to_contain_text("as the record stood at")
    expect(late).to_have_count(0)
    # The rest of the record is there as it stood: the visit was already scheduled.
    expect(events(page, kind=Referral.SessionScheduled.KIND, record="s03")).to_have_count(1)
    expect(events(page, kind=Referral.SessionCompleted.KIND)).to_have_count(2)
    riverside = page.locator(f'figure.plan[data-referral="{chart.care.riverside}"]')
    expect(riverside.locator("tbody tr", has_text="s03")).to_have_count(0)
    page.get_by_role("button", name="Show everything, as it stands now").click()
    expect(late).to_have_count(1)


def test_certifying_a_plan_issues_the_command_and_the_worklist_updates(
    db: bootstrap.Database, tab: Tab, chart: Chart, capsys: pytest.CaptureFixture[str]
) -> None:
    page = tab.page
    tab.sign_in(chart.physician_token)
    waiting = page.locator(f'#awaiting-list li[data-referral="{chart.care.hudson}"]')
    expect(waiting).to_contain_text("Maria Okafor")
    expect(waiting).to_contain_text("Hudson")
    # The form offers the longest period the domain allows, from today.
    start, end = (waiting.locator('input[type="date"]').nth(i).input_value() for i in (0, 1))
    assert date.fromisoformat(end) - date.fromisoformat(start) == timedelta(
        days=CERTIFICATION_MAX_DAYS)
    waiting.get_by_role("button", name="Certify").click()
    expect(page.locator("#certify-result")).to_contain_text(
        "Plan certified for Maria Okafor at Hudson")
    expect(page.locator("#nothing-awaiting")).to_be_visible()
    row = page.locator(f'#patients tr[data-patient="{chart.network.patient}"]')
    expect(row.locator(".badge").first).to_have_text("In treatment")
    screenshot(page, "worklist-after-certify.png", capsys)
    with psycopg.connect(db.app_url) as conn:
        signed = conn.execute(
            "SELECT count(*) FROM careledger.careledger_events WHERE originator_id = %s"
            " AND topic = %s", (chart.care.hudson, Referral.PlanCertified.TOPIC)).fetchone()
    assert signed == (1,)


def test_a_session_beyond_the_plan_waits_on_the_worklist_until_acknowledged(
    app: CareLedger, tab: Tab, chart: Chart, follower: Follower,
    capsys: pytest.CaptureFixture[str],
) -> None:
    network, care = chart.network, chart.care
    at = care.start + 12 * DAY
    schedule(app, care.riverside, network.therapist, "s04", at)
    app.handle(CompleteSession(
        referral_id=care.riverside, session_id="s04", practitioner_id=network.therapist,
        soap=SOAP, techniques=[(Technique.MYOFASCIAL_RELEASE, 15),
                               (Technique.STRETCHING, 10, [Site(BodyRegion.THIGH, Side.LEFT)])],
        pain_before=5, pain_after=4, location=SessionLocation.CLINIC, functional_score=30.0,
        goal_measurements=[], override_reason=None,
        off_plan_reason="hamstrings too tight for the exercises", occurred_at=at,
        actor=f"therapist:{network.therapist}"))
    follower.catch_up()
    page = tab.page
    tab.sign_in(chart.physician_token)
    waiting = page.locator('#beyond-list li[data-session="s04"]')
    expect(waiting).to_contain_text("Maria Okafor")
    expect(waiting).to_contain_text("stretching: not in the plan")
    expect(waiting).to_contain_text("hamstrings too tight")
    screenshot(page, "worklist-beyond-plan.png", capsys)
    waiting.get_by_role("button", name="Acknowledge").click()
    expect(page.locator("#certify-result")).to_contain_text("Acknowledged the session of")
    expect(page.locator("#beyond-list")).to_have_count(0)
    page.get_by_role("link", name="Maria Okafor").first.click()
    note = events(page, kind=Referral.SessionCompleted.KIND, record="s04")
    expect(note).to_contain_text("stretching on the left thigh 10 min")
    expect(note).to_contain_text("hamstrings too tight")
    expect(events(page, kind=Referral.PlanDeviationAcknowledged.KIND)).to_have_count(1)


def test_a_question_from_the_therapist_is_answered_from_the_worklist(
    app: CareLedger, tab: Tab, chart: Chart, follower: Follower,
) -> None:
    network, care = chart.network, chart.care
    app.handle(SendMessage(
        referral_id=care.riverside, sender=Party.THERAPIST, sender_id=network.therapist,
        kind=MessageKind.QUESTION, urgency=MessageUrgency.URGENT, about=["s01"],
        body="Bruising after the last session: should I stop trigger point work?",
        message_id="q1", occurred_at=datetime.now(UTC), actor=f"therapist:{network.therapist}"))
    follower.catch_up()
    page = tab.page
    tab.sign_in(chart.physician_token)
    question = page.locator('#questions-list li[data-message="q1"]')
    expect(question).to_contain_text("Sam Lee asks about Maria Okafor (today)")
    expect(question).to_contain_text("should I stop trigger point work?")
    expect(question.locator(".flag.urgent")).to_have_text("Urgent")
    question.get_by_label("Your reply").fill("Yes: light pressure only until I see her.")
    question.get_by_role("button", name="Reply").click()
    expect(page.locator("#certify-result")).to_contain_text("Reply sent to Sam Lee")
    expect(page.locator("#questions-list")).to_have_count(0)
    page.get_by_role("link", name="Maria Okafor").first.click()
    replies = page.locator("#timeline > li", has_text="light pressure only until I see her")
    expect(replies).to_have_count(1)


def test_a_physician_outside_the_care_team_finds_no_patient(
    tab: Tab, chart: Chart
) -> None:
    page = tab.page
    stranger = chart.network.token(Role.PHYSICIAN, uuid.uuid4())
    tab.sign_in(stranger)
    expect(page.get_by_text("No patients you referred")).to_be_visible()
    page.goto(f"{tab.base}/app/#/patient/{chart.network.patient}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Patient not found")
    expect(page.locator("#patient-error")).to_contain_text("Not found")
    expect(page.locator("#timeline")).to_have_count(0)


def test_the_token_is_sent_once_and_kept_nowhere_in_the_page(tab: Tab, chart: Chart) -> None:
    page = tab.page
    page.goto(f"{tab.base}/app/")
    page.get_by_label("Bearer token").fill("not-a-token")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#sign-in-error")).to_contain_text("not accepted")
    # The refusal is a 401, which the browser notes in its console: expected, here only.
    assert [e for e in tab.console_errors if "401" not in e] == []
    tab.console_errors.clear()
    tab.sign_in(chart.physician_token)
    # The token was sent once; the session is an HttpOnly cookie no script can read.
    assert page.evaluate("JSON.stringify([{...localStorage}, {...sessionStorage}])") == \
        "[{},{}]"
    assert page.evaluate("document.cookie") == ""
    assert not any(chart.physician_token in url for url in tab.urls)
    # Keyboard only: Tab to the patient's name, Enter opens the chart (once the worklist,
    # which loads after the sign-in, is there to tab through).
    expect(page.locator(f'#patients tr[data-patient="{chart.network.patient}"]')).to_be_visible()
    for _ in range(12):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent") == "Maria Okafor":
            break
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Maria Okafor")
    # A fresh load starts at the skip link, which moves focus to the content.
    page.reload()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Maria Okafor")
    page.keyboard.press("Tab")
    expect(page.locator("#skip-link")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#main")).to_be_focused()
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_label("Bearer token")).to_be_visible()
    expect(page.locator("#sign-in-error")).to_have_text("You have signed out.")
    assert page.evaluate("fetch('/app/session').then(r => r.json())")["signedIn"] is False
