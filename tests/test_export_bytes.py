"""The bytes of the CSV exports: the same on SQLite and PostgreSQL, the same as the csv
module writes for any cell, no raw CR or LF in a cell the app can store, and a CLI export
that loads none of the libraries it does not use."""

from __future__ import annotations

import csv
import io
import os
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from microsite import create_app, exports
from microsite.extensions import db
from microsite.models import AccessRecord, ExportLog, Lead, Referral
from tests.conftest import PostgresDatabases
from tests.helpers import (
    PUBLIC_URL,
    VALID_APPLICATION,
    add_lead,
    create_staff_user,
    dispose,
    flask_command,
    form_filler,
    log_in,
    missing_service,
)

JANUARY = datetime(2026, 1, 12, 9, 30, 15, 123456, tzinfo=UTC)

# Cells as they may be stored (written here straight into the database, past the forms):
# separators, quotes, line ends, the formula triggers, U+001F (SQLite's cell separator),
# accents, and empty text next to NULL.
HOSTILE = {
    "name": 'Quote " and, comma',
    "email": "=1+2@example.com",
    "postal_code": "+44 20",
    "diagnosis_other": "two\nlines\r\nand\rCR",
    "phone": "+442079460018",
    "utm_source": "\t=tab",
    "utm_medium": "",
    "utm_campaign": "unit\x1fseparator",
    "utm_content": "-5",
    "utm_term": 'Zoë, Ünicode "q"',
}


def _store_the_same_rows(app) -> None:
    with app.app_context():
        db.session.add_all(
            [
                Referral(
                    code="r-plain",
                    created_at=JANUARY,
                    sender_name="=Sender, Esq.",
                    friend_name="",
                    friend_email="kim@example.com",
                    clicks=3,
                    first_click_at=JANUARY,
                ),
                AccessRecord(
                    created_at=JANUARY,
                    actor="navigator@example.com",
                    action="export",
                    detail='leads.csv: from 2026-01-01, "quoted"',
                ),
                AccessRecord(created_at=JANUARY, actor="@actor", action="lead viewed", lead_id=2),
            ]
        )
        db.session.commit()
    common = {"created_at": JANUARY, "consent_at": JANUARY, "callback_due_at": JANUARY}
    add_lead(app, **common)
    add_lead(app, **common, **HOSTILE, referral_id=1, nearest_site_km=12)
    add_lead(app, **common, name='=HYPERLINK("http://x.example","x")', updates_opt_in=True)


def _exports(app) -> dict[str, bytes]:
    runner = app.test_cli_runner()
    files = {}
    for name, args in (
        ("leads", ["leads", "export"]),
        ("audit", ["audit", "export", "--to", "2026-01-31"]),
    ):
        result = runner.invoke(args=args)
        assert result.exit_code == 0, result.output
        files[name] = result.stdout_bytes
    return files


@pytest.fixture
def other_app(databases, tmp_path):
    """An app on the database this run is not on: a SQLite file in the PostgreSQL run,
    a schema of TEST_DATABASE_URL's database in the SQLite run."""
    postgres = None
    if databases.name == "postgresql":
        url = f"sqlite:///{tmp_path / 'other.sqlite3'}"
    else:
        if not os.environ.get("TEST_DATABASE_URL"):
            missing_service("comparing the exports with PostgreSQL's needs TEST_DATABASE_URL")
        postgres = PostgresDatabases(os.environ["TEST_DATABASE_URL"])
        url = postgres.url_for(tmp_path)
    app = create_app(
        {
            "TESTING": True,
            "INSTANCE_PATH": tmp_path / "other-instance",
            "SECRET_KEY": "test-secret-key-that-is-long-enough-0123456789",
            "DATABASE_URL": url,
            "PUBLIC_URL": PUBLIC_URL,
            "RATELIMIT_ENABLED": False,
        }
    )
    with app.app_context():
        db.create_all()
    yield app
    dispose(app)
    if postgres is not None:
        postgres.close()


def test_sqlite_and_postgresql_write_the_same_bytes(app, other_app):
    files = []
    for each in (app, other_app):
        _store_the_same_rows(each)
        create_staff_user(each)
        client = each.test_client()
        assert log_in(client).status_code == 303
        files.append({**_exports(each), "referrals": client.get("/staff/referrals.csv").data})
    ours, theirs = files
    assert ours == theirs
    assert ours["leads"].count(b"\r\n") == 4 + 1  # the header, three rows, one inside a cell
    assert ours["referrals"].startswith(b"\xef\xbb\xbfid,created_at,code,")
    assert ours["audit"].count(b"\r\n") == 3


def _csv_module(rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return b"\xef\xbb\xbf" + buffer.getvalue().encode()


def test_every_cell_is_written_as_the_csv_module_writes_it(app):
    """Whatever a cell holds, on the database of the run: quoted only when it holds a
    comma, quote, CR or LF, formulas guarded, U+001F and line ends kept as they are."""
    _store_the_same_rows(app)
    leads = _exports(app)["leads"]
    rows = list(csv.reader(io.StringIO(leads.decode("utf-8-sig"), newline="")))
    assert _csv_module(rows) == leads
    header, _, hostile, formula = rows
    cells = dict(zip(header, hostile, strict=True))
    assert {name: cells[name] for name in HOSTILE} == {
        **HOSTILE,
        "email": "'=1+2@example.com",
        "postal_code": "'+44 20",
        "utm_source": "'\t=tab",
    }
    assert cells["referral_code"] == "r-plain" and cells["nearest_site_km"] == "12"
    assert formula[header.index("name")] == '\'=HYPERLINK("http://x.example","x")'
    assert formula[header.index("updates_opt_in")] == "true"


CONTROL = st.characters(codec="utf-8", categories=["Cc", "Zl", "Zp"])
TEXT = st.text(st.one_of(CONTROL, st.characters(codec="utf-8")), min_size=1, max_size=12)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(name=TEXT, postal_code=TEXT, other=TEXT, utm=TEXT)
def test_no_exported_cell_holds_a_raw_cr_or_lf(app, name, postal_code, other, utm):
    """What the site stores from a visitor refuses control characters (fields.py's
    NoControlCharacters on every text field, attribution.py for UTM parameters), so a
    line end in a leads.csv file always ends a row."""
    visitor = app.test_client()
    visitor.get("/", query_string={"utm_source": utm, "utm_term": f"x{utm}x"})
    visitor.post(
        "/apply",
        data=form_filler(visitor, "/apply", VALID_APPLICATION)(
            name=f"A{name}",
            postal_code=postal_code,
            diagnosis="other",
            diagnosis_other=f"B{other}",
        ),
    )
    with app.app_context():
        stored = db.session.scalars(select(Lead)).all()
        export = _exports(app)["leads"]
        db.session.query(Lead).delete()
        db.session.commit()
    assert export.count(b"\r\n") == 1 + len(stored)
    assert b"\r" not in export.replace(b"\r\n", b"") and b"\n" not in export.replace(b"\r\n", b"")


def test_flask_leads_export_loads_no_second_factor_or_markdown_library(app, database_url):
    add_lead(app)
    result = flask_command(
        "leads", "export", url=database_url, env={"PYTHONPROFILEIMPORTTIME": "1"}, check=True
    )
    imported = {
        line.rsplit("|", 1)[-1].strip().split(".")[0]
        for line in result.stderr.splitlines()
        if line.startswith("import time:")
    }
    assert {"flask", "sqlalchemy", "microsite"} <= imported  # the profile is there
    assert imported.isdisjoint({"webauthn", "pyotp", "segno", "markdown_it"})
    assert result.stdout.count("\n") == 2


def test_an_export_cut_off_is_logged_and_the_next_one_works(app, staff_client, monkeypatch):
    """A download abandoned after its first batch (COPY on PostgreSQL ends half-read):
    the log says so, and the same connection serves the next export whole."""
    monkeypatch.setattr(exports, "BATCH", 2)
    for number in range(5):
        add_lead(app, name=f"Lead {number}", email=f"lead{number}@example.com")
    response = staff_client.get("/staff/leads.csv", buffered=False)
    chunks = iter(response.response)
    next(chunks)  # the header
    assert next(chunks).count(b"\r\n") == 2
    response.close()
    again = staff_client.get("/staff/leads.csv").data
    assert again.count(b"\r\n") == 6
    with app.app_context():
        cut, whole = db.session.scalars(select(ExportLog).order_by(ExportLog.id))
        assert (cut.rows, cut.completed) == (2, False)
        assert (whole.rows, whole.completed) == (5, True)
