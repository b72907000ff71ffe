"""Rate limits per client. A client is known by a keyed hash of its address, so no raw
IP address is ever stored, not even as a rate-limit key."""

from __future__ import annotations

import hashlib
import hmac

from flask import current_app, request


def client_key() -> str:
    address = (request.remote_addr or "unknown").encode()
    key = current_app.secret_key.encode()
    return hmac.new(key, address, hashlib.sha256).hexdigest()[:32]


def limit_from(setting: str):
    """A limit read from the settings when a request comes, so tests and operators can change it."""
    return lambda: current_app.config[setting]


# Every limit here is on a POST, or on GET /r/<code>.
LIMITED_GET_ENDPOINTS = {"links.follow_referral"}


def has_no_limit() -> bool:
    """Flask-Limiter asks this first: requests no limit applies to skip its lookup (a
    fifth of the time of a page like the article)."""
    return request.method != "POST" and request.endpoint not in LIMITED_GET_ENDPOINTS
