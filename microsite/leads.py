"""Recording "Find your trial" applications, and the staff's work on them (status, call
notes, the lead's file as the staff page shows it)."""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass
from datetime import datetime

from flask import current_app, render_template
from flask_babel import force_locale, gettext
from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from . import alerts, callbacks, dates, erasure, mail, referrals
from .attribution import UTM_FIELDS
from .choices import CLOSED_LEAD_STATUSES, LEAD_STATUSES
from .database import add_once
from .extensions import db
from .models import (
    Assignment,
    Lead,
    LeadNote,
    LeadTrial,
    Referral,
    StaffUser,
    StatusChange,
    Trial,
    TrialAlert,
    utcnow,
)
from .trials import matching
from .web.i18n import localized_endpoint
from .web.urls import absolute_url

log = logging.getLogger(__name__)

# Bump a version whenever its text changes: each lead keeps the version it agreed to. Each
# language's text is a text of its own, with its own version.
CONSENT_VERSION = "2026-11-28"
CONSENT_TEXT = (
    "I agree that {org} stores what I entered here and that a patient navigator contacts "
    "me about clinical trials that may fit. I can withdraw at any time."
)
CONSENT = {
    "en": (CONSENT_VERSION, CONSENT_TEXT),
    "es": (
        "es-2026-12-01",
        "Acepto que {org} guarde lo que escribí aquí y que un navegador de pacientes me "
        "contacte sobre estudios clínicos que podrían ser adecuados. Puedo retirar mi "
        "consentimiento en cualquier momento.",
    ),
}


def email_digest(address: str) -> str:
    """A keyed digest of an email address (HMAC-SHA256 under SECRET_KEY), so a family's
    applications can be found together without comparing addresses."""
    key = hashlib.sha256(b"lead email digest|" + current_app.config["SECRET_KEY"].encode())
    normalized = address.strip().casefold().encode("utf-8")
    return hmac.new(key.digest(), normalized, hashlib.sha256).hexdigest()


def consent_text(language: str) -> str:
    """The consent text shown beside the box, in ``language``."""
    return CONSENT[language][1].format(org=current_app.config["ORG_NAME"])


def record_application(
    details: dict,
    idempotency_key: str | None,
    referral: Referral | None = None,
    utm: dict[str, str] | None = None,
    language: str = "en",
    trial_alerts: bool = False,
) -> Lead:
    """Store an application with where it came from and the language it was made in (the
    consent text's version in that language too), and give the lead a link of their own
    to share; with ``trial_alerts``, a pending opt-in to alerts and the mail to confirm
    it. Or return the lead already stored under the same key.

    The caller commits.
    """
    utm = utm or {}
    arrival = utcnow()
    lead = Lead(
        **details,
        created_at=arrival,
        patient_age_given_on=dates.today(),
        callback_due_at=callbacks.lead_due_at(arrival),
        email_digest=email_digest(details["email"]),
        language=language,
        consent_version=CONSENT[language][0],
        consent_at=arrival,
        idempotency_key=idempotency_key,
        referral_id=referral.id if referral else None,
        **{name: utm.get(name) for name in UTM_FIELDS},
    )
    # Matched once, now, before the lead's INSERT takes the write lock, and kept with the
    # lead; a failure stores no matches, never loses the lead (the navigator searches by
    # hand then).
    found = matching.match_new_lead(lead)
    # Rendered before the INSERT too: the lock is held for the writes alone.
    confirmation = _confirmation(lead)
    lead, created = add_once(lead, "idempotency_key")
    if not created:
        log.info("apply: resubmission of lead %d ignored", lead.id)
        return lead
    matching.store_new_matches(lead, found)
    # Added after the matches' savepoint, so it is written with the mail at the commit.
    referrals.add_personal_referral(lead)
    _queue_confirmation(lead, confirmation)
    if trial_alerts:
        alerts.opt_in(lead)
    if current_app.config["STAFF_NOTIFY_EMAIL"]:
        _queue_staff_notice(lead)
    log.info(
        "apply: lead %d recorded%s",
        lead.id,
        f", referred by referral {referral.id}" if referral else "",
    )
    return lead


# Stands for the withdraw link's token while the confirmation is rendered: the token signs
# the lead's id, which the lead gets from its INSERT.
_TOKEN_TO_COME = "withdraw-token-to-come"


def _confirmation(lead: Lead) -> dict[str, str]:
    """The confirmation's subject and bodies, in the lead's language: that we have their
    request, and how to withdraw. No health data. The withdraw link's token is put in by
    ``_queue_confirmation``."""
    context = {
        "lead": lead,
        "withdraw_url": absolute_url(
            localized_endpoint("public.withdraw", lead.language), token=_TOKEN_TO_COME
        ),
    }
    with force_locale(lead.language):
        return {
            "subject": gettext(
                "We have your request – %(org)s", org=current_app.config["ORG_NAME"]
            ),
            "text": render_template("mail/confirmation.txt", **context),
            "html": render_template("mail/confirmation.html", **context),
        }


def _queue_confirmation(lead: Lead, confirmation: dict[str, str]) -> None:
    """Queue ``confirmation`` to the applicant, with the withdraw link's token of the lead
    now stored."""
    token = erasure.withdraw_token(lead)
    mail.queue_message(
        to=lead.email,
        subject=confirmation["subject"],
        text=confirmation["text"].replace(_TOKEN_TO_COME, token),
        html=confirmation["html"].replace(_TOKEN_TO_COME, token),
        kind="confirmation",
        lead_id=lead.id,
    )


def _queue_staff_notice(lead: Lead) -> None:
    """A new-lead notice for staff: a link to the lead page, and nothing personal."""
    context = {"lead_url": absolute_url("staff.lead", lead_id=lead.id), "lead_id": lead.id}
    mail.queue_message(
        to=current_app.config["STAFF_NOTIFY_EMAIL"],
        subject=f"New application #{lead.id}",
        text=render_template("mail/staff_notice.txt", **context),
        html=render_template("mail/staff_notice.html", **context),
        kind="staff_notice",
    )


def change_status(lead: Lead, status: str, staff: StaffUser) -> None:
    """Move a lead to another status, recording who did it and when. The caller commits."""
    if status not in LEAD_STATUSES:
        raise ValueError(f"unknown status {status!r}")
    if status == lead.status:
        return
    db.session.add(
        StatusChange(lead_id=lead.id, staff_id=staff.id, from_status=lead.status, to_status=status)
    )
    if lead.status == "new":
        callbacks.keep_promise(lead)
    if status in CLOSED_LEAD_STATUSES:
        alerts.stop_for_status(lead, status)
    lead.status = status
    log.info("lead %d: status %s by staff %d", lead.id, status, staff.id)


def add_note(lead: Lead, body: str, staff: StaffUser) -> LeadNote:
    """Append a call note, which keeps the call-back promise; notes are never edited or
    deleted one by one. The caller commits."""
    note = LeadNote(lead_id=lead.id, author_id=staff.id, body=body)
    db.session.add(note)
    callbacks.keep_promise(lead)
    log.info("lead %d: note added by staff %d", lead.id, staff.id)
    return note


def may_take(lead: Lead, member: StaffUser) -> bool:
    """A member may take a lead that no active member holds (nobody, or a disabled one);
    an admin may take any."""
    holder = db.session.get(StaffUser, lead.assigned_to_id) if lead.assigned_to_id else None
    return member.is_admin or holder is None or not holder.active or holder.id == member.id


def assign(lead: Lead, to: StaffUser | None, by: StaffUser) -> None:
    """Give the lead to a member (None: to nobody), recording who did it and when. The
    caller checks that ``by`` may; the caller commits."""
    to_id = to.id if to is not None else None
    if to_id == lead.assigned_to_id:
        return
    db.session.add(
        Assignment(
            lead_id=lead.id, staff_id=by.id, from_staff_id=lead.assigned_to_id, to_staff_id=to_id
        )
    )
    lead.assigned_to_id = to_id
    log.info("lead %d: assigned to staff %s by staff %d", lead.id, to_id, by.id)


@dataclass(frozen=True)
class LeadFile:
    """Everything the staff lead page shows, loaded here (templates never query)."""

    lead: Lead
    notes: list[LeadNote]
    changes: list[StatusChange]
    matches: list[dict]
    matched_at: datetime | None
    catalog: dict[str, dict]  # today's site and central contacts of the matched trials
    assignments: list[Assignment]
    same_family: list[Lead]  # the other applications from the same email address
    alert: TrialAlert | None  # the family's trial alerts, if they opted in
    alert_state: str  # alerts.state: none, pending, active, paused, expired, stopped
    alert_trials: list[LeadTrial]  # trials mailed by alerts or found for staff


def lead_file(lead_id: int) -> LeadFile | None:
    """One lead with its referral, call notes and their authors, status history with who
    changed it, and the trials shown to the family."""
    lead = db.session.scalar(
        select(Lead)
        .where(Lead.id == lead_id)
        .options(joinedload(Lead.referral), joinedload(Lead.assigned_to))
    )
    if lead is None:
        return None
    notes = db.session.scalars(
        select(LeadNote)
        .filter_by(lead_id=lead.id)
        .options(joinedload(LeadNote.author))
        .order_by(LeadNote.id)
    )
    changes = db.session.scalars(
        select(StatusChange)
        .filter_by(lead_id=lead.id)
        .options(joinedload(StatusChange.staff))
        .order_by(StatusChange.id)
    )
    matches = matching.stored_matches(lead.id)
    return LeadFile(
        lead=lead,
        notes=list(notes),
        changes=list(changes),
        matches=matches,
        matched_at=matching.matched_at(lead.id),
        catalog=todays_contacts([match["nct_id"] for match in matches]),
        assignments=list(
            db.session.scalars(
                select(Assignment)
                .filter_by(lead_id=lead.id)
                .options(
                    joinedload(Assignment.staff),
                    joinedload(Assignment.from_staff),
                    joinedload(Assignment.to_staff),
                )
                .order_by(Assignment.id)
            )
        ),
        same_family=same_family(lead),
        alert=(alert := alerts.for_lead(lead.id)),
        alert_state=alerts.state(alert),
        alert_trials=alerts.found_trials(lead.id, None),
    )


def same_family(lead: Lead) -> list[Lead]:
    """The other leads with this lead's email address (by keyed digest), newest first."""
    if not lead.email_digest:
        return []
    return list(
        db.session.scalars(
            select(Lead)
            .where(Lead.email_digest == lead.email_digest, Lead.id != lead.id)
            .order_by(Lead.created_at.desc(), Lead.id.desc())
            .limit(20)
        )
    )


def todays_contacts(nct_ids: list[str]) -> dict[str, dict]:
    """For each trial, today's contact of each site (by facility, city and state) and its
    central contacts, so the navigator calls the right person."""
    trials = db.session.scalars(
        select(Trial)
        .where(Trial.nct_id.in_(nct_ids))
        .options(selectinload(Trial.sites), selectinload(Trial.contacts))
    )
    return {
        trial.nct_id: {
            "sites": {
                (site.facility or "", site.city or "", site.state or ""): {
                    "name": site.contact_name or "",
                    "phone": site.contact_phone or "",
                    "email": site.contact_email or "",
                }
                for site in trial.sites
            },
            "contacts": [
                {"name": c.name or "", "phone": c.phone or "", "email": c.email or ""}
                for c in trial.contacts
            ],
        }
        for trial in trials
    }
