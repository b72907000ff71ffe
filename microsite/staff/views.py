"""Views of the staff area. Every route needs a signed-in staff user (``require_staff``)."""

from __future__ import annotations

import logging
from datetime import timedelta

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    session,
    stream_with_context,
    url_for,
)
from flask_limiter import RateLimitExceeded
from flask_login import current_user
from sqlalchemy import select

from .. import access, auth, callbacks, dates, exports, mfa
from .. import dashboard as dashboard_data
from ..choices import (
    COUNTRIES,
    DIAGNOSES,
    LANGUAGE_NAMES,
    LEAD_STATUSES,
    ROLES,
    TREATMENT_STAGES,
    TRIAL_ALERT_STATES,
)
from ..content import save_testimonial
from ..extensions import db, limiter
from ..leads import add_note, assign, change_status, lead_file, may_take
from ..models import Lead, StaffUser, Testimonial
from ..trials import matching
from ..trials.overview import catalog_overview
from ..web.ratelimit import limit_from
from .forms import (
    AssignForm,
    EmptyForm,
    LeadFilterForm,
    LoginForm,
    NoteForm,
    StatusForm,
    TestimonialForm,
)
from .roles import ADMIN_ONLY, admin_only

log = logging.getLogger(__name__)
bp = Blueprint("staff", __name__, url_prefix="/staff")

PUBLIC_ENDPOINTS = {"staff.login", "staff.set_password"}
# The pages a password-only session may reach: enrolment and the challenge (mfa_views.py).
PASSWORD_ONLY_ENDPOINTS = {
    "staff.mfa",
    "staff.mfa_code",
    "staff.mfa_recovery",
    "staff.mfa_passkey_options",
    "staff.mfa_passkey",
    "staff.mfa_setup",
    "staff.mfa_setup_app",
    "staff.mfa_setup_passkey_options",
    "staff.mfa_setup_passkey",
    "staff.mfa_recovery_codes",
    "staff.logout",
}
AFTER_SIGN_IN = "after_sign_in"  # where to go once the second factor is proven
FILTER_NAMES = (
    "q",
    "from",
    "to",
    "diagnosis",
    "country",
    "status",
    "language",
    "assignee",
    "due",
    "language_gap",
)
MAX_PAGE = 100_000


@bp.app_template_filter("local_time")
def local_time(moment) -> str:
    """A UTC moment as staff read it: in DISPLAY_TIMEZONE."""
    return moment.astimezone(dates.zone()).strftime("%-d %b %Y, %H:%M") if moment else ""


@bp.app_template_filter("due_time")
def due_time(moment) -> str:
    """A call-back due time as staff read it: "end of Wed 3 Dec" for the midnight that
    ends a day, in DISPLAY_TIMEZONE."""
    local = moment.astimezone(dates.zone())
    if (local.hour, local.minute) == (0, 0):
        return "end of " + (local - timedelta(days=1)).strftime("%a %-d %b %Y")
    return local.strftime("%a %-d %b %Y, %H:%M")


@bp.context_processor
def labels() -> dict:
    return {
        "due_state": callbacks.due_state,
        "may_take": may_take,
        "language_names": LANGUAGE_NAMES,
        "due_states": callbacks.DUE_STATES,
        "roles": ROLES,
        "diagnoses": DIAGNOSES,
        "stages": TREATMENT_STAGES,
        "statuses": LEAD_STATUSES,
        "countries": COUNTRIES,
        "alert_states": TRIAL_ALERT_STATES,
        "second_factor_done": current_user.is_authenticated
        and mfa.verified(auth.current_session()),
    }


@bp.before_request
def require_staff():
    """One guard for the whole area: pages send strangers to sign in, CSVs get 401; an
    admin's page is a 403 page for a navigator, an admin's CSV a 403 with no data."""
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    if current_user.is_authenticated and auth.check_session():
        if not mfa.verified(auth.current_session()):
            # A password alone reaches enrolment and the challenge, nothing else.
            if request.endpoint in PASSWORD_ONLY_ENDPOINTS:
                return None
            if request.path.endswith(".csv"):
                abort(401)
            if not mfa.has_factor(current_user.id):
                return redirect(url_for("staff.mfa_setup"), 303)
            return redirect(url_for("staff.mfa"), 303)
        if request.endpoint in ADMIN_ONLY and not current_user.is_admin:
            log.info("staff: user %d refused %s", current_user.id, request.endpoint)
            if request.path.endswith(".csv"):
                return Response("Only admins can download this file.\n", 403, mimetype="text/plain")
            return render_template("errors/403.html"), 403
        return None
    if current_user.is_authenticated:
        log.info("staff: a session of user %d has ended", current_user.id)
        auth.sign_out()
    if request.path.endswith(".csv"):
        abort(401)
    target = request.full_path.rstrip("?") if request.method == "GET" else None
    return redirect(url_for("staff.login", next=target))


@bp.after_request
def never_store(response):
    response.cache_control.no_store = True
    return response


def render_login(form: LoginForm, status: int, problem: str | None = None):
    return render_template("staff/login.html", form=form, problem=problem), status


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(
    limit_from("LOGIN_RATE_LIMIT"), methods=["POST"], deduct_when=lambda r: r.status_code == 401
)
@limiter.limit(
    limit_from("LOGIN_RATE_LIMIT"),
    key_func=auth.account_key,
    methods=["POST"],
    deduct_when=lambda r: r.status_code == 401,
)
def login():
    form = LoginForm()
    if not form.validate_on_submit():
        return render_login(form, 422 if form.is_submitted() else 200)
    user = auth.authenticate(form.email.data, form.password.data)
    if user is None:
        log.info("staff: failed sign-in")
        return render_login(form, 401, "wrong")
    auth.sign_in(user)
    # A password-only session: the second factor comes next, then where the member was going.
    session[AFTER_SIGN_IN] = auth.safe_next(request.args.get("next"))
    return redirect(url_for(".mfa"), 303)


@bp.errorhandler(RateLimitExceeded)
def too_many_attempts(error):
    if request.endpoint == "staff.login":
        return render_login(LoginForm(), 429, "throttled")
    return render_template("errors/error.html", error=error), 429


@bp.post("/logout")
def logout():
    if EmptyForm().validate_on_submit():
        auth.sign_out()
        return redirect(url_for(".login"), 303)
    abort(400)


@bp.get("/")
def dashboard():
    form = LeadFilterForm(request.args, members=auth.members())
    page_number = min(max(request.args.get("page", 1, type=int), 1), MAX_PAGE)
    return render_template(
        "staff/dashboard.html",
        form=form,
        data=dashboard_data.dashboard(form.filters(), page_number, current_user.id),
        args={k: v for k, v in request.args.items() if k in FILTER_NAMES and v},
    )


def _lead_or_404(lead_id: int) -> Lead:
    return db.get_or_404(Lead, lead_id)


def render_lead(lead: Lead, status_form=None, note_form=None, assign_form=None, code: int = 200):
    file = lead_file(lead.id)
    members = auth.members(active_only=True)
    return render_template(
        "staff/lead.html",
        file=file,
        lead=file.lead,
        status_form=status_form or StatusForm(status=lead.status),
        note_form=note_form or NoteForm(),
        assign_form=assign_form
        or AssignForm(assignee=str(lead.assigned_to_id or ""), members=members),
        viewers=access.lead_viewers(lead.id) if current_user.is_admin else [],
    ), code


@bp.get("/leads/<int:lead_id>")
def lead(lead_id: int):
    lead = _lead_or_404(lead_id)
    access.record("lead viewed", lead_id=lead.id)
    db.session.commit()
    return render_lead(lead)


@bp.post("/leads/<int:lead_id>/take")
def lead_take(lead_id: int):
    """A member takes an unassigned lead, or one a disabled member held (an admin may
    take any)."""
    lead = _lead_or_404(lead_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    if not may_take(lead, current_user):
        return render_template("errors/403.html"), 403
    assign(lead, current_user, by=current_user)
    db.session.commit()
    return redirect(url_for(".lead", lead_id=lead.id), 303)


@bp.post("/leads/<int:lead_id>/assign")
@admin_only
def lead_assign(lead_id: int):
    """An admin gives the lead to a member, or to nobody."""
    lead = _lead_or_404(lead_id)
    form = AssignForm(members=auth.members(active_only=True))
    if not form.validate_on_submit():
        form.assignee.data = str(lead.assigned_to_id or "")  # Assign again changes nothing
        return render_lead(lead, assign_form=form, code=422)
    to = db.session.get(StaffUser, int(form.assignee.data)) if form.assignee.data else None
    assign(lead, to, by=current_user)
    db.session.commit()
    return redirect(url_for(".lead", lead_id=lead.id), 303)


@bp.post("/leads/<int:lead_id>/status")
def lead_status(lead_id: int):
    lead = _lead_or_404(lead_id)
    form = StatusForm()
    if not form.validate_on_submit():
        return render_lead(lead, status_form=form, code=422)
    change_status(lead, form.status.data, current_user)
    db.session.commit()
    return redirect(url_for(".lead", lead_id=lead.id), 303)


@bp.post("/leads/<int:lead_id>/notes")
def lead_note(lead_id: int):
    lead = _lead_or_404(lead_id)
    form = NoteForm()
    if not form.validate_on_submit():
        return render_lead(lead, note_form=form, code=422)
    add_note(lead, form.body.data, current_user)
    db.session.commit()
    return redirect(url_for(".lead", lead_id=lead.id) + "#notes", 303)


@bp.post("/leads/<int:lead_id>/matches")
def lead_matches(lead_id: int):
    """Match the lead again against today's catalog; the new matches replace the old."""
    lead = _lead_or_404(lead_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    matching.store_matches(lead)
    db.session.commit()
    log.info("lead %d: matching run again by staff %d", lead.id, current_user.id)
    return redirect(url_for(".lead", lead_id=lead.id) + "#matches", 303)


@bp.post("/leads/<int:lead_id>/reviewed")
def lead_reviewed(lead_id: int):
    """The lead's new matches are seen: it leaves the dashboard's New matches list."""
    lead = _lead_or_404(lead_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    access.record("matches reviewed", lead_id=lead.id)
    db.session.commit()
    return redirect(url_for(".dashboard") + "#new-matches", 303)


@bp.get("/trials")
def trials():
    return render_template("staff/trials.html", overview=catalog_overview())


def _csv(kind: str, assigned_to: int | None = None) -> Response:
    try:
        first = dates.parse_day(request.args.get("from"), "from")
        last = dates.parse_day(request.args.get("to"), "to")
    except dates.BadDate as problem:
        return Response(f"{problem}\n", status=400, mimetype="text/plain")
    export = exports.CsvExport(kind, first, last, current_user.email, assigned_to)
    response = Response(stream_with_context(iter(export)), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{export.filename}"'
    return response


@bp.get("/leads.csv")
def leads_csv():
    """All leads; a navigator's own only, when NAVIGATOR_EXPORT_SCOPE is "assigned"."""
    own = not current_user.is_admin and current_app.config["NAVIGATOR_EXPORT_SCOPE"] == "assigned"
    return _csv("leads", current_user.id if own else None)


@bp.get("/referrals.csv")
@admin_only
def referrals_csv():
    return _csv("referrals")


@bp.get("/testimonials")
@admin_only
def testimonials():
    rows = db.session.scalars(select(Testimonial).order_by(Testimonial.position, Testimonial.id))
    return render_template("staff/testimonials.html", testimonials=rows.all())


@bp.route("/testimonials/new", methods=["GET", "POST"])
@bp.route("/testimonials/<int:testimonial_id>", methods=["GET", "POST"])
@admin_only
def testimonial(testimonial_id: int | None = None):
    existing = db.get_or_404(Testimonial, testimonial_id) if testimonial_id else None
    form = TestimonialForm(obj=existing)
    if not form.validate_on_submit():
        page = render_template("staff/testimonial.html", form=form, testimonial=existing)
        return page, 422 if form.is_submitted() else 200
    save_testimonial(existing, form.data)
    db.session.commit()
    return redirect(url_for(".testimonials"), 303)
