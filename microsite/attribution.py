"""Where a lead came from: the referral link followed, and the UTM parameters on arrival.

Only a visit that brings something to remember gets a cookie: a request with UTM
parameters (kept in the session for the visit, and the response marked private), or a
click on a referral link (a signed cookie for 30 days). Plain pages stay cookie-free.
"""

from __future__ import annotations

from datetime import timedelta

from crawlerdetect import CrawlerDetect
from flask import Flask, Response, current_app, g, request, session
from itsdangerous import BadSignature, URLSafeTimedSerializer

from .extensions import db
from .fields import has_control_characters
from .models import Referral

UTM_FIELDS = ("utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term")
UTM_MAX_LENGTH = 200
REFERRAL_COOKIE = "tf_referral"
REFERRAL_WINDOW = timedelta(days=30)

_crawlers = CrawlerDetect()


def is_link_preview_or_crawler(user_agent: str | None) -> bool:
    """Link previews (WhatsApp, Slack, Outlook ...) and crawlers fetch links nobody clicked.
    A request with no user agent at all is no person's browser either."""
    return not user_agent or _crawlers.isCrawler(user_agent)


def _capture_utm() -> None:
    if request.method != "GET" or not request.query_string:
        return
    seen = {}
    for name in UTM_FIELDS:
        value = request.args.get(name, "").strip()
        if value and not has_control_characters(value):
            seen[name] = value[:UTM_MAX_LENGTH]
    if seen:
        session["utm"] = seen
        g.visitor_specific = True  # this response sets a cookie: no shared cache may keep it


def utm_parameters() -> dict[str, str]:
    stored = session.get("utm")
    if not isinstance(stored, dict):
        return {}
    return {name: stored[name] for name in UTM_FIELDS if isinstance(stored.get(name), str)}


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt="referral")


def remember_referral(response: Response, referral: Referral) -> None:
    response.set_cookie(
        REFERRAL_COOKIE,
        _serializer().dumps(referral.id),
        max_age=int(REFERRAL_WINDOW.total_seconds()),
        httponly=True,
        samesite="Lax",
        secure=current_app.config["SESSION_COOKIE_SECURE"],
    )


def referral_in_window() -> Referral | None:
    """The referral whose link this browser followed in the last 30 days, if it still exists."""
    cookie = request.cookies.get(REFERRAL_COOKIE)
    if not cookie:
        return None
    try:
        referral_id = _serializer().loads(cookie, max_age=REFERRAL_WINDOW.total_seconds())
    except BadSignature:  # also an expired one
        return None
    return db.session.get(Referral, referral_id) if isinstance(referral_id, int) else None


def init_app(app: Flask) -> None:
    app.before_request(_capture_utm)
