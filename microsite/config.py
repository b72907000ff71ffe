"""Every setting in one place: its default, its parsing, the values derived from it, and
the checks a production configuration must pass.

Layers: ``FLASK_SETTINGS`` (fixed, not for operators), then ``DEFAULTS``, then
``instance/config.py``, then the environment. Every setting the operator may change is
listed in ``DEFAULTS``; the README's table of settings is the same list. Environment
variables win over the instance file so a deployment can override a value without editing
files.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click

ENVIRONMENTS = ("development", "production")

# Staff sessions end after this much time without a request, and PERMANENT_SESSION_LIFETIME
# after sign-in, whichever comes first.
STAFF_IDLE_LIMIT = timedelta(minutes=30)
STAFF_SESSION_LIMIT = timedelta(hours=8)

# Flask and extension settings the site needs as they are: not for operators.
FLASK_SETTINGS: dict[str, object] = {
    "SESSION_COOKIE_SAMESITE": "Lax",
    "SESSION_COOKIE_HTTPONLY": True,
    # A CSRF token lives as long as the session: a form left open for hours still submits.
    "WTF_CSRF_TIME_LIMIT": None,
    # hide_parameters: a database error never copies submitted values into the log.
    "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True, "hide_parameters": True},
    # If the rate-limit storage (Redis) is down, count in this process's memory and log it,
    # and never fail a request because of the limiter; short timeouts keep pages fast.
    "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
    "RATELIMIT_SWALLOW_ERRORS": True,
    "RATELIMIT_STORAGE_OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
    # Only staff sessions are permanent.
    "PERMANENT_SESSION_LIFETIME": STAFF_SESSION_LIMIT,
}
# No form here needs more than 64 kB (Flask's own defaults are unbounded or 500 kB).
MAX_BODY_BYTES = 64 * 1024
WEAK_KEY_LENGTH = 32
DEFAULT_PORT = 5000

DEFAULTS: dict[str, object] = {
    "MICROSITE_ENV": "development",
    "SECRET_KEY": None,
    # Encrypts staff authenticator-app secrets at rest; a key of its own, not SECRET_KEY.
    # None: development generates one into instance/mfa_key; production refuses to start.
    "MFA_ENCRYPTION_KEY": None,
    # The WebAuthn relying-party id for passkeys: PUBLIC_URL's host name when None.
    "WEBAUTHN_RP_ID": None,
    "DATABASE_URL": None,  # None: a SQLite file in instance/
    "PUBLIC_URL": None,  # None: http://localhost:<PORT, or 5000>
    "TRUSTED_PROXY_HOPS": 0,  # reverse proxies in front of the app; 0 ignores X-Forwarded-*
    "ORG_NAME": "Trial Finder",
    "ORG_EMAIL": "navigators@trialfinder.example",
    "ORG_PHONE": "+1 555 0100",
    "CALLBACK_BUSINESS_DAYS": 2,
    "ALERT_INTERVAL_DAYS": 7,  # at most one trial alert per family in this many days
    # Days no one calls back, besides Saturdays and Sundays: "2026-12-25,2027-01-01".
    "HOLIDAYS": "",
    # Which leads a navigator's leads.csv holds: "all", or "assigned" (their own).
    "NAVIGATOR_EXPORT_SCOPE": "all",
    "ACCESS_RECORD_RETENTION_DAYS": 2190,  # six years
    "RETENTION_DAYS": 730,
    "ARTICLE_MAX_AGE": 300,  # seconds a shared cache may keep the article page
    "DISPLAY_TIMEZONE": "UTC",
    "STAFF_NOTIFY_EMAIL": None,  # where new-lead notices go; None: no notices
    # werkzeug's method for staff password hashes: "scrypt" (N=32768, r=8, p=1), or
    # "scrypt:N:r:p" for a stronger one; production refuses anything weaker than the default.
    "PASSWORD_HASH_METHOD": "scrypt",
    "LOGIN_RATE_LIMIT": "5 per minute",  # failed staff logins, per client and per account
    "RATELIMIT_ENABLED": True,
    "RATELIMIT_STORAGE_URI": "memory://",
    "APPLY_RATE_LIMIT": "10 per hour",
    "SHARE_RATE_LIMIT": "5 per hour;20 per day",
    "REFERRAL_RATE_LIMIT": "60 per minute",  # GET /r/<code>, per client
    "MAIL_SERVER": None,  # None: messages are written as .eml files under instance/mail/
    "MAIL_PORT": 25,
    "MAIL_USE_TLS": False,
    "MAIL_USE_SSL": False,
    "MAIL_USERNAME": None,
    "MAIL_PASSWORD": None,
    "MAIL_FROM": "Trial Finder <no-reply@trialfinder.example>",
    "MAIL_TIMEOUT": 10,  # seconds for any one SMTP conversation
    "MAIL_MAX_ATTEMPTS": 6,  # then a message is marked failed
    # Try each message queued by a request once, after its response; false: only
    # `flask outbox send` sends (from cron or a timer).
    "MAIL_SEND_AFTER_RESPONSE": True,
    # `flask trials sync` reads {CTGOV_API_URL}/studies
    "CTGOV_API_URL": "https://clinicaltrials.gov/api/v2",
}

_INTEGER_SETTINGS = {
    "TRUSTED_PROXY_HOPS",
    "CALLBACK_BUSINESS_DAYS",
    "ALERT_INTERVAL_DAYS",
    "RETENTION_DAYS",
    "ACCESS_RECORD_RETENTION_DAYS",
    "ARTICLE_MAX_AGE",
    "MAIL_PORT",
    "MAIL_TIMEOUT",
    "MAIL_MAX_ATTEMPTS",
}
_BOOLEAN_SETTINGS = {
    "RATELIMIT_ENABLED",
    "MAIL_USE_TLS",
    "MAIL_USE_SSL",
    "MAIL_SEND_AFTER_RESPONSE",
}
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}

EXPORT_SCOPES = ("all", "assigned")

SECRET_KEY_FILE = "secret_key"
MFA_KEY_FILE = "mfa_key"
DATABASE_FILE = "microsite.sqlite3"


class ConfigError(click.ClickException):
    """The configuration cannot run: the message says which setting and why. A Click
    exception, so `flask ...` commands print it as one line and exit 1."""


def from_environment(environ: os._Environ | dict[str, str]) -> dict[str, object]:
    """The settings present in the environment, converted to their types."""
    found: dict[str, object] = {}
    for name in DEFAULTS:
        if name not in environ:
            continue
        raw = environ[name]
        if name in _INTEGER_SETTINGS:
            try:
                found[name] = int(raw)
            except ValueError:
                raise ConfigError(f"{name} must be a whole number, not {raw!r}") from None
        elif name in _BOOLEAN_SETTINGS:
            if raw.strip().lower() not in _TRUE | _FALSE:
                raise ConfigError(f"{name} must be true or false, not {raw!r}")
            found[name] = raw.strip().lower() in _TRUE
        else:
            found[name] = raw
    return found


def holiday_dates(value) -> frozenset[date]:
    """HOLIDAYS as days: comma-separated YYYY-MM-DD (or a list of them)."""
    items = value.split(",") if isinstance(value, str) else list(value or ())
    days = set()
    for item in items:
        text = str(item).strip()
        if not text:
            continue
        try:
            if len(text) != 10:
                raise ValueError
            days.add(date.fromisoformat(text))
        except ValueError:
            raise ConfigError(
                f"HOLIDAYS must be days written YYYY-MM-DD, separated by commas, "
                f"like 2026-12-25,2027-01-01; {text!r} is not one"
            ) from None
    return frozenset(days)


def database_uri(url: str | None, instance_path: str) -> str:
    """The SQLAlchemy URL: DATABASE_URL as given, or the SQLite file in instance/."""
    if not url:
        return "sqlite:///" + str(Path(instance_path) / DATABASE_FILE)
    return url


def development_secret_key(instance_path: str, name: str = SECRET_KEY_FILE) -> str:
    """The key kept in ``instance/<name>`` (``secret_key``), created once with mode 600.

    Several workers may start at once: each writes a complete key to a private temporary
    file and tries to hard-link it into place. Only one link succeeds; everyone then reads
    the file that won, so all workers sign with the same key.
    """
    key_path = Path(instance_path) / name
    if not key_path.exists():
        key_path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=key_path.parent, prefix=f".{name}.")
        try:
            with os.fdopen(fd, "w") as handle:  # mkstemp creates it with mode 600
                handle.write(secrets.token_hex(32))
                handle.flush()
                os.fsync(handle.fileno())
            try:
                os.link(temporary, key_path)
            except FileExistsError:
                pass  # another worker won the race; use its key
        finally:
            os.unlink(temporary)
    key = key_path.read_text().strip()
    if not key:
        raise ConfigError(f"{key_path} is empty: delete it to have a new key generated")
    return key


def development_url(environ) -> str:
    """The development address: a host name (cookies and passkeys are per host), on PORT."""
    return f"http://localhost:{environ.get('PORT') or DEFAULT_PORT}"


def https(config) -> bool:
    return str(config["PUBLIC_URL"]).startswith("https://")


def finish(config: dict, instance_path: str, environ=os.environ) -> None:
    """Derive the settings that depend on others, and refuse a configuration that can't run."""
    environment = config["MICROSITE_ENV"]
    if environment not in ENVIRONMENTS:
        raise ConfigError(
            f"MICROSITE_ENV must be one of {', '.join(ENVIRONMENTS)}, not {environment!r}"
        )
    if config["MAIL_USE_TLS"] and config["MAIL_USE_SSL"]:
        raise ConfigError("set MAIL_USE_TLS or MAIL_USE_SSL, not both")
    try:
        ZoneInfo(str(config["DISPLAY_TIMEZONE"]))
    except (ValueError, ZoneInfoNotFoundError):
        raise ConfigError(
            f"DISPLAY_TIMEZONE must be a time zone name like Europe/London, not "
            f"{config['DISPLAY_TIMEZONE']!r}"
        ) from None
    config["HOLIDAY_DATES"] = holiday_dates(config["HOLIDAYS"])
    if config["NAVIGATOR_EXPORT_SCOPE"] not in EXPORT_SCOPES:
        raise ConfigError(
            f"NAVIGATOR_EXPORT_SCOPE must be one of {', '.join(EXPORT_SCOPES)}, not "
            f"{config['NAVIGATOR_EXPORT_SCOPE']!r}"
        )
    if int(config["CALLBACK_BUSINESS_DAYS"]) < 1:
        raise ConfigError("CALLBACK_BUSINESS_DAYS must be 1 or more")
    if int(config["ALERT_INTERVAL_DAYS"]) < 1:
        raise ConfigError("ALERT_INTERVAL_DAYS must be 1 or more")
    if not config.get("SECRET_KEY"):
        if environment == "production":
            raise ConfigError("SECRET_KEY must be set in production")
        config["SECRET_KEY"] = development_secret_key(instance_path)
    if not config.get("MFA_ENCRYPTION_KEY") and environment != "production":
        config["MFA_ENCRYPTION_KEY"] = development_secret_key(instance_path, MFA_KEY_FILE)
    config.setdefault(
        "SQLALCHEMY_DATABASE_URI", database_uri(config.get("DATABASE_URL"), instance_path)
    )
    config["PUBLIC_URL"] = str(config["PUBLIC_URL"] or development_url(environ)).rstrip("/")
    config["WEBAUTHN_RP_ID"] = config.get("WEBAUTHN_RP_ID") or public_host(config["PUBLIC_URL"])
    _finish_cookies_and_bounds(config)
    if environment == "production":
        problems = configuration_problems(config)
        if problems:
            raise ConfigError("refusing to start in production: " + "; ".join(problems))


def _finish_cookies_and_bounds(config: dict) -> None:
    config["MAX_CONTENT_LENGTH"] = config.get("MAX_CONTENT_LENGTH") or MAX_BODY_BYTES
    config["MAX_FORM_MEMORY_SIZE"] = min(
        config.get("MAX_FORM_MEMORY_SIZE") or MAX_BODY_BYTES, MAX_BODY_BYTES
    )
    secure = https(config)
    config["SESSION_COOKIE_SECURE"] = secure
    if secure:
        # The __Host- prefix: the browser only accepts it Secure, for this host, path /.
        config["SESSION_COOKIE_NAME"] = "__Host-session"
        config["SESSION_COOKIE_PATH"] = "/"


MIN_SCRYPT_COST = 2**15


def strong_password_hashing(method: str) -> bool:
    """scrypt at werkzeug's default cost (N=32768, r=8, p=1) or more."""
    name, *params = method.split(":")
    if name != "scrypt":
        return False
    try:
        n, r, p = (int(value) for value in params) if params else (MIN_SCRYPT_COST, 8, 1)
    except ValueError:
        return False
    return n >= MIN_SCRYPT_COST and r >= 8 and p >= 1


def configuration_warnings(config, today: date) -> list[str]:
    """What is worth a look but does not stop the site."""
    warnings = []
    if not any(today <= day <= today + timedelta(days=365) for day in config["HOLIDAY_DATES"]):
        warnings.append(
            "HOLIDAYS lists no day in the next 12 months: call-back due times count every "
            "weekday as a business day until the coming year's holidays are added"
        )
    return warnings


def public_host(url: str) -> str:
    return urlsplit(url).hostname or ""


def _weak(key: str) -> bool:
    return len(key) < WEAK_KEY_LENGTH or len(set(key)) < 8


def configuration_problems(config) -> list[str]:
    """What keeps a configuration from being safe in production."""
    problems = []
    mfa_key = config.get("MFA_ENCRYPTION_KEY") or ""
    if _weak(mfa_key) or mfa_key == config.get("SECRET_KEY"):
        problems.append(
            f"MFA_ENCRYPTION_KEY is missing or weak: use at least {WEAK_KEY_LENGTH} random "
            "characters of its own (not SECRET_KEY), and back it up: without it no "
            "authenticator app can sign in (staff reset-mfa for everyone)"
        )
    rp_id = config.get("WEBAUTHN_RP_ID") or ""
    host = public_host(str(config.get("PUBLIC_URL") or ""))
    if rp_id != host:
        problems.append(
            f"WEBAUTHN_RP_ID {rp_id!r} does not match PUBLIC_URL's host {host!r}: passkeys "
            "would not work; leave it unset (it is then PUBLIC_URL's host)"
        )
    key = config.get("SECRET_KEY") or ""
    if _weak(key):
        problems.append(
            f"SECRET_KEY is missing or weak: use at least {WEAK_KEY_LENGTH} random characters, "
            'e.g. python -c "import secrets; print(secrets.token_hex(32))"'
        )
    if config.get("DEBUG"):
        problems.append("debug mode is on: turn FLASK_DEBUG off in production")
    if not strong_password_hashing(str(config.get("PASSWORD_HASH_METHOD", "scrypt"))):
        problems.append(
            'PASSWORD_HASH_METHOD is weaker than werkzeug\'s scrypt default: use "scrypt" '
            "or scrypt:N:r:p with N of at least 32768"
        )
    return problems
