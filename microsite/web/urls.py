"""Absolute links, always on PUBLIC_URL and never on the request's Host header, so a mail or
a canonical link cannot be pointed at another site by a forged header."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask, current_app, has_request_context, url_for


def public_url(path: str) -> str:
    """A path of this site as an absolute URL."""
    return current_app.config["PUBLIC_URL"] + path


def absolute_url(endpoint: str, **values) -> str:
    """``url_for`` as an absolute URL on PUBLIC_URL."""
    return public_url(url_for(endpoint, **values))


@contextmanager
def links_anywhere() -> Iterator[None]:
    """Where ``url_for`` works from the command line too (the timers run there): a request
    context of its own, only while the links are made (queue mail after it, or the
    outbox would try to send it after a response that never comes). ``absolute_url``
    puts PUBLIC_URL before the links either way."""
    if has_request_context():
        yield
        return
    with current_app.test_request_context(base_url=current_app.config["PUBLIC_URL"]):
        yield


def init_app(app: Flask) -> None:
    app.jinja_env.globals.update(public_url=public_url, absolute_url=absolute_url)
