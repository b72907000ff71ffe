"""Staff accounts and their sessions: password hashes, sign-in, and session lifetimes.

A session lives on the server (``StaffSession``): the signed cookie carries only a random
id, whose digest names the row, and every staff request checks the row. So a session can
be ended for real: by signing out, after STAFF_IDLE_LIMIT without a request or
PERMANENT_SESSION_LIFETIME after sign-in (30 minutes and 8 hours, ``config.py``), by the
member from another session, or by an admin. Signing in starts a fresh session, so
nothing from before it carries over.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from functools import cache
from urllib.parse import urlsplit

from email_validator import EmailNotValidError, validate_email
from flask import current_app, g, request, session
from flask_login import current_user, login_user, logout_user
from sqlalchemy import func, select
from werkzeug.security import check_password_hash, generate_password_hash

from .choices import STAFF_ROLES
from .config import STAFF_IDLE_LIMIT
from .extensions import db, login_manager
from .models import StaffSession, StaffUser, utcnow

log = logging.getLogger(__name__)

MIN_PASSWORD_LENGTH = 12
SESSION_KEY = "staff_session"  # the random id of the session's row, in the signed cookie


def hash_password(password: str) -> str:
    """A werkzeug hash made with PASSWORD_HASH_METHOD (scrypt by default)."""
    return generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])


@cache
def _unknown_user_hash_for(method: str) -> str:
    return generate_password_hash("no such user, but take the time anyway", method=method)


def _unknown_user_hash() -> str:
    """Checked when the email is unknown, so a wrong email takes as long as a wrong
    password. Made on first use: scrypt needs 32 MiB, which no CLI command should pay."""
    return _unknown_user_hash_for(current_app.config["PASSWORD_HASH_METHOD"])


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


def members(active_only: bool = False) -> list[StaffUser]:
    """The staff members by email (only those who may sign in, if asked)."""
    query = select(StaffUser).order_by(StaffUser.email)
    if active_only:
        query = query.filter_by(active=True)
    return list(db.session.scalars(query))


def active_admins() -> int:
    return db.session.scalar(select(func.count(StaffUser.id)).filter_by(role="admin", active=True))


def create_staff(
    email: str, password: str | None = None, role: str | None = None, languages: str = "en"
) -> StaffUser:
    """A new member. ``role`` None means navigator, except on a team with no active admin,
    whose first member is its admin. Without a password (an invitation) nobody can sign
    in as them until they set one. The caller commits."""
    address = normalize_email(email)
    if password is not None:
        check_password_rules(password)
    if role is not None and role not in STAFF_ROLES:
        raise StaffError(f"a role is one of {', '.join(STAFF_ROLES)}, not {role!r}")
    if find_staff(address) is not None:
        raise StaffError(f"a staff user {address} exists already")
    user = StaffUser(
        email=address,
        password_hash=hash_password(password) if password is not None else "",
        role=role or ("navigator" if active_admins() else "admin"),
        languages=languages,
    )
    db.session.add(user)
    db.session.flush()
    log.info("staff: user %d created (%s)", user.id, user.role)
    return user


def existing(email: str) -> StaffUser:
    user = find_staff(email)
    if user is None:
        raise StaffError(f"no staff user {normalize_email(email)}")
    return user


def _keep_an_admin(user: StaffUser) -> None:
    if user.is_admin and user.active and active_admins() <= 1:
        raise StaffError(
            f"{user.email} is the last active admin: make another member an admin first"
        )


def set_password(user: StaffUser, password: str, keep: StaffSession | None = None) -> None:
    """A new password, which ends every session of the member (but ``keep``, the one they
    changed it in). The caller commits."""
    check_password_rules(password)
    user.password_hash = hash_password(password)
    end_sessions(user.id, "password changed", keep=keep)
    log.info("staff: user %d has a new password", user.id)


def set_role(user: StaffUser, role: str) -> None:
    """The caller commits."""
    if role not in STAFF_ROLES:
        raise StaffError(f"a role is one of {', '.join(STAFF_ROLES)}, not {role!r}")
    if role != "admin":
        _keep_an_admin(user)
    user.role = role
    log.info("staff: user %d is now %s", user.id, role)


def disable(user: StaffUser) -> None:
    """Stop a member from signing in, and end their sessions. The caller commits."""
    _keep_an_admin(user)
    user.active = False
    end_sessions(user.id, "disabled")
    log.info("staff: user %d disabled", user.id)


def enable(user: StaffUser) -> None:
    """The caller commits."""
    user.active = True
    log.info("staff: user %d enabled", user.id)


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
    if not user.password_hash:  # invited, no password set yet
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


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


_BROWSERS = (
    ("Edg/", "Edge"),
    ("Firefox/", "Firefox"),
    ("Chrome/", "Chrome"),
    ("Safari/", "Safari"),
)
_SYSTEMS = (
    ("Android", "Android"),
    ("iPhone", "iPhone"),
    ("iPad", "iPad"),
    ("Windows", "Windows"),
    ("Mac OS X", "macOS"),
    ("Linux", "Linux"),
)


def device_name(user_agent: str) -> str:
    """A few words to tell one's sessions apart, like "Chrome on Linux"; nothing that
    identifies the machine."""
    browser = next((name for mark, name in _BROWSERS if mark in user_agent), "A browser")
    system = next((name for mark, name in _SYSTEMS if mark in user_agent), None)
    return f"{browser} on {system}" if system else browser


def sign_in(user: StaffUser) -> StaffSession:
    """Start a fresh session (nothing from before sign-in carries over) and its row."""
    session.clear()
    token = secrets.token_urlsafe(32)
    row = StaffSession(
        token_digest=_digest(token),
        staff_id=user.id,
        device=device_name(request.user_agent.string or ""),
    )
    db.session.add(row)
    user.last_login_at = utcnow()
    db.session.commit()
    login_user(user)
    session.permanent = True
    session[SESSION_KEY] = token
    g.staff_session = row
    log.info("staff: user %d signed in, session %d", user.id, row.id)
    return row


def current_session() -> StaffSession | None:
    """The open session row of the signed-in member's cookie, or None."""
    if "staff_session" not in g:
        token = session.get(SESSION_KEY)
        row = None
        if isinstance(token, str) and current_user.is_authenticated:
            row = db.session.scalar(
                select(StaffSession).filter_by(
                    token_digest=_digest(token), staff_id=current_user.id, ended_at=None
                )
            )
        g.staff_session = row
    return g.staff_session


def _end(row: StaffSession, reason: str) -> None:
    row.ended_at = utcnow()
    row.end_reason = reason


def check_session() -> bool:
    """Whether this request belongs to an open session, ending it first if it has been
    idle for STAFF_IDLE_LIMIT or open for PERMANENT_SESSION_LIFETIME. An open session is
    marked as seen now."""
    row = current_session()
    if row is None:
        return False
    now = utcnow()
    if now - row.last_seen_at > STAFF_IDLE_LIMIT:
        _end(row, "idle")
    elif now - row.created_at > current_app.permanent_session_lifetime:
        _end(row, "time limit")
    else:
        row.last_seen_at = now
    db.session.commit()
    return row.ended_at is None


def sign_out() -> None:
    row = current_session()
    if row is not None and row.ended_at is None:
        _end(row, "signed out")
        db.session.commit()
    logout_user()
    session.clear()
    g.pop("staff_session", None)


def open_sessions(staff_id: int) -> list[StaffSession]:
    """A member's sessions not yet ended nor expired, newest first."""
    now = utcnow()
    rows = db.session.scalars(
        select(StaffSession)
        .filter_by(staff_id=staff_id, ended_at=None)
        .order_by(StaffSession.last_seen_at.desc(), StaffSession.id.desc())
    )
    return [
        row
        for row in rows
        if now - row.last_seen_at <= STAFF_IDLE_LIMIT
        and now - row.created_at <= current_app.permanent_session_lifetime
    ]


def end_sessions(staff_id: int, reason: str, keep: StaffSession | None = None) -> int:
    """End every open session of a member (but ``keep``); how many were ended. The
    caller commits."""
    rows = db.session.scalars(select(StaffSession).filter_by(staff_id=staff_id, ended_at=None))
    ended = 0
    for row in rows:
        if keep is None or row.id != keep.id:
            _end(row, reason)
            ended += 1
    return ended


def end_session(staff_id: int, session_id: int, reason: str) -> bool:
    """End one open session of a member; False when there is none such. The caller commits."""
    row = db.session.scalar(
        select(StaffSession).filter_by(id=session_id, staff_id=staff_id, ended_at=None)
    )
    if row is None:
        return False
    _end(row, reason)
    return True


def reauthenticated() -> None:
    """The member typed their password again in this session. The caller commits."""
    row = current_session()
    if row is not None:
        row.reauthenticated_at = utcnow()


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
