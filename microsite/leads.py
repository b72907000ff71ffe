"""Recording "Find your trial" applications."""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from .extensions import db
from .models import Lead, utcnow

log = logging.getLogger(__name__)

# Bump the version whenever CONSENT_TEXT changes: each lead keeps the version it agreed to.
CONSENT_VERSION = "2026-11-28"
CONSENT_TEXT = (
    "I agree that {org} stores what I entered here and that a patient navigator contacts "
    "me about clinical trials that may fit. I can withdraw at any time."
)


def record_application(details: dict, idempotency_key: str | None) -> Lead:
    """Store an application, or return the one already stored under the same key.

    The caller commits. The insert comes first and the unique key decides, so two
    requests racing with the same key store one lead on SQLite and PostgreSQL alike.
    """
    lead = Lead(
        **details,
        consent_version=CONSENT_VERSION,
        consent_at=utcnow(),
        idempotency_key=idempotency_key,
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
    log.info("apply: lead %d recorded", lead.id)
    return lead
