"""The staff digest (``flask staff digest``, a weekday-morning timer): each member's call
backs that are overdue or due today, by mail.

- Each active member (navigator or admin) gets the leads assigned to them whose call back
  is not yet made and is due by the end of today in DISPLAY_TIMEZONE (overdue ones too),
  earliest first: each by its id, its due time and whether it is overdue or due today, in
  words, with a link to its staff page. Nothing else about the family: no name, no address,
  no diagnosis.
- Every admin's digest also counts the unassigned leads due by the end of today, and those
  held by disabled members, so the queue nobody owns is not forgotten. Counts, not leads.
- A member with nothing to read gets no mail at all; a disabled member gets none.
- The mail goes through the outbox (kind "staff_digest"), sent by ``flask outbox send``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from flask import current_app, render_template
from sqlalchemy import func, select

from . import callbacks, dates, mail
from .extensions import db
from .models import Lead, StaffUser, utcnow
from .web.urls import absolute_url, links_anywhere

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DueLead:
    id: int
    due_at: datetime
    state: str  # "overdue" or "today" (callbacks.DUE_STATES)
    url: str

    @property
    def state_words(self) -> str:
        return callbacks.DUE_STATES[self.state]

    @property
    def due_words(self) -> str:
        return due_words(self.due_at)


@dataclass
class Digest:
    member_id: int
    email: str
    is_admin: bool
    leads: list[DueLead] = field(default_factory=list)
    unassigned: int = 0  # admins only
    held_by_disabled: int = 0  # admins only

    @property
    def overdue(self) -> int:
        return sum(lead.state == "overdue" for lead in self.leads)

    @property
    def due_today(self) -> int:
        return sum(lead.state == "today" for lead in self.leads)

    @property
    def worth_sending(self) -> bool:
        return bool(self.leads or self.unassigned or self.held_by_disabled)

    @property
    def subject(self) -> str:
        """ "3 call backs due – Trial Finder"; an admin's says how many have nobody on them
        (unassigned, or held by a disabled member)."""
        waiting = self.unassigned + self.held_by_disabled
        if self.leads:
            words = _plural(len(self.leads), "call back due", "call backs due")
            if waiting:
                words += f", {waiting} unassigned"
        else:
            words = _plural(waiting, "unassigned call back due", "unassigned call backs due")
        return f"{words} – {current_app.config['ORG_NAME']}"


@dataclass(frozen=True)
class DigestReport:
    mailed: int
    listed: int
    unassigned: int
    held_by_disabled: int

    def counts(self) -> dict:
        return {
            "mailed": self.mailed,
            "listed": self.listed,
            "unassigned": self.unassigned,
            "held_by_disabled": self.held_by_disabled,
        }


def _plural(count: int, one: str, several: str) -> str:
    return f"{count} {one if count == 1 else several}"


def due_words(moment: datetime) -> str:
    """A due time as a navigator reads it, in DISPLAY_TIMEZONE: a due time at midnight,
    as call backs are, is the end of the day before ("the end of Tue 3 Dec"); another one
    is "Tue 3 Dec, 14:30". The year is said when it is not this year."""
    local = moment.astimezone(dates.zone())
    this_year = dates.today().year
    if local.time() == time.min:
        day = local.date() - timedelta(days=1)
        year = "" if day.year == this_year else f" {day.year}"
        return f"the end of {day:%a} {day.day} {day:%b}{year}"
    year = "" if local.year == this_year else f" {local.year}"
    return f"{local:%a} {local.day} {local:%b}{year}, {local:%H:%M}"


def _due_by_end_of_today():
    return (
        Lead.callback_met_at.is_(None),
        Lead.callback_due_at.is_not(None),
        Lead.callback_due_at <= dates.end_of_today(),
    )


def _count_due(*where) -> int:
    return db.session.scalar(select(func.count(Lead.id)).where(*_due_by_end_of_today(), *where))


def digests(now: datetime | None = None) -> list[Digest]:
    """What each active member would be sent, in member id order (empty ones included)."""
    now = now or utcnow()
    members = list(
        db.session.scalars(select(StaffUser).filter_by(active=True).order_by(StaffUser.id))
    )
    by_member = {member.id: Digest(member.id, member.email, member.is_admin) for member in members}
    leads = db.session.scalars(
        select(Lead)
        .where(*_due_by_end_of_today(), Lead.assigned_to_id.in_(list(by_member)))
        .order_by(Lead.callback_due_at, Lead.id)
    )
    for lead in leads:
        url = absolute_url("staff.lead", lead_id=lead.id)
        state = callbacks.due_state(lead, now)
        by_member[lead.assigned_to_id].leads.append(
            DueLead(lead.id, lead.callback_due_at, state, url)
        )
    unassigned, held_by_disabled = unowned_counts()
    for digest in by_member.values():
        if digest.is_admin:
            digest.unassigned = unassigned
            digest.held_by_disabled = held_by_disabled
    return list(by_member.values())


def unowned_counts() -> tuple[int, int]:
    """Leads due by the end of today that nobody active will call: (unassigned, held by a
    disabled member)."""
    disabled_ids = select(StaffUser.id).filter_by(active=False)
    return (
        _count_due(Lead.assigned_to_id.is_(None)),
        _count_due(Lead.assigned_to_id.in_(disabled_ids)),
    )


def _queue(digest: Digest, dashboard_url: str) -> None:
    context = {
        "digest": digest,
        "dashboard_url": dashboard_url,
        "zone": current_app.config["DISPLAY_TIMEZONE"],
    }
    mail.queue_message(
        to=digest.email,
        subject=digest.subject,
        text=render_template("mail/staff_digest.txt", **context),
        html=render_template("mail/staff_digest.html", **context),
        kind="staff_digest",
    )


def send_digests(dry_run: bool = False) -> DigestReport:
    """Queue a digest for every member with something to read; commits unless it is a
    dry run. The report counts the members mailed and the leads listed."""
    with links_anywhere():
        found = [digest for digest in digests() if digest.worth_sending]
        dashboard_url = absolute_url("staff.dashboard")
    if not dry_run:
        for digest in found:
            _queue(digest, dashboard_url)
            log.info("digest: staff %d, %d leads listed", digest.member_id, len(digest.leads))
        db.session.commit()
    unassigned, held_by_disabled = unowned_counts()
    return DigestReport(
        mailed=len(found),
        listed=sum(len(digest.leads) for digest in found),
        unassigned=unassigned,
        held_by_disabled=held_by_disabled,
    )
