"""CSV exports of leads and referrals, streamed: the same bytes for the web and the CLI.

UTF-8 with a BOM (so spreadsheet programs read accents right), RFC 4180 quoting with CRLF,
ISO 8601 UTC timestamps. Text that a spreadsheet would run as a formula (starting with
=, +, -, @, tab or CR) gets a leading single quote, as OWASP advises; plain numbers and
E.164 phone numbers are left alone, and nothing else about a value changes. A cell is
quoted only when it holds a comma, a double quote, CR or LF, as the csv module's
QUOTE_MINIMAL does.

The database formats every cell (see csvsql.py) and builds the rows, so Python handles a
string a row, not a Python object a cell:
- SQLite joins a row's cells into one text with U+001F between them (``joined_cells``);
  a row with no comma, quote, CR or LF (nearly all) becomes its line by turning the
  separators into commas, any other goes through the csv module cell by cell.
- PostgreSQL writes the CSV itself: ``COPY (query) TO STDOUT WITH (FORMAT csv)``, read
  from psycopg a batch of rows at a time. COPY ends a row with LF, so each row's last
  byte becomes CRLF; it quotes an empty text (to tell it from NULL), so the query turns
  empty texts into NULL, which both the csv module and COPY write as nothing.
Memory stays flat, whatever the row count.
"""

from __future__ import annotations

import csv
import io
import logging
import re
from collections.abc import Iterator
from datetime import date
from itertools import islice

from sqlalchemy import String, case, func, select

from . import access, alerts, dates
from .csvsql import CELL_SEPARATOR, csv_safe, joined_cells, utc_text, words_in_order
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


def _sql(query, connection) -> str:
    return str(query.compile(connection, compile_kwargs={"literal_binds": True}))


def _batches(query) -> Iterator[tuple[int, bytes]]:
    """The rows of ``query`` as CSV bytes, a batch at a time: (rows, bytes)."""
    connection = db.session.connection()
    if connection.dialect.name == "postgresql":
        return _copy_batches(query, connection)
    return _sqlite_batches(query, connection)


# What a joined row cannot hold to become its line by turning separators into commas.
_CSV_SPECIALS = ('"', ",", "\r", "\n")
_NEEDS_CSV_MODULE = re.compile('[",\r\n]').search
# Between the joined rows of a batch, while it becomes CSV: one more control character.
_ROW_END = "\x1e"


def _sqlite_batches(query, connection) -> Iterator[tuple[int, bytes]]:
    cells = [getattr(column, "element", column) for column in query.selected_columns]
    joined = query.with_only_columns(joined_cells(*cells), maintain_column_froms=True)
    separators = len(cells) - 1
    cursor = connection.connection.cursor()
    fallback = None
    done = 0
    try:
        cursor.execute(_sql(joined, connection))
        while batch := cursor.fetchmany(BATCH):
            rows = [row for (row,) in batch]
            text = _ROW_END.join(rows)
            if (
                text.count(CELL_SEPARATOR) == separators * len(rows)
                and text.count(_ROW_END) == len(rows) - 1
            ):
                if any(special in text for special in _CSV_SPECIALS):
                    text = _rows_through_csv_module(text)
                text = text.replace(CELL_SEPARATOR, ",").replace(_ROW_END, "\r\n")
            else:
                # A cell holds U+001F or U+001E itself (nothing the app stores does): row by
                # row, and such a row's cells come one by one from the query, as they are.
                lines = []
                for index, row in enumerate(rows, start=done):
                    if row.count(CELL_SEPARATOR) != separators:
                        fallback = fallback or _RowsAfter(query, connection, index)
                        lines.append(_line(fallback.row(index)))
                    elif _NEEDS_CSV_MODULE(row) is None:
                        lines.append(row.replace(CELL_SEPARATOR, ","))
                    else:
                        lines.append(_line(row.split(CELL_SEPARATOR)))
                text = "\r\n".join(lines)
            done += len(rows)
            yield len(rows), (text + "\r\n").encode()
    finally:
        cursor.close()
        if fallback is not None:
            fallback.close()


def _rows_through_csv_module(text: str) -> str:
    """A batch's joined rows, those holding a comma, quote, CR or LF written by the csv
    module (found where those characters are, with str.find, not row by row)."""
    starts = set()
    for special in _CSV_SPECIALS:
        position = text.find(special)
        while position != -1:
            starts.add(text.rfind(_ROW_END, 0, position) + 1)
            position = text.find(special, position + 1)
    parts, done = [], 0
    for first in sorted(starts):
        end = text.find(_ROW_END, first)
        end = len(text) if end == -1 else end
        parts += (text[done:first], _line(text[first:end].split(CELL_SEPARATOR)))
        done = end
    parts.append(text[done:])
    return "".join(parts)


def _line(cells) -> str:
    """One row as the csv module writes it, without its line end (which must be CRLF all
    the same: the module quotes a cell that holds a character of its line end)."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow(cells)
    return buffer.getvalue()[:-2]


class _RowsAfter:
    """The cells of ``query``'s rows, from row ``first`` on (counted from 0), read on the
    same connection while the joined rows are still being read, so from the same
    snapshot and in the same order."""

    def __init__(self, query, connection, first: int):
        self.cursor = connection.connection.cursor()
        self.cursor.execute(_sql(query, connection))
        self.position = 0
        self.skip_to(first)

    def skip_to(self, index: int) -> None:
        while self.position < index:
            self.cursor.fetchone()
            self.position += 1

    def row(self, index: int) -> tuple:
        self.skip_to(index)
        self.position += 1
        return self.cursor.fetchone()

    def close(self) -> None:
        self.cursor.close()


def copy_sql(query, connection) -> str:
    """The COPY statement of ``query`` on PostgreSQL (``bench.export`` runs it in psql)."""
    cells = [
        func.nullif(getattr(column, "element", column), "").label(column.key)
        if isinstance(column.type, String)
        else column
        for column in query.selected_columns
    ]
    select_sql = _sql(query.with_only_columns(*cells, maintain_column_froms=True), connection)
    return f"COPY ({select_sql}) TO STDOUT WITH (FORMAT csv)"


def _copy_batches(query, connection) -> Iterator[tuple[int, bytes]]:
    raw = connection.connection.driver_connection
    with (
        raw.cursor() as cursor,
        cursor.copy(copy_sql(query, connection)) as copy,
    ):
        # COPY sends one message a row, each ending with LF.
        while batch := list(islice(copy, BATCH)):
            data = b"".join(batch)
            if data.count(b"\n") == len(batch):  # no cell holds LF: every LF ends a row
                data = data.replace(b"\n", b"\r\n")
            else:
                data = b"".join(bytes(row[:-1]) + b"\r\n" for row in batch)
            yield len(batch), data


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
        csv.writer(buffer, lineterminator="\r\n").writerow(self.header)
        completed = False
        try:
            yield BOM + buffer.getvalue().encode()
            for rows, data in _batches(self.query):
                self.rows += rows
                yield data
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
