"""HTTP caching: pages anyone may cache, and pages nobody may store.

A page shared through a proxy cache must carry nothing of one visitor, so it never sends
Set-Cookie, not even the refresh of a permanent session.
"""

from __future__ import annotations

from functools import wraps

from flask import current_app, g, make_response, request
from flask.sessions import SecureCookieSessionInterface


class SharedCacheAwareSessionInterface(SecureCookieSessionInterface):
    """The usual signed-cookie session, which leaves the cookie alone on shared pages."""

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
        response.cache_control.public = True
        response.cache_control.max_age = current_app.config["ARTICLE_MAX_AGE"]
        response.add_etag()
        return response.make_conditional(request)

    return cached_view


def no_store(view):
    """Mark a page that shows personal data: no cache, shared or private, may keep it."""

    @wraps(view)
    def uncached_view(*args, **kwargs):
        response = make_response(view(*args, **kwargs))
        response.cache_control.no_store = True
        return response

    return uncached_view
