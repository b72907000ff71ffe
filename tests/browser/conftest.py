"""Fixtures for the browser tests: the app on a real port, headless Chromium, checked pages.

The app is served by werkzeug on 127.0.0.1 in a thread and driven through pytest-playwright
with Debian's Chromium (``playwright install`` is never needed). Every page a test opens
through ``open_page`` has its requests recorded; at teardown they must all have stayed on
the live server's origin, and no script on the page may have thrown.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from flask import Flask
from playwright.sync_api import Page
from sqlalchemy import select
from werkzeug.serving import make_server

from microsite import mail
from microsite.content import load_testimonials
from microsite.extensions import db
from microsite.models import Lead

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


@pytest.fixture(scope="session", autouse=True)
def _chromium_available() -> None:
    """Runs before the session's browser is launched: a missing Chromium fails CI, skips
    elsewhere. (Session scope and autouse put it ahead of pytest-playwright's ``browser``.)"""
    if CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK):
        return
    message = (
        f"Chromium not found at {CHROMIUM}: install Debian's package "
        "(apt-get install chromium) to run the browser tests"
    )
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message}. CI must run them, so this is a failure, not a skip.")
    pytest.skip(message)


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
            path for path in self.folder.iterdir()
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
