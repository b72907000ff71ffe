"""The second factor of staff sign-in (``mfa.py`` holds the rules): the challenge after the
password, enrolment, recovery codes, and one's own factors on the account page.

Passkeys: a small self-hosted script (static/js/passkeys.js) asks for the options (a POST
answering JSON), calls the browser's WebAuthn API and puts its answer into an ordinary
form, which it submits; the answer is checked on the server like any form.
"""

from __future__ import annotations

import logging

from flask import Response, abort, flash, redirect, render_template, request, session, url_for
from flask_login import current_user

from .. import auth, mfa
from ..extensions import db, limiter
from ..web.ratelimit import limit_from
from .forms import EmptyForm
from .mfa_forms import CodeForm, ConfirmForm, PasskeyForm, RecoveryForm, TotpSetupForm
from .views import AFTER_SIGN_IN, bp

log = logging.getLogger(__name__)

NEW_CODES = "new_recovery_codes"  # shown once, on the next page


def _failed(response) -> bool:
    return response.status_code >= 400


def _per_member() -> str:
    return f"mfa:{current_user.get_id()}"


# Failed codes are limited per account, like sign-ins.
limit_codes = limiter.limit(
    limit_from("LOGIN_RATE_LIMIT"), key_func=_per_member, methods=["POST"], deduct_when=_failed
)


def _row():
    return auth.current_session()


def _done():
    """The second factor is proven: on to where the member was going."""
    mfa.mark_verified(_row())
    db.session.commit()
    return redirect(auth.safe_next(session.pop(AFTER_SIGN_IN, None)) or url_for(".dashboard"), 303)


# The challenge --------------------------------------------------------------------------------


def render_challenge(code_form=None, recovery_form=None, problem: str | None = None, status=200):
    found = mfa.factors(current_user.id)
    return render_template(
        "staff/mfa_challenge.html",
        has_passkey=any(f.kind == "passkey" for f in found),
        has_app=any(f.kind == "totp" for f in found),
        code_form=code_form or CodeForm(),
        recovery_form=recovery_form or RecoveryForm(),
        passkey_form=PasskeyForm(),
        problem=problem,
    ), status


@bp.get("/mfa", endpoint="mfa")
def mfa_challenge():
    if mfa.verified(_row()):
        return redirect(url_for(".dashboard"), 303)
    if not mfa.has_factor(current_user.id):
        return redirect(url_for(".mfa_setup"), 303)
    return render_challenge()


@bp.post("/mfa/code")
@limit_codes
def mfa_code():
    form = CodeForm()
    if not form.validate_on_submit():
        return render_challenge(code_form=form, status=422)
    if mfa.check_totp(current_user, form.code.data) is None:
        db.session.commit()
        form.code.errors = ["That code is not right, or was used already. Wait for a new one."]
        return render_challenge(code_form=form, status=401)
    return _done()


@bp.post("/mfa/recovery")
@limit_codes
def mfa_recovery():
    form = RecoveryForm()
    if not form.validate_on_submit():
        return render_challenge(recovery_form=form, status=422)
    if not mfa.use_recovery_code(current_user, form.recovery_code.data):
        form.recovery_code.errors = ["That recovery code is not right, or was used already."]
        return render_challenge(recovery_form=form, status=401)
    flash(
        "You signed in with a recovery code. Make a new set on your account page if few "
        "are left, and add a new sign-in method if you lost one."
    )
    return _done()


@bp.post("/mfa/passkey/options")
@limit_codes
def mfa_passkey_options():
    if not EmptyForm().validate_on_submit():
        abort(400)
    return Response(mfa.authentication_options(current_user, _row()), mimetype="application/json")


@bp.post("/mfa/passkey")
@limit_codes
def mfa_passkey():
    form = PasskeyForm()
    if not form.is_submitted() or not form.credential.data:
        return render_challenge(problem="The passkey did not answer. Try again.", status=422)
    try:
        mfa.check_passkey(current_user, _row(), form.credential.data)
    except mfa.FactorError as problem:
        db.session.commit()
        return render_challenge(problem=str(problem), status=401)
    return _done()


# Enrolment -----------------------------------------------------------------------------------


def _may_enrol():
    """None when this session may add a factor now; else where to send it: a
    password-only session only while the member has none (then the challenge), a full
    session only within five minutes of typing the password (then the confirm page)."""
    row = _row()
    if not mfa.verified(row):
        return None if not mfa.has_factor(current_user.id) else redirect(url_for(".mfa"), 303)
    if mfa.recently_confirmed(row):
        return None
    return redirect(url_for(".account_confirm", next=url_for(".mfa_setup")), 303)


def render_setup(app_form=None, passkey_form=None, problem: str | None = None, status=200):
    secret = None
    if app_form is None:
        secret = mfa.new_totp_secret()
        app_form = TotpSetupForm(formdata=None, secret=mfa.encrypt(secret))
    else:
        secret = mfa.pending_secret(app_form.secret.data or "")
        if secret is None:  # the form was too old: a new secret, a new QR code
            secret = mfa.new_totp_secret()
            app_form.secret.data = mfa.encrypt(secret)
    uri = mfa.provisioning_uri(secret, current_user)
    return render_template(
        "staff/mfa_setup.html",
        first=not mfa.has_factor(current_user.id),
        app_form=app_form,
        passkey_form=passkey_form or PasskeyForm(formdata=None),
        secret=secret,
        qr_svg=mfa.qr_svg(uri),
        problem=problem,
    ), status


@bp.get("/mfa/setup")
def mfa_setup():
    return _may_enrol() or render_setup()


def _added(factor) -> Response:
    """A factor was added: mail, record, end other sessions; the first one also proves
    this session and brings the recovery codes, shown once."""
    row = _row()
    first = not mfa.verified(row)
    label = "a passkey" if factor.kind == "passkey" else "an authenticator app"
    mfa.changed(current_user, f"You added {label}, “{factor.name}”.", "factor added", keep=row)
    if first:
        session[NEW_CODES] = mfa.new_recovery_codes(current_user)
        mfa.mark_verified(row)
        db.session.commit()
        return redirect(url_for(".mfa_recovery_codes"), 303)
    db.session.commit()
    flash(
        f"{label[0].upper()}{label[1:]} is added: “{factor.name}”. Your other sessions have ended."
    )
    return redirect(url_for(".account"), 303)


@bp.post("/mfa/setup/app")
@limit_codes
def mfa_setup_app():
    refusal = _may_enrol()
    if refusal:
        return refusal
    form = TotpSetupForm()
    if not form.validate_on_submit():
        return render_setup(app_form=form, status=422)
    secret = mfa.pending_secret(form.secret.data or "")
    if secret is None:
        form.code.errors = ["This page was open too long. Scan the new QR code and try again."]
        return render_setup(app_form=form, status=422)
    try:
        factor = mfa.add_totp(current_user, secret, form.code.data, form.name.data)
    except mfa.FactorError as problem:
        form.code.errors = [str(problem)]
        return render_setup(app_form=form, status=422)
    return _added(factor)


@bp.post("/mfa/setup/passkey/options")
def mfa_setup_passkey_options():
    if _may_enrol() is not None or not EmptyForm().validate_on_submit():
        abort(400)
    return Response(mfa.registration_options(current_user, _row()), mimetype="application/json")


@bp.post("/mfa/setup/passkey")
def mfa_setup_passkey():
    refusal = _may_enrol()
    if refusal:
        return refusal
    form = PasskeyForm()
    if not form.validate_on_submit() or not form.credential.data:
        if not form.errors:
            form.name.errors = ["The passkey did not answer. Try again."]
        return render_setup(passkey_form=form, status=422)
    try:
        factor = mfa.add_passkey(current_user, _row(), form.credential.data, form.name.data)
    except mfa.FactorError as problem:
        db.session.commit()
        return render_setup(passkey_form=form, problem=str(problem), status=422)
    return _added(factor)


@bp.get("/mfa/recovery-codes")
def mfa_recovery_codes():
    """The new recovery codes, once: they are not kept anywhere but as hashes."""
    codes = session.pop(NEW_CODES, None)
    if not codes:
        return redirect(url_for(".account"), 303)
    return render_template("staff/mfa_recovery_codes.html", codes=codes)


# One's own factors (account page) -----------------------------------------------------------


@bp.route("/account/confirm", methods=["GET", "POST"])
@limiter.limit(limit_from("LOGIN_RATE_LIMIT"), methods=["POST"], deduct_when=_failed)
def account_confirm():
    """Type the password again, before a change to how one signs in."""
    form = ConfirmForm()
    target = auth.safe_next(request.args.get("next")) or url_for(".account")
    if not form.validate_on_submit():
        page = render_template("staff/mfa_confirm.html", form=form)
        return page, 422 if form.is_submitted() else 200
    if auth.authenticate(current_user.email, form.password.data) is None:
        form.password.errors = ["That password is not right."]
        return render_template("staff/mfa_confirm.html", form=form), 401
    auth.reauthenticated()
    db.session.commit()
    return redirect(target, 303)


def _confirmed_or_redirect():
    if mfa.recently_confirmed(_row()):
        return None
    return redirect(url_for(".account_confirm", next=url_for(".account")), 303)


@bp.post("/account/factors/<int:factor_id>/remove")
def account_remove_factor(factor_id: int):
    if not EmptyForm().validate_on_submit():
        abort(400)
    refusal = _confirmed_or_redirect()
    if refusal:
        flash("Type your password again to remove a sign-in method.")
        return refusal
    try:
        factor = mfa.remove_factor(current_user, factor_id)
    except mfa.FactorError as problem:
        flash(str(problem))
        return redirect(url_for(".account"), 303)
    mfa.changed(current_user, f"You removed “{factor.name}”.", "factor removed", keep=_row())
    db.session.commit()
    flash(f"“{factor.name}” is removed. Your other sessions have ended.")
    return redirect(url_for(".account"), 303)


@bp.post("/account/recovery-codes")
def account_recovery_codes():
    if not EmptyForm().validate_on_submit():
        abort(400)
    refusal = _confirmed_or_redirect()
    if refusal:
        flash("Type your password again to make new recovery codes.")
        return refusal
    session[NEW_CODES] = mfa.new_recovery_codes(current_user)
    mfa.changed(
        current_user,
        "You made a new set of recovery codes; the old ones no longer work.",
        "recovery codes",
        keep=_row(),
    )
    db.session.commit()
    return redirect(url_for(".mfa_recovery_codes"), 303)
