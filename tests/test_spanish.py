"""The public site in Spanish, through HTTP: every page at /es/..., its form messages and
its mail, the language kept on the lead and the referral.

The language comes from the URL alone (``web/i18n.py``): the tests ask for pages by path
and never send a cookie or Accept-Language to choose it. Spanish text is not spelled out
here: the words the site must show are the catalog's translations of the English ones
(``spanish()``), so a message that has none fails, and the leak test compares each
Spanish page with its English one sentence by sentence: an English sentence of four or
more words left in a Spanish page fails unless it sits in an element marked
``lang="en"`` (a trial record, a name) or is on ``tests/leak_allowlist.txt`` with the
reason why.
"""

from __future__ import annotations

import csv
import html as html_text
import io
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit
from xml.etree import ElementTree

import pytest
from flask_babel import force_locale, gettext
from sqlalchemy import select

from microsite import alerts, erasure, leads, suppression
from microsite.extensions import db
from microsite.models import Lead, Referral, TrialAlert, utcnow
from tests.helpers import (
    PUBLIC_URL,
    VALID_APPLICATION,
    VALID_SHARE,
    add_trial,
    form_filler,
    rendered_hidden_fields,
    rows,
)

ALLOWLIST_FILE = Path(__file__).resolve().parent / "leak_allowlist.txt"

TRIAL = "NCT99990001"
# A title of four words and more, as ClinicalTrials.gov gives it: shown in English (lang="en").
TRIAL_TITLE = "Naxitamab With Isotretinoin for Children With High-Risk Neuroblastoma"
FRIEND_EMAIL = VALID_SHARE["friend_email"]


def spanish_path(path: str) -> str:
    """``/apply`` as ``/es/apply``, ``/`` as ``/es/``."""
    return "/es/" if path == "/" else f"/es{path}"


def spanish(app, message: str, **values) -> str:
    """The catalog's Spanish for the English ``message``; fails when it has none."""
    with app.test_request_context("/es/"), force_locale("es"):
        translated = gettext(message, **values)
    english = message % values if values else message
    assert translated != english, f"no Spanish in the catalog for {message!r}"
    return translated


def html_of(response, status: int = 200) -> str:
    assert response.status_code == status, (response.request.path, response.status_code)
    return response.get_data(as_text=True)


def shown(html: str) -> str:
    """The page's text as read, character references turned into characters."""
    return html_text.unescape(html)


# --- Reading pages ------------------------------------------------------------------------

VOID = {
    "area",
    "base",
    "br",
    "col",
    "embed",
    "hr",
    "img",
    "input",
    "link",
    "meta",
    "source",
    "track",
    "wbr",
}
SKIPPED = {"script", "style", "template", "noscript"}
# Inline elements: a sentence runs on across them; any other tag ends one.
INLINE = {"a", "abbr", "b", "bdi", "cite", "code", "em", "i", "q", "small", "span", "strong"}
INLINE |= {"sub", "sup", "time", "u", "mark", "data", "label"}
# Attributes whose text people read or hear.
READ_ATTRIBUTES = ("alt", "title", "aria-label", "placeholder")


@dataclass
class Page:
    lang: str | None = None
    canonical: str | None = None
    alternates: dict[str, str] = field(default_factory=dict)
    links: list[tuple[str, str, dict]] = field(default_factory=list)  # (href, text, attrs)
    # Runs of text, each with the language it is in (the nearest lang= above it) and
    # whether it is in <head> (the title, the description), where no lang= can be set.
    runs: list[tuple[str, str | None, bool]] = field(default_factory=list)


class _Reader(HTMLParser):
    """What a page says and in which language, its canonical and hreflang links, and the
    links in its body with their text."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.page = Page()
        self.stack: list[tuple[str, str | None, bool]] = []  # tag, lang, skipped
        self.run: list[str] = []
        self.run_lang: str | None = None
        self.open_links: list[tuple[str, list[str], dict]] = []

    @property
    def lang(self) -> str | None:
        return self.stack[-1][1] if self.stack else None

    @property
    def skipping(self) -> bool:
        return bool(self.stack) and self.stack[-1][2]

    def end_run(self) -> None:
        text = " ".join("".join(self.run).split())
        if text:
            in_head = any(tag in ("head", "title") for tag, _, _ in self.stack)
            self.page.runs.append((text, self.run_lang, in_head))
        self.run = []

    def text(self, text: str, lang: str | None) -> None:
        if lang != self.run_lang:
            self.end_run()
            self.run_lang = lang
        self.run.append(text)

    def handle_starttag(self, tag, attrs):
        attributes = {name: value or "" for name, value in attrs}
        lang = attributes.get("lang", self.lang)
        if tag == "html":
            # The page's own language is checked apart (it must be es): only an element
            # inside the page is let off by being marked English.
            self.page.lang, lang = attributes.get("lang"), None
        if tag == "link" and attributes.get("rel") == "canonical":
            self.page.canonical = attributes.get("href")
        if tag == "link" and attributes.get("rel") == "alternate" and "hreflang" in attributes:
            self.page.alternates[attributes["hreflang"]] = attributes.get("href", "")
        if tag == "meta" and attributes.get("name") == "description":
            self.end_run()
            self.text(attributes.get("content", ""), lang)
            self.end_run()
        if not self.skipping:
            for name in READ_ATTRIBUTES:
                if attributes.get(name):
                    self.end_run()
                    self.text(attributes[name], lang)
                    self.end_run()
            if tag == "input" and attributes.get("type") in ("submit", "button"):
                self.end_run()
                self.text(attributes.get("value", ""), lang)
                self.end_run()
        if tag not in INLINE:
            self.end_run()
        if tag == "a" and "href" in attributes:
            self.open_links.append((attributes["href"], [], attributes))
        if tag not in VOID:
            self.stack.append((tag, lang, self.skipping or tag in SKIPPED))

    def handle_endtag(self, tag):
        if tag not in INLINE:
            self.end_run()
        if tag == "a" and self.open_links:
            href, text, attributes = self.open_links.pop()
            self.page.links.append((href, " ".join("".join(text).split()), attributes))
        for index in range(len(self.stack) - 1, -1, -1):
            if self.stack[index][0] == tag:
                del self.stack[index:]
                break

    def handle_data(self, data):
        if self.skipping:
            return
        self.text(data, self.lang)
        for _, text, _ in self.open_links:
            text.append(data)

    def close(self):
        super().close()
        self.end_run()


def read(html: str) -> Page:
    reader = _Reader()
    reader.feed(html)
    reader.close()
    return reader.page


_SENTENCE_END = re.compile(r"(?<=[.!?:;…])\s+|\s+[·|–—]\s+")
MIN_WORDS = 4


def sentences(runs) -> list[str]:
    """Each run split into sentences of MIN_WORDS words or more."""
    found = []
    for run in runs:
        for sentence in _SENTENCE_END.split(run):
            sentence = sentence.strip()
            if len(sentence.split()) >= MIN_WORDS:
                found.append(sentence)
    return found


def load_allowlist(path: Path = ALLOWLIST_FILE) -> dict[str, str]:
    """``sentence<TAB>reason`` per line (blank lines and ``#`` comments aside)."""
    allowed = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        sentence, tab, reason = line.partition("\t")
        assert tab and sentence.strip() and reason.strip(), (
            f"{path.name}:{number}: each entry is a sentence, a tab and the reason it may "
            f"stay in English: {line!r}"
        )
        allowed[" ".join(sentence.split())] = reason.strip()
    return allowed


def english_leaks(spanish_html: str, english_html: str, allowed: dict[str, str]) -> list[str]:
    """The sentences of four words or more that the Spanish page shares with the English
    one, but for those in an element marked lang="en" and those allowed.

    Text the page marks as English somewhere (a trial's title in its heading) is English
    wherever the page repeats it where no lang= can be set, as in ``<title>``: it is taken
    out of a sentence of <head> before the sentence is judged."""
    english = set(sentences(text for text, _, _ in read(english_html).runs))
    runs = read(spanish_html).runs
    marked = sorted(
        {text for text, lang, _ in runs if is_english(lang) and len(text.split()) >= MIN_WORDS},
        key=len,
        reverse=True,
    )
    leaks = []
    for text, lang, in_head in runs:
        if is_english(lang):
            continue
        for sentence in sentences([text]):
            rest = sentence
            for quoted in marked if in_head else ():
                rest = rest.replace(quoted, " ")
            if rest != sentence and len(rest.split()) < MIN_WORDS:
                continue  # the page's own English text, repeated in <head>
            if sentence in english and sentence not in allowed and sentence not in leaks:
                leaks.append(sentence)
    return leaks


def is_english(lang: str | None) -> bool:
    return (lang or "").lower().split("-")[0] == "en"


def resolve(page_url: str, href: str) -> str:
    return urlsplit(urljoin(page_url, href)).path


# --- The site's data -----------------------------------------------------------------------


@dataclass(frozen=True)
class Site:
    app: object
    unsubscribe_token: str
    withdraw_token: str


@pytest.fixture
def site(app) -> Site:
    """A recruiting trial that fits the valid application, a lead to withdraw and a friend
    to unsubscribe."""
    add_trial(app, TRIAL, title=TRIAL_TITLE, sites=[("GB", "RECRUITING")])
    with app.app_context():
        lead = Lead(
            role="parent",
            patient_age=7,
            diagnosis="wilms",
            country="GB",
            name="Bea Withdrawing",
            email="bea@example.com",
            contact_method="email",
            consent_version=leads.CONSENT["es"][0],
            consent_at=utcnow(),
            language="es",
        )
        db.session.add(lead)
        db.session.commit()
        return Site(
            app,
            suppression.unsubscribe_token(FRIEND_EMAIL),
            erasure.withdraw_token(lead),
        )


def apply_in(app, path: str, **answers):
    """Apply at ``path`` (/apply or /es/apply) from a new client; returns the client."""
    client = app.test_client()
    data = form_filler(client, path, VALID_APPLICATION)(**answers)
    # Closed as a server closes it once sent: the mail is tried then.
    with client.post(path, data=data) as response:
        assert response.status_code == 303, html_of(response, 303)
        assert response.headers["Location"] == f"{path}/thanks"
    return client


def share_in(app, path: str, **answers):
    client = app.test_client()
    data = form_filler(client, path, VALID_SHARE)(**answers)
    # Closed as a server closes it once sent: the mail is tried then.
    with client.post(path, data=data) as response:
        assert response.status_code == 303, html_of(response, 303)
        assert response.headers["Location"] == f"{path}/sent"
    return client


# --- Every route, in its language ----------------------------------------------------------


def routes(site: Site) -> list[tuple[str, int]]:
    return [
        ("/", 200),
        ("/apply", 200),
        ("/apply/thanks", 200),
        ("/share", 200),
        ("/share/sent", 200),
        ("/privacy", 200),
        (f"/trials/{TRIAL}", 200),
        (f"/unsubscribe/{site.unsubscribe_token}", 200),
        (f"/withdraw/{site.withdraw_token}", 200),
        ("/trials/NCT00000000", 404),
        ("/unsubscribe/not-a-token", 404),
        ("/withdraw/not-a-token", 404),
    ]


ROUTE_IDS = [
    "article",
    "apply",
    "thanks",
    "share",
    "share-sent",
    "privacy",
    "trial",
    "unsubscribe",
    "withdraw",
    "unknown-trial",
    "unsubscribe-broken",
    "withdraw-broken",
]


@pytest.mark.parametrize("index", range(len(ROUTE_IDS)), ids=ROUTE_IDS)
@pytest.mark.parametrize("language", ["en", "es"])
def test_every_route_answers_in_the_language_of_its_url(client, site, index, language):
    path, status = routes(site)[index]
    if language == "es":
        path = spanish_path(path)
    response = client.get(path)
    html = html_of(response, status)
    assert read(html).lang == language
    assert response.headers.get("Content-Language") == language


@pytest.mark.parametrize("language", ["en", "es"])
def test_a_page_that_does_not_exist_answers_in_the_language_of_its_url(client, language):
    path = "/es/no-such-page" if language == "es" else "/no-such-page"
    response = client.get(path)
    assert read(html_of(response, 404)).lang == language
    assert response.headers.get("Content-Language") == language


@pytest.mark.parametrize("path", ["/", "/privacy", f"/trials/{TRIAL}"])
def test_the_language_comes_from_the_url_only(client, site, path):
    """Accept-Language changes nothing: no redirect, the English page, and the cached
    pages in both languages set no cookie and do not vary by the visitor's language."""
    english = client.get(path, headers={"Accept-Language": "es-MX,es;q=0.9"})
    assert read(html_of(english)).lang == "en"
    assert english.headers["Content-Language"] == "en"
    spanish_page = client.get(spanish_path(path), headers={"Accept-Language": "en-GB,en"})
    assert read(html_of(spanish_page)).lang == "es"
    assert spanish_page.headers["Content-Language"] == "es"
    for response in (english, spanish_page):
        assert "Set-Cookie" not in response.headers
        assert "accept-language" not in response.headers.get("Vary", "").lower()
        assert "public" in response.headers["Cache-Control"]


# --- hreflang, canonical, the sitemap, the switch ------------------------------------------

INDEXABLE = ["/", "/apply", "/share", "/privacy", f"/trials/{TRIAL}"]


@pytest.mark.parametrize("path", INDEXABLE)
def test_each_language_names_the_other_and_itself(client, site, path):
    pages = {}
    for language, own in (("en", path), ("es", spanish_path(path))):
        page = read(html_of(client.get(own)))
        assert page.canonical == PUBLIC_URL + own, (own, page.canonical)
        assert set(page.alternates) >= {"en", "es", "x-default"}, (own, page.alternates)
        pages[language] = page
    for page in pages.values():
        assert page.alternates["en"] == PUBLIC_URL + path
        assert page.alternates["es"] == PUBLIC_URL + spanish_path(path)
        assert page.alternates["x-default"] == PUBLIC_URL + path
    # Each points back: the English page's Spanish alternate is the page whose English
    # alternate is the English page.
    spanish_page = read(html_of(client.get(urlsplit(pages["en"].alternates["es"]).path)))
    assert spanish_page.alternates["en"] == pages["en"].canonical


def test_the_sitemap_lists_both_languages_with_their_alternates(client, site):
    response = client.get("/sitemap.xml")
    assert response.status_code == 200
    tree = ElementTree.fromstring(response.data)
    ns = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9", "x": "http://www.w3.org/1999/xhtml"}
    entries = {
        url.findtext("s:loc", namespaces=ns): {
            link.get("hreflang"): link.get("href") for link in url.findall("x:link", ns)
        }
        for url in tree.findall("s:url", ns)
    }
    for path in INDEXABLE:
        for own in (path, spanish_path(path)):
            assert entries.get(PUBLIC_URL + own) == {
                "en": PUBLIC_URL + path,
                "es": PUBLIC_URL + spanish_path(path),
                "x-default": PUBLIC_URL + path,
            }, own


@pytest.mark.parametrize("path", [*INDEXABLE, "/apply/thanks", "/share/sent"])
def test_the_language_switch_keeps_the_visitor_on_the_same_page(client, site, path):
    for own, other, name in (
        (path, spanish_path(path), "Español"),
        (spanish_path(path), path, "English"),
    ):
        page = read(html_of(client.get(own)))
        switches = [
            (href, text)
            for href, text, _ in page.links
            if resolve(PUBLIC_URL + own, href) == other and name in text
        ]
        assert switches, f"{own}: no link named {name!r} to {other}: {page.links}"


# --- Applying in Spanish -------------------------------------------------------------------


def test_a_spanish_application_keeps_its_language_and_the_spanish_consent(app, site):
    apply_in(app, "/es/apply", email="ana@example.com", name="Ana Ejemplo")
    apply_in(app, "/apply")
    spanish_lead, english_lead = (
        rows(app, Lead, Lead.email == email)[0] for email in ("ana@example.com", "alex@example.com")
    )
    assert (spanish_lead.language, spanish_lead.consent_version) == ("es", leads.CONSENT["es"][0])
    assert (english_lead.language, english_lead.consent_version) == ("en", leads.CONSENT["en"][0])
    assert leads.CONSENT["es"][0] != leads.CONSENT["en"][0]


def test_the_spanish_form_shows_the_spanish_consent_text(client, app):
    html = html_of(client.get("/es/apply"))
    with app.app_context():
        assert leads.consent_text("es") in html
        assert leads.consent_text("en") not in html


def post_spanish_application(app, **answers):
    client = app.test_client()
    data = form_filler(client, "/es/apply", VALID_APPLICATION)(**answers)
    return html_of(client.post("/es/apply", data=data), 422)


def field_value(html: str, name: str) -> str | None:
    found = re.search(rf'<input[^>]*\bname="{name}"[^>]*>', html)
    value = found and re.search(r'\bvalue="([^"]*)"', found.group(0))
    return value.group(1) if value else None


def test_an_empty_spanish_application_is_turned_down_in_spanish(app):
    empty = {name: None for name in VALID_APPLICATION}
    html = post_spanish_application(app, **empty)
    assert read(html).lang == "es"
    for message in (
        "Choose who is filling in this form.",
        "Enter the patient's age in years.",
        "Choose the diagnosis, or “Another diagnosis”.",
        "Choose the country where the patient lives.",
        "Enter your name.",
        "Enter your email address.",
        "Choose how we should contact you.",
        "Tick the box to agree, so that we can contact you.",
    ):
        assert spanish(app, message) in shown(html), message
        assert message not in shown(html), message
    assert "There is a problem" not in html
    assert spanish(app, "There is a problem") in shown(html)


@pytest.mark.parametrize(
    ("answers", "message", "kept"),
    [
        # WTForms' own path: the field's gettext (WholeNumberField), not the app's.
        ({"patient_age": "siete"}, "Enter a whole number, like 7.", ("patient_age", "siete")),
        ({"role": "nobody"}, "Choose who is filling in this form.", ("name", "Alex Example")),
        (
            {"email": "ana@example"},
            "Enter an email address like name@example.com.",
            ("email", "ana@example"),
        ),
        (
            {"phone": "12", "contact_method": "phone"},
            "Enter a phone number that is valid in the country you chose, or start it with + "
            "and the country code.",
            ("phone", "12"),
        ),
        (
            {"phone": "", "contact_method": "phone"},
            "Enter a phone number, so that we can call you.",
            ("email", "alex@example.com"),
        ),
        (
            {"role": "patient", "patient_age": "12"},
            "If you are under 18, please ask a parent or guardian to fill in this form with you.",
            ("patient_age", "12"),
        ),
        (
            {"diagnosis": "other", "diagnosis_other": ""},
            "Tell us the diagnosis.",
            ("name", "Alex Example"),
        ),
    ],
    ids=["not-a-number", "unknown-role", "email", "phone", "no-phone", "under-18", "diagnosis"],
)
def test_a_spanish_application_with_a_mistake_comes_back_in_spanish_with_the_input(
    app, answers, message, kept
):
    html = post_spanish_application(app, **answers)
    assert read(html).lang == "es"
    assert spanish(app, message) in shown(html)
    assert message not in shown(html)
    name, value = kept
    assert field_value(html, name) == value
    assert rows(app, Lead) == []


def test_a_message_with_a_number_in_it_is_in_spanish_too(app):
    """Length's message names the limit: its English never shows on the Spanish form."""
    html = post_spanish_application(app, name="A" * 101)
    assert spanish(app, "Use %(num)d characters or fewer.", num=100) in shown(html)
    assert "Use 100 characters or fewer." not in html
    assert field_value(html, "name") == "A" * 101
    assert 'id="name-error"' in html


def test_a_spanish_form_sent_after_the_session_ended_says_so_in_spanish(app):
    data = form_filler(app.test_client(), "/es/apply", VALID_APPLICATION)()
    # Another client: no session, so the form's token no longer matches one.
    html = html_of(app.test_client().post("/es/apply", data=data), 400)
    assert read(html).lang == "es"
    assert "Please press “Send my application” again" not in html
    assert field_value(html, "name") == "Alex Example"


# --- Sharing in Spanish --------------------------------------------------------------------


def test_a_spanish_referral_keeps_its_language_and_its_link_goes_to_the_spanish_article(app):
    share_in(app, "/es/share", friend_email="luz@example.com")
    share_in(app, "/share", friend_email="kim@example.com")
    spanish_referral = rows(app, Referral, Referral.friend_email == "luz@example.com")[0]
    english_referral = rows(app, Referral, Referral.friend_email == "kim@example.com")[0]
    assert (spanish_referral.language, english_referral.language) == ("es", "en")
    client = app.test_client()
    assert client.get(f"/r/{spanish_referral.code}").headers["Location"] == "/es/"
    assert client.get(f"/r/{english_referral.code}").headers["Location"] == "/"


def test_a_spanish_applicants_personal_link_goes_to_the_spanish_article(app, site):
    apply_in(app, "/es/apply", email="ana@example.com")
    [lead] = rows(app, Lead, Lead.email == "ana@example.com")
    [personal] = rows(app, Referral, Referral.lead_id == lead.id)
    assert personal.language == "es"
    assert app.test_client().get(f"/r/{personal.code}").headers["Location"] == "/es/"


# --- Mail ----------------------------------------------------------------------------------


def parts(message) -> tuple[str, str]:
    return (
        message.get_body(("plain",)).get_content(),
        message.get_body(("html",)).get_content(),
    )


def mail_to(smtp_server, address: str):
    [message] = [m for _, to, m in smtp_server.messages if to == [address]]
    return message


def test_the_confirmation_of_a_spanish_application_is_in_spanish(mail_app, smtp_server):
    apply_in(mail_app, "/apply", email="alex@example.com")
    apply_in(mail_app, "/es/apply", email="ana@example.com")
    english, spanish_mail = (
        mail_to(smtp_server, "alex@example.com"),
        mail_to(smtp_server, "ana@example.com"),
    )
    org = mail_app.config["ORG_NAME"]
    assert spanish_mail["Subject"] == spanish(mail_app, "We have your request – %(org)s", org=org)
    assert spanish_mail["Subject"] != english["Subject"]
    allowed = load_allowlist()
    for english_part, spanish_part in zip(parts(english), parts(spanish_mail), strict=True):
        withdraw = re.findall(rf"{re.escape(PUBLIC_URL)}(/[a-z/]*withdraw/)[^\s\"<]+", spanish_part)
        assert withdraw and set(withdraw) == {"/es/withdraw/"}, withdraw
        assert re.findall(rf"{re.escape(PUBLIC_URL)}(/[a-z/]*withdraw/)", english_part) != []
        assert "/es/" not in english_part
        text = english_leaks(as_html(spanish_part), as_html(english_part), allowed)
        assert text == [], f"English sentences in the Spanish confirmation: {text}"


def test_the_trial_alert_mails_of_a_spanish_application_are_in_spanish(mail_app, smtp_server):
    """The confirmation and the alert itself, in Spanish with /es/ links, for a family that
    applied on /es/apply; the registry's titles and places stay English (lang="en")."""
    for path, address in (("/apply", "alex@example.com"), ("/es/apply", "ana@example.com")):
        apply_in(mail_app, path, email=address, trial_alerts="y")
    with mail_app.app_context():
        for alert in db.session.scalars(select(TrialAlert)):
            alerts.confirm(alert)
        db.session.commit()
    add_trial(mail_app, "NCT99990077", title=TRIAL_TITLE + " Again", sites=[("GB", "RECRUITING")])
    runner = mail_app.test_cli_runner()
    assert runner.invoke(args=["alerts", "send"]).exit_code == 0
    assert runner.invoke(args=["outbox", "send"]).exit_code == 0
    allowed = load_allowlist()
    for subject in ("Please confirm your trial alerts – %(org)s", "New trials that may fit"):
        values = {"org": mail_app.config["ORG_NAME"]} if "%(org)s" in subject else {}
        [english] = [
            m
            for _, to, m in smtp_server.messages
            if to == ["alex@example.com"] and m["Subject"] == subject % values
        ]
        [spanish_mail] = [
            m
            for _, to, m in smtp_server.messages
            if to == ["ana@example.com"] and m["Subject"] == spanish(mail_app, subject, **values)
        ]
        for english_part, spanish_part in zip(parts(english), parts(spanish_mail), strict=True):
            assert f"{PUBLIC_URL}/es/alerts/manage/" in spanish_part
            assert f"{PUBLIC_URL}/alerts/" not in spanish_part
            text = english_leaks(as_html(spanish_part), as_html(english_part), allowed)
            # The plain text cannot mark the registry's English: only its lines may be.
            text = [line for line in text if TRIAL_TITLE not in line and "Hospital" not in line]
            assert text == [], f"English sentences in the Spanish {subject!r}: {text}"


def as_html(part: str) -> str:
    """A mail part as a page to read: HTML as it is, plain text in a <pre>."""
    if "<" in part and "</" in part:
        return part
    return "<pre>" + part.replace("&", "&amp;").replace("<", "&lt;") + "</pre>"


def test_the_friends_mail_of_a_spanish_referral_is_in_spanish(mail_app, smtp_server):
    share_in(mail_app, "/share", friend_email="kim@example.com")
    share_in(mail_app, "/es/share", friend_email="luz@example.com")
    english, spanish_mail = (
        mail_to(smtp_server, "kim@example.com"),
        mail_to(smtp_server, "luz@example.com"),
    )
    assert spanish_mail["Subject"] == spanish(
        mail_app, "A friend thought this might help: finding a clinical trial"
    )
    assert re.fullmatch(
        rf"<{re.escape(PUBLIC_URL)}/es/unsubscribe/[^>]+>", spanish_mail["List-Unsubscribe"]
    )
    assert re.fullmatch(
        rf"<{re.escape(PUBLIC_URL)}/unsubscribe/[^>]+>", english["List-Unsubscribe"]
    )
    unsubscribe = spanish_mail["List-Unsubscribe"][1:-1]
    allowed = load_allowlist()
    for english_part, spanish_part in zip(parts(english), parts(spanish_mail), strict=True):
        assert unsubscribe in spanish_part
        assert f"{PUBLIC_URL}/unsubscribe/" not in spanish_part
        assert f"{VALID_SHARE['sender_name']}" in spanish_part
        text = english_leaks(as_html(spanish_part), as_html(english_part), allowed)
        assert text == [], f"English sentences in the friend's Spanish mail: {text}"


# --- Staff: the export and the filter ------------------------------------------------------


def test_leads_csv_has_the_language_and_the_dashboard_filters_by_it(app, staff_client):
    apply_in(app, "/es/apply", email="ana@example.com", name="Ana Ejemplo")
    apply_in(app, "/apply", email="alex@example.com", name="Alex Example")
    data = staff_client.get("/staff/leads.csv").data
    [header, *lines] = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    column = header.index("language")
    assert header[column - 1] == "nearest_site_km"  # where it was added, before the queue's
    by_name = {line[header.index("name")]: line[column] for line in lines}
    assert by_name == {"Ana Ejemplo": "es", "Alex Example": "en"}

    def listed(query: dict) -> list[str]:
        html = html_of(staff_client.get("/staff/", query_string=query))
        table = re.search(r'aria-label="All leads">(.*?)</table>', html, re.S).group(1)
        return re.findall(r'<th scope="row"><a href="/staff/leads/\d+">(.*?)</a></th>', table)

    assert listed({"language": "es"}) == ["Ana Ejemplo"]
    assert listed({"language": "en"}) == ["Alex Example"]
    assert sorted(listed({})) == ["Alex Example", "Ana Ejemplo"]


# --- No English left in a Spanish page -----------------------------------------------------


def _thanks(app, prefix: str, **answers) -> str:
    client = apply_in(app, f"{prefix}/apply", **answers)
    return html_of(client.get(f"{prefix}/apply/thanks"))


def _share_sent(app, prefix: str) -> str:
    client = share_in(app, f"{prefix}/share")
    return html_of(client.get(f"{prefix}/share/sent"))


def _get(path: str, status: int = 200):
    def page(app, prefix: str) -> str:
        return html_of(
            app.test_client().get(prefix + path if path != "/" else prefix + "/"), status
        )

    return page


def _apply_errors(app, prefix: str) -> str:
    client = app.test_client()
    data = form_filler(client, f"{prefix}/apply", VALID_APPLICATION)(
        **{name: None for name in VALID_APPLICATION}
    )
    return html_of(client.post(f"{prefix}/apply", data=data), 422)


def _alert_links(app, prefix: str) -> tuple:
    """A family that applied on ``prefix``'s form with trial alerts ticked: (its client, its
    confirmation token, its manage and stop token)."""
    client = apply_in(
        app, f"{prefix}/apply", trial_alerts="y", email=f"alerts{prefix[1:]}@example.com"
    )
    with app.app_context():
        lead = db.session.scalars(select(Lead).order_by(Lead.id.desc())).first()
        alert = alerts.for_lead(lead.id)
        return client, alerts.confirm_token(alert), alerts.manage_token(lead)


def _alerts_page(action: str, status: int = 200):
    def page(app, prefix: str) -> str:
        client, confirm, manage = _alert_links(app, prefix)
        if action == "confirm":
            return html_of(client.get(f"{prefix}/alerts/confirm/{confirm}"), status)
        if action == "confirmed":
            path = f"{prefix}/alerts/confirm/{confirm}"
            fields = rendered_hidden_fields(html_of(client.get(path)))
            return html_of(client.post(path, data=fields), status)
        if action == "manage-errors":
            path = f"{prefix}/alerts/manage/{manage}"
            fields = rendered_hidden_fields(html_of(client.get(path)))
            data = {**fields, "action": "save", "postal_code": "1" * 20, "travel_distance": "9"}
            return html_of(client.post(path, data=data), status)
        if action == "stopped":
            return html_of(client.post(f"{prefix}/alerts/stop/{manage}"), status)
        return html_of(client.get(f"{prefix}/alerts/{action}/{manage}"), status)

    return page


LEAK_PAGES = {
    "article": _get("/"),
    "apply-empty": _get("/apply"),
    "apply-errors": _apply_errors,
    "thanks-with-matches": lambda app, prefix: _thanks(app, prefix),
    "thanks-without-matches": lambda app, prefix: _thanks(app, prefix, diagnosis="wilms"),
    "share": _get("/share"),
    "share-sent": lambda app, prefix: _share_sent(app, prefix),
    "privacy": _get("/privacy"),
    "trial-page": _get(f"/trials/{TRIAL}"),
    "not-found": _get("/no-such-page", 404),
    "unknown-trial": _get("/trials/NCT00000000", 404),
    "thanks-alerts-to-confirm": lambda app, prefix: _thanks(app, prefix, trial_alerts="y"),
    "alerts-confirm": _alerts_page("confirm"),
    "alerts-confirmed": _alerts_page("confirmed"),
    "alerts-broken-link": _get("/alerts/confirm/not-a-token", 404),
    "alerts-manage": _alerts_page("manage"),
    "alerts-manage-errors": _alerts_page("manage-errors", 422),
    "alerts-stop": _alerts_page("stop"),
    "alerts-stopped": _alerts_page("stopped"),
}


@pytest.mark.parametrize("name", list(LEAK_PAGES))
def test_no_english_sentence_is_left_in_a_spanish_page(app, site, name):
    render = LEAK_PAGES[name]
    english = render(app, "")
    spanish_html = render(app, "/es")
    if name == "thanks-with-matches":  # the page being tested is the one with the trial
        assert TRIAL_TITLE in spanish_html and TRIAL_TITLE in english
    leaks = english_leaks(spanish_html, english, load_allowlist())
    assert leaks == [], (
        f'/es/ {name}: English sentences outside lang="en" and not in '
        f"{ALLOWLIST_FILE.name}:\n" + "\n".join(leaks)
    )


def test_the_allowlist_says_why_for_each_sentence():
    allowed = load_allowlist()
    for sentence, reason in allowed.items():
        assert len(sentence.split()) >= MIN_WORDS, f"too short to need allowing: {sentence!r}"
        assert len(reason.split()) >= 3, f"say why {sentence!r} stays in English"


def test_the_leak_check_reports_an_english_sentence_in_a_spanish_page(app, monkeypatch):
    """The check can fail: the Spanish form given the English consent text (as if its
    translation had been forgotten) is reported, through the real page; and on a page
    as a string, the same sentence is let through only when marked lang="en" or allowed."""
    monkeypatch.setitem(leads.CONSENT, "es", ("es-test", leads.CONSENT["en"][1]))
    english = html_of(app.test_client().get("/apply"))
    spanish_html = html_of(app.test_client().get("/es/apply"))
    with app.app_context():
        consent = leads.consent_text("en")
    reported = english_leaks(spanish_html, english, {})
    assert any(sentence in consent for sentence in reported), reported

    sentence = "This sentence was left in English by mistake."
    english_page = (
        f'<html lang="en"><title>{sentence} (NCT1)</title><body><p>{sentence}</p>'
        "<p>Hello there.</p></body></html>"
    )
    for spanish_body, expected in [
        (f"<p>{sentence}</p>", [sentence]),
        (f"<p>Una frase en español. {sentence}</p>", [sentence]),
        (f'<p>Una frase: <span lang="en">{sentence}</span></p>', []),
        (f'<div lang="en"><p>{sentence}</p></div><p>{sentence}</p>', [sentence]),
        (f'<img alt="{sentence}" src="x.png">', [sentence]),
        # Quoted where no lang= can be set, text the page marks English elsewhere...
        (f'<title>{sentence} (NCT1)</title><h1 lang="en">{sentence}</h1>', []),
        # ...but not text it never marks, nor text outside <head>.
        (f"<title>{sentence} (NCT1)</title><h1>Hola.</h1>", [sentence]),
        ("<p>Hola, esto está en español.</p>", []),
    ]:
        page = f'<html lang="es"><body>{spanish_body}</body></html>'
        assert english_leaks(page, english_page, {}) == expected, spanish_body
    page = f'<html lang="es"><body><p>{sentence}</p></body></html>'
    assert english_leaks(page, english_page, {sentence: "a reason for the test"}) == []


def test_the_spanish_thanks_page_shows_the_applicants_details(app, site):
    html = _thanks(app, "/es")
    assert "alex@example.com" in html
    assert TRIAL_TITLE in html
    [lead] = rows(app, Lead, Lead.email == "alex@example.com")
    assert lead.language == "es"
