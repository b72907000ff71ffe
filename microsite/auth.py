"""Staff accounts and their sessions: password hashes, sign-in, and session lifetimes.

Sessions end after STAFF_IDLE_LIMIT without a request and PERMANENT_SESSION_LIFETIME after
sign-in (30 minutes and 8 hours, ``config.py``), whichever comes first. Signing in starts
a fresh session, so nothing from before it carries over.
"""

from __future__ import annotations

import hashlib
import logging
from functools import cache
from urllib.parse import urlsplit

from email_validator import EmailNotValidError, validate_email
from flask import current_app, request, session
from flask_login import login_user, logout_user
from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from .config import STAFF_IDLE_LIMIT
from .extensions import db, login_manager
from .models import StaffUser, utcnow

log = logging.getLogger(__name__)

MIN_PASSWORD_LENGTH = 12


@cache
def _unknown_user_hash() -> str:
    """Checked when the email is unknown, so a wrong email takes as long as a wrong
    password. Made on first use: scrypt needs 32 MiB, which no CLI command should pay."""
    return generate_password_hash("no such user, but take the time anyway")


class StaffError(ValueError):
    """A staff command that cannot be carried out; the message says why."""


def normalize_email(email: str) -> str:
    try:
        return validate_email(email.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        raise StaffError(f"not an email address: {email!r}") from None


def check_password_rules(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise StaffError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")


def find_staff(email: str) -> StaffUser | None:
    return db.session.scalar(select(StaffUser).filter_by(email=normalize_email(email)))


def create_staff(email: str, password: str) -> StaffUser:
    address = normalize_email(email)
    check_password_rules(password)
    if find_staff(address) is not None:
        raise StaffError(f"a staff user {address} exists already")
    user = StaffUser(email=address, password_hash=generate_password_hash(password))
    db.session.add(user)
    db.session.commit()
    log.info("staff: user %d created", user.id)
    return user


def _existing(email: str) -> StaffUser:
    user = find_staff(email)
    if user is None:
        raise StaffError(f"no staff user {normalize_email(email)}")
    return user


def set_password(email: str, password: str) -> StaffUser:
    check_password_rules(password)
    user = _existing(email)
    user.password_hash = generate_password_hash(password)
    user.active = True
    db.session.commit()
    log.info("staff: user %d has a new password", user.id)
    return user


def disable(email: str) -> StaffUser:
    user = _existing(email)
    user.active = False
    db.session.commit()
    log.info("staff: user %d disabled", user.id)
    return user


def authenticate(email: str, password: str) -> StaffUser | None:
    """The active user with this email and password; None for anything else, after the
    same work either way."""
    try:
        user = find_staff(email)
    except StaffError:
        user = None
    if user is None:
        check_password_hash(_unknown_user_hash(), password)
        return None
    if not check_password_hash(user.password_hash, password) or not user.active:
        return None
    return user


def account_key() -> str:
    """The rate-limit key for failed sign-ins to one account (a digest, not the email).
    Normalized as sign-in does, so every spelling that reaches an account shares its limit."""
    typed = request.form.get("email", "")
    try:
        email = normalize_email(typed)
    except StaffError:
        email = typed.strip().lower()
    return "account:" + hashlib.sha256(email.encode()).hexdigest()[:32]


def sign_in(user: StaffUser) -> None:
    session.clear()  # a fresh session: nothing from before sign-in carries over
    login_user(user)
    session.permanent = True
    now = utcnow().timestamp()
    session["staff_since"] = now
    session["staff_seen"] = now
    user.last_login_at = utcnow()
    db.session.commit()
    log.info("staff: user %d signed in", user.id)


def sign_out() -> None:
    logout_user()
    session.clear()


def session_expired() -> bool:
    now = utcnow().timestamp()
    since, seen = session.get("staff_since"), session.get("staff_seen")
    if not isinstance(since, float) or not isinstance(seen, float):
        return True
    idle_limit = STAFF_IDLE_LIMIT.total_seconds()
    session_limit = current_app.permanent_session_lifetime.total_seconds()
    return now - seen > idle_limit or now - since > session_limit


def touch_session() -> None:
    session["staff_seen"] = utcnow().timestamp()


def safe_next(target: str | None) -> str | None:
    """A same-site path to go to after signing in, or None. Refuses absolute URLs,
    scheme-relative ones (//host) and backslash tricks (/\\host)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return None
    if "\\" in target or any(ord(c) < 32 for c in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


@login_manager.user_loader
def load_user(user_id: str) -> StaffUser | None:
    user = db.session.get(StaffUser, int(user_id)) if user_id.isdigit() else None
    return user if user is not None and user.active else None
