"""What the staff dashboard shows: counts, leads per day, the referral funnel, the lead list
with its search and filters, recent exports and the outbox. ``dashboard()`` gathers it all."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import func, or_, select

from . import dates, exports, mail
from .extensions import db
from .models import Lead, Referral

CHART_DAYS = 30


def lead_counts() -> dict[str, int]:
    """Leads today, in the last 7 and 30 days (days in DISPLAY_TIMEZONE), and in all."""
    today = dates.today()

    def since(days_back: int) -> int:
        start = dates.start_of(today - timedelta(days=days_back))
        return db.session.scalar(select(func.count(Lead.id)).where(Lead.created_at >= start))

    return {
        "today": since(0),
        "7 days": since(6),
        "30 days": since(29),
        "all time": db.session.scalar(select(func.count(Lead.id))),
    }


def leads_per_day(days: int = CHART_DAYS) -> list[tuple[date, int]]:
    """(day, leads) for each of the last ``days`` days, oldest first, zeros included."""
    today = dates.today()
    first = today - timedelta(days=days - 1)
    zone = dates.zone()
    created = db.session.scalars(
        select(Lead.created_at).where(Lead.created_at >= dates.start_of(first))
    )
    per_day = Counter(moment.astimezone(zone).date() for moment in created)
    return [(first + timedelta(days=n), per_day[first + timedelta(days=n)]) for n in range(days)]


def referral_funnel() -> dict[str, int]:
    shared = select(func.count(Referral.id)).where(Referral.kind == "share")
    clicks = select(func.coalesce(func.sum(Referral.clicks), 0))
    attributed = select(func.count(Lead.id)).where(Lead.referral_id.is_not(None))
    return {
        "referrals sent": db.session.scalar(shared),
        "link clicks": db.session.scalar(clicks),
        "leads attributed": db.session.scalar(attributed),
    }


@dataclass
class LeadFilters:
    search: str = ""
    first: date | None = None
    last: date | None = None
    diagnosis: str = ""
    country: str = ""
    status: str = ""
    language: str = ""

    def query(self):
        query = select(Lead).order_by(Lead.created_at.desc(), Lead.id.desc())
        if self.search:
            query = query.where(
                or_(
                    Lead.name.icontains(self.search, autoescape=True),
                    Lead.email.icontains(self.search, autoescape=True),
                    Lead.phone.icontains(self.search, autoescape=True),
                )
            )
        query = dates.on_days(query, Lead.created_at, self.first, self.last)
        for column, value in (
            (Lead.diagnosis, self.diagnosis),
            (Lead.country, self.country),
            (Lead.status, self.status),
            (Lead.language, self.language),
        ):
            if value:
                query = query.where(column == value)
        return query


def lead_page(filters: LeadFilters, page: int, per_page: int = 25):
    return db.paginate(filters.query(), page=page, per_page=per_page, error_out=False)


@dataclass(frozen=True)
class Dashboard:
    page: object  # a Flask-SQLAlchemy Pagination of leads
    counts: dict[str, int]
    per_day: list[tuple[date, int]]
    busiest: int
    funnel: dict[str, int]
    exports: list
    outbox: dict[str, int]
    failed_messages: list


def dashboard(filters: LeadFilters, page_number: int) -> Dashboard:
    per_day = leads_per_day()
    return Dashboard(
        page=lead_page(filters, page_number),
        counts=lead_counts(),
        per_day=per_day,
        busiest=max((n for _, n in per_day), default=0),
        funnel=referral_funnel(),
        exports=exports.recent_exports(),
        outbox=mail.status_counts(),
        failed_messages=mail.failed_messages(limit=10),
    )
