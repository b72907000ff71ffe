"""Recording "Find your trial" applications."""

from __future__ import annotations

import logging

from . import referrals
from .attribution import UTM_FIELDS
from .database import add_once
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

    The caller commits.
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
    lead, created = add_once(lead, "idempotency_key")
    if not created:
        log.info("apply: resubmission of lead %d ignored", lead.id)
        return lead
    referrals.add_personal_referral(lead)
    log.info(
        "apply: lead %d recorded%s",
        lead.id,
        f", referred by referral {referral.id}" if referral else "",
    )
    return lead
