"""What the staff dashboard shows: the work queue (the member's own leads and the unassigned
ones, by call-back due time, with counts of overdue and due today), counts, leads per day,
the referral funnel, the lead list with its search and filters, recent exports and the
outbox. ``dashboard()`` gathers it all."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import and_, exists, func, literal, not_, or_, select
from sqlalchemy.orm import aliased, joinedload

from . import dates, exports, mail
from .choices import OPEN_LEAD_STATUSES
from .extensions import db
from .models import AccessRecord, Lead, LeadTrial, Referral, StaffUser, utcnow

CHART_DAYS = 30
QUEUE_LENGTH = 50


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


def _speaks(member, language):
    """SQL: the member's languages ("en,es") include ``language``."""
    return (literal(",") + member.languages + literal(",")).contains(
        literal(",") + language + literal(",")
    )


def _held_by_nobody():
    """SQL: the lead is unassigned, or its navigator has been disabled: nobody will call."""
    holder = aliased(StaffUser)
    return or_(
        Lead.assigned_to_id.is_(None),
        exists().where(holder.id == Lead.assigned_to_id, holder.active.is_(False)),
    )


def _no_caller_speaks():
    """SQL: nobody who would call the lead speaks its language: its (active) navigator
    does not, or, held by nobody, no active member does."""
    assignee = aliased(StaffUser)
    anyone = aliased(StaffUser)
    assigned_without = exists().where(
        assignee.id == Lead.assigned_to_id,
        assignee.active.is_(True),
        not_(_speaks(assignee, Lead.language)),
    )
    nobody_at_all = not_(exists().where(anyone.active.is_(True), _speaks(anyone, Lead.language)))
    return or_(assigned_without, and_(_held_by_nobody(), nobody_at_all))


def _due(state: str, now, end_of_today):
    waiting = and_(Lead.callback_met_at.is_(None), Lead.callback_due_at.is_not(None))
    return {
        "overdue": and_(waiting, Lead.callback_due_at <= now),
        "today": and_(waiting, Lead.callback_due_at > now, Lead.callback_due_at <= end_of_today),
        "later": and_(waiting, Lead.callback_due_at > end_of_today),
        "met": Lead.callback_met_at.is_not(None),
    }[state]


@dataclass
class LeadFilters:
    search: str = ""
    first: date | None = None
    last: date | None = None
    diagnosis: str = ""
    country: str = ""
    status: str = ""
    language: str = ""
    # "" any, "none" unassigned, or a staff id as text
    assignee: str = ""
    due: str = ""  # "" any, or overdue, today, later, met
    language_gap: bool = False  # only leads no caller speaks the language of

    def query(self):
        query = (
            select(Lead)
            .options(joinedload(Lead.assigned_to))
            .order_by(Lead.created_at.desc(), Lead.id.desc())
        )
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
        if self.assignee == "none":
            query = query.where(Lead.assigned_to_id.is_(None))
        elif self.assignee.isdigit():
            query = query.where(Lead.assigned_to_id == int(self.assignee))
        if self.due:
            query = query.where(_due(self.due, utcnow(), dates.end_of_today()))
        if self.language_gap:
            query = query.where(_no_caller_speaks())
        return query


def _queue(*conditions) -> list[Lead]:
    """Open leads, the ones waiting for a call back first by due time, then the rest."""
    return list(
        db.session.scalars(
            select(Lead)
            .options(joinedload(Lead.assigned_to))
            .where(Lead.status.in_(OPEN_LEAD_STATUSES), *conditions)
            .order_by(
                Lead.callback_met_at.is_not(None),
                Lead.callback_due_at.is_(None),
                Lead.callback_due_at,
                Lead.created_at,
                Lead.id,
            )
            .limit(QUEUE_LENGTH)
        )
    )


def due_counts(staff_id: int | None = None) -> dict[str, int]:
    """Leads overdue and due today: the whole team's, or one member's."""
    now, end = utcnow(), dates.end_of_today()
    mine = [Lead.assigned_to_id == staff_id] if staff_id is not None else []
    return {
        state: db.session.scalar(select(func.count(Lead.id)).where(_due(state, now, end), *mine))
        for state in ("overdue", "today")
    }


@dataclass(frozen=True)
class WorkQueue:
    mine: list[Lead]
    unassigned: list[Lead]
    counts: dict[str, int]  # the team's overdue and due today
    my_counts: dict[str, int]


def work_queue(staff_id: int) -> WorkQueue:
    return WorkQueue(
        mine=_queue(Lead.assigned_to_id == staff_id),
        # with the leads of disabled members, which nobody else would see
        unassigned=_queue(_held_by_nobody()),
        counts=due_counts(),
        my_counts=due_counts(staff_id),
    )


# Either tells that staff have seen a lead's new matches (the access record keeps both).
REVIEWS = ("lead viewed", "matches reviewed")


def reviewed_since(moment_column):
    """SQL: staff opened the lead page, or pressed "Reviewed", at or after the moment."""
    return exists().where(
        AccessRecord.lead_id == Lead.id,
        AccessRecord.action.in_(REVIEWS),
        AccessRecord.created_at >= moment_column,
    )


@dataclass(frozen=True)
class NewMatches:
    lead: Lead
    trials: int  # the trials found in the last search that found some


def new_matches(limit: int = QUEUE_LENGTH) -> list[NewMatches]:
    """Open leads for which `flask alerts send` found trials since staff last looked at
    them, most recent find first."""
    found = (
        select(func.count(LeadTrial.id))
        .where(LeadTrial.lead_id == Lead.id, LeadTrial.found_at == Lead.matches_found_at)
        .correlate(Lead)
        .scalar_subquery()
    )
    rows = db.session.execute(
        select(Lead, found)
        .where(
            Lead.matches_found_at.is_not(None),
            Lead.status.in_(OPEN_LEAD_STATUSES),
            not_(reviewed_since(Lead.matches_found_at)),
        )
        .options(joinedload(Lead.assigned_to))
        .order_by(Lead.matches_found_at.desc(), Lead.id)
        .limit(limit)
    )
    return [NewMatches(lead, trials) for lead, trials in rows]


def lead_page(filters: LeadFilters, page: int, per_page: int = 25):
    return db.paginate(filters.query(), page=page, per_page=per_page, error_out=False)


@dataclass(frozen=True)
class Dashboard:
    queue: WorkQueue
    new_matches: list[NewMatches]
    page: object  # a Flask-SQLAlchemy Pagination of leads
    counts: dict[str, int]
    per_day: list[tuple[date, int]]
    busiest: int
    funnel: dict[str, int]
    exports: list
    outbox: dict[str, int]
    failed_messages: list


def dashboard(filters: LeadFilters, page_number: int, staff_id: int) -> Dashboard:
    per_day = leads_per_day()
    return Dashboard(
        queue=work_queue(staff_id),
        new_matches=new_matches(),
        page=lead_page(filters, page_number),
        counts=lead_counts(),
        per_day=per_day,
        busiest=max((n for _, n in per_day), default=0),
        funnel=referral_funnel(),
        exports=exports.recent_exports(),
        outbox=mail.status_counts(),
        failed_messages=mail.failed_messages(limit=10),
    )
