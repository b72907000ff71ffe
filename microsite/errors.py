"""Styled error pages. A failed request never shows a stack trace or half a page."""

from __future__ import annotations

from flask import Flask, render_template
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from .extensions import db


def page_not_found(error: HTTPException):
    return render_template("errors/404.html"), 404


def internal_error(error: InternalServerError):
    db.session.rollback()
    return render_template("errors/500.html"), 500


def http_error(error: HTTPException):
    return render_template("errors/error.html", error=error), error.code


def init_app(app: Flask) -> None:
    app.register_error_handler(404, page_not_found)
    app.register_error_handler(InternalServerError, internal_error)
    app.register_error_handler(CSRFError, http_error)
    app.register_error_handler(HTTPException, http_error)
