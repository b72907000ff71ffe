"""docs/deploy/sqlite_to_postgres.py, the deployment guide's way from one machine with
SQLite to PostgreSQL: every row arrives, ids go on from the highest, and a second copy into
a database that holds rows is refused."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from microsite import create_app
from microsite.extensions import db
from microsite.models import Lead, LeadMatch, OutboxMessage, Referral
from tests.helpers import ROOT, VALID_APPLICATION, VALID_SHARE, dispose, flask_command, form_filler

pytestmark = pytest.mark.postgresql_only("copies into the run's PostgreSQL server")


def copy(sqlite_file: Path, url: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "docs/deploy/sqlite_to_postgres.py", str(sqlite_file), url],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def counts(app) -> dict:
    with app.app_context():
        return {
            model.__name__: db.session.scalar(select(func.count()).select_from(model))
            for model in (Lead, Referral, OutboxMessage, LeadMatch)
        }


def test_a_sqlite_database_is_copied_row_for_row_and_ids_go_on(tmp_path, empty_database_url):
    sqlite_file = tmp_path / "old.sqlite3"
    flask_command("db", "upgrade", url=f"sqlite:///{sqlite_file}", check=True)
    flask_command("db", "upgrade", url=empty_database_url, check=True)
    settings = {"TESTING": True, "SECRET_KEY": "s" * 40, "INSTANCE_PATH": tmp_path / "instance"}
    old = create_app({**settings, "DATABASE_URL": f"sqlite:///{sqlite_file}"})
    client = old.test_client()
    for number in range(3):
        assert (
            client.post(
                "/apply",
                data=form_filler(client, "/apply", VALID_APPLICATION)(
                    email=f"family{number}@example.com"
                ),
            ).status_code
            == 303
        )
    assert (
        client.post("/share", data=form_filler(client, "/share", VALID_SHARE)()).status_code == 303
    )
    dispose(old)

    copied = copy(sqlite_file, empty_database_url)
    assert copied.returncode == 0, copied.stderr
    new = create_app({**settings, "DATABASE_URL": empty_database_url})
    assert counts(new) == counts(old)
    with old.app_context():
        before = [
            (lead.id, lead.email, lead.created_at)
            for lead in db.session.scalars(select(Lead).order_by(Lead.id))
        ]
    with new.app_context():
        after = [
            (lead.id, lead.email, lead.created_at)
            for lead in db.session.scalars(select(Lead).order_by(Lead.id))
        ]
    assert after == before
    client = new.test_client()
    assert (
        client.post(
            "/apply",
            data=form_filler(client, "/apply", VALID_APPLICATION)(email="after.move@example.com"),
        ).status_code
        == 303
    )
    with new.app_context():
        assert db.session.scalar(select(func.max(Lead.id))) == 4

    again = copy(sqlite_file, empty_database_url)
    assert again.returncode != 0 and "is not empty: refusing to copy" in again.stderr
    dispose(old)
    dispose(new)
