"""The end of a lead's life: retention purges, erasure on request, and withdrawal.

Erasure removes a person's leads with their notes and status history, the referrals they
sent or received, and the outbox messages (and .eml files) addressed to them. What is
kept is an ErasureRecord with counts, never the address, and an entry in the access record
for each lead erased (by id; one entry without a lead when there was none).

The retention purge also purges the access record (``access.purge``), which keeps its
own period, ACCESS_RECORD_RETENTION_DAYS.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import timedelta

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import delete, func, or_, select

from . import access
from .extensions import db
from .mail import eml_files
from .models import (
    ErasureRecord,
    Lead,
    LeadNote,
    LeadTrial,
    OutboxMessage,
    Referral,
    StatusChange,
    TrialAlert,
    utcnow,
)

log = logging.getLogger(__name__)


@dataclass
class Removed:
    leads: int = 0
    notes: int = 0
    referrals: int = 0
    messages: int = 0
    mail_files: int = 0
    access_records: int | None = None  # the retention purge only

    def counts(self) -> dict[str, int]:
        return {name: count for name, count in asdict(self).items() if count is not None}

    def describe(self) -> str:
        return ", ".join(
            f"{count} {name.replace('_', ' ')}" for name, count in self.counts().items()
        )


def _count(model, *conditions) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*conditions))


def _remove(lead_ids: list[int], referral_filter, message_filter, dry_run: bool) -> Removed:
    referral_ids = list(db.session.scalars(select(Referral.id).where(referral_filter)))
    # The messages of those referrals go too: they carry the sender's name.
    message_ids = list(
        db.session.scalars(
            select(OutboxMessage.id).where(
                or_(message_filter, OutboxMessage.referral_id.in_(referral_ids))
            )
        )
    )
    files = eml_files(message_ids)
    removed = Removed(
        leads=len(lead_ids),
        notes=_count(LeadNote, LeadNote.lead_id.in_(lead_ids)),
        referrals=len(referral_ids),
        messages=len(message_ids),
        mail_files=len(files),
    )
    if dry_run:
        return removed
    db.session.execute(delete(OutboxMessage).where(OutboxMessage.id.in_(message_ids)))
    db.session.execute(delete(LeadNote).where(LeadNote.lead_id.in_(lead_ids)))
    db.session.execute(delete(StatusChange).where(StatusChange.lead_id.in_(lead_ids)))
    # Every alert record goes with the lead: the opt-in, what was shown, mailed and found.
    db.session.execute(delete(TrialAlert).where(TrialAlert.lead_id.in_(lead_ids)))
    db.session.execute(delete(LeadTrial).where(LeadTrial.lead_id.in_(lead_ids)))
    db.session.execute(delete(Referral).where(Referral.id.in_(referral_ids)))
    db.session.execute(delete(Lead).where(Lead.id.in_(lead_ids)))
    for path in files:
        path.unlink(missing_ok=True)
    return removed


def erase_person(email: str, reason: str, actor: str | None = None) -> Removed:
    """Delete everything held about the person with this address. Commits. The access
    record says who did it: the signed-in member, the command line, or ``actor``."""
    address = email.strip()
    same_address = lambda column: or_(column == address, func.lower(column) == address.lower())  # noqa: E731
    lead_ids = list(db.session.scalars(select(Lead.id).where(same_address(Lead.email))))
    removed = _remove(
        lead_ids,
        or_(Referral.lead_id.in_(lead_ids), same_address(Referral.friend_email)),
        or_(OutboxMessage.lead_id.in_(lead_ids), same_address(OutboxMessage.to_address)),
        dry_run=False,
    )
    db.session.add(ErasureRecord(reason=reason, counts=removed.counts()))
    detail = f"{reason}: {removed.describe()}"
    for lead_id in lead_ids or [None]:
        access.record("erasure", lead_id=lead_id, detail=detail, actor=actor)
    db.session.commit()
    log.info("erasure (%s): %s", reason, removed.describe())
    return removed


def purge(older_than_days: int, dry_run: bool = True) -> Removed:
    """Delete leads, referrals and messages older than the retention period, and access
    record entries older than ACCESS_RECORD_RETENTION_DAYS. Commits unless it is a dry
    run."""
    cutoff = utcnow() - timedelta(days=older_than_days)
    lead_ids = list(db.session.scalars(select(Lead.id).where(Lead.created_at < cutoff)))
    removed = _remove(
        lead_ids,
        or_(Referral.created_at < cutoff, Referral.lead_id.in_(lead_ids)),
        or_(OutboxMessage.created_at < cutoff, OutboxMessage.lead_id.in_(lead_ids)),
        dry_run,
    )
    access_days = current_app.config["ACCESS_RECORD_RETENTION_DAYS"]
    removed.access_records = access.purge(access_days, dry_run=dry_run)
    if not dry_run:
        db.session.add(ErasureRecord(reason="retention purge", counts=removed.counts()))
        access.record(
            "erasure",
            detail=f"retention purge: {removed.describe()}; leads older than "
            f"{older_than_days} days, access record older than {access_days} days",
        )
        db.session.commit()
        log.info("purge of data older than %d days: %s", older_than_days, removed.describe())
    return removed


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key, salt="withdraw")


def withdraw_token(lead: Lead) -> str:
    return _serializer().dumps(lead.id)


def lead_from_token(token: str) -> tuple[bool, Lead | None]:
    """(whether the token is ours, the lead it names if it still exists)."""
    try:
        lead_id = _serializer().loads(token)
    except BadSignature:
        return False, None
    if not isinstance(lead_id, int):
        return False, None
    return True, db.session.get(Lead, lead_id)


def withdraw(lead: Lead) -> Removed:
    """The applicant withdraws consent: everything about them goes, as with erase."""
    return erase_person(lead.email, "withdrawal", actor=access.PUBLIC_ACTOR)
