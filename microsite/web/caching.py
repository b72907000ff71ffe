"""HTTP caching: pages anyone may cache, and pages nobody may store.

A page shared through a proxy cache must carry nothing of one visitor, so it never sends
Set-Cookie, not even the refresh of a permanent session.

Such a page may also be rendered once per worker process and reused (``rendered_once``)
while the table it shows stays the same.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import wraps

from flask import Response, current_app, g, has_app_context, make_response, request
from flask.sessions import SecureCookieSessionInterface
from sqlalchemy import event, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from ..extensions import db

log = logging.getLogger(__name__)

# How long a worker reuses a rendered page before it asks the database whether the table
# the page shows has changed. An edit shows in the worker that made it at once, and in
# every other worker and server within this time (shared caches may keep the page for
# ARTICLE_MAX_AGE on top, as before).
REVALIDATE_AFTER = 1.0  # seconds
clock = time.monotonic  # tests replace it to move time on
_PAGES = "microsite.rendered_pages"
# Where rendered_once leaves (its key, the page) in the request's environ, for web/replay.py.
RENDERED_PAGE = "microsite.rendered_page"
# Request headers that can turn a page into a 304, 412 or 206: only then is it worth asking.
CONDITIONAL_HEADERS = (
    "HTTP_IF_NONE_MATCH",
    "HTTP_IF_MATCH",
    "HTTP_IF_MODIFIED_SINCE",
    "HTTP_IF_UNMODIFIED_SINCE",
    "HTTP_RANGE",
)


class SharedCacheAwareSessionInterface(SecureCookieSessionInterface):
    """The usual signed-cookie session, which leaves the cookie alone on shared pages.

    Its signer is built once per set of keys, not for every request as Flask's is, and a
    request without a session cookie needs none. It signs with hashlib's SHA-1 itself, the
    same digest as Flask's default (a lazy wrapper of it, which makes ``hmac`` fall back to
    its pure-Python HMAC), so the cookies are the same.
    """

    digest_method = staticmethod(hashlib.sha1)
    _signer: tuple = ((), None)  # (the keys, their signer): one app, one set of keys

    def get_signing_serializer(self, app):
        keys = (app.secret_key, *(app.config["SECRET_KEY_FALLBACKS"] or ()))
        if self._signer[0] != keys:
            self._signer = (keys, super().get_signing_serializer(app))
        return self._signer[1]

    def open_session(self, app, request):
        if app.secret_key and self.get_cookie_name(app) not in request.cookies:
            return self.session_class()
        return super().open_session(app, request)

    def save_session(self, app, session, response) -> None:
        if g.get("shared_cache") or request.endpoint == "static":
            return  # no cookie, and no "Vary: Cookie" that would keep caches from sharing it
        super().save_session(app, session, response)


def shared_cache(view):
    """Mark a page as the same for everyone: public caching, an ETag, and 304 answers.

    A request that starts something for this visitor (UTM parameters to remember) gets
    its cookie, and a private response that no shared cache keeps.
    """

    @wraps(view)
    def cached_view(*args, **kwargs):
        response = make_response(view(*args, **kwargs))
        if g.get("visitor_specific"):
            response.cache_control.private = True
            response.cache_control.no_cache = True
            return response
        g.shared_cache = True
        response.headers["Cache-Control"] = (
            f"public, max-age={current_app.config['ARTICLE_MAX_AGE']:d}"
        )
        response.add_etag()
        if not request.environ.keys().isdisjoint(CONDITIONAL_HEADERS):
            return response.make_conditional(request)
        return response

    return cached_view


def no_store(view):
    """Mark a page that shows personal data: no cache, shared or private, may keep it."""

    @wraps(view)
    def uncached_view(*args, **kwargs):
        response = make_response(view(*args, **kwargs))
        response.cache_control.no_store = True
        return response

    return uncached_view


@dataclass(frozen=True)
class _Rendered:
    depends_on: type
    version: tuple
    body: bytes
    etag: str
    checked_at: float


def table_version(model) -> tuple:
    """Every row of a small table as plain values: it changes whenever any row changes."""
    table = model.__table__
    return tuple(db.session.execute(select(table).order_by(*table.primary_key.columns)).all())


def still_current(app, key: tuple, page: _Rendered) -> bool:
    """Whether ``page`` is still the page ``rendered_once`` would serve for ``key`` in
    ``app`` without checking its table: no commit in this worker has changed the table
    since, and its next check is not due."""
    return (
        app.extensions.get(_PAGES, {}).get(key) is page
        and clock() - page.checked_at < REVALIDATE_AFTER
    )


def rendered_once(render: Callable[[], str], depends_on) -> Response:
    """The page ``render`` makes, rendered once in this process and reused while the
    ``depends_on`` table holds the same rows: no template and no query per request, only
    a check of the table every REVALIDATE_AFTER seconds. When that check fails (the
    database is down) the page already rendered is served as it is.

    For pages that are the same for everyone (``shared_cache``): nothing of the visitor
    may go into the page.
    """
    pages: dict = current_app.extensions.setdefault(_PAGES, {})
    key = (request.endpoint, request.script_root)
    page: _Rendered | None = pages.get(key)
    now = clock()
    if page is None or now - page.checked_at >= REVALIDATE_AFTER:
        try:
            version = table_version(depends_on)
        except SQLAlchemyError as error:
            if page is None:
                raise
            db.session.rollback()
            log.warning(
                "%s: served as rendered before, the check failed (%s)", key[0], type(error).__name__
            )
            version = page.version
        if page is None or version != page.version:
            body = render().encode()
            page = _Rendered(depends_on, version, body, hashlib.sha1(body).hexdigest(), now)
        else:
            page = replace(page, checked_at=now)
        pages[key] = page
    request.environ[RENDERED_PAGE] = (key, page)
    response = current_app.response_class(page.body, mimetype="text/html")
    response.set_etag(page.etag)
    return response


# The worker that changes a table checks its pages at once rather than after a while.
@event.listens_for(Session, "after_flush")
def _note_changed_tables(session, _flush_context) -> None:
    changed = session.info.setdefault(_PAGES, set())
    for instance in (*session.new, *session.dirty, *session.deleted):
        changed.add(type(instance))


@event.listens_for(Session, "after_commit")
def _recheck_pages_of_changed_tables(session) -> None:
    changed = session.info.pop(_PAGES, None)
    if not changed or not has_app_context():
        return
    for key, page in list(current_app.extensions.get(_PAGES, {}).items()):
        if page.depends_on in changed:
            current_app.extensions[_PAGES].pop(key, None)


@event.listens_for(Session, "after_rollback")
def _forget_changes_rolled_back(session) -> None:
    session.info.pop(_PAGES, None)
