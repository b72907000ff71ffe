"""What SQLite and PostgreSQL could do differently, checked on the database of the run.

``make test`` runs the suite on SQLite and again with ``--database=postgresql``; every test
here runs in both, except those marked ``postgresql_only``.
"""

from __future__ import annotations

import re
import threading

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import String, func, literal, select, text

from microsite import create_app, exports, leads, models
from microsite.csvsql import csv_safe
from microsite.extensions import db
from microsite.models import Lead, OutboxMessage, Referral
from tests.helpers import add_lead, count, dispose, flask_command


@pytest.mark.parametrize("turn", [1, 2])
def test_every_test_starts_with_empty_tables_and_ids_from_one(app, turn):
    """Run twice: the second turn would see the first turn's lead if tests shared rows."""
    assert count(app, Lead) == 0
    assert add_lead(app) == 1


def test_the_flask_command_migrates_an_empty_database_with_no_drift(
    databases, empty_database_url, tmp_path
):
    """`flask db upgrade` and `flask db check` as an operator runs them, DATABASE_URL in
    the environment, on an empty database of the run's kind."""
    upgrade = flask_command("db", "upgrade", url=empty_database_url)
    assert upgrade.returncode == 0, upgrade.stderr
    check = flask_command("db", "check", url=empty_database_url)
    assert check.returncode == 0, check.stderr
    assert "No new upgrade operations detected" in check.stdout + check.stderr
    load = flask_command("content", "load", url=empty_database_url)
    assert load.stdout.splitlines() == [
        "Testimonials: 4 added, 0 updated, 0 unchanged.",
        "US ZIP codes: 41914 stored.",
    ], load.stderr

    app = create_app(
        {"INSTANCE_PATH": tmp_path, "SECRET_KEY": "s" * 40, "DATABASE_URL": empty_database_url}
    )
    try:
        with app.app_context():
            assert db.engine.dialect.name == databases.name
            assert db.session.scalar(select(func.count(models.Testimonial.id))) == 4
    finally:
        dispose(app)


APPLICATION = {
    "role": "parent",
    "patient_age": 7,
    "diagnosis": "neuroblastoma",
    "diagnosis_other": None,
    "treatment_stage": None,
    "country": "GB",
    "postal_code": None,
    "name": "Alex Example",
    "email": "alex@example.com",
    "phone": None,
    "contact_method": "email",
    "updates_opt_in": False,
}


def test_parallel_submissions_with_one_key_store_one_lead(app):
    """A double click that reaches two workers at once: separate connections insert the
    same idempotency key at the same moment, and the unique constraint decides."""
    workers = 4
    start = threading.Barrier(workers)
    stored: list[int] = []
    errors: list[BaseException] = []

    def submit() -> None:
        try:
            with app.test_request_context("/apply", method="POST"):
                start.wait(timeout=60)
                lead = leads.record_application(dict(APPLICATION), "k" * 32)
                db.session.commit()
                stored.append(lead.id)
        except BaseException as error:  # reported below, in the test's own thread
            errors.append(error)

    threads = [threading.Thread(target=submit) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert not errors, errors
    with app.app_context():
        [lead_id] = db.session.scalars(select(Lead.id)).all()
        assert stored == [lead_id] * workers
        assert db.session.scalar(select(func.count(Referral.id))) == 1  # one personal link
        assert db.session.scalar(select(func.count(OutboxMessage.id))) == 1  # one confirmation


SAFE = re.compile(r"[+-]?([0-9]+([.][0-9]+)?|[.][0-9]+)|[+][1-9][0-9]{1,14}")


def guarded(cell: str) -> str:
    """The formula guard as the README states it, in Python."""
    if cell[:1] in ("=", "+", "-", "@", "\t", "\r") and not SAFE.fullmatch(cell):
        return "'" + cell
    return cell


# Text near the rule's edges (signs, digits, points, line ends), and any text at all.
# PostgreSQL text cannot hold NUL, which the site never stores.
cells = st.one_of(
    st.text(alphabet="=+-@\t\r\n.0123456789 aZ", max_size=18),
    st.text(max_size=30),
).filter(lambda cell: "\x00" not in cell)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(cell=cells)
@example(cell="+7\n")  # a number, then a line end: still not only a number
@example(cell="-2.5\n")
@example(cell="+442079460018\n")
@example(cell="\n=1")
def test_the_database_guards_formula_cells_as_the_rule_says(app, cell):
    with app.app_context():
        assert db.session.scalar(select(csv_safe(literal(cell, String)))) == guarded(cell)


@pytest.mark.postgresql_only("COPY")
def test_an_export_streams_from_copy_a_batch_at_a_time(app, monkeypatch):
    """Rows come from the server's COPY a batch at a time, never all at once, and the
    connection is free for the next statement once the export is read."""
    monkeypatch.setattr(exports, "BATCH", 2)
    for number in range(5):
        add_lead(app, name=f"Lead {number}", email=f"lead{number}@example.com")
    with app.app_context():
        export = exports.CsvExport("leads", None, None, actor="test")
        chunks = iter(export)
        next(chunks)  # the header
        first = next(chunks)
        assert first.count(b"\r\n") == 2
        rest = b"".join(chunks)
        assert rest.count(b"\r\n") == 3 and export.rows == 5
        assert db.session.scalar(text("SELECT count(*) FROM lead")) == 5
