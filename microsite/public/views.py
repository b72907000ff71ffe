"""Views of the public site. Each parses a form, calls one domain function, renders."""

from __future__ import annotations

import logging
import uuid
from datetime import date

from flask import (
    Blueprint,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import format_date, get_locale
from flask_limiter import RateLimitExceeded
from flask_wtf.csrf import CSRFError, generate_csrf

from .. import alerts, attribution, erasure, referrals, suppression
from ..choices import TRAVEL_SPANS, country_names
from ..content import ARTICLE_LAST_REVIEWED, published_testimonials
from ..extensions import csrf, db, limiter
from ..leads import consent_text, record_application
from ..models import Lead, Testimonial
from ..trials import matching
from ..trials import pages as trial_pages
from ..web import replay
from ..web.caching import no_store, rendered_once, shared_cache
from ..web.errors import DATABASE_ERRORS, database_unavailable
from ..web.i18n import current_language, localized_endpoint
from ..web.ratelimit import limit_from
from .forms import ApplyForm, ShareForm

log = logging.getLogger(__name__)
bp = Blueprint("public", __name__)

SESSION_EXPIRED = "session_expired"
RATE_LIMITED = "rate_limited"
DATABASE_UNAVAILABLE = "database_unavailable"


@bp.app_template_filter("distance")
def distance(km: float, country: str | None) -> str:
    return matching.distance_text(km, country)


@bp.app_template_filter("long_date")
def long_date(day: date) -> str:
    """ "5 March 2026"; in Spanish "5 de marzo de 2026" (the page's language, or a mail's
    under force_locale)."""
    locale = get_locale()
    if locale is None or locale.language == "en":
        return day.strftime("%-d %B %Y")
    return format_date(day, "d 'de' MMMM 'de' y")


@bp.app_template_filter("travel_distance")
def travel_distance(value: str | None) -> str | None:
    """A travel distance that limits the search, as said in a sentence ("50 miles (80 km)");
    None for any or no answer."""
    span = TRAVEL_SPANS.get(value or "")
    return str(span) if span else None


# A stored match keeps the raw values of what the family was shown: its labels are
# rendered from them, in the page's language (older matches: the stored label).
@bp.app_template_filter("match_status")
def match_status(match: dict) -> str:
    return matching.status_label(match["status"]) if "status" in match else match["status_label"]


@bp.app_template_filter("match_phase")
def match_phase(match: dict) -> str:
    return matching.phase_label(match["phases"]) if "phases" in match else match["phase_label"]


@bp.app_template_filter("match_ages")
def match_ages(match: dict) -> str:
    if "min_age_months" not in match:
        return match["ages"]
    return matching.age_range_text(match["min_age_months"], match["max_age_months"])


@bp.get("/")
@shared_cache
def article():
    """The same page for everyone: rendered once per worker, again when testimonials change."""
    return rendered_once(
        lambda: render_template(
            "article.html",
            testimonials=published_testimonials(),
            last_reviewed=ARTICLE_LAST_REVIEWED,
        ),
        depends_on=Testimonial,
    )


def applicant() -> Lead | None:
    """The lead this browser has just sent, if any."""
    lead_id = session.get("lead_id")
    return db.session.get(Lead, lead_id) if isinstance(lead_id, int) else None


def render_apply(form: ApplyForm, status: int, problem: str | None = None):
    form.trial_alerts.description = alerts.consent_text(current_language())
    page = render_template(
        "apply.html",
        form=form,
        consent_text=consent_text(current_language()),
        problem=problem,
    )
    return page, status


# The empty form is the same for every visitor but for two values, so it is rendered once
# per worker with placeholders, and each visitor gets their own CSRF token and key.
_TOKEN_PLACEHOLDER = "csrf-token-placeholder"
_KEY_PLACEHOLDER = "idempotency-key-placeholder"


def blank_apply_page() -> str:
    pages = current_app.extensions.setdefault("microsite.blank_forms", {})
    key = ("apply", current_language())
    if key not in pages:
        form = ApplyForm(formdata=None)
        form.csrf_token.current_token = _TOKEN_PLACEHOLDER
        form.idempotency_key.data = _KEY_PLACEHOLDER
        pages[key], _ = render_apply(form, 200)
    token, idempotency_key = generate_csrf(), uuid.uuid4().hex
    replay.offer_new_visitor_page(token, idempotency_key)
    return pages[key].replace(_TOKEN_PLACEHOLDER, token).replace(_KEY_PLACEHOLDER, idempotency_key)


@bp.route("/apply", methods=["GET", "POST"])
@limiter.limit(limit_from("APPLY_RATE_LIMIT"), methods=["POST"])
def apply():
    if request.method == "GET" and current_app.config["WTF_CSRF_ENABLED"]:
        return blank_apply_page()
    form = ApplyForm()
    if not form.validate_on_submit():
        return render_apply(form, 422 if form.is_submitted() else 200)
    if form.is_from_a_bot():
        log.info("apply: submission dropped by the honeypot")
    else:
        lead = record_application(
            form.application(),
            form.submitted_key(),
            referral=attribution.referral_in_window(),
            utm=attribution.utm_parameters(),
            language=current_language(),
            trial_alerts=form.trial_alerts.data,
        )
        lead_id = lead.id  # read before the commit, which expires the row
        db.session.commit()
        session["lead_id"] = lead_id
    return redirect(url_for(".thanks"), 303)


@bp.get("/apply/thanks")
@no_store
def thanks():
    lead = applicant()
    referral = referrals.personal_referral(lead) if lead else None
    personal_link = referrals.link(referral) if referral else None
    return render_template(
        "thanks.html",
        lead=lead,
        personal_link=personal_link,
        matches=matching.stored_matches(lead.id) if lead else None,
        country_name=country_names().get(lead.country, lead.country) if lead else None,
        alert_state=alerts.state(alerts.for_lead(lead.id)) if lead else None,
    )


def render_share(form: ShareForm, status: int, problem: str | None = None):
    return render_template("share.html", form=form, problem=problem), status


@bp.route("/share", methods=["GET", "POST"])
@limiter.limit(limit_from("SHARE_RATE_LIMIT"), methods=["POST"])
def share():
    form = ShareForm()
    sender = applicant()
    if not form.is_submitted() and sender is not None:
        form.sender_name.data = sender.name
    if not form.validate_on_submit():
        return render_share(form, 422 if form.is_submitted() else 200)
    if form.is_from_a_bot():
        log.info("share: submission dropped by the honeypot")
        session.pop("referral_code", None)
    else:
        referral, _ = referrals.record_referral(
            form.referral(), sender, form.submitted_key(), language=current_language()
        )
        db.session.commit()
        session["referral_code"] = referral.code
    return redirect(url_for(".share_sent"), 303)


@bp.get("/share/sent")
@no_store
def share_sent():
    code = session.get("referral_code")
    referral = referrals.find(code) if isinstance(code, str) else None
    personal_link = referrals.link(referral) if referral else None
    return render_template("share_sent.html", referral=referral, personal_link=personal_link)


@bp.get("/unsubscribe/<token>")
@no_store
def unsubscribe(token: str):
    if suppression.digest_from_token(token) is None:
        return render_template("unsubscribe.html", valid=False), 404
    return render_template("unsubscribe.html", valid=True, token=token)


@bp.post("/unsubscribe/<token>")
@csrf.exempt  # the signed token authenticates it, as RFC 8058 one-click unsubscribe needs
@no_store
def unsubscribe_confirmed(token: str):
    digest = suppression.digest_from_token(token)
    if digest is None:
        return render_template("unsubscribe.html", valid=False), 404
    suppression.suppress(digest)
    db.session.commit()
    log.info("unsubscribe: an address was added to the suppression list")
    return render_template("unsubscribed.html")


@bp.route("/withdraw/<token>", methods=["GET", "POST"])
@no_store
def withdraw(token: str):
    """The applicant's own way out: a confirmation page, then erasure of their data."""
    valid, lead = erasure.lead_from_token(token)
    if lead is None:
        return render_template("withdraw.html", lead=None), 200 if valid else 404
    if request.method == "POST":
        erasure.withdraw(lead)
        session.pop("lead_id", None)
        return render_template("withdraw.html", done=True)
    return render_template("withdraw.html", lead=lead, token=token)


# Nothing typed is lost: an expired session or a rate limit shows the form again.
_FORMS = {"public.apply": (ApplyForm, render_apply), "public.share": (ShareForm, render_share)}


_PROBLEMS = {CSRFError: SESSION_EXPIRED, RateLimitExceeded: RATE_LIMITED}


@bp.errorhandler(CSRFError)
@bp.errorhandler(RateLimitExceeded)
def show_form_again(error: CSRFError | RateLimitExceeded):
    log.info("%s: %s on %s", type(error).__name__, error.description, request.endpoint)
    form = _FORMS.get(localized_endpoint(request.endpoint or "", "en"))
    if form is None:
        return render_template("errors/error.html", error=error), error.code
    form_class, render = form
    return render(form_class(), error.code, _PROBLEMS[type(error)])


def show_form_while_the_database_is_away(error: Exception):
    """The database is down or busy: say so, keep what was typed, let the visitor retry."""
    form = _FORMS.get(localized_endpoint(request.endpoint or "", "en"))
    if form is None:
        return database_unavailable(error)
    form_class, render = form
    page, _ = render(form_class(), 503, DATABASE_UNAVAILABLE)
    return database_unavailable(error, page)


for _database_error in DATABASE_ERRORS:
    bp.register_error_handler(_database_error, show_form_while_the_database_is_away)


@bp.get("/privacy")
@shared_cache
def privacy():
    return render_template("privacy.html")


@bp.get("/trials/<nct_id>")
@shared_cache
def trial(nct_id: str):
    """A trial of the catalog: the same page for everyone, its ETag from its content."""
    page = trial_pages.trial_page(nct_id)
    if page is None:
        abort(404)
    return render_template("trial.html", trial=page)
