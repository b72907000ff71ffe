"""Fixtures shared by every test: an app on a throwaway database, its client and CLI.

The suite runs on SQLite (a new file for each test) or, with ``--database=postgresql``, on
the PostgreSQL server that ``TEST_DATABASE_URL`` names (``make test`` runs it both ways
when that variable is set). On PostgreSQL the run works in a schema of its own, made when
the session starts and dropped when it ends; its tables are emptied after every test.
Tests marked ``sqlite_only`` check SQLite itself and are skipped on PostgreSQL; those
marked ``postgresql_only`` are skipped on SQLite; those marked ``database_independent``
(the browser's catalogue of page states) run once, in the SQLite run.

Plain helpers (valid form answers, the staff user, rows stored and counted, free ports,
the SMTP server) are in ``helpers.py``; the fixtures here use them.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from microsite import create_app
from microsite.content import load_testimonials
from microsite.extensions import db
from tests.helpers import (
    PUBLIC_URL,
    VALID_APPLICATION,
    SMTPServer,
    create_staff_user,
    dispose,
    form_filler,
    log_in,
    share_form_for,
)

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
    ``postgresql_only`` ones on SQLite (``make test`` runs them in its PostgreSQL run).
    Tests marked ``database_independent`` check what no database changes, so they run
    once, in the SQLite run, and are skipped on PostgreSQL."""
    if config.getoption("database") == "postgresql":
        skipped = {"sqlite_only": "SQLite only", "database_independent": "run once, on SQLite"}
    else:
        skipped = {"postgresql_only": "PostgreSQL only"}
    for item in items:
        for name, label in skipped.items():
            marker = item.get_closest_marker(name)
            if marker is not None:
                reason = f"{label}: {marker.args[0]}" if marker.args else label
                item.add_marker(pytest.mark.skip(reason=reason))


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
        """Delete every row of the session's tables and restart their ids at 1, the
        append-only ones too."""
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
                # The access record's triggers refuse TRUNCATE (microsite/access.py); a
                # replica's session fires no triggers (the test user is a superuser).
                connection.execute(text("SET session_replication_role = replica"))
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
            "PUBLIC_URL": PUBLIC_URL,
            "RATELIMIT_ENABLED": False,  # tests of the limits turn them on
            # A cheap scrypt (5 ms a hash, not 200): hundreds of tests sign in. The real
            # cost is tested in test_staff_cli.py; production refuses a cheap one.
            "PASSWORD_HASH_METHOD": "scrypt:1024:8:1",
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


@pytest.fixture
def apply_form(client):
    """``apply_form(**answers)``: the fields of a valid application from this client."""
    return form_filler(client, "/apply", VALID_APPLICATION)


@pytest.fixture
def share_form(client):
    """``share_form(**answers)``: the fields of a valid /share form from this client."""
    return share_form_for(client)


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


@pytest.fixture
def staff(app) -> int:
    """The id of the staff user who signs in with STAFF_EMAIL and STAFF_PASSWORD."""
    return create_staff_user(app)


@pytest.fixture
def staff_client(app, staff):
    """A client of its own, signed in as the staff user through the form like a browser."""
    client = app.test_client()
    response = log_in(client)
    assert response.status_code == 303
    return client
