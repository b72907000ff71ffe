"""The access record: who viewed which lead page, exported which CSV, erased whom, changed
what in the team; with the session it was done in.

Append-only (``models.AccessRecord``).
"""

from __future__ import annotations

import getpass

from flask import has_request_context
from flask_login import current_user

from . import auth
from .extensions import db
from .models import AccessRecord

ACTIONS = {
    "lead viewed": "Opened the lead page",
    "export": "Exported a CSV",
    "erasure": "Erased a person's data",
    "invite": "Invited a member",
    "role": "Changed a member's role",
    "disable": "Disabled a member",
    "enable": "Enabled a member",
    "session ended": "Ended a session",
    "password reset": "Sent a password-reset link",
    "password changed": "Changed their password",
    "languages": "Changed a member's languages",
}


def record(action: str, lead_id: int | None = None, detail: str | None = None) -> AccessRecord:
    """Add one entry, by the signed-in member (or the command line's user). The caller
    commits."""
    if action not in ACTIONS:
        raise ValueError(f"unknown access action {action!r}")
    if has_request_context() and current_user.is_authenticated:
        row = auth.current_session()
        entry = AccessRecord(
            staff_id=current_user.id,
            actor=current_user.email,
            session_id=row.id if row is not None else None,
            action=action,
            lead_id=lead_id,
            detail=detail,
        )
    else:
        entry = AccessRecord(
            actor=f"cli:{getpass.getuser()}", action=action, lead_id=lead_id, detail=detail
        )
    db.session.add(entry)
    return entry
