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


@pytest.fixture
def apply_form(client):
    """Like a browser: load /apply, then post back its hidden fields with the answers."""

    def fill(**answers):
        page = client.get("/apply")
        assert page.status_code == 200
        data = {**rendered_hidden_fields(page.get_data(as_text=True)), **VALID_APPLICATION}
        data.update(answers)
        return {key: value for key, value in data.items() if value is not None}

    return fill
