"""The team: members as admins see them, invitations, password links, and ending sessions.

Rules:
- A member is *invited* until they set a password (active, with no password hash),
  *active* once they have, and *disabled* when an admin has stopped them signing in.
- Invitation and password-reset links are signed (``URLSafeTimedSerializer`` under
  SECRET_KEY, salt ``LINK_SALT``) and valid for LINK_LIFETIME (72 hours). A link names the
  member, its purpose (``invite`` or ``reset``) and a fingerprint of the member's password
  hash and active flag. Setting a password changes the hash (a fresh salt every time) and
  disabling changes the flag, so a link works once, with no table of links: after that
  its fingerprint no longer matches. Re-enabling a member makes an unused link of theirs
  work again until it expires.
- A reset link asked for a member who has never set a password is their invitation again.
- Open leads (the team page's count) are the member's leads whose status is one of
  choices.OPEN_LEAD_STATUSES (new, contacted, referred): a navigator still has work on
  them. Enrolled, not eligible and withdrew close a lead.
- The team keeps an admin who can sign in: the last active admin cannot be disabled or
  made a navigator (``auth``), nor can the last admin with a password while the others
  have not set theirs yet.
- Every change is written to the access record, with the member's email as its detail.
  The caller commits.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app, has_request_context, render_template
from flask_login import current_user
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import func, select
from werkzeug.security import check_password_hash

from . import access, auth, mail, mfa
from .choices import LANGUAGE_CODES, LANGUAGE_NAMES, OPEN_LEAD_STATUSES
from .extensions import db
from .models import Lead, StaffSession, StaffUser
from .web.urls import absolute_url

log = logging.getLogger(__name__)

LINK_SALT = "staff-password-link"
LINK_HOURS = 72
LINK_LIFETIME = timedelta(hours=LINK_HOURS)
PURPOSES = ("invite", "reset")
# The languages a member can call families in, as staff pages name them (English only).


class WrongPassword(auth.StaffError):
    """The current password typed to change it is not the member's."""


# --- The team as admins see it -------------------------------------------------------------


@dataclass(frozen=True)
class Member:
    user: StaffUser
    open_leads: int
    open_sessions: int

    @property
    def state(self) -> str:
        """active, invited or disabled."""
        return member_state(self.user)

    @property
    def languages(self) -> list[str]:
        return [LANGUAGE_NAMES.get(code, code) for code in self.user.language_codes]


STATES = {"active": "Active", "invited": "Invited", "disabled": "Disabled"}


def member_state(user: StaffUser) -> str:
    if not user.active:
        return "disabled"
    return "active" if user.password_hash else "invited"


def _open_leads_by_member() -> dict[int, int]:
    found = db.session.execute(
        select(Lead.assigned_to_id, func.count(Lead.id))
        .where(Lead.assigned_to_id.is_not(None), Lead.status.in_(OPEN_LEAD_STATUSES))
        .group_by(Lead.assigned_to_id)
    )
    return dict(found.all())


def _member(user: StaffUser, open_leads: dict[int, int]) -> Member:
    return Member(user, open_leads.get(user.id, 0), len(auth.open_sessions(user.id)))


def members() -> list[Member]:
    """Everyone on the team, active members first, then invited, then disabled; by email."""
    users = db.session.scalars(select(StaffUser).order_by(StaffUser.email))
    open_leads = _open_leads_by_member()
    order = list(STATES)
    found = [_member(user, open_leads) for user in users]
    return sorted(found, key=lambda member: order.index(member.state))


def member(member_id: int) -> Member | None:
    user = db.session.get(StaffUser, member_id)
    return None if user is None else _member(user, _open_leads_by_member())


# --- Links to set a password ---------------------------------------------------------------


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt=LINK_SALT)


def fingerprint(user: StaffUser) -> str:
    """Changes when the member's password is set or they are disabled: what makes a link
    single-use. Short, since it only has to differ, and a digest, so it says nothing of
    the hash."""
    material = f"{user.id}|{user.password_hash}|{int(user.active)}"
    return hashlib.sha256(material.encode()).hexdigest()[:16]


def link_token(user: StaffUser, purpose: str) -> str:
    if purpose not in PURPOSES:
        raise ValueError(f"unknown link purpose {purpose!r}")
    return _serializer().dumps({"m": user.id, "p": purpose, "f": fingerprint(user)})


def link_url(user: StaffUser, purpose: str) -> str:
    return absolute_url("staff.set_password", token=link_token(user, purpose))


@dataclass(frozen=True)
class LinkCheck:
    """What a link is worth: its member and purpose, or ``problem`` (expired, used or
    invalid) and no member."""

    member: StaffUser | None = None
    purpose: str | None = None
    problem: str | None = None


def member_for_token(token: str, purpose: str | None = None) -> LinkCheck:
    """The member a link is for, if it still works (and is for ``purpose``, when given)."""
    try:
        payload = _serializer().loads(token, max_age=int(LINK_LIFETIME.total_seconds()))
    except SignatureExpired:
        return LinkCheck(problem="expired")
    except BadSignature:
        return LinkCheck(problem="invalid")
    if (
        not isinstance(payload, dict)
        or not isinstance(payload.get("m"), int)
        or payload.get("p") not in PURPOSES
        or (purpose is not None and payload["p"] != purpose)
    ):
        return LinkCheck(problem="invalid")
    user = db.session.get(StaffUser, payload["m"])
    if user is None:
        return LinkCheck(problem="invalid")
    if payload.get("f") != fingerprint(user):
        return LinkCheck(problem="used")
    return LinkCheck(member=user, purpose=payload["p"])


def use_token(token: str, password: str) -> StaffUser:
    """Set the password a working link is for, end the member's other sessions and sign
    them in here. Raises StaffError when the link no longer works. The caller commits."""
    check = member_for_token(token)
    if check.member is None:
        raise auth.StaffError(f"this link is {check.problem}")
    # The row locked and read again (PostgreSQL), so that of two uses at once the second
    # finds the password set by the first.
    user = db.session.scalar(
        select(StaffUser)
        .where(StaffUser.id == check.member.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if user is None or member_for_token(token).member is not user:
        raise auth.StaffError("this link is used")
    auth.set_password(user, password)  # ends every session they had
    auth.sign_in(user)
    access.record("password changed", detail=user.email)
    if check.purpose == "reset":  # a new member setting their first password needs none
        mfa.notice(user, "Your password was changed from a password-reset link.")
    log.info("team: user %d set a password from a %s link", user.id, check.purpose)
    return user


def _queue_link(user: StaffUser, purpose: str, by: StaffUser | None) -> None:
    kind = "staff_invite" if purpose == "invite" else "password_reset"
    context = {
        "member": user,
        "by": by.email if by is not None else "An admin",
        "link": link_url(user, purpose),
        "hours": LINK_HOURS,
    }
    org = current_app.config["ORG_NAME"]
    subject = (
        f"You are invited to the {org} staff area"
        if purpose == "invite"
        else f"Choose a new password for the {org} staff area"
    )
    mail.queue_message(
        to=user.email,
        subject=subject,
        text=render_template(f"mail/{kind}.txt", **context),
        html=render_template(f"mail/{kind}.html", **context),
        kind=kind,
    )


# --- Changes an admin makes ------------------------------------------------------------------


def _actor() -> StaffUser | None:
    """The signed-in member making a change; None on the command line."""
    if not has_request_context() or not current_user.is_authenticated:
        return None
    return current_user._get_current_object()


def invite(email: str, role: str, languages, by: StaffUser | None = None) -> StaffUser:
    """A new member with no password yet, and their invitation in the outbox."""
    user = auth.create_staff(email, password=None, role=role, languages=_languages(languages))
    _queue_link(user, "invite", by)
    access.record("invite", detail=user.email)
    log.info("team: user %d invited", user.id)
    return user


def send_reset(user: StaffUser, by: StaffUser | None = None) -> str:
    """Mail the member a link to choose a new password (their invitation again when they
    have never set one): "invite" or "reset", the kind of link sent."""
    if not user.active:
        raise auth.StaffError(f"{user.email} is disabled: enable them first")
    purpose = "reset" if user.password_hash else "invite"
    _queue_link(user, purpose, by)
    access.record("password reset" if purpose == "reset" else "invite", detail=user.email)
    log.info("team: %s link queued for user %d", purpose, user.id)
    return purpose


def _languages(codes) -> str:
    chosen = [code for code in LANGUAGE_CODES if code in set(codes)]
    if not chosen:
        raise auth.StaffError("a member speaks at least one of the languages")
    return ",".join(chosen)


def _keep_an_admin_who_can_sign_in(user: StaffUser) -> None:
    """auth keeps an active admin; invited admins count there, but cannot sign in yet."""
    if not (user.is_admin and user.active and user.password_hash):
        return
    if auth.active_admins() <= 1:
        return  # the last active admin: auth refuses, and says so
    others = db.session.scalar(
        select(func.count(StaffUser.id)).where(
            StaffUser.role == "admin",
            StaffUser.active.is_(True),
            StaffUser.password_hash != "",
            StaffUser.id != user.id,
        )
    )
    if not others:
        raise auth.StaffError(
            f"{user.email} is the only admin who can sign in: another admin has to set "
            "their password first"
        )


def change_role(user: StaffUser, role: str) -> bool:
    """Whether the role changed."""
    if role == user.role:
        return False
    if role != "admin":
        _keep_an_admin_who_can_sign_in(user)
    auth.set_role(user, role)
    access.record("role", detail=user.email)
    return True


def change_languages(user: StaffUser, codes) -> bool:
    """Whether the languages changed."""
    languages = _languages(codes)
    if languages == user.languages:
        return False
    user.languages = languages
    access.record("languages", detail=user.email)
    log.info("team: user %d languages changed", user.id)
    return True


def disable(user: StaffUser) -> None:
    """Stop the member from signing in and end their sessions. Not oneself: another admin
    does it, so nobody locks themselves out by a slip."""
    actor = _actor()
    if actor is not None and actor.id == user.id:
        raise auth.StaffError("you cannot disable your own account: ask another admin")
    if not user.active:
        return
    _keep_an_admin_who_can_sign_in(user)
    auth.disable(user)
    access.record("disable", detail=user.email)


def enable(user: StaffUser) -> None:
    if user.active:
        return
    auth.enable(user)
    access.record("enable", detail=user.email)


def end_sessions(user: StaffUser) -> int:
    """End every open session of the member (but this one, when it is one's own)."""
    actor = _actor()
    keep = auth.current_session() if actor is not None and actor.id == user.id else None
    reason = f"ended by {actor.id}" if actor is not None else "ended by an admin"
    ended = auth.end_sessions(user.id, reason, keep=keep)
    if ended:
        access.record("session ended", detail=user.email)
        log.info("team: %d sessions of user %d ended", ended, user.id)
    return ended


def reset_factors(user: StaffUser) -> int:
    """Remove every sign-in factor and recovery code of a member who lost them (recorded;
    their sessions end; they enrol again at their next sign-in). Not one's own from the
    team page: one's own account page changes them, after the password."""
    actor = _actor()
    if actor is not None and actor.id == user.id:
        raise auth.StaffError(
            "you cannot reset your own sign-in methods here: change them on your account "
            "page, or ask another admin"
        )
    removed = mfa.reset(user)
    access.record("mfa reset", detail=user.email)
    return removed


# --- One's own account -----------------------------------------------------------------------


@dataclass(frozen=True)
class OwnSession:
    row: StaffSession
    current: bool

    @property
    def started(self) -> datetime:
        return self.row.created_at


def own_sessions(user: StaffUser) -> list[OwnSession]:
    """The member's open sessions, this one first, then the most recently seen."""
    current = auth.current_session()
    found = [
        OwnSession(row, current is not None and row.id == current.id)
        for row in auth.open_sessions(user.id)
    ]
    return sorted(found, key=lambda session: not session.current)


def end_own_session(user: StaffUser, session_id: int) -> bool:
    """End another open session of one's own; False when there is none such (it has
    ended already, or it is this one: signing out ends this one)."""
    current = auth.current_session()
    if current is not None and current.id == session_id:
        return False
    if not auth.end_session(user.id, session_id, f"ended by {user.id}"):
        return False
    access.record("session ended", detail=user.email)
    log.info("team: user %d ended their session %d", user.id, session_id)
    return True


def end_other_sessions(user: StaffUser) -> int:
    ended = auth.end_sessions(user.id, f"ended by {user.id}", keep=auth.current_session())
    if ended:
        access.record("session ended", detail=user.email)
        log.info("team: user %d ended %d other sessions", user.id, ended)
    return ended


def change_own_password(user: StaffUser, current_password: str, new_password: str) -> None:
    """A new password, once the current one has been typed: the member's other sessions
    end, this one goes on."""
    if not user.password_hash or not check_password_hash(user.password_hash, current_password):
        raise WrongPassword("the current password is not right")
    auth.reauthenticated()
    auth.set_password(user, new_password, keep=auth.current_session())
    access.record("password changed", detail=user.email)
    mfa.notice(user, "Your password was changed on your account page.")
