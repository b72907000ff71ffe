"""Database engine settings that SQLAlchemy URLs cannot express."""

from flask import Flask
from sqlalchemy import event, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from .extensions import db

# WAL lets readers and the writer work at once; FULL makes a commit durable before the
# thank-you page is shown; the busy timeout makes concurrent writers wait instead of fail.
SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=FULL",
    "PRAGMA busy_timeout=10000",
    "PRAGMA foreign_keys=ON",
)


def _set_sqlite_pragmas(dbapi_connection, _connection_record) -> None:
    cursor = dbapi_connection.cursor()
    try:
        for pragma in SQLITE_PRAGMAS:
            cursor.execute(pragma)
    finally:
        cursor.close()


def init_app(app: Flask) -> None:
    db.init_app(app)
    with app.app_context():
        engine: Engine = db.engine
        if engine.dialect.name == "sqlite":
            event.listen(engine, "connect", _set_sqlite_pragmas)


def add_once(row, key_column: str):
    """Add a row whose ``key_column`` is UNIQUE, unless one with that key exists already.

    Returns ``(row, True)`` for the new row, or ``(existing, False)``. The insert comes
    first and the constraint decides, so two requests racing with one key store one row on
    SQLite and PostgreSQL alike. On a duplicate the transaction is rolled back: call it
    first in a unit of work. The caller commits.
    """
    db.session.add(row)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        model = type(row)
        key = getattr(row, key_column)
        existing = (
            None if key is None else db.session.scalar(select(model).filter_by(**{key_column: key}))
        )
        if existing is None:  # not a duplicate key after all: a real error
            raise
        return existing, False
    return row, True
