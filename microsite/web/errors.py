"""Styled error pages. A failed request never shows a stack trace or half a page."""

from __future__ import annotations

import logging

from flask import Flask, g, make_response, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import (
    DisconnectionError,
    InterfaceError,
    OperationalError,
    PendingRollbackError,
)
from werkzeug.exceptions import HTTPException, InternalServerError

from ..extensions import db, login_manager

log = logging.getLogger(__name__)

# The database is down, restarting or too busy: the request can be tried again later.
# PendingRollbackError: a connection lost earlier in the same transaction.
DATABASE_ERRORS = (OperationalError, InterfaceError, DisconnectionError, PendingRollbackError)
RETRY_AFTER_SECONDS = 30


def page_not_found(error: HTTPException):
    return render_template("errors/404.html"), 404


def internal_error(error: InternalServerError):
    db.session.rollback()
    return render_template("errors/500.html"), 500


def database_unavailable(error: Exception, page: str | None = None):
    """503 with Retry-After: the 503 page, or the given page (a form shown again)."""
    db.session.rollback()
    log.error("%s: database unavailable (%s)", request.endpoint, type(error).__name__)
    # Templates ask Flask-Login for the current user, which needs the database: for the
    # rest of this request, nobody is signed in.
    g._login_user = login_manager.anonymous_user()
    response = make_response(page or render_template("errors/503.html"), 503)
    response.retry_after = RETRY_AFTER_SECONDS
    response.cache_control.no_store = True
    return response


def http_error(error: HTTPException):
    return render_template("errors/error.html", error=error), error.code


def init_app(app: Flask) -> None:
    app.register_error_handler(404, page_not_found)
    app.register_error_handler(InternalServerError, internal_error)
    app.register_error_handler(CSRFError, http_error)
    app.register_error_handler(HTTPException, http_error)
    for database_error in DATABASE_ERRORS:
        app.register_error_handler(database_error, database_unavailable)
