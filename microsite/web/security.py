"""HTTP hardening: security headers on every response (HSTS in HTTPS mode) and the
reverse-proxy setting. Cookie flags, body bounds and the production checks are settings:
``config.py``."""

from __future__ import annotations

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from ..config import https

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
# Powerful features nobody here needs, by names Chromium knows (it warns about others).
# The share buttons keep clipboard-write for the site itself; web-share, which Chromium
# on Linux does not recognise in the header, is left to its default: this site only.
PERMISSIONS_POLICY = ", ".join(
    [
        "camera=()",
        "microphone=()",
        "geolocation=()",
        "payment=()",
        "usb=()",
        "serial=()",
        "hid=()",
        "midi=()",
        "magnetometer=()",
        "gyroscope=()",
        "accelerometer=()",
        "display-capture=()",
        "screen-wake-lock=()",
        "idle-detection=()",
        # Passkeys sign staff in, on this site only.
        "publickey-credentials-get=(self)",
        "publickey-credentials-create=(self)",
        "clipboard-write=(self)",
    ]
)
HSTS = "max-age=31536000; includeSubDomains"


SECURITY_HEADERS = (
    ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "same-origin"),
    ("Permissions-Policy", PERMISSIONS_POLICY),
    ("Cross-Origin-Opener-Policy", "same-origin"),
    ("X-Frame-Options", "DENY"),
)


def add_missing_headers(response, headers) -> None:
    """Add each (name, value) of ``headers`` that the response does not set itself, in one
    pass over its headers (``Headers.setdefault`` raises and catches a KeyError for each
    missing one: most of the cost of a cached page)."""
    present = {name.lower() for name, _ in response.headers}
    response.headers.extend([pair for pair in headers if pair[0].lower() not in present])


def _headers(response):
    add_missing_headers(response, SECURITY_HEADERS)
    return response


def init_app(app: Flask) -> None:
    app.after_request(_headers)
    if https(app.config):
        app.after_request(_hsts)
    hops = int(app.config.get("TRUSTED_PROXY_HOPS") or 0)
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)


def _hsts(response):
    add_missing_headers(response, (("Strict-Transport-Security", HSTS),))
    return response
