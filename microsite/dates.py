"""Days as staff mean them: calendar days in DISPLAY_TIMEZONE, turned into UTC ranges."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import click
from flask import current_app

from .models import utcnow


class BadDate(ValueError):
    """A date filter that is not a real YYYY-MM-DD day; the message says which."""


def zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["DISPLAY_TIMEZONE"])


def today() -> date:
    return utcnow().astimezone(zone()).date()


def parse_day(text: str | None, name: str) -> date | None:
    """An optional YYYY-MM-DD filter value."""
    if not text:
        return None
    try:
        if len(text) != 10:
            raise ValueError
        return date.fromisoformat(text)
    except ValueError:
        raise BadDate(f"“{name}” must be a date written YYYY-MM-DD, like 2026-01-31.") from None


def option_day(name: str):
    """A click callback reading a command's optional YYYY-MM-DD option called ``name``."""

    def convert(ctx, param, value):
        try:
            return parse_day(value, name)
        except BadDate as problem:
            raise click.BadParameter(str(problem)) from None

    return convert


def end_of_today() -> datetime:
    """The UTC moment today ends in DISPLAY_TIMEZONE: a call back due by then is due today."""
    return start_of(today() + timedelta(days=1))


def start_of(day: date) -> datetime:
    """The UTC moment a display-zone day begins."""
    return datetime.combine(day, time.min, tzinfo=zone()).astimezone(ZoneInfo("UTC"))


# Days outside these years bound nothing a lead could have, and near date.min and
# date.max the arithmetic would overflow: they leave that end of the range open.
_FIRST_YEAR, _LAST_YEAR = 1900, 9000


def utc_range(first: date | None, last: date | None) -> tuple[datetime | None, datetime | None]:
    """[start, end) in UTC for the days first..last inclusive, either end open."""
    if first and not _FIRST_YEAR <= first.year <= _LAST_YEAR:
        first = None if first.year < _FIRST_YEAR else date(_LAST_YEAR, 1, 1)
    if last and not _FIRST_YEAR <= last.year <= _LAST_YEAR:
        last = None if last.year > _LAST_YEAR else date(_FIRST_YEAR - 1, 12, 31)
    return (
        start_of(first) if first else None,
        start_of(last + timedelta(days=1)) if last else None,
    )


def on_days(query, column, first: date | None, last: date | None):
    """``query`` kept to the rows whose UTC ``column`` falls on the display-zone days
    first..last inclusive (either end open): the filter of the dashboard, the CSV exports
    and the CLI."""
    start, end = utc_range(first, last)
    if start:
        query = query.where(column >= start)
    if end:
        query = query.where(column < end)
    return query


def add_months(moment: datetime, months: int) -> datetime:
    """The same time ``months`` calendar months later (the 31st becomes the month's last
    day when the month is shorter)."""
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    following = date(year + month // 12, month % 12 + 1, 1)
    last_day = (following - timedelta(days=1)).day
    return moment.replace(year=year, month=month, day=min(moment.day, last_day))


def months_between(earlier: date, later: date) -> int:
    """Whole calendar months from ``earlier`` to ``later`` (0 when later is not later):
    a child said to be 4 on 15 March is 4 years and 2 months on 15 May."""
    months = (later.year - earlier.year) * 12 + later.month - earlier.month
    if later.day < earlier.day:
        months -= 1
    return max(0, months)
