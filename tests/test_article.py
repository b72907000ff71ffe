"""The article page: content, testimonials, and a page any cache may share."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from microsite import models
from microsite.extensions import db
from microsite.models import Lead
from tests.helpers import TRIAL_FIXTURES, import_trials, rows

TITLE = "Latest Clinical Research and Developments in Pediatric Cancer: A Global Perspective"


@pytest.fixture
def html(client):
    response = client.get("/")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_the_article_title_is_the_only_h1(html):
    assert re.findall(r"<h1[^>]*>(.*?)</h1>", html, re.S) == [TITLE]


def test_each_topic_is_a_section_with_an_h2_and_a_list(html):
    sections = re.findall(r"<section aria-labelledby=\"([^\"]+)\">(.*?)</section>", html, re.S)
    topics = [body for _, body in sections if "<ul>" in body]
    assert len(topics) == 6
    for body in topics:
        assert len(re.findall(r"<h2 ", body)) == 1
        assert body.count("<li>") == 2
    assert (
        "Advances in immunotherapy" in html and "Global collaboration and clinical trials" in html
    )
    assert "CAR-T cell therapy:" in html and "tisagenlecleucel (Kymriah)" in html


def test_the_page_says_when_it_was_last_reviewed(html):
    assert re.search(r'Last reviewed <time datetime="\d{4}-\d{2}-\d{2}">', html)


def test_the_call_to_action_leads_to_apply_in_respectful_words(html):
    assert re.search(r'<a class="button button--large" href="/apply">Find your trial</a>', html)
    assert "Are you cancer" not in html


def test_the_footer_has_the_medical_disclaimer_and_privacy_link(html):
    footer = html[html.index("<footer") :]
    assert "information, not medical advice" in footer
    assert "In an emergency, contact your" in footer
    assert 'href="/privacy"' in footer


def test_the_four_testimonials_are_shown_with_a_note(html):
    quotes = re.findall(r"<blockquote><p>(.*?)</p></blockquote>", html, re.S)
    assert len(quotes) == 4
    assert quotes[0].startswith("They have turned my life over a new leaf.")
    for author in ("Frank Kaons", "Doris Webber", "Fiona McClure", "Selena McGuaery"):
        assert f"<figcaption>{author}</figcaption>" in html
    assert "experiences of individual people" in html
    assert "no trial or service can promise any outcome" in html
    # Carousel markup: labelled slides, controls that only JavaScript reveals.
    assert 'aria-roledescription="carousel"' in html
    assert re.findall(r'aria-roledescription="slide" aria-label="(\d of \d)"', html) == [
        "1 of 4",
        "2 of 4",
        "3 of 4",
        "4 of 4",
    ]
    assert '<div class="carousel__controls" hidden>' in html


def test_only_published_testimonials_are_shown(app, client):
    with app.app_context():
        testimonial = db.session.scalar(select(models.Testimonial).filter_by(slug="doris-webber"))
        testimonial.published = False
        db.session.commit()
    html = client.get("/").get_data(as_text=True)
    assert "Doris Webber" not in html
    assert len(re.findall(r"<blockquote>", html)) == 3


def test_without_testimonials_there_is_no_carousel(make_app):
    html = make_app().test_client().get("/").get_data(as_text=True)
    assert "What families say" not in html
    assert TITLE in html


def test_testimonial_text_is_escaped(app, client):
    with app.app_context():
        db.session.add(
            models.Testimonial(
                slug="x", quote="<script>alert(1)</script>", author="A", position=9, published=True
            )
        )
        db.session.commit()
    html = client.get("/").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_the_page_can_be_cached_by_a_shared_cache(client):
    response = client.get("/")
    assert "public" in response.headers["Cache-Control"]
    assert re.search(r"max-age=\d+", response.headers["Cache-Control"])
    assert response.headers["ETag"]
    assert "Set-Cookie" not in response.headers
    assert "Cookie" not in response.headers.get("Vary", "")
    again = client.get("/", headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304
    assert again.get_data() == b""


def test_a_visitor_with_a_permanent_session_gets_no_cookie_either(app, client, apply_form):
    client.post("/apply", data=apply_form())  # now the visitor has a session
    with client.session_transaction() as session:
        session.permanent = True  # permanent sessions refresh their cookie on every response
    assert client.get("/apply/thanks").headers.get("Set-Cookie")  # refreshed elsewhere...
    response = client.get("/")
    assert "Set-Cookie" not in response.headers  # ...but never on the shared page
    assert "Set-Cookie" not in client.get("/privacy").headers


def test_the_max_age_is_a_setting(make_app):
    response = make_app(ARTICLE_MAX_AGE=60).test_client().get("/")
    assert response.headers["Cache-Control"] == "public, max-age=60"


# --- Nothing is loaded from another host ----------------------------------------------------

# <link> relations that name a page rather than load anything.
LINKS_NOT_LOADED = {"canonical", "alternate", "author", "license", "help", "prev", "next"}


class _Urls(HTMLParser):
    """The URLs of a page, as what the browser loads by itself (scripts, images,
    stylesheets, icons, form targets, a refresh) and what a visitor may follow (links)."""

    def __init__(self) -> None:
        super().__init__()
        self.loads: list[str] = []
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = {name: value or "" for name, value in attrs}
        for name in ("src", "poster", "data", "action", "formaction", "background"):
            if name in attributes:
                self.loads.append(attributes[name])
        for candidate in attributes.get("srcset", "").split(","):
            if candidate.strip():
                self.loads.append(candidate.split()[0])
        if tag == "meta" and attributes.get("http-equiv", "").lower() == "refresh":
            self.loads.append(attributes.get("content", "").partition("url=")[2])
        if "href" in attributes:
            rels = set(attributes.get("rel", "").lower().split())
            if tag in ("a", "area") or (tag == "link" and rels and rels <= LINKS_NOT_LOADED):
                self.links.append(attributes["href"])
            else:  # <link rel=stylesheet/icon/preload...>, SVG <use>/<image>
                self.loads.append(attributes["href"])


def page_urls(html: str) -> _Urls:
    parser = _Urls()
    parser.feed(html)
    parser.close()
    return parser


def elsewhere(urls: list[str], site: str) -> list[str]:
    """The URLs that leave ``site`` (an origin): anything absolute on another scheme, host
    or port, protocol-relative, or not a URL of the web at all (mailto:, data:)."""
    own = urlsplit(site)
    return [
        url
        for url in urls
        if (parts := urlsplit(url)).scheme or parts.netloc
        if (parts.scheme, parts.netloc) != (own.scheme, own.netloc)
    ]


def test_the_url_check_tells_what_is_loaded_from_what_is_linked():
    """The check below can fail: on a page with one of each, it finds every off-site load
    and leaves links (which load nothing until followed) and on-site URLs alone."""
    urls = page_urls(
        """
        <link rel="stylesheet" href="https://fonts.example/css">
        <link rel="icon" href="/static/favicon.svg">
        <link rel="canonical" href="https://trials.example/apply">
        <meta http-equiv="refresh" content="5; url=https://elsewhere.example/">
        <script src="//cdn.example/lib.js"></script>
        <img src="/static/a.png" srcset="/static/a.png 1x, https://img.example/b.png 2x">
        <form action="https://collector.example/post"><button formaction="/apply">Go</button>
        </form>
        <a href="https://clinicaltrials.gov/study/NCT99990001">the study</a>
        <a href="mailto:navigators@trialfinder.example">write to us</a> <a href="#main">top</a>
        """
    )
    assert elsewhere(urls.loads, "https://trials.example") == [
        "https://fonts.example/css",
        "https://elsewhere.example/",
        "//cdn.example/lib.js",
        "https://img.example/b.png",
        "https://collector.example/post",
    ]
    assert elsewhere(urls.links, "https://trials.example") == [
        "https://clinicaltrials.gov/study/NCT99990001",
        "mailto:navigators@trialfinder.example",
    ]


def test_no_page_loads_anything_from_another_host(
    app, client, apply_form, share_form, staff_client
):
    """Every page, those that show the trial catalog included, loads everything from its
    own site; the links to other sites it shows (ClinicalTrials.gov...) load nothing."""
    # The catalog of the fixture files: NCT99990001 fits the application.
    import_trials(app, TRIAL_FIXTURES / "study.json", TRIAL_FIXTURES / "list.json")
    assert client.post("/apply", data=apply_form()).status_code == 303
    assert client.post("/share", data=share_form()).status_code == 303
    [lead] = rows(app, Lead)
    site = app.config["PUBLIC_URL"]
    pages = [
        (client, path)
        for path in (
            "/",
            "/apply",
            "/apply/thanks",
            "/share",
            "/share/sent",
            "/privacy",
            "/no-such-page",
            "/staff/login",
        )
    ] + [
        (staff_client, path)
        for path in ("/staff/", f"/staff/leads/{lead.id}", "/staff/trials", "/staff/testimonials")
    ]
    links = {}
    for viewer, path in pages:
        response = viewer.get(path)
        assert response.status_code in (200, 404), path
        urls = page_urls(response.get_data(as_text=True))
        assert urls.loads, f"{path} loads nothing at all: the check saw no page"
        assert elsewhere(urls.loads, site) == [], path
        links[path] = elsewhere(urls.links, site)
    # The catalog's trial is shown, with its off-site link: the check did see one.
    study = "https://clinicaltrials.gov/study/NCT99990001"
    assert study in links["/apply/thanks"] and study in links[f"/staff/leads/{lead.id}"]


def test_static_assets_are_served_the_same_to_everyone(client, apply_form):
    client.post("/apply", data=apply_form())  # a visitor with a session
    for path in (
        "/static/css/site.css",
        "/static/js/carousel.js",
        "/static/js/forms.js",
        "/static/favicon.svg",
    ):
        response = client.get(path)
        assert response.status_code == 200, path
        assert "Set-Cookie" not in response.headers and "Vary" not in response.headers
        response.close()
