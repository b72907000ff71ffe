"""The database: SQLite settings and migrations that match the models."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, text

from microsite import create_app
from microsite.extensions import db


def test_sqlite_connections_are_durable_and_patient(app):
    with app.app_context():
        pragma = lambda name: db.session.execute(text(f"PRAGMA {name}")).scalar()  # noqa: E731
        assert pragma("journal_mode") == "wal"
        assert pragma("synchronous") == 2  # FULL
        assert pragma("busy_timeout") >= 5000
        assert pragma("foreign_keys") == 1


@pytest.fixture
def fresh_app(tmp_path):
    return create_app(
        {"INSTANCE_PATH": tmp_path, "SECRET_KEY": "x" * 40,
         "DATABASE_URL": f"sqlite:///{tmp_path}/migrated.sqlite3"}
    )


def test_migrations_build_the_schema_the_models_describe(fresh_app):
    runner = fresh_app.test_cli_runner()
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
    check = runner.invoke(args=["db", "check"])
    assert check.exit_code == 0, check.output
    with fresh_app.app_context():
        inspector = inspect(db.engine)
        assert {"lead", "testimonial", "alembic_version"} <= set(inspector.get_table_names())
        unique = {c["name"] for c in inspector.get_unique_constraints("lead")}
        assert "uq_lead_idempotency_key" in unique


def test_migrations_go_down_as_well_as_up(fresh_app):
    runner = fresh_app.test_cli_runner()
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
    assert runner.invoke(args=["db", "downgrade", "base"]).exit_code == 0
    with fresh_app.app_context():
        assert set(inspect(db.engine).get_table_names()) == {"alembic_version"}
