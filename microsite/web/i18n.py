"""The public site's two languages, chosen by the URL alone.

English pages live at ``/...`` (the ``public`` blueprint), Spanish ones at ``/es/...`` (the
same blueprint registered again as ``public_es``). The language comes from the URL only:
no cookie, no redirect, no Accept-Language negotiation, so a cached page stays the same
for everyone. The staff area is English.

Templates link with ``page_url("public.apply")``, which stays in the page's language;
``alternate_urls()`` gives the page in each language for ``hreflang`` and the language
switch.
"""

from __future__ import annotations

from datetime import date
from functools import cache

from babel import support
from flask import Flask, g, has_request_context, request, url_for
from flask_babel import format_date, get_locale
from wtforms.i18n import messages_path

from ..extensions import babel
from .security import add_missing_headers
from .urls import public_url

LANGUAGES = {"en": "English", "es": "Español"}
DEFAULT_LANGUAGE = "en"
# The blueprint that serves each language's public pages.
BLUEPRINTS = {"en": "public", "es": "public_es"}
PREFIXES = {"en": "", "es": "/es"}
_LANGUAGE_OF_BLUEPRINT = {name: language for language, name in BLUEPRINTS.items()}


def current_language() -> str:
    """The language of the page being answered: from its URL, English elsewhere."""
    if not has_request_context():
        return g.get("language", DEFAULT_LANGUAGE) if g else DEFAULT_LANGUAGE
    forced = g.get("language")
    if forced:
        return forced
    if request.blueprint is None:  # no page matched (a 404): the language of the path
        for language, prefix in PREFIXES.items():
            if prefix and (request.path == prefix or request.path.startswith(prefix + "/")):
                return language
    return _LANGUAGE_OF_BLUEPRINT.get(request.blueprint or "", DEFAULT_LANGUAGE)


def localized_endpoint(endpoint: str, language: str | None = None) -> str:
    """``public.apply`` as the endpoint of the same page in ``language`` (the current one
    by default); other endpoints are returned as they are."""
    blueprint, _, name = endpoint.partition(".")
    if blueprint not in _LANGUAGE_OF_BLUEPRINT or not name:
        return endpoint
    return f"{BLUEPRINTS[language or current_language()]}.{name}"


def page_url(endpoint: str, _language: str | None = None, **values) -> str:
    """``url_for`` of a public page, in the page's language (or ``_language``)."""
    return url_for(localized_endpoint(endpoint, _language), **values)


def alternate_urls() -> dict[str, str]:
    """The page being answered in each language, as absolute URLs; empty when it has no
    translation (the staff area, English-only links)."""
    if request.blueprint not in _LANGUAGE_OF_BLUEPRINT or request.endpoint is None:
        return {}
    values = dict(request.view_args or {})
    return {
        language: public_url(page_url(request.endpoint, language, **values))
        for language in LANGUAGES
    }


def _content_language(response):
    # A public page, or the 404 of a path that matched no page (in its path's language).
    if request.blueprint in _LANGUAGE_OF_BLUEPRINT or request.endpoint is None:
        add_missing_headers(response, (("Content-Language", current_language()),))
    return response


# A day in words, as a sentence says it: "Tuesday 3 December", "martes 3 de diciembre".
LONG_DAY = {"en": "EEEE d MMMM", "es": "EEEE d 'de' MMMM"}


def long_day(day: date) -> str:
    """``day`` in the language being rendered (a mail's, under force_locale, or the page's)."""
    language = get_locale().language if get_locale() else "en"
    return format_date(day, LONG_DAY.get(language, LONG_DAY["en"]))


@cache
def _wtforms_catalog(locale: str) -> support.Translations:
    return support.Translations.load(messages_path(), [locale], domain="wtforms")


class WTFormsMessages:
    """WTForms' own messages ("Not a valid choice.") in the page's language, each catalog
    read once per process: Flask-WTF's default reads it again for every request."""

    def gettext(self, string: str) -> str:
        return _wtforms_catalog(str(get_locale())).ugettext(string)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return _wtforms_catalog(str(get_locale())).ungettext(singular, plural, n)


wtforms_messages = WTFormsMessages()


def init_app(app: Flask) -> None:
    babel.init_app(app, locale_selector=current_language, default_domain="messages")
    app.jinja_env.filters["long_day"] = long_day
    app.jinja_env.globals.update(
        page_url=page_url,
        alternate_urls=alternate_urls,
        current_language=current_language,
        languages=LANGUAGES,
    )
    app.after_request(_content_language)
