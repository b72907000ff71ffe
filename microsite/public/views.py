"""Views of the public site. Each parses a form, calls one domain function, renders."""

from __future__ import annotations

import logging

from flask import current_app, redirect, render_template, request, session, url_for
from flask_wtf.csrf import CSRFError

from ..caching import no_store, shared_cache
from ..content import ARTICLE_LAST_REVIEWED, published_testimonials
from ..extensions import db
from ..leads import CONSENT_TEXT, record_application
from ..models import Lead
from . import bp
from .forms import ApplyForm

log = logging.getLogger(__name__)


@bp.get("/")
@shared_cache
def article():
    return render_template(
        "article.html",
        testimonials=published_testimonials(),
        last_reviewed=ARTICLE_LAST_REVIEWED,
    )


def render_apply(form: ApplyForm, status: int, session_expired: bool = False):
    consent_text = CONSENT_TEXT.format(org=current_app.config["ORG_NAME"])
    page = render_template(
        "apply.html", form=form, consent_text=consent_text, session_expired=session_expired
    )
    return page, status


@bp.route("/apply", methods=["GET", "POST"])
def apply():
    form = ApplyForm()
    if not form.validate_on_submit():
        return render_apply(form, 422 if form.is_submitted() else 200)
    if form.is_from_a_bot():
        log.info("apply: submission dropped by the honeypot")
    else:
        lead = record_application(form.application(), form.submitted_key())
        db.session.commit()
        session["lead_id"] = lead.id
    return redirect(url_for(".thanks"), 303)


@bp.errorhandler(CSRFError)
def csrf_error(error: CSRFError):
    """An expired or missing token: show the form again with everything typed kept."""
    log.info("csrf: %s on %s", error.description, request.endpoint)
    if request.endpoint == "public.apply":
        return render_apply(ApplyForm(), 400, session_expired=True)
    return render_template("errors/error.html", error=error), 400


@bp.get("/apply/thanks")
@no_store
def thanks():
    lead_id = session.get("lead_id")
    lead = db.session.get(Lead, lead_id) if isinstance(lead_id, int) else None
    return render_template("thanks.html", lead=lead)


@bp.get("/privacy")
@shared_cache
def privacy():
    return render_template("privacy.html")
