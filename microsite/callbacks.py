"""The call-back promise: by when a navigator calls a family back, on business days.

A lead is due at the end of the CALLBACK_BUSINESS_DAYS-th business day after the day it
arrived, in DISPLAY_TIMEZONE. A lead arriving on a day off counts as arriving on the next
business day. Business days skip Saturdays, Sundays and HOLIDAYS. The promise is met when
the lead's status leaves "new" or a call note is written.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import current_app

from . import dates
from .models import Lead, utcnow

SATURDAY = 5


def is_business_day(day: date, holidays: Collection[date]) -> bool:
    return day.weekday() < SATURDAY and day not in holidays


def next_business_day(day: date, holidays: Collection[date]) -> date:
    """``day`` itself if it is a business day, else the first one after it."""
    while not is_business_day(day, holidays):
        day += timedelta(days=1)
    return day


def due_day(arrival_day: date, business_days: int, holidays: Collection[date]) -> date:
    """The business_days-th business day after ``arrival_day`` (moved to a business day)."""
    day = next_business_day(arrival_day, holidays)
    for _ in range(business_days):
        day = next_business_day(day + timedelta(days=1), holidays)
    return day


def due_at(
    arrival: datetime, business_days: int, holidays: Collection[date], zone: ZoneInfo
) -> datetime:
    """The UTC moment a lead arriving at ``arrival`` is due: the end (midnight, the start
    of the next day) of its due day in ``zone``. Daylight-saving changes move the UTC hour,
    never the day."""
    local_day = arrival.astimezone(zone).date()
    day = due_day(local_day, business_days, holidays)
    end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone)
    return end.astimezone(UTC)


def lead_due_at(arrival: datetime) -> datetime:
    """``due_at`` with this site's settings."""
    config = current_app.config
    return due_at(
        arrival, int(config["CALLBACK_BUSINESS_DAYS"]), config["HOLIDAY_DATES"], dates.zone()
    )


def promised_day(lead: Lead) -> date:
    """The last day of the promise, as the family reads it (the thanks page, the mail)."""
    return lead.callback_due_at.astimezone(dates.zone()).date() - timedelta(days=1)


def keep_promise(lead: Lead) -> None:
    """Mark the call back made (the status left "new", or a call note). The caller commits."""
    if lead.callback_met_at is None:
        lead.callback_met_at = utcnow()


DUE_STATES = {"overdue": "Overdue", "today": "Due today", "later": "Due later", "met": "Called"}


def due_state(lead: Lead, now: datetime | None = None) -> str | None:
    """overdue, today, later or met; None for a lead with no due time."""
    if lead.callback_met_at is not None:
        return "met"
    if lead.callback_due_at is None:
        return None
    now = now or utcnow()
    if lead.callback_due_at <= now:
        return "overdue"
    if lead.callback_due_at <= dates.end_of_today():
        return "today"
    return "later"
