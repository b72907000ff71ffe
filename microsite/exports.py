"""CSV exports of leads and referrals, streamed: the same bytes for the web and the CLI.

UTF-8 with a BOM (so spreadsheet programs read accents right), RFC 4180 quoting with CRLF,
ISO 8601 UTC timestamps. Text that a spreadsheet would run as a formula (starting with
=, +, -, @, tab or CR) gets a leading single quote, as OWASP advises; plain numbers and
E.164 phone numbers are left alone, and nothing else about a value changes.

The database formats every cell (see csvsql.py) and rows come straight from the driver's
cursor in batches, which the csv module writes in C: memory stays flat and time stays
close to the database's own CSV output, whatever the row count.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Iterator
from datetime import date

from sqlalchemy import case, func, select

from . import access, alerts, dates
from .csvsql import csv_safe, utc_text, words_in_order
from .extensions import db
from .models import (
    ExportLog,
    Lead,
    LeadMatch,
    OutboxMessage,
    Referral,
    StaffUser,
    TrialAlert,
    utcnow,
)

log = logging.getLogger(__name__)

BOM = "\ufeff".encode()
BATCH = 2000


def _boolean(column):
    return case((column, "true"), else_="false").label(column.key)


def _text(column, name: str | None = None):
    """A text column, safe from spreadsheet formulas, under its own name or ``name``."""
    return csv_safe(column).label(name or column.key)


def _time(column):
    """A timestamp column as ISO 8601 UTC text, under its own name."""
    return utc_text(column).label(column.key)


def _lead_query():
    return (
        select(
            Lead.id,
            _time(Lead.created_at),
            Lead.role,
            Lead.patient_age,
            Lead.diagnosis,
            _text(Lead.diagnosis_other),
            Lead.treatment_stage,
            Lead.country,
            _text(Lead.postal_code),
            _text(Lead.name),
            _text(Lead.email),
            _text(Lead.phone),
            Lead.contact_method,
            Lead.consent_version,
            _time(Lead.consent_at),
            _boolean(Lead.updates_opt_in),
            Lead.status,
            _text(Referral.code, "referral_code"),
            *(
                _text(column)
                for column in (
                    Lead.utm_source,
                    Lead.utm_medium,
                    Lead.utm_campaign,
                    Lead.utm_content,
                    Lead.utm_term,
                )
            ),
            # The trials shown to the family, in rank order (NCT ids need no formula guard).
            func.coalesce(
                words_in_order(LeadMatch.nct_id, LeadMatch.rank, LeadMatch.lead_id == Lead.id), ""
            ).label("matched_nct_ids"),
            # Added with distance matching: empty when not answered, not located or no match.
            Lead.travel_distance.label("travel_distance_km"),
            Lead.nearest_site_km,
            Lead.language,
            # Added with the work queue: the navigator's email (empty when unassigned) and the
            # call back promised (empty for leads that arrived before due times).
            _text(StaffUser.email, "assigned_to"),
            _time(Lead.callback_due_at),
            # Added with trial alerts: none, pending, active, paused, expired or stopped.
            alerts.state_column(utcnow()).label("trial_alerts"),
        )
        .outerjoin(Referral, Lead.referral_id == Referral.id)
        .outerjoin(StaffUser, Lead.assigned_to_id == StaffUser.id)
        .outerjoin(TrialAlert, TrialAlert.lead_id == Lead.id)
    )


def _referral_query():
    attributed = (
        select(func.count(Lead.id)).where(Lead.referral_id == Referral.id).scalar_subquery()
    )
    mail_status = (
        select(OutboxMessage.status)
        .where(OutboxMessage.referral_id == Referral.id)
        .order_by(OutboxMessage.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    return select(
        Referral.id,
        _time(Referral.created_at),
        _text(Referral.code),
        _text(Referral.sender_name),
        _text(Referral.friend_name),
        _text(Referral.friend_email),
        Referral.lead_id,
        Referral.clicks,
        _time(Referral.first_click_at),
        _time(Referral.last_click_at),
        attributed.label("leads_attributed"),
        func.coalesce(mail_status, "not_sent").label("mail_status"),
        Referral.kind,
    )


# Each export: its query (columns in the order of the file) and the column it is dated by.
TABLES = {
    "leads": (_lead_query, Lead.created_at, Lead.id),
    "referrals": (_referral_query, Referral.created_at, Referral.id),
}


def statement(kind: str, first: date | None, last: date | None, assigned_to: int | None = None):
    """The export's query; ``assigned_to`` keeps a leads export to one member's leads."""
    build, dated_by, order_by = TABLES[kind]
    query = dates.on_days(build(), dated_by, first, last).order_by(order_by)
    if assigned_to is not None:
        query = query.where(Lead.assigned_to_id == assigned_to)
    return query


def _driver_batches(query) -> Iterator[list[tuple]]:
    """The rows as the database driver returns them, a batch at a time. PostgreSQL gets a
    server-side cursor, so rows are never all in memory."""
    connection = db.session.connection()
    sql = str(query.compile(connection, compile_kwargs={"literal_binds": True}))
    server_side = {"name": "csv_export"} if connection.dialect.name == "postgresql" else {}
    cursor = connection.connection.cursor(**server_side)
    try:
        cursor.execute(sql)
        while batch := cursor.fetchmany(BATCH):
            yield batch
    finally:
        cursor.close()


def filename(kind: str) -> str:
    return f"{kind}-{dates.today().isoformat()}.csv"


def describe(kind: str, filters: dict) -> str:
    """An export as the access record names it: "leads.csv: from 2026-01-01"."""
    given = ", ".join(f"{name} {value}" for name, value in filters.items() if value is not None)
    return f"{kind}.csv: {given or 'no filters'}"


class CsvExport:
    """An export in progress: iterate it for the bytes of the file. It is logged when it
    starts (in the export log and the access record) and again, with the number of rows,
    when it ends or is cut off. ``query`` and ``filters`` make an export of something
    ``TABLES`` does not list (``access_export``)."""

    def __init__(
        self,
        kind: str,
        first: date | None,
        last: date | None,
        actor: str,
        assigned_to: int | None = None,
        *,
        query=None,
        filters: dict | None = None,
    ):
        self.query = statement(kind, first, last, assigned_to) if query is None else query
        self.header = [column.key for column in self.query.selected_columns]
        self.filename = filename(kind)
        self.rows = 0
        self.record = ExportLog(
            actor=actor,
            kind=kind,
            filters=filters
            or {
                "from": first and first.isoformat(),
                "to": last and last.isoformat(),
                **({"assigned_to": assigned_to} if assigned_to is not None else {}),
            },
        )
        db.session.add(self.record)
        access.record("export", detail=describe(kind, self.record.filters))
        db.session.commit()
        log.info("export %d of %s started", self.record.id, kind)

    def __iter__(self) -> Iterator[bytes]:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(self.header)
        completed = False
        try:
            yield BOM + buffer.getvalue().encode()
            for batch in _driver_batches(self.query):
                buffer.seek(0)
                buffer.truncate()
                writer.writerows(batch)
                self.rows += len(batch)
                yield buffer.getvalue().encode()
            completed = True
        finally:
            self._finish(completed)

    def _finish(self, completed: bool) -> None:
        record = db.session.get(ExportLog, self.record.id)
        record.rows = self.rows
        record.completed = completed
        db.session.commit()
        log.info(
            "export %d of %s %s: %d rows",
            record.id,
            record.kind,
            "finished" if completed else "cut off",
            self.rows,
        )


def access_export(filters: access.AccessFilters, actor: str) -> CsvExport:
    """The access record as CSV, kept to ``filters``: the audit page's download and
    ``flask audit export``, the same bytes."""
    return CsvExport(
        "access",
        filters.first,
        filters.last,
        actor,
        query=access.csv_query(filters),
        filters=filters.described(),
    )


def recent_exports(limit: int = 10) -> list[ExportLog]:
    return list(db.session.scalars(select(ExportLog).order_by(ExportLog.id.desc()).limit(limit)))
