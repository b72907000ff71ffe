"""The team page, for admins: members, invitations, roles, languages, disabling,
ending sessions and password-reset links (``team.py`` holds the rules)."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_login import current_user

from .. import team as domain
from ..auth import StaffError
from ..choices import LEAD_STATUSES, OPEN_LEAD_STATUSES, STAFF_ROLES
from ..extensions import db
from ..models import StaffUser
from .forms import EmptyForm
from .roles import admin_only
from .team_forms import InviteForm, LanguagesForm, RoleForm
from .views import bp

LINK_TERMS = f"The link in it works once, for {domain.LINK_HOURS} hours."


def sentence(problem: StaffError) -> str:
    """A domain refusal ("x is the last active admin: ...") as a sentence on a page."""
    text = str(problem)
    if "@" not in text.split(" ", 1)[0]:  # an address stays as it is written
        text = text[:1].upper() + text[1:]
    return text + ("" if text.endswith(".") else ".")


def render_team(invite_form: InviteForm | None = None, code: int = 200):
    return render_template(
        "staff/team.html",
        members=domain.members(),
        states=domain.STATES,
        link_hours=domain.LINK_HOURS,
        open_statuses=[LEAD_STATUSES[status] for status in OPEN_LEAD_STATUSES],
        form=invite_form or InviteForm(),
    ), code


def render_member(
    user: StaffUser,
    role_form: RoleForm | None = None,
    languages_form: LanguagesForm | None = None,
    problem: str | None = None,
    code: int = 200,
):
    return render_template(
        "staff/team_member.html",
        member=domain.member(user.id),
        states=domain.STATES,
        link_hours=domain.LINK_HOURS,
        role_form=role_form or RoleForm(formdata=None, role=user.role),
        languages_form=languages_form
        or LanguagesForm(formdata=None, languages=user.language_codes),
        problem=problem,
    ), code


def _user_or_404(member_id: int) -> StaffUser:
    return db.get_or_404(StaffUser, member_id)


@bp.get("/team")
@admin_only
def team():
    return render_team()


@bp.post("/team/invite")
@admin_only
def team_invite():
    form = InviteForm()
    if not form.validate_on_submit():
        return render_team(form, 422)
    try:
        user = domain.invite(form.email.data, form.role.data, form.languages.data, current_user)
    except StaffError as problem:
        form.email.errors = [sentence(problem)]
        return render_team(form, 422)
    db.session.commit()
    flash(f"Invitation sent to {user.email}. {LINK_TERMS}")
    return redirect(url_for(".team"), 303)


@bp.get("/team/<int:member_id>")
@admin_only
def team_member(member_id: int):
    return render_member(_user_or_404(member_id))


@bp.post("/team/<int:member_id>/role")
@admin_only
def team_role(member_id: int):
    user = _user_or_404(member_id)
    form = RoleForm()
    if not form.validate_on_submit():
        return render_member(user, role_form=form, code=422)
    try:
        changed = domain.change_role(user, form.role.data)
    except StaffError as problem:
        return render_member(user, role_form=form, problem=sentence(problem), code=422)
    db.session.commit()
    if not current_user.is_admin:  # one demoted oneself: the team page is closed now
        return redirect(url_for(".dashboard"), 303)
    if changed:
        flash(f"{user.email} is now {STAFF_ROLES[user.role].lower()}.")
    return redirect(url_for(".team_member", member_id=user.id), 303)


@bp.post("/team/<int:member_id>/languages")
@admin_only
def team_languages(member_id: int):
    user = _user_or_404(member_id)
    form = LanguagesForm()
    if not form.validate_on_submit():
        return render_member(user, languages_form=form, code=422)
    if domain.change_languages(user, form.languages.data):
        db.session.commit()
        flash(f"The languages of {user.email} are saved.")
    return redirect(url_for(".team_member", member_id=user.id), 303)


def _button(member_id: int, change):
    """A POST-only button on the member's page: CSRF, one change, what it did said.
    ``change(user)`` makes the change and returns the sentence saying so."""
    user = _user_or_404(member_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    try:
        done = change(user)
    except StaffError as problem:
        return render_member(user, problem=sentence(problem), code=422)
    db.session.commit()
    flash(done)
    return redirect(url_for(".team_member", member_id=user.id), 303)


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


@bp.post("/team/<int:member_id>/disable")
@admin_only
def team_disable(member_id: int):
    def disable(user):
        domain.disable(user)
        return f"{user.email} is disabled: they cannot sign in, and their sessions have ended."

    return _button(member_id, disable)


@bp.post("/team/<int:member_id>/enable")
@admin_only
def team_enable(member_id: int):
    def enable(user):
        domain.enable(user)
        return f"{user.email} can sign in again."

    return _button(member_id, enable)


@bp.post("/team/<int:member_id>/end-sessions")
@admin_only
def team_end_sessions(member_id: int):
    def end(user):
        ended = domain.end_sessions(user)
        return f"{_plural(ended, 'session')} of {user.email} ended."

    return _button(member_id, end)


@bp.post("/team/<int:member_id>/reset-mfa")
@admin_only
def team_reset_mfa(member_id: int):
    def reset(user):
        removed = domain.reset_factors(user)
        return (
            f"{_plural(removed, 'sign-in method')} of {user.email} removed, with their "
            "recovery codes; their sessions have ended. They set up a new one at their next "
            "sign-in."
        )

    return _button(member_id, reset)


@bp.post("/team/<int:member_id>/password-reset")
@admin_only
def team_send_reset(member_id: int):
    def send(user):
        purpose = domain.send_reset(user, current_user)
        sent = "a password-reset link" if purpose == "reset" else "their invitation again"
        return f"Sent {sent} to {user.email}. {LINK_TERMS}"

    return _button(member_id, send)
