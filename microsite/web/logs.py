"""Logs without personal data.

The app's own log lines name lead, referral and staff ids only. The request lines that web
servers write are cleaned here: no client address, no query string (UTM values, search
terms) and not the secret part of a token URL (`/r/`, `/unsubscribe/`, `/withdraw/`, the
trial alerts' `/alerts/confirm/`, `/alerts/manage/` and `/alerts/stop/`, their Spanish
`/es/...` twins, and `/staff/set-password/`).
The development server's lines pass through `DevServerLogFilter`, Flask's error line through
`ErrorPathFilter`; gunicorn's access log uses `redact_path` from gunicorn.conf.py.
"""

from __future__ import annotations

import logging
import re

_TOKEN_PATH = re.compile(
    r"^((?:/es)?/(?:r|unsubscribe|withdraw|alerts/(?:confirm|manage|stop))/|/staff/set-password/)"
    r"[^/]+"
)
_DEV_SERVER_PREFIX = re.compile(r"^\S+ - - (\[[^\]]*\] )")
_TERMINAL_COLOUR = re.compile(r"\x1b\[[0-9;]*m")
_REQUEST_LINE = re.compile(r"^(\S+) (\S+)( .*)?$", re.DOTALL)


def redact_path(path: str) -> str:
    """The path of a request as it may be logged: no query string, no token."""
    return _TOKEN_PATH.sub(r"\1[token]", path.split("?", 1)[0])


def redact_request_line(line: str) -> str:
    match = _REQUEST_LINE.match(_TERMINAL_COLOUR.sub("", line))
    if not match:
        return "[unreadable request line]"
    method, target, version = match.groups()
    return f"{method} {redact_path(target)}{version or ''}"


class DevServerLogFilter(logging.Filter):
    """Takes the client address and the query string out of werkzeug's request lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not isinstance(record.msg, str) or not _DEV_SERVER_PREFIX.match(record.msg):
            return True
        record.msg = _DEV_SERVER_PREFIX.sub(r"\1", record.msg)
        if record.msg.rstrip().endswith('"%s" %s %s') and isinstance(record.args, tuple):
            record.args = (redact_request_line(str(record.args[0])), *record.args[1:])
        return True


class ErrorPathFilter(logging.Filter):
    """Flask's "Exception on <path> [GET]" line names the path: keep its token out."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and record.msg.startswith("Exception on "):
            path, _, method = record.msg[len("Exception on ") :].rpartition(" ")
            record.msg = f"Exception on {redact_path(path)} {method}"
        return True


def init_app(app) -> None:
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
    werkzeug_log = logging.getLogger("werkzeug")
    if not any(isinstance(f, DevServerLogFilter) for f in werkzeug_log.filters):
        werkzeug_log.addFilter(DevServerLogFilter())
    app.logger.addFilter(ErrorPathFilter())
