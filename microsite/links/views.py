"""The public site's links that have one language: a referral link (``/r/<code>``, which
goes to the page in the referral's language), robots.txt and the sitemap, which lists the
pages of both languages."""

from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, request

from .. import attribution, referrals
from ..content import ARTICLE_LAST_REVIEWED
from ..extensions import db, limiter
from ..trials import pages as trial_pages
from ..web.caching import shared_cache
from ..web.i18n import LANGUAGES, page_url
from ..web.ratelimit import limit_from
from ..web.urls import absolute_url

bp = Blueprint("links", __name__)


@bp.get("/r/<path:code>")
@limiter.limit(limit_from("REFERRAL_RATE_LIMIT"))
def follow_referral(code: str):
    """Count the click, remember the referral for 30 days, and go to the article in the
    referral's language."""
    referral = referrals.find(code)
    response = redirect(page_url("public.article", referral.language if referral else None))
    response.cache_control.no_store = True
    if referral is None:
        return response
    if request.method == "GET" and not attribution.is_link_preview_or_crawler(
        request.user_agent.string
    ):
        referrals.count_click(referral)
        db.session.commit()
        attribution.remember_referral(response, referral)
    return response


ROBOTS = """User-agent: *
Allow: /
Disallow: /staff/
Disallow: /r/
Disallow: /unsubscribe/
Disallow: /withdraw/
Disallow: /apply/thanks
Disallow: /share/sent
"""


@bp.get("/robots.txt")
@shared_cache
def robots():
    sitemap_line = f"Sitemap: {absolute_url('links.sitemap')}\n"
    return current_app.response_class(ROBOTS + sitemap_line, mimetype="text/plain")


# The public pages a search engine may list, with when each last changed (None: unknown).
SITEMAP_PAGES = (
    ("public.article", ARTICLE_LAST_REVIEWED),
    ("public.apply", None),
    ("public.share", None),
    ("public.privacy", None),
)


@bp.get("/sitemap.xml")
@shared_cache
def sitemap():
    """The public pages and the open trials' pages in each language, at most SITEMAP_LIMIT
    URLs."""
    per_page = len(LANGUAGES)
    limit = max(0, trial_pages.SITEMAP_LIMIT // per_page - len(SITEMAP_PAGES))
    trials = trial_pages.open_trials(limit=limit)
    xml = render_template("sitemap.xml", pages=SITEMAP_PAGES, trials=trials)
    return current_app.response_class(xml, mimetype="application/xml")
