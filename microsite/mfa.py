"""The second factor of staff sign-in: passkeys (WebAuthn) first, an authenticator app
(TOTP) as fallback, and single-use recovery codes. No SMS, no email codes.

- A session that has only seen the password is "password-only" (``StaffSession.
  second_factor_at`` is None): the staff guard lets it reach enrolment (when the member
  holds no factor yet) and the challenge, nothing else (``staff/views.py``).
- TOTP as ASVS asks: 30-second steps, one step of drift either way, each code accepted
  once (the last step used is stored; a reused code is refused and logged), secrets
  encrypted at rest with MFA_ENCRYPTION_KEY (a key of its own), failed codes limited per
  account like sign-ins (the views).
- WebAuthn as the standard asks: the relying-party id is WEBAUTHN_RP_ID (PUBLIC_URL's host
  by default), the origin PUBLIC_URL; the challenge lives in the server-side session row
  and is used once; user verification is required; a credential registered twice is
  refused; an assertion whose sign count went backwards is refused (one that stays 0 is
  fine: many passkeys never count).
- Ten recovery codes of 64 bits each, shown once, stored hashed like passwords; a new set
  replaces the old; each use mails the member a security notice.
- Changing factors or recovery codes needs the password or a factor within the last five
  minutes (``recently_confirmed``); each change mails a notice, goes into the access record
  and ends the member's other sessions. A password reset or change never removes a factor.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import secrets
from datetime import timedelta
from typing import TYPE_CHECKING

from cryptography.fernet import Fernet, InvalidToken
from flask import current_app, render_template
from sqlalchemy import delete, func, select
from werkzeug.security import check_password_hash

from . import access, auth, mail
from .extensions import db
from .models import RecoveryCode, StaffFactor, StaffSession, StaffUser, utcnow

if TYPE_CHECKING:
    from webauthn.helpers.structs import PublicKeyCredentialDescriptor

# pyotp, segno and webauthn are imported where they are used: the commands that never
# touch a second factor (``flask leads export`` among them) do not load them.

log = logging.getLogger(__name__)

TOTP_STEP = 30
TOTP_DRIFT = 1  # steps either way
RECOVERY_CODES = 10
RECOVERY_CODE_BYTES = 8  # 64 bits
CONFIRM_WITHIN = timedelta(minutes=5)
PENDING_SECRET_MAX_AGE = 15 * 60  # seconds an enrolment form's secret stays usable


class FactorError(ValueError):
    """A factor that cannot be added or used; the message says why, for the page."""


# Sessions ----------------------------------------------------------------------------------


def verified(row: StaffSession | None) -> bool:
    return row is not None and row.second_factor_at is not None


def mark_verified(row: StaffSession) -> None:
    """The member proved a second factor in this session. The caller commits."""
    now = utcnow()
    row.second_factor_at = now
    row.reauthenticated_at = now


def recently_confirmed(row: StaffSession | None) -> bool:
    """Whether the member typed the password or proved a factor in the last 5 minutes."""
    return row is not None and utcnow() - row.reauthenticated_at <= CONFIRM_WITHIN


def factors(staff_id: int) -> list[StaffFactor]:
    return list(
        db.session.scalars(
            select(StaffFactor).filter_by(staff_id=staff_id).order_by(StaffFactor.id)
        )
    )


def has_factor(staff_id: int) -> bool:
    return db.session.scalar(select(func.count(StaffFactor.id)).filter_by(staff_id=staff_id)) > 0


def unused_recovery_codes(staff_id: int) -> int:
    return db.session.scalar(
        select(func.count(RecoveryCode.id)).filter_by(staff_id=staff_id, used_at=None)
    )


# Authenticator apps (TOTP) --------------------------------------------------------------------


def _fernet() -> Fernet:
    digest = hashlib.sha256(
        b"staff authenticator secrets|" + current_app.config["MFA_ENCRYPTION_KEY"].encode()
    ).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def encrypt(secret: str) -> str:
    return _fernet().encrypt(secret.encode()).decode()


def decrypt(token: str, max_age: int | None = None) -> str:
    return _fernet().decrypt(token.encode(), ttl=max_age).decode()


def new_totp_secret() -> str:
    import pyotp

    return pyotp.random_base32()


def pending_secret(token: str) -> str | None:
    """The secret of an enrolment form (encrypted into the form, so it is never stored
    before it is proven), or None when the form is too old or not ours."""
    try:
        return decrypt(token, PENDING_SECRET_MAX_AGE)
    except (InvalidToken, UnicodeError, ValueError):
        return None


def provisioning_uri(secret: str, user: StaffUser) -> str:
    import pyotp

    return pyotp.TOTP(secret).provisioning_uri(
        name=user.email, issuer_name=current_app.config["ORG_NAME"]
    )


def qr_svg(uri: str) -> str:
    """The otpauth:// link as an inline SVG QR code, drawn on the server."""
    import segno

    return segno.make(uri, error="m").svg_inline(scale=4, border=2, title="QR code")


def _matching_step(secret: str, code: str) -> int | None:
    """The time step (of now and one either side) whose code this is, or None."""
    import pyotp

    code = "".join(code.split())
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret, interval=TOTP_STEP)
    now = utcnow()
    current = totp.timecode(now)
    for step in range(current - TOTP_DRIFT, current + TOTP_DRIFT + 1):
        if secrets.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def add_totp(user: StaffUser, secret: str, code: str, name: str) -> StaffFactor:
    """An authenticator app, once a code from it proves it was set up. The caller commits."""
    step = _matching_step(secret, code)
    if step is None:
        raise FactorError(
            "That code is not right. Check the app's clock, wait for a new code, and type it."
        )
    factor = StaffFactor(
        staff_id=user.id,
        kind="totp",
        name=name,
        totp_secret=encrypt(secret),
        totp_last_step=step,
        last_used_at=utcnow(),
    )
    db.session.add(factor)
    db.session.flush()
    return factor


def check_totp(user: StaffUser, code: str) -> StaffFactor | None:
    """The member's authenticator app that made this code, now used; None for a wrong
    code or one already used (logged). The caller commits."""
    for factor in factors(user.id):
        if factor.kind != "totp":
            continue
        step = _matching_step(decrypt(factor.totp_secret), code)
        if step is None:
            continue
        if factor.totp_last_step is not None and step <= factor.totp_last_step:
            log.warning("staff: user %d sent an authenticator code already used", user.id)
            return None
        factor.totp_last_step = step
        factor.last_used_at = utcnow()
        return factor
    return None


# Passkeys (WebAuthn) ----------------------------------------------------------------------------


def rp_id() -> str:
    return current_app.config["WEBAUTHN_RP_ID"]


def origin() -> str:
    return current_app.config["PUBLIC_URL"]


def _take_challenge(row: StaffSession) -> bytes:
    """The session's challenge, cleared: a challenge is used once."""
    from webauthn.helpers import base64url_to_bytes

    challenge = row.webauthn_challenge
    row.webauthn_challenge = None
    db.session.commit()
    if not challenge:
        raise FactorError("The passkey request has expired. Try again.")
    return base64url_to_bytes(challenge)


def _descriptors(staff_id: int) -> list[PublicKeyCredentialDescriptor]:
    from webauthn.helpers import base64url_to_bytes
    from webauthn.helpers.structs import AuthenticatorTransport, PublicKeyCredentialDescriptor

    return [
        PublicKeyCredentialDescriptor(
            id=base64url_to_bytes(factor.credential_id),
            transports=[
                AuthenticatorTransport(t)
                for t in (factor.transports or "").split(",")
                if t in AuthenticatorTransport._value2member_map_
            ]
            or None,
        )
        for factor in factors(staff_id)
        if factor.kind == "passkey"
    ]


def registration_options(user: StaffUser, row: StaffSession) -> str:
    """The options for navigator.credentials.create(), as JSON; the challenge is kept in
    the session row. Commits."""
    from webauthn import generate_registration_options, options_to_json
    from webauthn.helpers import bytes_to_base64url
    from webauthn.helpers.structs import (
        AuthenticatorSelectionCriteria,
        ResidentKeyRequirement,
        UserVerificationRequirement,
    )

    options = generate_registration_options(
        rp_id=rp_id(),
        rp_name=current_app.config["ORG_NAME"],
        user_id=f"staff-{user.id}".encode(),
        user_name=user.email,
        user_display_name=user.email,
        exclude_credentials=_descriptors(user.id),
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.PREFERRED,
            user_verification=UserVerificationRequirement.REQUIRED,
        ),
    )
    row.webauthn_challenge = bytes_to_base64url(options.challenge)
    db.session.commit()
    return options_to_json(options)


def add_passkey(user: StaffUser, row: StaffSession, credential: str, name: str) -> StaffFactor:
    """A passkey, once the browser's answer to our challenge checks out. The caller commits."""
    from webauthn import verify_registration_response
    from webauthn.helpers import bytes_to_base64url
    from webauthn.helpers.exceptions import WebAuthnException

    challenge = _take_challenge(row)
    try:
        verified_registration = verify_registration_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=rp_id(),
            expected_origin=origin(),
            require_user_verification=True,
        )
    except (WebAuthnException, ValueError, KeyError, TypeError) as error:  # any bad answer
        log.info("staff: user %d passkey refused (%s)", user.id, type(error).__name__)
        raise FactorError("The passkey could not be checked. Try again.") from None
    credential_id = bytes_to_base64url(verified_registration.credential_id)
    if db.session.scalar(select(StaffFactor.id).filter_by(credential_id=credential_id)):
        raise FactorError("This passkey is registered already.")
    transports = _transports(credential)
    factor = StaffFactor(
        staff_id=user.id,
        kind="passkey",
        name=name,
        credential_id=credential_id,
        public_key=verified_registration.credential_public_key,
        sign_count=verified_registration.sign_count,
        transports=transports,
        last_used_at=utcnow(),
    )
    db.session.add(factor)
    db.session.flush()
    return factor


def _transports(credential: str) -> str | None:
    from webauthn.helpers.structs import AuthenticatorTransport

    try:
        found = json.loads(credential).get("response", {}).get("transports") or []
    except (ValueError, AttributeError):
        return None
    known = [t for t in found if t in AuthenticatorTransport._value2member_map_]
    return ",".join(known)[:100] or None


def authentication_options(user: StaffUser, row: StaffSession) -> str:
    """The options for navigator.credentials.get(), as JSON. Commits."""
    from webauthn import generate_authentication_options, options_to_json
    from webauthn.helpers import bytes_to_base64url
    from webauthn.helpers.structs import UserVerificationRequirement

    options = generate_authentication_options(
        rp_id=rp_id(),
        allow_credentials=_descriptors(user.id),
        user_verification=UserVerificationRequirement.REQUIRED,
    )
    row.webauthn_challenge = bytes_to_base64url(options.challenge)
    db.session.commit()
    return options_to_json(options)


def check_passkey(user: StaffUser, row: StaffSession, credential: str) -> StaffFactor:
    """The member's passkey that signed our challenge, its sign count moved on. Raises
    FactorError otherwise (a backwards sign count among the reasons). The caller commits."""
    from webauthn import verify_authentication_response
    from webauthn.helpers.exceptions import WebAuthnException

    challenge = _take_challenge(row)
    try:
        credential_id = json.loads(credential)["rawId"]
    except (ValueError, KeyError, TypeError):
        credential_id = None
    if not isinstance(credential_id, str):
        raise FactorError("The passkey answer was not complete. Try again.")
    factor = db.session.scalar(
        select(StaffFactor).filter_by(staff_id=user.id, kind="passkey", credential_id=credential_id)
    )
    if factor is None:
        raise FactorError("This passkey is not one of yours here. Use another, or a code.")
    try:
        result = verify_authentication_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=rp_id(),
            expected_origin=origin(),
            credential_public_key=factor.public_key,
            credential_current_sign_count=factor.sign_count,
            require_user_verification=True,
        )
    except (WebAuthnException, ValueError, KeyError, TypeError) as error:  # any bad answer
        log.warning(
            "staff: user %d passkey %d refused (%s)", user.id, factor.id, type(error).__name__
        )
        raise FactorError("The passkey could not be checked. Try again, or use a code.") from None
    factor.sign_count = result.new_sign_count
    factor.last_used_at = utcnow()
    return factor


# Recovery codes ------------------------------------------------------------------------------


def _normalized(code: str) -> str:
    return "".join(character for character in code.lower() if character.isalnum())


def new_recovery_codes(user: StaffUser) -> list[str]:
    """Ten new codes, replacing any earlier set; only their hashes are kept. The caller
    commits and shows them once."""
    db.session.execute(delete(RecoveryCode).filter_by(staff_id=user.id))
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = secrets.token_hex(RECOVERY_CODE_BYTES)
        codes.append("-".join(raw[i : i + 4] for i in range(0, len(raw), 4)))
        db.session.add(RecoveryCode(staff_id=user.id, code_hash=auth.hash_password(raw)))
    return codes


def use_recovery_code(user: StaffUser, code: str) -> bool:
    """Spend one unused recovery code; False for a wrong or spent one. Mails the member a
    notice. The caller commits."""
    typed = _normalized(code)
    if len(typed) != 2 * RECOVERY_CODE_BYTES:
        return False
    for row in db.session.scalars(select(RecoveryCode).filter_by(staff_id=user.id, used_at=None)):
        if check_password_hash(row.code_hash, typed):
            row.used_at = utcnow()
            left = unused_recovery_codes(user.id)
            notice(user, f"A recovery code was used to sign in. {left} unused codes are left.")
            access.record("recovery code used", detail=f"{left} left")
            return True
    return False


# Changes ------------------------------------------------------------------------------------


def notice(user: StaffUser, what: str) -> None:
    """A security notice to the member about a change to how they sign in."""
    context = {"user": user, "what": what}
    mail.queue_message(
        to=user.email,
        subject=f"Security notice: your {current_app.config['ORG_NAME']} staff sign-in",
        text=render_template("mail/security_notice.txt", **context),
        html=render_template("mail/security_notice.html", **context),
        kind="security_notice",
    )


def changed(user: StaffUser, what: str, action: str, keep: StaffSession | None) -> None:
    """After a change to the member's factors or codes: the notice, the access record and
    the end of their other sessions. The caller commits."""
    notice(user, what)
    access.record(action, detail=what)
    auth.end_sessions(user.id, "sign-in factors changed", keep=keep)
    log.info("staff: user %d, %s", user.id, action)


def remove_factor(user: StaffUser, factor_id: int) -> StaffFactor:
    """Remove one of the member's factors, only while another remains. The caller commits."""
    factor = db.session.scalar(select(StaffFactor).filter_by(id=factor_id, staff_id=user.id))
    if factor is None:
        raise FactorError("That sign-in method is not yours, or was removed already.")
    if len(factors(user.id)) <= 1:
        raise FactorError("Add another sign-in method first: you cannot remove your last one.")
    db.session.delete(factor)
    return factor


def reset(user: StaffUser) -> int:
    """Remove every factor and recovery code of a member and end their sessions (an admin
    on the team page, or ``flask staff reset-mfa``): they enrol again at their next
    sign-in. Returns how many factors went. The caller commits."""
    removed = len(factors(user.id))
    db.session.execute(delete(StaffFactor).filter_by(staff_id=user.id))
    db.session.execute(delete(RecoveryCode).filter_by(staff_id=user.id))
    auth.end_sessions(user.id, "sign-in factors reset")
    notice(
        user,
        "Your passkeys, authenticator apps and recovery codes were removed. At your next "
        "sign-in you will set up a new one.",
    )
    log.info("staff: user %d factors reset (%d removed)", user.id, removed)
    return removed
