"""Fixtures shared by every test: an app on a throwaway database, its client and CLI.

The suite runs on SQLite (a new file for each test) or, with ``--database=postgresql``, on
the PostgreSQL server that ``TEST_DATABASE_URL`` names (``make test`` runs it both ways
when that variable is set). On PostgreSQL the run works in a schema of its own, made when
the session starts and dropped when it ends; its tables are emptied after every test.
Tests marked ``sqlite_only`` check SQLite itself and are skipped on PostgreSQL; those
marked ``postgresql_only`` are skipped on SQLite.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from microsite import create_app
from microsite.content import load_testimonials
from microsite.extensions import db

BACKENDS = ("sqlite", "postgresql")
TEST_DATABASE_EXAMPLE = "postgresql+psycopg://postgres@127.0.0.1:5433/microsite_test"


def pytest_addoption(parser):
    parser.addoption(
        "--database",
        choices=BACKENDS,
        default="sqlite",
        help="where the tests keep their data: a SQLite file per test (default), or the "
        "PostgreSQL database named by TEST_DATABASE_URL",
    )


def pytest_configure(config):
    if config.getoption("database") == "postgresql" and not os.environ.get("TEST_DATABASE_URL"):
        raise pytest.UsageError(
            "--database=postgresql needs TEST_DATABASE_URL, the SQLAlchemy URL of a database "
            f"the tests may fill and empty, e.g. {TEST_DATABASE_EXAMPLE}"
            + (
                " (CI must run the PostgreSQL pass, so this is a failure)"
                if os.environ.get("CI") == "true"
                else ""
            )
        )


def pytest_report_header(config):
    if config.getoption("database") == "postgresql":
        url = make_url(os.environ["TEST_DATABASE_URL"])
        return f"database: PostgreSQL at {url.render_as_string(hide_password=True)}"
    return "database: SQLite, a new file for each test"


def pytest_collection_modifyitems(config, items):
    """Skip the tests of the other database: ``sqlite_only`` ones on PostgreSQL, and
    ``postgresql_only`` ones on SQLite (``make test`` runs them in its PostgreSQL run)."""
    other = "sqlite_only" if config.getoption("database") == "postgresql" else "postgresql_only"
    label = {"sqlite_only": "SQLite only", "postgresql_only": "PostgreSQL only"}[other]
    for item in items:
        marker = item.get_closest_marker(other)
        if marker is not None:
            reason = f"{label}: {marker.args[0]}" if marker.args else label
            item.add_marker(pytest.mark.skip(reason=reason))


def missing_service(message: str) -> None:
    """A server some tests need is not configured: a failure in CI, a skip elsewhere."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message}. CI must run these tests, so this is a failure, not a skip.")
    pytest.skip(message)


class SQLiteDatabases:
    """A new SQLite file for each database a test asks for."""

    name = "sqlite"

    def url_for(self, folder: Path, name: str = "test") -> str:
        return f"sqlite:///{folder / f'{name}.sqlite3'}"

    def empty(self) -> None:
        pass  # the next test has a file of its own

    def new(self, folder: Path, name: str) -> str:
        return self.url_for(folder, name)

    def drop(self, url: str) -> None:
        pass  # tmp_path takes the file away

    def close(self) -> None:
        pass


class PostgresDatabases:
    """Schemas in the database named by TEST_DATABASE_URL: one for the session, whose
    tables are emptied after each test, and a new empty one when a test asks for it.

    A schema is chosen through the URL (``options=-csearch_path=...``), so a subprocess
    given the URL as DATABASE_URL works in the same schema as the test.
    """

    name = "postgresql"
    LOCK_TIMEOUT = "30s"  # emptying tables waits for a leaked transaction this long, then fails

    def __init__(self, url: str):
        self.base = make_url(url)
        self.admin = create_engine(
            self.base,
            poolclass=NullPool,
            isolation_level="AUTOCOMMIT",
            connect_args={"options": f"-c lock_timeout={self.LOCK_TIMEOUT}"},
        )
        self.session_schema = self._create_schema()
        self.session_url = self._url(self.session_schema)
        self.filled = False

    def _create_schema(self) -> str:
        schema = f"pytest_{uuid.uuid4().hex[:12]}"
        with self.admin.connect() as connection:
            connection.execute(text(f"CREATE SCHEMA {schema}"))
        return schema

    def _url(self, schema: str) -> str:
        url = self.base.update_query_dict({"options": f"-csearch_path={schema}"})
        return url.render_as_string(hide_password=False)

    def url_for(self, folder: Path, name: str = "test") -> str:
        self.filled = True
        return self.session_url

    def empty(self) -> None:
        """Delete every row of the session's tables and restart their ids at 1."""
        if not self.filled:
            return
        self.filled = False
        with self.admin.connect() as connection:
            tables = connection.scalars(
                text("SELECT tablename FROM pg_tables WHERE schemaname = :schema"),
                {"schema": self.session_schema},
            ).all()
            if tables:
                names = ", ".join(f"{self.session_schema}.{table}" for table in tables)
                connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))

    def new(self, folder: Path, name: str) -> str:
        return self._url(self._create_schema())

    def drop(self, url: str) -> None:
        schema = make_url(url).query["options"].removeprefix("-csearch_path=")
        with self.admin.connect() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))

    def close(self) -> None:
        self.drop(self.session_url)
        self.admin.dispose()


@pytest.fixture(scope="session")
def databases(pytestconfig) -> Iterator[SQLiteDatabases | PostgresDatabases]:
    """The backend of this run: ``databases.name`` is "sqlite" or "postgresql"."""
    if pytestconfig.getoption("database") == "postgresql":
        backend = PostgresDatabases(os.environ["TEST_DATABASE_URL"])
    else:
        backend = SQLiteDatabases()
    yield backend
    backend.close()


@pytest.fixture
def database_url(databases, tmp_path) -> Iterator[str]:
    """The URL of this test's database, empty when the test starts (its tables may not
    exist yet: ``make_app`` creates them)."""
    yield databases.url_for(tmp_path)
    databases.empty()


@pytest.fixture
def empty_database_url(databases, tmp_path) -> Iterator[str]:
    """The URL of another database with no tables at all, e.g. for migrations."""
    url = databases.new(tmp_path, "empty")
    yield url
    databases.drop(url)


def dispose(app) -> None:
    """Close the pooled connections of ``app``'s engine."""
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def make_app(tmp_path, database_url):
    """A factory for apps on their own instance folder and this test's database. Their
    connections are closed after the test, before the database is emptied."""
    apps = []

    def make(**settings):
        config = {
            "TESTING": True,
            "INSTANCE_PATH": tmp_path / "instance",
            "SECRET_KEY": "test-secret-key-that-is-long-enough-0123456789",
            "DATABASE_URL": database_url,
            "RATELIMIT_ENABLED": False,  # tests of the limits turn them on
            **settings,
        }
        app = create_app(config)
        apps.append(app)
        with app.app_context():
            db.create_all()
        return app

    yield make
    for app in apps:
        dispose(app)


@pytest.fixture
def app(make_app):
    app = make_app()
    with app.app_context():
        load_testimonials()
    return app


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
        if (
            tag == "input"
            and attributes.get("type") == "hidden"
            or (tag == "input" and attributes.get("name") == "hp_extra_notes")
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
        message = email.message_from_bytes(
            envelope.original_content or envelope.content, policy=policy.default
        )
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
    return make_app(MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp_server.port, MAIL_TIMEOUT=5)


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
