"""Absolute links, always on PUBLIC_URL and never on the request's Host header, so a mail or
a canonical link cannot be pointed at another site by a forged header."""

from __future__ import annotations

from flask import Flask, current_app, url_for


def public_url(path: str) -> str:
    """A path of this site as an absolute URL."""
    return current_app.config["PUBLIC_URL"] + path


def absolute_url(endpoint: str, **values) -> str:
    """``url_for`` as an absolute URL on PUBLIC_URL."""
    return public_url(url_for(endpoint, **values))


def init_app(app: Flask) -> None:
    app.jinja_env.globals.update(public_url=public_url, absolute_url=absolute_url)
