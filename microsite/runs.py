"""Runs of the timer jobs (outbox send, retention purge, trials sync, staff digest,
alerts): each is recorded with its counts, and the runs page shows the last of each.

- ``JOBS`` is the one list of jobs: a job added there gets its row on the runs page.
- A run is written when it starts and completed when it ends, so a run killed on the way
  (a timeout, the machine going down) shows as started and never finished.
- A run that raises is recorded with the exception's class only (never its message, which
  may carry an address), and the exception goes on: the command still exits non-zero.
- A job is flagged when its last run started more than two days ago; the staff digest,
  which runs on weekdays only, counts weekdays (a weekend does not make it stale).
- Runs older than RUNS_KEPT are deleted as new ones are recorded, but for the last
  successful run of each job, which the page shows when the last run failed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from sqlalchemy import delete, select

from . import dates
from .extensions import db
from .models import JobRun, utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    label: str
    weekdays_only: bool = False  # its timer runs Monday to Friday


JOBS = {
    "outbox send": Job("Outbox send"),
    "retention purge": Job("Retention purge"),
    "trials sync": Job("Trials sync"),
    "staff digest": Job("Staff digest", weekdays_only=True),
    "alerts": Job("Trial alerts"),
}

STALE_AFTER = timedelta(days=2)
RUNS_KEPT = timedelta(days=30)
SATURDAY = 5

# How each count reads on the runs page: (one, several). A count not listed reads as its
# name with spaces.
COUNT_WORDS = {
    "sent": ("sent", "sent"),
    "retrying": ("to retry later", "to retry later"),
    "failed": ("failed", "failed"),
    "cancelled": ("cancelled", "cancelled"),
    "leads": ("lead", "leads"),
    "notes": ("note", "notes"),
    "referrals": ("referral", "referrals"),
    "messages": ("message", "messages"),
    "mail_files": ("mail file", "mail files"),
    "access_records": ("access record", "access records"),
    "new": ("new", "new"),
    "updated": ("updated", "updated"),
    "unchanged": ("unchanged", "unchanged"),
    "skipped": ("skipped", "skipped"),
    "mailed": ("navigator mailed", "navigators mailed"),
    "listed": ("lead listed", "leads listed"),
    "unassigned": ("unassigned lead due", "unassigned leads due"),
    "checked": ("lead checked", "leads checked"),
    "queued": ("alert mail queued", "alert mails queued"),
    "found": ("new match found", "new matches found"),
    "renewals": ("renewal mailed", "renewals mailed"),
    "expired": ("alert expired", "alerts expired"),
    "held_by_disabled": (
        "lead due held by a disabled member",
        "leads due held by disabled members",
    ),
}


def _record(run_id: int, counts: dict, error: BaseException | None) -> None:
    # Read again: the job may have cleared the session, or the row may be gone.
    run = db.session.get(JobRun, run_id, populate_existing=True)
    if run is None:  # deleted meanwhile (by hand): nothing to complete
        return
    run.finished_at = utcnow()
    run.counts = dict(counts)
    run.error = type(error).__name__ if error is not None else None
    db.session.commit()
    _forget_old_runs(run.job)


@contextmanager
def tracked(job: str) -> Iterator[dict]:
    """Record a run of ``job``: the caller fills the dict it is given with counts. A run
    that raises is recorded with the exception's class, and the exception goes on. The
    session is committed when the run starts and when it ends (rolled back first if the
    job raised)."""
    if job not in JOBS:
        raise ValueError(f"unknown job {job!r}")
    counts: dict = {}
    run = JobRun(job=job, started_at=utcnow(), counts={})
    db.session.add(run)
    db.session.commit()
    run_id = run.id
    try:
        yield counts
    except BaseException as error:
        db.session.rollback()
        try:
            _record(run_id, counts, error)
        except Exception:  # the database may be what failed: the job's error comes first
            db.session.rollback()
            log.exception("runs: the failed run %d of %s could not be recorded", run_id, job)
        log.warning("runs: %s failed (%s)", job, type(error).__name__)
        raise
    _record(run_id, counts, None)


def run_or_dry_run(job: str, dry_run: bool, work: Callable[[bool], object]):
    """``work(dry_run)``, whose report has ``counts()``; a real run is tracked as ``job``,
    a dry run is not a run. Returns the report."""
    if dry_run:
        return work(True)
    with tracked(job) as counts:
        report = work(False)
        counts.update(report.counts())
    return report


def _forget_old_runs(job: str) -> None:
    keep = last_success(job)
    statement = delete(JobRun).where(JobRun.job == job, JobRun.started_at < utcnow() - RUNS_KEPT)
    if keep is not None:
        statement = statement.where(JobRun.id != keep.id)
    db.session.execute(statement)
    db.session.commit()


def last_run(job: str) -> JobRun | None:
    return db.session.scalar(
        select(JobRun)
        .where(JobRun.job == job)
        .order_by(JobRun.started_at.desc(), JobRun.id.desc())
        .limit(1)
    )


def last_success(job: str) -> JobRun | None:
    """The last run that finished without an error."""
    return db.session.scalar(
        select(JobRun)
        .where(JobRun.job == job, JobRun.error.is_(None), JobRun.finished_at.is_not(None))
        .order_by(JobRun.started_at.desc(), JobRun.id.desc())
        .limit(1)
    )


def _weekday_time(since: datetime, now: datetime) -> timedelta:
    """The time from ``since`` to ``now`` that falls on Monday to Friday in
    DISPLAY_TIMEZONE."""
    zone = dates.zone()
    start, end = since.astimezone(zone), now.astimezone(zone)
    total = timedelta()
    day = start.date()
    while day <= end.date() and total <= STALE_AFTER:
        if day.weekday() < SATURDAY:
            day_start = datetime.combine(day, time.min, tzinfo=zone)
            day_end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone)
            total += min(end, day_end) - max(start, day_start)
        day += timedelta(days=1)
    return total


def is_stale(job: str, run: JobRun | None, now: datetime | None = None) -> bool:
    """Whether the job's last run started more than two days (weekdays, for a weekday
    job) ago; a job never run is not stale but "never run"."""
    if run is None:
        return False
    now = now or utcnow()
    if JOBS[job].weekdays_only:
        return _weekday_time(run.started_at, now) > STALE_AFTER
    return now - run.started_at > STALE_AFTER


def describe_counts(counts: dict) -> str:
    """Counts in words: "3 sent, 0 to retry later, 1 failed"."""
    parts = []
    for name, value in counts.items():
        one, several = COUNT_WORDS.get(name, (name.replace("_", " "),) * 2)
        parts.append(f"{value} {one if value == 1 else several}")
    return ", ".join(parts)


@dataclass(frozen=True)
class JobStatus:
    job: str
    label: str
    last: JobRun | None
    last_success: JobRun | None  # only when the last run did not succeed
    stale: bool
    weekdays_only: bool

    @property
    def never_run(self) -> bool:
        return self.last is None

    @property
    def failed(self) -> bool:
        return self.last is not None and self.last.error is not None

    @property
    def unfinished(self) -> bool:
        return self.last is not None and self.last.finished_at is None

    @property
    def flags(self) -> list[str]:
        """What an admin should look at, in words; empty when all is well."""
        if self.last is None:
            return ["Never run"]
        flags = []
        if self.stale:
            flags.append(
                f"Not run for more than two {'weekdays' if self.weekdays_only else 'days'}"
            )
        if self.failed:
            flags.append(f"Failed: {self.last.error}")
        elif self.unfinished:
            flags.append("Not finished (still running, or stopped on the way)")
        return flags

    @property
    def counts(self) -> str:
        return describe_counts(self.last.counts) if self.last is not None else ""

    @property
    def success_counts(self) -> str:
        return describe_counts(self.last_success.counts) if self.last_success else ""


def overview(now: datetime | None = None) -> list[JobStatus]:
    """One status per job of JOBS, in their order: the runs page."""
    now = now or utcnow()
    statuses = []
    for job, spec in JOBS.items():
        last = last_run(job)
        succeeded = last is not None and last.error is None and last.finished_at is not None
        statuses.append(
            JobStatus(
                job=job,
                label=spec.label,
                last=last,
                last_success=None if last is None or succeeded else last_success(job),
                stale=is_stale(job, last, now),
                weekdays_only=spec.weekdays_only,
            )
        )
    return statuses
