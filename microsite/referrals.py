"""Referrals: "send this to a friend", personal links, and the clicks they bring."""

from __future__ import annotations

import logging
import re
import secrets

from flask import render_template
from flask_babel import force_locale, gettext
from sqlalchemy import func, literal, select, update

from . import mail, suppression
from .database import add_once
from .extensions import db
from .models import Lead, OutboxMessage, Referral, UTCDateTime, utcnow
from .web.i18n import localized_endpoint
from .web.urls import absolute_url

log = logging.getLogger(__name__)

# 12 random bytes: 96 bits, 16 URL-safe characters.
_CODE_BYTES = 12
CODE_PATTERN = re.compile(r"[A-Za-z0-9_-]{16}")


def new_code() -> str:
    """A random code that never starts with - or _, so no spreadsheet reads it as a formula
    and a CSV export never has to change it."""
    while True:
        code = secrets.token_urlsafe(_CODE_BYTES)
        if code[0].isalnum():
            return code


def link(referral: Referral) -> str:
    """The absolute /r/<code> link, on PUBLIC_URL, never on the request's Host header."""
    return absolute_url("links.follow_referral", code=referral.code)


def find(code: str) -> Referral | None:
    if not CODE_PATTERN.fullmatch(code):
        return None
    return db.session.scalar(select(Referral).filter_by(code=code))


def personal_referral(lead: Lead) -> Referral | None:
    """The lead's own link to share, made when the lead was recorded."""
    return db.session.scalar(
        select(Referral).filter_by(lead_id=lead.id, kind="personal").order_by(Referral.id)
    )


def add_personal_referral(lead: Lead) -> Referral:
    """Give a new lead a link of their own to share. The caller commits."""
    referral = Referral(
        kind="personal",
        code=new_code(),
        sender_name=lead.name,
        lead_id=lead.id,
        language=lead.language,
    )
    db.session.add(referral)
    return referral


def _message_to_friend(referral: Referral) -> dict:
    """The fixed message to the friend, in the language of the page it was sent from."""
    unsubscribe_url = absolute_url(
        localized_endpoint("public.unsubscribe", referral.language),
        token=suppression.unsubscribe_token(referral.friend_email),
    )
    context = {"referral": referral, "link": link(referral), "unsubscribe_url": unsubscribe_url}
    with force_locale(referral.language):
        return {
            "to": referral.friend_email,
            "subject": gettext("A friend thought this might help: finding a clinical trial"),
            "text": render_template("mail/referral.txt", **context),
            "html": render_template("mail/referral.html", **context),
            "headers": {
                "List-Unsubscribe": f"<{unsubscribe_url}>",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            },
        }


def record_referral(
    details: dict, sender: Lead | None, idempotency_key: str | None, language: str = "en"
) -> tuple[Referral, OutboxMessage | None]:
    """Store a referral made on a page in ``language`` and, when the friend may be written
    to, queue the message to them, in that language, in the same transaction. The caller
    commits.

    A suppressed address keeps no friend's details at all; an address written to within
    the last 30 days gets no second message. The sender is told the same either way.
    """
    suppressed = suppression.is_suppressed(details["friend_email"])
    if suppressed:
        details = {**details, "friend_name": None, "friend_email": None}
    referral = Referral(
        **details,
        code=new_code(),
        lead_id=sender.id if sender else None,
        idempotency_key=idempotency_key,
        language=language,
    )
    referral, created = add_once(referral, "idempotency_key")
    if not created:
        log.info("share: resubmission of referral %d ignored", referral.id)
        return referral, None
    message = None
    if not suppressed and suppression.claim_mail_slot(referral.friend_email):
        message = mail.queue_message(**_message_to_friend(referral), referral_id=referral.id)
    log.info(
        "share: referral %d recorded, %s",
        referral.id,
        "message queued" if message else "no message",
    )
    return referral, message


def count_click(referral: Referral) -> None:
    """One more click, counted in the database so that concurrent clicks all count."""
    now = utcnow()
    db.session.execute(
        update(Referral)
        .where(Referral.id == referral.id)
        .values(
            clicks=Referral.clicks + 1,
            last_click_at=now,
            first_click_at=func.coalesce(Referral.first_click_at, literal(now, UTCDateTime())),
        )
    )
