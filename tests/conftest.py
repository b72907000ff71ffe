"""Fixtures shared by every test: an app on a throwaway SQLite file, its client and CLI."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from microsite import create_app
from microsite.content import load_testimonials
from microsite.extensions import db


@pytest.fixture
def make_app(tmp_path):
    """A factory for apps on their own instance folder and database file."""

    def make(**settings):
        config = {
            "TESTING": True,
            "INSTANCE_PATH": tmp_path / "instance",
            "SECRET_KEY": "test-secret-key-that-is-long-enough-0123456789",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'test.sqlite3'}",
            "RATELIMIT_ENABLED": False,  # tests of the limits turn them on
            **settings,
        }
        app = create_app(config)
        with app.app_context():
            db.create_all()
        return app

    yield make


@pytest.fixture
def app(make_app):
    app = make_app()
    with app.app_context():
        load_testimonials()
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


class _FormFields(HTMLParser):
    """The name and value of every input a browser would send back, from a page's forms."""

    def __init__(self):
        super().__init__()
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "input" and attributes.get("type") == "hidden" or (
            tag == "input" and attributes.get("name") == "hp_extra_notes"
        ):
            self.fields[attributes["name"]] = attributes.get("value") or ""


def rendered_hidden_fields(html: str) -> dict[str, str]:
    parser = _FormFields()
    parser.feed(html)
    return parser.fields


VALID_APPLICATION = {
    "role": "parent",
    "patient_age": "7",
    "diagnosis": "neuroblastoma",
    "diagnosis_other": "",
    "treatment_stage": "in_treatment",
    "country": "GB",
    "postal_code": "SW1A 1AA",
    "name": "Alex Example",
    "email": "alex@example.com",
    "phone": "",
    "contact_method": "email",
    "consent": "y",
}


def form_filler(client, path: str, valid: dict):
    """Like a browser: load the form at ``path``, then send back its hidden fields with
    valid answers, changed by the keyword arguments (None leaves a field out)."""

    def fill(**answers):
        page = client.get(path)
        assert page.status_code == 200
        data = {**rendered_hidden_fields(page.get_data(as_text=True)), **valid, **answers}
        return {key: value for key, value in data.items() if value is not None}

    return fill


@pytest.fixture
def apply_form(client):
    return form_filler(client, "/apply", VALID_APPLICATION)


class SMTPServer:
    """A real SMTP server on loopback (aiosmtpd) that keeps what it receives, and can be
    stopped and started again to play an outage."""

    def __init__(self):
        import socket

        from aiosmtpd.controller import Controller

        with socket.socket() as probe:  # Controller(port=0) does not work: pick a port first
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.messages: list = []
        self.conversations: list[bytes] = []
        self._controller_class = Controller
        self.controller = None

    async def handle_DATA(self, server, session, envelope):
        import email
        from email import policy

        self.conversations.append(envelope.original_content or envelope.content)
        message = email.message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 OK"

    def start(self):
        self.controller = self._controller_class(
            self, hostname="127.0.0.1", port=self.port, enable_SMTPUTF8=True
        )
        self.controller.start()

    def stop(self):
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def smtp_server():
    server = SMTPServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def mail_app(make_app, smtp_server):
    """An app that sends its mail to the loopback SMTP server."""
    app = make_app(MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp_server.port, MAIL_TIMEOUT=5)
    yield app
    with app.app_context():
        db.engine.dispose()


VALID_SHARE = {
    "sender_name": "Robin Sender",
    "friend_name": "Kim Friend",
    "friend_email": "kim@example.com",
    "consent": "y",
}


def share_form_for(client):
    return form_filler(client, "/share", VALID_SHARE)


@pytest.fixture
def share_form(client):
    return share_form_for(client)


STAFF_EMAIL = "navigator@example.com"
STAFF_PASSWORD = "a-long-enough-password"


@pytest.fixture
def staff_client(app):
    """A client signed in as a staff user, through the login form like a browser."""
    from microsite.auth import create_staff

    with app.app_context():
        create_staff(STAFF_EMAIL, STAFF_PASSWORD)
    client = app.test_client()
    fields = rendered_hidden_fields(client.get("/staff/login").get_data(as_text=True))
    response = client.post(
        "/staff/login", data={**fields, "email": STAFF_EMAIL, "password": STAFF_PASSWORD}
    )
    assert response.status_code == 303
    return client
