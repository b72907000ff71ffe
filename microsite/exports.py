"""CSV exports of leads and referrals, streamed: the same bytes for the web and the CLI.

UTF-8 with a BOM (so spreadsheet programs read accents right), RFC 4180 quoting with CRLF,
ISO 8601 UTC timestamps. Text that a spreadsheet would run as a formula (starting with
=, +, -, @, tab or CR) gets a leading single quote, as OWASP advises; plain numbers and
E.164 phone numbers are left alone, and nothing else about a value changes. Rows are
fetched in batches, so memory stays flat whatever the row count.
"""

from __future__ import annotations

import csv
import io
import logging
import re
from collections.abc import Iterator
from datetime import date

from sqlalchemy import String, func, select, type_coerce

from . import dates
from .extensions import db
from .models import ExportLog, Lead, OutboxMessage, Referral

log = logging.getLogger(__name__)

BOM = "\ufeff".encode()
BATCH = 2000
_FORMULA_STARTS = frozenset("=+-@\t\r")
_NUMBER_OR_PHONE = re.compile(r"[+-]?(?:\d+(?:\.\d+)?|\.\d+)|\+[1-9]\d{1,14}")


def neutralize(cell: str) -> str:
    """A text cell a spreadsheet cannot run as a formula."""
    if cell and cell[0] in _FORMULA_STARTS and not _NUMBER_OR_PHONE.fullmatch(cell):
        return "'" + cell
    return cell


def utc_timestamp(value) -> str:
    """ISO 8601 in UTC with Z, from the raw column value (SQLite gives text, others a
    datetime; both are stored in UTC)."""
    if value is None:
        return ""
    if isinstance(value, str):  # "YYYY-MM-DD HH:MM:SS.ffffff"
        return value[:10] + "T" + value[11:19] + "Z"
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def _raw(column):
    """The column as the driver returns it: no per-value conversion in Python."""
    return type_coerce(column, String).label(column.key)


class Table:
    """What one CSV export is: its columns, the query, and which cells need care."""

    def __init__(self, kind: str, columns: list, date_column, timestamps=(), booleans=(), text=()):
        self.kind = kind
        self.columns = columns
        self.header = [c.key if hasattr(c, "key") else c.name for c in columns]
        self.date_column = date_column
        positions = {name: i for i, name in enumerate(self.header)}
        self.timestamps = [positions[n] for n in timestamps]
        self.booleans = [positions[n] for n in booleans]
        self.text = [positions[n] for n in text]

    def query(self, first: date | None, last: date | None):
        raise NotImplementedError


class LeadTable(Table):
    def __init__(self):
        super().__init__(
            "leads",
            [
                Lead.id, _raw(Lead.created_at), Lead.role, Lead.patient_age, Lead.diagnosis,
                Lead.diagnosis_other, Lead.treatment_stage, Lead.country, Lead.postal_code,
                Lead.name, Lead.email, Lead.phone, Lead.contact_method, Lead.consent_version,
                _raw(Lead.consent_at), Lead.updates_opt_in, Lead.status,
                Referral.code.label("referral_code"), Lead.utm_source, Lead.utm_medium,
                Lead.utm_campaign, Lead.utm_content, Lead.utm_term,
            ],
            Lead.created_at,
            timestamps=("created_at", "consent_at"),
            booleans=("updates_opt_in",),
            text=(
                "diagnosis_other", "postal_code", "name", "email", "phone", "referral_code",
                "utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term",
            ),
        )

    def query(self, first, last):
        start, end = dates.utc_range(first, last)
        query = select(*self.columns).outerjoin(Referral, Lead.referral_id == Referral.id)
        if start:
            query = query.where(Lead.created_at >= start)
        if end:
            query = query.where(Lead.created_at < end)
        return query.order_by(Lead.id)


class ReferralTable(Table):
    def __init__(self):
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
        super().__init__(
            "referrals",
            [
                Referral.id, _raw(Referral.created_at), Referral.code, Referral.sender_name,
                Referral.friend_name, Referral.friend_email, Referral.lead_id, Referral.clicks,
                _raw(Referral.first_click_at), _raw(Referral.last_click_at),
                attributed.label("leads_attributed"),
                func.coalesce(mail_status, "not_sent").label("mail_status"), Referral.kind,
            ],
            Referral.created_at,
            timestamps=("created_at", "first_click_at", "last_click_at"),
            text=("code", "sender_name", "friend_name", "friend_email"),
        )

    def query(self, first, last):
        start, end = dates.utc_range(first, last)
        query = select(*self.columns)
        if start:
            query = query.where(Referral.created_at >= start)
        if end:
            query = query.where(Referral.created_at < end)
        return query.order_by(Referral.id)


TABLES = {"leads": LeadTable(), "referrals": ReferralTable()}


def filename(kind: str) -> str:
    return f"{kind}-{dates.today().isoformat()}.csv"


class CsvExport:
    """An export in progress: iterate it for the bytes of the file. It is logged when it
    starts and again, with the number of rows, when it ends or is cut off."""

    def __init__(self, kind: str, first: date | None, last: date | None, actor: str):
        self.table = TABLES[kind]
        self.first, self.last = first, last
        self.filename = filename(kind)
        self.rows = 0
        self.record = ExportLog(
            actor=actor,
            kind=kind,
            filters={"from": first and first.isoformat(), "to": last and last.isoformat()},
        )
        db.session.add(self.record)
        db.session.commit()
        log.info("export %d of %s started", self.record.id, kind)

    def __iter__(self) -> Iterator[bytes]:
        table = self.table
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        result = db.session.execute(
            table.query(self.first, self.last).execution_options(yield_per=BATCH)
        )
        completed = False
        try:
            writer.writerow(table.header)
            yield BOM + buffer.getvalue().encode()
            for batch in result.partitions():
                buffer.seek(0)
                buffer.truncate()
                for row in batch:
                    cells = list(row)
                    for i in table.timestamps:
                        cells[i] = utc_timestamp(cells[i])
                    for i in table.booleans:
                        cells[i] = "true" if cells[i] else "false"
                    for i in table.text:
                        cell = cells[i]
                        if cell and cell[0] in _FORMULA_STARTS:
                            cells[i] = neutralize(cell)
                    writer.writerow(cells)
                self.rows += len(batch)
                yield buffer.getvalue().encode()
            completed = True
        finally:
            result.close()
            self._finish(completed)

    def _finish(self, completed: bool) -> None:
        record = db.session.get(ExportLog, self.record.id)
        record.rows = self.rows
        record.completed = completed
        db.session.commit()
        log.info(
            "export %d of %s %s: %d rows",
            record.id, record.kind, "finished" if completed else "cut off", self.rows,
        )


def recent_exports(limit: int = 10) -> list[ExportLog]:
    return list(db.session.scalars(select(ExportLog).order_by(ExportLog.id.desc()).limit(limit)))
