"""Recording "Find your trial" applications."""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from . import referrals
from .attribution import UTM_FIELDS
from .extensions import db
from .models import Lead, Referral, utcnow

log = logging.getLogger(__name__)

# Bump the version whenever CONSENT_TEXT changes: each lead keeps the version it agreed to.
CONSENT_VERSION = "2026-11-28"
CONSENT_TEXT = (
    "I agree that {org} stores what I entered here and that a patient navigator contacts "
    "me about clinical trials that may fit. I can withdraw at any time."
)


def record_application(
    details: dict,
    idempotency_key: str | None,
    referral: Referral | None = None,
    utm: dict[str, str] | None = None,
) -> Lead:
    """Store an application with where it came from, and give the lead a link of their
    own to share; or return the lead already stored under the same key.

    The caller commits. The insert comes first and the unique key decides, so two
    requests racing with the same key store one lead on SQLite and PostgreSQL alike.
    """
    utm = utm or {}
    lead = Lead(
        **details,
        consent_version=CONSENT_VERSION,
        consent_at=utcnow(),
        idempotency_key=idempotency_key,
        referral_id=referral.id if referral else None,
        **{name: utm.get(name) for name in UTM_FIELDS},
    )
    db.session.add(lead)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        existing = db.session.scalar(select(Lead).filter_by(idempotency_key=idempotency_key))
        if existing is None:  # not a duplicate key after all: a real error
            raise
        log.info("apply: resubmission of lead %d ignored", existing.id)
        return existing
    referrals.add_personal_referral(lead)
    log.info(
        "apply: lead %d recorded%s",
        lead.id,
        f", referred by referral {referral.id}" if referral else "",
    )
    return lead
