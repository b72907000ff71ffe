"""The database: SQLite settings, and migrations that match the models on SQLite and on
PostgreSQL (``--database=postgresql``)."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, text

from microsite import create_app
from microsite.extensions import db
from tests.helpers import dispose


@pytest.mark.sqlite_only("SQLite's pragmas")
def test_sqlite_connections_are_durable_and_patient(app):
    def pragma(name: str):
        return db.session.execute(text(f"PRAGMA {name}")).scalar()

    with app.app_context():
        assert pragma("journal_mode") == "wal"
        assert pragma("synchronous") == 2  # FULL
        assert pragma("busy_timeout") >= 5000
        assert pragma("foreign_keys") == 1


@pytest.fixture
def fresh_app(tmp_path, empty_database_url):
    """An app on a database with no tables at all."""
    app = create_app(
        {"INSTANCE_PATH": tmp_path, "SECRET_KEY": "x" * 40, "DATABASE_URL": empty_database_url}
    )
    yield app
    dispose(app)


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


def schema_of(app) -> dict:
    """Every table's columns, keys, indexes and constraints, as the database reports them."""
    with app.app_context():
        inspector = inspect(db.engine)
        return {
            table: {
                # In any order: a later migration appends the columns it adds.
                "columns": sorted(
                    (c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(table)
                ),
                "primary key": inspector.get_pk_constraint(table)["constrained_columns"],
                "foreign keys": sorted(
                    (
                        fk["name"],
                        fk["constrained_columns"],
                        fk["referred_table"],
                        fk["options"].get("ondelete"),
                    )
                    for fk in inspector.get_foreign_keys(table)
                ),
                "unique": sorted(
                    (u["name"], u["column_names"]) for u in inspector.get_unique_constraints(table)
                ),
                "indexes": sorted(
                    (i["name"], i["column_names"], i["unique"])
                    for i in inspector.get_indexes(table)
                ),
                "checks": sorted(
                    (c["name"], c["sqltext"]) for c in inspector.get_check_constraints(table)
                ),
            }
            for table in sorted(set(inspector.get_table_names()) - {"alembic_version"})
        }


def test_migrations_build_every_constraint_the_models_declare(fresh_app, make_app):
    """What `db check` does not compare: check constraints, ON DELETE rules, names."""
    assert fresh_app.test_cli_runner().invoke(args=["db", "upgrade"]).exit_code == 0
    migrated, declared = schema_of(fresh_app), schema_of(make_app())
    assert set(migrated) == set(declared)
    assert declared["lead"]["checks"] and declared["lead_note"]["foreign keys"]
    for table in declared:
        assert migrated[table] == declared[table], table
