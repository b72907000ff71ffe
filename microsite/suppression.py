"""Who may be sent a referral message: the suppression list and the per-address limit.

Addresses are kept here only as unkeyed SHA-256 digests of their case-folded form.
Unsubscribe links carry a signed digest, so no address appears in a URL or a log.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from .extensions import db
from .models import MailThrottle, SuppressedAddress, utcnow

MAIL_WINDOW = timedelta(days=30)  # at most one referral message per address in this time


def address_digest(address: str) -> str:
    return hashlib.sha256(address.casefold().encode("utf-8")).hexdigest()


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key, salt="unsubscribe")


def unsubscribe_token(address: str) -> str:
    return _serializer().dumps(address_digest(address))


def digest_from_token(token: str) -> str | None:
    """The digest a token was signed for, or None for a token we did not make."""
    try:
        digest = _serializer().loads(token)
    except BadSignature:
        return None
    return digest if isinstance(digest, str) and len(digest) == 64 else None


def is_suppressed(address: str) -> bool:
    digest = address_digest(address)
    return db.session.get(SuppressedAddress, digest) is not None


def suppress(digest: str) -> None:
    """Put an address on the suppression list; doing it twice is harmless. The caller commits."""
    if db.session.get(SuppressedAddress, digest) is None:
        db.session.add(SuppressedAddress(address_digest=digest))


def claim_mail_slot(address: str) -> bool:
    """True when the address may be sent a message now, and mark it as sent to.

    The update only succeeds for a slot older than the window, and the insert only for an
    address never mailed, so two requests racing for one address get one slot between them
    on SQLite and PostgreSQL alike. The caller commits.
    """
    digest = address_digest(address)
    now = utcnow()
    renewed = db.session.execute(
        update(MailThrottle)
        .where(MailThrottle.address_digest == digest)
        .where(MailThrottle.last_queued_at < now - MAIL_WINDOW)
        .values(last_queued_at=now)
    )
    if renewed.rowcount == 1:
        return True
    if db.session.scalar(select(MailThrottle.address_digest).filter_by(address_digest=digest)):
        return False  # mailed within the window
    try:
        with db.session.begin_nested():
            db.session.add(MailThrottle(address_digest=digest, last_queued_at=now))
    except IntegrityError:
        return False  # another request claimed it a moment ago
    return True
