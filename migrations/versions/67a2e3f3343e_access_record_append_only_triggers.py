"""The access record append-only: triggers refuse UPDATE and DELETE on access_record and
access_purge (and TRUNCATE on PostgreSQL), but for deletes of entries older than the latest
access_purge.purged_before (the purge adds its AccessPurge row first).

The SQL is written out here, as it was when this migration was made: microsite/access.py
keeps today's (TRIGGERS), which db.create_all() uses.

Revision ID: 67a2e3f3343e
Revises: 7e5bd2444dc9
Create Date: 2026-12-01 12:24:36.698035

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '67a2e3f3343e'
down_revision = '7e5bd2444dc9'
branch_labels = None
depends_on = None

REFUSED = (
    "the access record is append-only: only entries older than the cutoff of the last "
    "purge may be deleted, by the purge"
)

SQLITE_UP = [
    f"""CREATE TRIGGER access_record_no_update BEFORE UPDATE ON access_record
BEGIN SELECT RAISE(ABORT, '{REFUSED}'); END""",
    f"""CREATE TRIGGER access_record_no_delete BEFORE DELETE ON access_record
WHEN (SELECT max(purged_before) FROM access_purge) IS NULL
  OR OLD.created_at >= (SELECT max(purged_before) FROM access_purge)
BEGIN SELECT RAISE(ABORT, '{REFUSED}'); END""",
    f"""CREATE TRIGGER access_purge_no_update BEFORE UPDATE ON access_purge
BEGIN SELECT RAISE(ABORT, '{REFUSED}'); END""",
    f"""CREATE TRIGGER access_purge_no_delete BEFORE DELETE ON access_purge
BEGIN SELECT RAISE(ABORT, '{REFUSED}'); END""",
]

SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS access_purge_no_delete",
    "DROP TRIGGER IF EXISTS access_purge_no_update",
    "DROP TRIGGER IF EXISTS access_record_no_delete",
    "DROP TRIGGER IF EXISTS access_record_no_update",
]

POSTGRESQL_FUNCTION = f"""CREATE OR REPLACE FUNCTION access_record_append_only()
RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  cutoff timestamp;
BEGIN
  IF TG_OP = 'DELETE' AND TG_TABLE_NAME = 'access_record' THEN
    EXECUTE 'SELECT max(purged_before) FROM ' || quote_ident(TG_TABLE_SCHEMA)
      || '.access_purge' INTO cutoff;
    IF OLD.created_at < cutoff THEN
      RETURN OLD;
    END IF;
  END IF;
  RAISE EXCEPTION USING
    MESSAGE = TG_OP || ' on ' || TG_TABLE_NAME || ' refused: {REFUSED}',
    ERRCODE = 'restrict_violation';
END;
$$"""

TABLES = ("access_record", "access_purge")

POSTGRESQL_UP = [POSTGRESQL_FUNCTION] + [
    statement
    for table in TABLES
    for statement in (
        f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
        "FOR EACH ROW EXECUTE FUNCTION access_record_append_only()",
        f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
        "FOR EACH STATEMENT EXECUTE FUNCTION access_record_append_only()",
    )
]

POSTGRESQL_DOWN = [
    statement
    for table in TABLES
    for statement in (
        f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}",
        f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}",
    )
] + ["DROP FUNCTION IF EXISTS access_record_append_only()"]

STATEMENTS = {
    "sqlite": (SQLITE_UP, SQLITE_DOWN),
    "postgresql": (POSTGRESQL_UP, POSTGRESQL_DOWN),
}


def _run(direction: int) -> None:
    dialect = op.get_bind().dialect.name
    if dialect not in STATEMENTS:
        raise NotImplementedError(f"no access record triggers for {dialect}")
    for statement in STATEMENTS[dialect][direction]:
        op.execute(statement)


def upgrade():
    _run(0)


def downgrade():
    _run(1)
