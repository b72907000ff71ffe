"""``flask alerts send`` (a daily timer after the trials sync): new trials for families who
asked for alerts, and new matches for navigators.

For each lead in new, contacted or referred, oldest first:
- the lead is matched again against today's catalog by the thanks page's rules, with the
  age grown by the whole months since it was given (``matching.new_trials``): RECRUITING
  trials within the travel distance that the lead has never been mailed and never been
  shown as recruiting (a trial shown while not yet recruiting, which has opened since,
  is new);
- when the family's alerts are active and their last alert is at least
  ALERT_INTERVAL_DAYS old (calendar days in DISPLAY_TIMEZONE), up to MAX_MATCHES of those
  trials are mailed, in the family's language; nothing new, no mail;
- trials that staff have not been told of are recorded as found, and the lead goes on the
  dashboard's "New matches" list, whether the family opted in or not;
- alerts that lapsed are marked expired, and active alerts a week from their end get one
  renewal mail.

The "mailed" and "found" records, the alert's last mail and the outbox rows of a batch of
leads are written in one transaction: a run killed anywhere loses only its uncommitted
batch, which the next run does again, so nothing is sent twice and nothing is lost.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import asdict, dataclass
from datetime import datetime

from flask import current_app
from flask_babel import force_locale, gettext
from sqlalchemy import func, select

from . import alerts, dates, mail
from .choices import OPEN_LEAD_STATUSES, country_names
from .extensions import db
from .models import Lead, LeadTrial, TrialAlert, TrialImport, utcnow
from .trials import matching, places
from .web.i18n import localized_endpoint
from .web.urls import absolute_url, links_anywhere

log = logging.getLogger(__name__)

BATCH = 200


@dataclass
class AlertReport:
    """What a run did, in counts only: the runs page and the command print these."""

    checked: int = 0  # leads matched again
    queued: int = 0  # alert mails queued
    found: int = 0  # trials found that staff had not been told of
    renewals: int = 0
    expired: int = 0

    def counts(self) -> dict[str, int]:
        return asdict(self)


def _interval_passed(alert: TrialAlert, today) -> bool:
    if alert.last_mailed_at is None:
        return True
    last_day = alert.last_mailed_at.astimezone(dates.zone()).date()
    return (today - last_day).days >= current_app.config["ALERT_INTERVAL_DAYS"]


def _catalog_updated():
    """The day the catalog was last updated (a finished import or sync), or None."""
    finished = db.session.scalar(select(func.max(TrialImport.finished_at)))
    return finished.astimezone(dates.zone()).date() if finished else None


class _Run:
    def __init__(self, dry_run: bool):
        self.dry_run = dry_run
        self.report = AlertReport()
        self.now = utcnow()
        self.today = dates.today()
        self.catalog_updated = _catalog_updated()
        self.places: dict[tuple, places.Place | None] = {}

    def place(self, lead: Lead):
        key = (lead.country, lead.postal_code)
        if key not in self.places:
            self.places[key] = places.locate(lead.country, lead.postal_code)
        return self.places[key]

    def batch(self, leads: list[Lead]) -> None:
        ids = [lead.id for lead in leads]
        alerts_by_lead = {
            alert.lead_id: alert
            for alert in db.session.scalars(select(TrialAlert).where(TrialAlert.lead_id.in_(ids)))
        }
        records: dict[int, dict[str, LeadTrial]] = defaultdict(dict)
        for row in db.session.scalars(select(LeadTrial).where(LeadTrial.lead_id.in_(ids))):
            records[row.lead_id][row.nct_id] = row
        for lead in leads:
            self.lead(lead, alerts_by_lead.get(lead.id), records[lead.id])

    def lead(self, lead: Lead, alert: TrialAlert | None, known: dict[str, LeadTrial]) -> None:
        current = alerts.state(alert, self.now)
        if alert is not None and current == "expired" and alert.state != "expired":
            alert.state = "expired"
            self.report.expired += 1
        if current == "active" and self._renewal_due(alert):
            alerts.request_confirmation(alert, lead, renewal=True)
            self.report.renewals += 1
        family_news = {
            nct_id
            for nct_id, row in known.items()
            if row.first_mailed_at is not None or row.shown_recruiting_at is not None
        }
        wants_mail = current == "active"
        # Without alerts, trials staff already know of are no news either.
        excluded = (
            family_news
            if wants_mail
            else family_news | {n for n, row in known.items() if row.found_at is not None}
        )
        months = dates.months_between(
            lead.patient_age_given_on or _day(lead.created_at), self.today
        )
        found = matching.new_trials(lead, self.place(lead), months, excluded)
        self.report.checked += 1
        if not found:
            return
        to_mail = found if wants_mail and _interval_passed(alert, self.today) else []
        newly_found = [item for item in found if _record(lead, known, item).found_at is None]
        for item in newly_found:
            known[item.trial.nct_id].found_at = self.now
        if newly_found:
            lead.matches_found_at = self.now
            self.report.found += len(newly_found)
        if to_mail:
            for item in to_mail:
                known[item.trial.nct_id].first_mailed_at = self.now
            alert.last_mailed_at = self.now
            self._queue(lead, to_mail)
            self.report.queued += 1

    def _renewal_due(self, alert: TrialAlert) -> bool:
        return (
            alert.renewal_sent_at is None and alert.active_until - alerts.RENEW_BEFORE <= self.now
        )

    def _queue(self, lead: Lead, found: list[matching.Ranked]) -> None:
        with links_anywhere(), force_locale(lead.language):
            names = country_names(lead.language)
            context = {
                "lead": lead,
                "trials": [_trial_in_mail(item, lead, names) for item in found],
                "catalog_updated": self.catalog_updated,
                **alerts.links(lead),
            }
            # Never the diagnosis, the age or a name: others may see a subject line.
            subject = gettext("New trials that may fit")
            text, html = mail.render_pair("trial_alert", **context)
        mail.queue_message(
            to=lead.email,
            subject=subject,
            text=text,
            html=html,
            headers={
                "List-Unsubscribe": f"<{context['stop_url']}>",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            },
            kind="trial_alert",
            lead_id=lead.id,
        )


def _day(moment: datetime):
    return moment.astimezone(dates.zone()).date()


def _record(lead: Lead, known: dict[str, LeadTrial], item: matching.Ranked) -> LeadTrial:
    row = known.get(item.trial.nct_id)
    if row is None:
        row = LeadTrial(lead_id=lead.id, nct_id=item.trial.nct_id)
        db.session.add(row)
        known[item.trial.nct_id] = row
    return row


def _trial_in_mail(item: matching.Ranked, lead: Lead, names: dict) -> dict:
    """A trial as the alert shows it; ``site`` is the registry's English (facility, city),
    ``country`` in the family's language."""
    site = item.sites[0] if item.sites else None
    return {
        "title": item.trial.brief_title,
        "url": absolute_url(
            localized_endpoint("public.trial", lead.language), nct_id=item.trial.nct_id
        ),
        "site": site and ", ".join(part for part in (site["facility"], site["city"]) if part),
        "country": site and names.get(site["country_code"], site["country_code"]),
        "distance": None
        if item.nearest_km is None
        else matching.distance_text(item.nearest_km, lead.country),
    }


def send_alerts(dry_run: bool = False, batch: int = BATCH) -> AlertReport:
    """Look at every open lead once; commit after each batch (roll it back on a dry run)."""
    run = _Run(dry_run)
    last_id = 0
    while True:
        leads = list(
            db.session.scalars(
                select(Lead)
                .where(Lead.status.in_(OPEN_LEAD_STATUSES), Lead.id > last_id)
                .order_by(Lead.id)
                .limit(batch)
            )
        )
        if not leads:
            break
        last_id = leads[-1].id
        run.batch(leads)
        if dry_run:
            db.session.rollback()
        else:
            db.session.commit()
        db.session.expunge_all()
    log.info("alerts: %s%s", run.report.counts(), " (dry run)" if dry_run else "")
    return run.report
