"""One's own account: open sessions and the password (any signed-in member); and the page
an invitation or password-reset link opens (public: the signed link is the credential)."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_login import current_user

from .. import mfa, team
from ..auth import StaffError
from ..extensions import db, limiter
from ..web.ratelimit import limit_from
from .forms import EmptyForm
from .team_forms import ChangePasswordForm, SetPasswordForm
from .views import bp

# The status of a link that no longer works: gone for good, or never one of ours.
LINK_PROBLEM_STATUS = {"expired": 410, "used": 410, "invalid": 400}
WRONG_PASSWORD = "Your current password is not right. Type it again, then the new one twice."


def _failed(response) -> bool:
    return response.status_code >= 400


def render_account(form: ChangePasswordForm | None = None, code: int = 200):
    return render_template(
        "staff/account.html",
        sessions=team.own_sessions(current_user),
        factors=mfa.factors(current_user.id),
        recovery_codes_left=mfa.unused_recovery_codes(current_user.id),
        form=form or ChangePasswordForm(),
    ), code


@bp.get("/account")
def account():
    return render_account()


@bp.post("/account/password")
@limiter.limit(limit_from("LOGIN_RATE_LIMIT"), methods=["POST"], deduct_when=_failed)
def account_password():
    form = ChangePasswordForm()
    if not form.validate_on_submit():
        return render_account(form, code=422)
    try:
        team.change_own_password(current_user, form.current_password.data, form.new_password.data)
    except team.WrongPassword:
        form.current_password.errors = [WRONG_PASSWORD]
        return render_account(form, 422)
    db.session.commit()
    flash("Your password is changed. Your other sessions have ended; this one goes on.")
    return redirect(url_for(".account"), 303)


@bp.post("/account/sessions/<int:session_id>/end")
def account_end_session(session_id: int):
    if not EmptyForm().validate_on_submit():
        abort(400)
    if team.end_own_session(current_user, session_id):
        db.session.commit()
        flash("That session has ended: the browser it was in has to sign in again.")
    else:
        flash("That session had ended already.")
    return redirect(url_for(".account"), 303)


@bp.post("/account/sessions/end-others")
def account_end_others():
    if not EmptyForm().validate_on_submit():
        abort(400)
    ended = team.end_other_sessions(current_user)
    db.session.commit()
    flash("Your other sessions have ended." if ended else "You had no other sessions open.")
    return redirect(url_for(".account"), 303)


def render_link_problem(problem: str):
    page = render_template("staff/link_problem.html", problem=problem, link_hours=team.LINK_HOURS)
    return page, LINK_PROBLEM_STATUS[problem]


@bp.route("/set-password/<token>", methods=["GET", "POST"])
@limiter.limit(limit_from("LOGIN_RATE_LIMIT"), methods=["POST"], deduct_when=_failed)
def set_password(token: str):
    check = team.member_for_token(token)
    if check.member is None:
        return render_link_problem(check.problem)
    form = SetPasswordForm()
    if not form.validate_on_submit():
        page = render_template(
            "staff/set_password.html", form=form, member=check.member, purpose=check.purpose
        )
        return page, 422 if form.is_submitted() else 200
    try:
        team.use_token(token, form.password.data)
    except StaffError:  # used meanwhile, in another tab
        return render_link_problem("used")
    db.session.commit()
    return redirect(url_for(".dashboard"), 303)
