"""Answering the pages a crowd lands on from memory, without running Flask for them.

A news story sends its readers to the article, then to the empty application form. The
article is the same for everyone. The empty form is the same for every new visitor but
for three values: its CSRF token, the session cookie that holds the token's other half,
and its idempotency key. Flask answers the first such request as always. This middleware
keeps that response (status, headers, body) and answers the next requests for the same
URL with it, with new values where the form has its own:

- the article while ``rendered_once`` would serve the same rendered page without checking
  its table (web/caching.py): a commit here that changes the table, or the next check
  being due, sends the next request to Flask again;
- the empty form for REVALIDATE_AFTER seconds (it shows no table).

Only a plain first visit is answered from memory: a GET without a query string (UTM
parameters go into the session), without any cookie (a returning visitor, a referral, a
staff member) and without conditional headers. Everything else goes to Flask as before.
A response is kept only when it can be made again exactly: a 200 without a cookie for the
article; for the form, a 200 whose one cookie is a session holding the form's token alone,
read back with the app's own signers.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from flask import Flask, request
from itsdangerous import BadData, URLSafeTimedSerializer

from . import caching

_NEW_VISITOR_PAGE = "microsite.new_visitor_page"  # environ: (token, key) of the form
MAX_KEPT = 64  # responses, by URL and host: when full, start again rather than grow
# A request with any of these goes to Flask: a cookie, or a header that can turn the page
# into a 304, 412 or 206.
_TO_FLASK = frozenset(("HTTP_COOKIE", *caching.CONDITIONAL_HEADERS))


def offer_new_visitor_page(token: str, key: str) -> None:
    """Let the response being made, an empty form with the CSRF token ``token`` and the
    idempotency key ``key`` and otherwise the same for every new visitor, be answered
    again from memory with new values."""
    request.environ[_NEW_VISITOR_PAGE] = (token, key)


@dataclass(frozen=True)
class _Kept:
    status: str
    headers: list[tuple[str, str]]
    body: bytes
    rendered: tuple | None  # the article: (its key, its page) in rendered_once's store
    until: float = 0.0  # the form: answered from memory until then (caching.clock())


@dataclass(frozen=True)
class _KeptForm(_Kept):
    # The body cut where the token and the key go, in the order they come; the index of
    # the Set-Cookie line, and what comes before and after the session's value in it;
    # the index of the Content-Length line.
    parts: tuple[bytes, ...] = ()
    slots: tuple[str, ...] = ()
    cookie_line: int = -1
    cookie_around: tuple[str, str] = ("", "")
    length_line: int = -1


class _Signers:
    """The app's CSRF token and session cookie, made as Flask-WTF and Flask make them
    (hashlib's SHA-1 for the HMAC: the same digest, at C speed)."""

    def __init__(self, app: Flask) -> None:
        self.field = app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token")
        secret = app.config.get("WTF_CSRF_SECRET_KEY") or app.secret_key
        self.csrf = URLSafeTimedSerializer(
            secret, salt="wtf-csrf-token", signer_kwargs={"digest_method": hashlib.sha1}
        )
        self.session = app.session_interface.get_signing_serializer(app)
        self.cookie_name = app.session_interface.get_cookie_name(app)

    def fresh(self) -> dict[str, str]:
        raw = hashlib.sha1(os.urandom(64)).hexdigest()  # as Flask-WTF makes its raw token
        return {
            "token": self.csrf.dumps(raw),
            "cookie": self.session.dumps({self.field: raw}),
            "key": uuid.uuid4().hex,
        }


class PageReplay:
    """WSGI middleware in front of the Flask app's own: see the module's docstring."""

    def __init__(self, app: Flask, wsgi_app: Callable) -> None:
        self.app = app
        self.wsgi_app = wsgi_app
        self.kept: dict[tuple, _Kept] = {}
        self._signers: tuple = ((), None)  # (the keys, their signers)

    def signers(self) -> _Signers:
        keys = (self.app.secret_key, self.app.config.get("WTF_CSRF_SECRET_KEY"))
        if self._signers[0] != keys:
            self._signers = (keys, _Signers(self.app))
        return self._signers[1]

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if (
            environ.get("REQUEST_METHOD") != "GET"
            or environ.get("QUERY_STRING")
            or not environ.keys().isdisjoint(_TO_FLASK)
        ):
            return self.wsgi_app(environ, start_response)
        where = (
            environ.get("SCRIPT_NAME", ""),
            environ.get("PATH_INFO", ""),
            environ.get("HTTP_HOST", ""),
            environ.get("wsgi.url_scheme", ""),
        )
        kept = self.kept.get(where)
        if kept is not None and self._current(kept):
            return self._answer_from_memory(kept, start_response)
        return self._answer_and_keep(where, environ, start_response)

    def _current(self, kept: _Kept) -> bool:
        if kept.rendered is not None:
            return caching.still_current(self.app, *kept.rendered)
        return caching.clock() < kept.until

    def _answer_from_memory(self, kept: _Kept, start_response: Callable) -> list[bytes]:
        if not isinstance(kept, _KeptForm):
            start_response(kept.status, kept.headers)
            return [kept.body]
        values = self.signers().fresh()
        headers = list(kept.headers)
        before, after = kept.cookie_around
        headers[kept.cookie_line] = ("Set-Cookie", before + values["cookie"] + after)
        parts = [kept.parts[0]]
        for slot, part in zip(kept.slots, kept.parts[1:], strict=True):
            parts += (values[slot].encode(), part)
        body = b"".join(parts)
        headers[kept.length_line] = ("Content-Length", str(len(body)))
        start_response(kept.status, headers)
        return [body]

    def _answer_and_keep(self, where: tuple, environ: dict, start_response: Callable):
        answered: list = []

        def keeping_start_response(status, headers, exc_info=None):
            answered[:] = [status, list(headers)]
            return start_response(status, headers, exc_info)

        response = self.wsgi_app(environ, keeping_start_response)
        rendered = environ.get(caching.RENDERED_PAGE)
        form = environ.get(_NEW_VISITOR_PAGE)
        if (rendered is None and form is None) or not answered or answered[0][:4] != "200 ":
            return response
        try:
            body = b"".join(response)
        finally:
            if hasattr(response, "close"):
                response.close()
        status, headers = answered
        if form is not None:
            kept = self._keepable_form(status, headers, body, *form)
        elif not any(name.lower() == "set-cookie" for name, _ in headers):
            kept = _Kept(status, headers, body, rendered)
        else:
            kept = None
        if kept is not None:
            if len(self.kept) >= MAX_KEPT:
                self.kept.clear()
            self.kept[where] = kept
        return [body]

    def _keepable_form(self, status, headers, body: bytes, token: str, key: str):
        """The form's response to answer again with new values, or None when it cannot be
        made again exactly."""
        cookies = [n for n, (name, _) in enumerate(headers) if name.lower() == "set-cookie"]
        lengths = [n for n, (name, _) in enumerate(headers) if name.lower() == "content-length"]
        if len(cookies) != 1 or len(lengths) != 1:
            return None
        signers = self.signers()
        before = signers.cookie_name + "="
        line = headers[cookies[0]][1]
        if not line.startswith(before) or "expires=" in line.lower():
            return None  # not the session, or a permanent one whose date would go stale
        value, semicolon, rest = line[len(before) :].partition(";")
        try:
            if signers.session.loads(value) != {signers.field: signers.csrf.loads(token)}:
                return None  # the session holds more than the token
        except BadData:
            return None
        found = sorted(
            (body.find(text.encode()), text, slot)
            for text, slot in ((token, "token"), (key, "key"))
        )
        if any(body.count(text.encode()) != 1 for _, text, _ in found):
            return None
        (first_at, first, first_slot), (second_at, second, second_slot) = found
        parts = (
            body[:first_at],
            body[first_at + len(first) : second_at],
            body[second_at + len(second) :],
        )
        return _KeptForm(
            status,
            headers,
            body,
            None,
            caching.clock() + caching.REVALIDATE_AFTER,
            parts,
            (first_slot, second_slot),
            cookies[0],
            (before, semicolon + rest),
            lengths[0],
        )


def init_app(app: Flask) -> None:
    """Put the replay in front of the app's own WSGI callable; call it before
    ``security.init_app``, so that ProxyFix, when set, corrects the request first."""
    app.wsgi_app = PageReplay(app, app.wsgi_app)
