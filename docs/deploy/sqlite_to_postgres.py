"""Copy a Trial Finder SQLite database into PostgreSQL, row for row.

Stop the site and the timers, create the tables in the empty PostgreSQL database with
`flask --app microsite db upgrade` (DATABASE_URL pointing at it), then, from the checkout:

    .venv/bin/python docs/deploy/sqlite_to_postgres.py instance/microsite.sqlite3 \
        'postgresql+psycopg://microsite:DB-PASSWORD@127.0.0.1:5432/microsite'

Every table of the app's models is copied in foreign-key order, in one transaction, through
the models' own column types (timestamps stay UTC, JSON stays JSON); then each id sequence
is moved past the highest id. It refuses a target that holds any row already, or that is at
another migration than the source. The SQLite file is opened read-only.
"""

from __future__ import annotations

import sys
from pathlib import Path

from sqlalchemy import create_engine, func, select, text

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the checkout

from microsite import models  # noqa: E402,F401  (defines the tables)
from microsite.extensions import db  # noqa: E402

BATCH = 2000


def migration(connection) -> list[str]:
    return sorted(connection.execute(text("SELECT version_num FROM alembic_version")).scalars())


def copy(sqlite_file: str, postgres_url: str) -> None:
    if not Path(sqlite_file).is_file():
        sys.exit(f"no such file: {sqlite_file}")
    source = create_engine(f"sqlite:///file:{Path(sqlite_file).resolve()}?mode=ro&uri=true")
    target = create_engine(postgres_url)
    if target.dialect.name != "postgresql":
        sys.exit("the target must be a postgresql+psycopg:// URL")
    tables = db.metadata.sorted_tables  # parents before children
    with source.connect() as reading, target.begin() as writing:
        if migration(reading) != migration(writing):
            sys.exit(
                f"migrations differ: SQLite {migration(reading)}, PostgreSQL "
                f"{migration(writing)}; run flask db upgrade on both first"
            )
        for table in tables:
            if writing.execute(select(func.count()).select_from(table)).scalar_one():
                sys.exit(f"PostgreSQL table {table.name} is not empty: refusing to copy")
        for table in tables:
            rows = 0
            result = reading.execution_options(yield_per=BATCH).execute(select(table))
            for batch in result.mappings().partitions():
                writing.execute(table.insert(), [dict(row) for row in batch])
                rows += len(batch)
            print(f"{table.name}: {rows} rows")
        quote = writing.dialect.identifier_preparer.quote
        for table in tables:
            key = list(table.primary_key.columns)
            if len(key) == 1 and key[0].type.python_type is int:
                writing.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence(:table, :column), "
                        f"COALESCE(MAX({quote(key[0].name)}), 0) + 1, false) "
                        f"FROM {quote(table.name)}"
                    ),
                    {"table": table.name, "column": key[0].name},
                )
    print("Copied; sequences moved past the highest ids.")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    copy(sys.argv[1], sys.argv[2])
