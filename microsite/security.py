"""HTTP hardening: security headers on every response, cookie flags, request bounds, the
reverse-proxy setting, and the checks a production configuration must pass."""

from __future__ import annotations

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

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
        "publickey-credentials-get=()",
        "clipboard-write=(self)",
    ]
)
MAX_BODY_BYTES = 64 * 1024
HSTS = "max-age=31536000; includeSubDomains"
WEAK_KEY_LENGTH = 32


def https(app: Flask) -> bool:
    return app.config["PUBLIC_URL"].startswith("https://")


def configuration_problems(config) -> list[str]:
    """What keeps a configuration from being safe in production."""
    problems = []
    key = config.get("SECRET_KEY") or ""
    if len(key) < WEAK_KEY_LENGTH or len(set(key)) < 8:
        problems.append(
            f"SECRET_KEY is missing or weak: use at least {WEAK_KEY_LENGTH} random characters, "
            'e.g. python -c "import secrets; print(secrets.token_hex(32))"'
        )
    if config.get("DEBUG"):
        problems.append("debug mode is on: turn FLASK_DEBUG off in production")
    return problems


def _headers(response):
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    headers.setdefault("X-Frame-Options", "DENY")
    return response


def init_app(app: Flask) -> None:
    # Flask's own defaults are unbounded or 500 kB: no form here needs more than 64 kB.
    app.config["MAX_CONTENT_LENGTH"] = app.config.get("MAX_CONTENT_LENGTH") or MAX_BODY_BYTES
    app.config["MAX_FORM_MEMORY_SIZE"] = min(
        app.config.get("MAX_FORM_MEMORY_SIZE") or MAX_BODY_BYTES, MAX_BODY_BYTES
    )
    secure = https(app)
    app.config["SESSION_COOKIE_SECURE"] = secure
    if secure:
        # The __Host- prefix: the browser only accepts it Secure, for this host, path /.
        app.config["SESSION_COOKIE_NAME"] = "__Host-session"
        app.config["SESSION_COOKIE_PATH"] = "/"
    app.after_request(_headers)
    if secure:
        app.after_request(_hsts)
    hops = int(app.config.get("TRUSTED_PROXY_HOPS") or 0)
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)


def _hsts(response):
    response.headers.setdefault("Strict-Transport-Security", HSTS)
    return response
