"""The access record: who viewed which lead page, exported which CSV, erased whom, changed
what in the team; with the session it was done in.

The rules:
- Append-only, for real: the database itself refuses UPDATE and DELETE on
  ``access_record`` and ``access_purge`` (and TRUNCATE on PostgreSQL), with the triggers of
  ``TRIGGERS``, whatever program sends the SQL. ``db.create_all()`` makes them with the
  tables; the migration ``67a2e3f3343e`` makes them on a migrated database.
- The one exception is the purge (``purge``): it first adds an ``AccessPurge`` row naming
  its cutoff, then deletes the entries older than that cutoff, in one transaction. The
  triggers let a DELETE through only for an entry older than the latest cutoff, and an
  AccessPurge row can never be changed or deleted: every purge leaves its trace.
- Entries are kept ``ACCESS_RECORD_RETENTION_DAYS`` (six years by default); ``flask
  leads purge --yes`` purges them with the rest (``erasure.purge``).
- An entry names a lead by its id only, never a family's name, address or health data:
  ``detail`` holds a staff email (team changes), an export's filters, or an erasure's
  reason and counts.
- The audit page (``entries``), the lead page (``lead_viewers``), its CSV and ``flask audit
  export`` (``csv_query``) read it.
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass
from datetime import date, timedelta

from flask import current_app, has_request_context
from flask_login import current_user
from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import DDL, delete, event, func, select

from . import auth, dates
from .csvsql import csv_safe, utc_text
from .extensions import db
from .models import AccessPurge, AccessRecord, utcnow

ACTIONS = {
    "lead viewed": "Opened the lead page",
    "matches reviewed": "Marked a lead's new matches reviewed",
    "export": "Exported a CSV",
    "erasure": "Erased a person's data",
    "invite": "Invited a member",
    "role": "Changed a member's role",
    "disable": "Disabled a member",
    "enable": "Enabled a member",
    "session ended": "Ended a session",
    "password reset": "Sent a password-reset link",
    "password changed": "Changed their password",
    "languages": "Changed a member's languages",
    "factor added": "Added a sign-in method (passkey or authenticator app)",
    "factor removed": "Removed a sign-in method",
    "recovery codes": "Made new recovery codes",
    "recovery code used": "Signed in with a recovery code",
    "mfa reset": "Reset a member's sign-in methods",
}

# Who did it when no staff member is signed in: the public site (a family withdrawing).
PUBLIC_ACTOR = "public site"

DETAIL_LENGTH = 400  # AccessRecord.detail


def record(
    action: str,
    lead_id: int | None = None,
    detail: str | None = None,
    *,
    actor: str | None = None,
) -> AccessRecord:
    """Add one entry, by the signed-in member (or the command line's user, or ``actor``
    when given: ``PUBLIC_ACTOR`` for the public site). The caller commits."""
    if action not in ACTIONS:
        raise ValueError(f"unknown access action {action!r}")
    if detail is not None and len(detail) > DETAIL_LENGTH:
        detail = detail[: DETAIL_LENGTH - 1] + "…"
    if actor is None and has_request_context() and current_user.is_authenticated:
        row = auth.current_session()
        entry = AccessRecord(
            staff_id=current_user.id,
            actor=current_user.email,
            session_id=row.id if row is not None else None,
            action=action,
            lead_id=lead_id,
            detail=detail,
        )
    else:
        if actor is None:
            actor = PUBLIC_ACTOR if has_request_context() else f"cli:{getpass.getuser()}"
        entry = AccessRecord(actor=actor, action=action, lead_id=lead_id, detail=detail)
    db.session.add(entry)
    return entry


# --- Append-only, in the database ----------------------------------------------------------

# No quote marks in it: it goes inside SQL string literals.
_REFUSED = (
    "the access record is append-only: only entries older than the cutoff of the last "
    "purge may be deleted, by the purge"
)

# SQLite keeps these timestamps as text, 'YYYY-MM-DD HH:MM:SS.ffffff', which sorts as time
# does: the cutoff is compared as text. No purge yet (NULL): nothing may be deleted.
_SQLITE = {
    "access_record": [
        f"""CREATE TRIGGER access_record_no_update BEFORE UPDATE ON access_record
BEGIN SELECT RAISE(ABORT, '{_REFUSED}'); END""",
        f"""CREATE TRIGGER access_record_no_delete BEFORE DELETE ON access_record
WHEN (SELECT max(purged_before) FROM access_purge) IS NULL
  OR OLD.created_at >= (SELECT max(purged_before) FROM access_purge)
BEGIN SELECT RAISE(ABORT, '{_REFUSED}'); END""",
    ],
    "access_purge": [
        f"""CREATE TRIGGER access_purge_no_update BEFORE UPDATE ON access_purge
BEGIN SELECT RAISE(ABORT, '{_REFUSED}'); END""",
        f"""CREATE TRIGGER access_purge_no_delete BEFORE DELETE ON access_purge
BEGIN SELECT RAISE(ABORT, '{_REFUSED}'); END""",
    ],
}

# One function for both tables and every operation; the purge's cutoff is read from the
# schema of the table the trigger fired on. No '%' anywhere: DDL and the driver would both
# read it as a placeholder.
_POSTGRESQL_FUNCTION = f"""CREATE OR REPLACE FUNCTION access_record_append_only()
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
    MESSAGE = TG_OP || ' on ' || TG_TABLE_NAME || ' refused: {_REFUSED}',
    ERRCODE = 'restrict_violation';
END;
$$"""


def _postgresql(table: str) -> list[str]:
    return [
        _POSTGRESQL_FUNCTION,
        f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
        "FOR EACH ROW EXECUTE FUNCTION access_record_append_only()",
        f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
        "FOR EACH STATEMENT EXECUTE FUNCTION access_record_append_only()",
    ]


# dialect -> table -> the statements that follow the table's CREATE TABLE.
TRIGGERS = {
    "sqlite": _SQLITE,
    "postgresql": {table: _postgresql(table) for table in ("access_record", "access_purge")},
}

for _dialect, _tables in TRIGGERS.items():
    for _table, _statements in _tables.items():
        for _statement in _statements:
            event.listen(
                db.metadata.tables[_table],
                "after_create",
                DDL(_statement).execute_if(dialect=_dialect),
            )


# --- The purge -----------------------------------------------------------------------------


def purge(days: int | None = None, dry_run: bool = False) -> int:
    """Remove the entries older than ``days`` (default ACCESS_RECORD_RETENTION_DAYS):
    an AccessPurge row with the cutoff first, then the DELETE the triggers now allow.
    Returns how many entries go (or would go, in a dry run). The caller commits."""
    days = current_app.config["ACCESS_RECORD_RETENTION_DAYS"] if days is None else days
    if days < 1:
        raise ValueError("the access record is kept one day at least")
    cutoff = utcnow() - timedelta(days=days)
    older = AccessRecord.created_at < cutoff
    removed = db.session.scalar(select(func.count()).select_from(AccessRecord).where(older))
    if dry_run or not removed:
        return removed
    db.session.add(AccessPurge(purged_before=cutoff, removed=removed))
    db.session.flush()
    db.session.execute(
        delete(AccessRecord).where(older), execution_options={"synchronize_session": False}
    )
    return removed


# --- Reading it ----------------------------------------------------------------------------


@dataclass(frozen=True)
class AccessFilters:
    """What the audit page, its CSV and ``flask audit export`` are kept to: a staff
    member, a lead, days in DISPLAY_TIMEZONE (first..last inclusive); None: any."""

    staff_id: int | None = None
    lead_id: int | None = None
    first: date | None = None
    last: date | None = None

    def apply(self, query):
        if self.staff_id is not None:
            query = query.where(AccessRecord.staff_id == self.staff_id)
        if self.lead_id is not None:
            query = query.where(AccessRecord.lead_id == self.lead_id)
        return dates.on_days(query, AccessRecord.created_at, self.first, self.last)

    def described(self) -> dict:
        """The filters as an export's log keeps them."""
        return {
            "staff": self.staff_id,
            "lead": self.lead_id,
            "from": self.first and self.first.isoformat(),
            "to": self.last and self.last.isoformat(),
        }


PER_PAGE = 50


def entries(filters: AccessFilters, page: int = 1, per_page: int = PER_PAGE) -> Pagination:
    """The entries the filters keep, newest first, a page at a time."""
    query = filters.apply(select(AccessRecord)).order_by(
        AccessRecord.created_at.desc(), AccessRecord.id.desc()
    )
    return db.paginate(query, page=page, per_page=per_page, error_out=False)


def lead_viewers(lead_id: int, limit: int = 50) -> list[AccessRecord]:
    """Who opened this lead's page and when (``actor``, ``staff_id``, ``session_id``,
    ``created_at``), newest first, at most ``limit`` views."""
    query = (
        select(AccessRecord)
        .where(AccessRecord.lead_id == lead_id, AccessRecord.action == "lead viewed")
        .order_by(AccessRecord.created_at.desc(), AccessRecord.id.desc())
        .limit(limit)
    )
    return list(db.session.scalars(query))


def csv_query(filters: AccessFilters):
    """The entries as CSV rows (``exports.access_export``), oldest first: times in ISO
    8601 UTC with Z, text a spreadsheet would run as a formula quoted."""
    query = select(
        utc_text(AccessRecord.created_at).label("created_at"),
        csv_safe(AccessRecord.actor).label("actor"),
        AccessRecord.staff_id,
        AccessRecord.session_id,
        AccessRecord.action,
        AccessRecord.lead_id,
        csv_safe(AccessRecord.detail).label("detail"),
    )
    return filters.apply(query).order_by(AccessRecord.created_at, AccessRecord.id)
