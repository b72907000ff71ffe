"""A page for every trial (/trials/<NCT id>) and the sitemap, through HTTP: what the page
shows, its caching, the record's markdown rendered inert, the criteria split into their
inclusion and exclusion parts, and the sitemap of open trials."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date
from html.parser import HTMLParser
from pathlib import Path
from xml.etree import ElementTree

import pytest
from sqlalchemy import event

from microsite.content import ARTICLE_LAST_REVIEWED
from microsite.extensions import db
from microsite.models import Trial, TrialContact, TrialSite
from microsite.trials import pages as trial_pages
from tests.helpers import TRIAL_FIXTURES, import_trials

PUBLIC = "https://trials.example"
SITEMAP_NS = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}


# --- Reading the page ----------------------------------------------------------------------

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}


class Element:
    def __init__(self, tag: str, attrs: dict[str, str]):
        self.tag, self.attrs, self.children = tag, attrs, []

    def iter(self):
        yield self
        for child in self.children:
            if isinstance(child, Element):
                yield from child.iter()

    def find_all(self, tag: str | None = None, **attrs) -> list[Element]:
        return [
            element
            for element in self.iter()
            if (tag is None or element.tag == tag)
            and all(
                value in element.attrs.get(name.rstrip("_"), "").split()
                if name.rstrip("_") == "class"
                else element.attrs.get(name) == value
                for name, value in attrs.items()
            )
        ]

    def find(self, tag: str | None = None, **attrs) -> Element:
        found = self.find_all(tag, **attrs)
        assert found, f"no <{tag}> with {attrs}"
        return found[0]

    def text(self) -> str:
        parts = [child if isinstance(child, str) else child.text() for child in self.children]
        return " ".join(" ".join(parts).split())


class _Tree(HTMLParser):
    def __init__(self):
        super().__init__()
        self.root = Element("#document", {})
        self.open = [self.root]

    def handle_starttag(self, tag, attrs):
        element = Element(tag, {name: value or "" for name, value in attrs})
        self.open[-1].children.append(element)
        if tag not in VOID:
            self.open.append(element)

    def handle_startendtag(self, tag, attrs):
        self.open[-1].children.append(Element(tag, {name: value or "" for name, value in attrs}))

    def handle_endtag(self, tag):
        for depth in range(len(self.open) - 1, 0, -1):
            if self.open[depth].tag == tag:
                del self.open[depth:]
                return

    def handle_data(self, data):
        self.open[-1].children.append(data)


def parse(html: str) -> Element:
    tree = _Tree()
    tree.feed(html)
    tree.close()
    return tree.root


def items(list_element: Element) -> list[Element]:
    """The items of a list, without those of the lists inside it."""
    return [child for child in list_element.children if isinstance(child, Element)]


def own_text(item: Element) -> str:
    """An item's text without that of the lists inside it."""
    parts = [
        child if isinstance(child, str) else child.text()
        for child in item.children
        if isinstance(child, str) or child.tag not in {"ul", "ol"}
    ]
    return " ".join(" ".join(parts).split())


def page_of(client, nct_id: str = "NCT99990001") -> Element:
    response = client.get(f"/trials/{nct_id}")
    assert response.status_code == 200, response.status_code
    return parse(response.get_data(as_text=True)).find("main")


def inclusion_and_exclusion(main: Element) -> dict[str, Element]:
    """The lists under "Inclusion criteria" and "Exclusion criteria", by heading."""
    return {
        part.find("h3").text(): part
        for part in main.find(id="criteria").find_all("div", class_="criteria__list")
    }


# --- Trials in the catalog -----------------------------------------------------------------


def store_trial(app, nct_id: str = "NCT99990001", sites=(), contacts=(), **columns) -> None:
    """A trial row with its sites and central contacts (dicts of their columns)."""
    values = {
        "brief_title": f"Study {nct_id}",
        "overall_status": "RECRUITING",
        "phases": ["PHASE2"],
        "last_update_on": date(2026, 10, 1),
        **columns,
    }
    with app.app_context():
        trial = Trial(nct_id=nct_id, **values)
        trial.sites = [TrialSite(**site) for site in sites]
        trial.contacts = [TrialContact(**contact) for contact in contacts]
        db.session.add(trial)
        db.session.commit()


def study_file(tmp_path: Path, name: str = "study.json", **changes) -> Path:
    """tests/fixtures/trials/study.json with some protocolSection modules changed."""
    study = json.loads((TRIAL_FIXTURES / "study.json").read_text())
    for module, fields in changes.items():
        study["protocolSection"][module].update(fields)
    path = tmp_path / name
    path.write_text(json.dumps(study))
    return path


# --- What the page shows -------------------------------------------------------------------


def test_the_page_shows_the_trial_as_imported(app, client):
    import_trials(app, TRIAL_FIXTURES / "study.json")
    main = page_of(client)

    assert main.find("h1").text() == "Fictional Study of Dinutuximab Beta in Relapsed Neuroblastoma"
    facts = {
        div.find("dt").text(): div.find("dd").text() for div in main.find("dl").find_all("div")
    }
    assert facts == {"Status": "Recruiting", "Phase": "Phase 2", "Ages": "6 months to 21 years"}
    assert "A fictional study used by the Trial Finder tests" in main.text()

    lists = inclusion_and_exclusion(main)
    assert [li.text() for li in lists["Inclusion criteria"].find_all("li")] == [
        "Diagnosis of relapsed Wilms tumor",
        "Age 6 months to 21 years",
    ]
    assert [li.text() for li in lists["Exclusion criteria"].find_all("li")] == [
        "Prior treatment with the study drug"
    ]

    text = main.text()
    assert "Only the trial’s own team decides who can take part" in text
    assert "This page is not medical advice" in text
    assert "from the trial’s record on ClinicalTrials.gov, in English" in text
    assert "Last updated on ClinicalTrials.gov 2 November 2026" in text
    with app.app_context():
        imported = db.session.scalar(db.select(Trial.imported_at))
    assert f"Copied to this site {imported.strftime('%-d %B %Y')}" in text
    record_links = main.find_all("a", href="https://clinicaltrials.gov/study/NCT99990001")
    assert record_links and record_links[0].text() == "NCT99990001 on ClinicalTrials.gov"
    asks = main.find_all("a", href="/apply")
    assert asks and {a.text() for a in asks} == {"Ask a navigator about this trial"}


def test_sites_are_grouped_by_country_and_state_with_their_contacts(app, client):
    import_trials(app, TRIAL_FIXTURES / "study.json")
    main = page_of(client)
    countries = [h3.text() for h3 in main.find_all("h3", class_="sites__country")]
    # Our names for ISO codes ("Turkey" and "Türkiye" are one country), the name as given
    # when the code is unknown (Narnia), in alphabetical order.
    assert countries == [
        "Czechia",
        "Narnia",
        "South Korea",
        "Taiwan",
        "Türkiye",
        "United Kingdom",
        "United States",
    ]
    assert [h4.text() for h4 in main.find_all("h4", class_="sites__region")] == ["Massachusetts"]
    sites = {
        site.find("p", class_="site__name").text(): site
        for site in main.find_all("li", class_="site")
    }
    assert sites["Fictional Children's Hospital"].find("p", class_="site__place").text() == (
        "Boston · Recruiting"
    )
    assert "Facility not given" in sites  # Brno's site has no facility
    assert sites["Fictional Taipei Centre"].find("p", class_="site__place").text() == (
        "Taipei · Completed"
    )
    boston = sites["Fictional Children's Hospital"].text()
    assert "Site contact: Site Desk (fictional) 555-0142 ext. 7 boston-site@example.org" in boston
    assert sites["Fictional Children's Hospital"].find_all(
        "a", href="mailto:boston-site@example.org"
    )
    assert "Site contact" not in sites["Fictional Royal Infirmary"].text()  # none listed

    central = [li.text() for li in main.find_all("li", class_="contact")]
    assert central == [
        "Trial Desk (fictional) 555-0100 ext. 12 trials@example.org",
        "Backup Desk (fictional) backup@example.org",
    ]


def test_states_sort_by_name_and_sites_without_one_come_last(app, client):
    places = [  # facility, city, state, ISO code, country as given
        ("Texas Children's", "Houston", "Texas", "US", "United States"),
        ("Alaska Medical", "Anchorage", None, "US", "United States"),
        ("CHLA", "Los Angeles", "California", "US", "United States"),
        ("Stanford", "Palo Alto", "California", "US", "United States"),
        ("Sant Joan de Déu", "Barcelona", None, "ES", "Spain"),
        ("Somewhere", "Nowhere", None, None, None),
    ]
    columns = ("facility", "city", "state", "country_code", "country")
    store_trial(app, sites=[dict(zip(columns, place, strict=True)) for place in places])
    main = page_of(client)
    headings = [
        element.text()
        for element in main.find_all()
        if "sites__country" in element.attrs.get("class", "")
        or "sites__region" in element.attrs.get("class", "")
    ]
    assert headings == [
        "Spain",
        "United States",
        "California",
        "Texas",
        "State or region not given",
        "Country not given",
    ]
    assert [p.text() for p in main.find_all("p", class_="site__name")] == [
        "Sant Joan de Déu",
        "CHLA",
        "Stanford",
        "Texas Children's",
        "Alaska Medical",
        "Somewhere",
    ]
    assert "6 sites in 3 countries" in main.text()


def test_a_bare_record_says_what_it_does_not_give(app, client):
    store_trial(app, overall_status="COMPLETED", phases=[], last_update_on=None)
    main = page_of(client)
    text = main.text()
    assert "This trial is not taking new patients now (its status: Completed)" in text
    assert "Phase Not given" in text and "Ages Any age" in text
    assert "The record gives no summary." in text
    assert "The record gives no eligibility criteria" in text
    assert "The record lists no site yet." in text
    assert "The record lists no central contact." in text
    assert "Last updated on ClinicalTrials.gov Not given" in text


def test_an_open_trial_has_no_closed_notice(app, client):
    store_trial(app, overall_status="NOT_YET_RECRUITING")
    assert "not taking new patients" not in page_of(client).text()


def test_the_page_loads_everything_in_its_own_queries(app, client):
    """The trial, its sites, its contacts: three queries, none from the template."""
    store_trial(
        app,
        sites=[{"facility": f"Hospital {n}", "country_code": "US"} for n in range(5)],
        contacts=[{"name": "Desk"}],
    )
    statements = []

    def note(connection, cursor, statement, *args):
        statements.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", note)
    try:
        page_of(client)
    finally:
        event.remove(engine, "before_cursor_execute", note)
    assert len(statements) == 3, statements


@pytest.mark.parametrize(
    "path",
    [
        "/trials/NCT00000000",  # well formed, not in the catalog
        "/trials/nct99990001",
        "/trials/NCT9999000",
        "/trials/NCT999900012",
        "/trials/NCT99990001x",
        "/trials/%3Cscript%3E",
        "/trials/",
    ],
)
def test_an_unknown_or_malformed_id_is_the_styled_404(app, client, path):
    store_trial(app)
    response = client.get(path)
    assert response.status_code == 404
    html = response.get_data(as_text=True)
    assert "<h1>Page not found</h1>" in html
    assert "<script>" not in html


# --- Caching -------------------------------------------------------------------------------


def test_the_page_is_the_same_for_everyone_and_cacheable(make_app):
    app = make_app(ARTICLE_MAX_AGE=123)
    store_trial(app)
    client = app.test_client()
    response = client.get("/trials/NCT99990001")
    assert response.headers["Cache-Control"] == "public, max-age=123"
    assert response.headers["ETag"]
    assert "Set-Cookie" not in response.headers
    assert "Cookie" not in response.headers.get("Vary", "")

    again = client.get("/trials/NCT99990001", headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304 and again.get_data() == b""

    # A visitor with a permanent session (they have just applied) gets the very same page,
    # and no refreshed cookie.
    visitor = app.test_client()
    with visitor.session_transaction() as session:
        session["lead_id"] = 1
        session.permanent = True
    theirs = visitor.get("/trials/NCT99990001")
    assert "Set-Cookie" not in theirs.headers
    assert theirs.get_data() == response.get_data()
    assert theirs.headers["ETag"] == response.headers["ETag"]


def test_an_unchanged_reimport_keeps_the_etag_and_a_changed_record_changes_it(
    app, client, tmp_path
):
    path = study_file(tmp_path)
    import_trials(app, path)
    first = client.get("/trials/NCT99990001")
    assert "0 updated, 1 unchanged" in import_trials(app, path)
    again = client.get("/trials/NCT99990001", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    assert again.headers["ETag"] == first.headers["ETag"]

    changed = study_file(
        tmp_path, "changed.json", descriptionModule={"briefSummary": "Now longer."}
    )
    assert "1 updated" in import_trials(app, changed)
    after = client.get("/trials/NCT99990001", headers={"If-None-Match": first.headers["ETag"]})
    assert after.status_code == 200
    assert after.headers["ETag"] != first.headers["ETag"]
    assert "Now longer." in after.get_data(as_text=True)


# --- Search engines ------------------------------------------------------------------------


def meta(head: Element, **attrs) -> str | None:
    found = head.find_all("meta", **attrs)
    return found[0].attrs["content"] if found else None


def test_the_page_is_indexable_with_its_canonical_url_title_and_description(make_app):
    app = make_app(PUBLIC_URL=PUBLIC)
    store_trial(app, brief_title="Dinutuximab in Relapsed Neuroblastoma", max_age_months=252)
    html = app.test_client().get("/trials/NCT99990001", headers={"Host": "evil.example"})
    document = parse(html.get_data(as_text=True))
    head = document.find("head")
    assert head.find("title").text() == (
        "Dinutuximab in Relapsed Neuroblastoma (NCT99990001) – Trial Finder"
    )
    description = meta(head, name="description")
    assert description.startswith("Recruiting clinical trial NCT99990001. Phase: Phase 2.")
    assert "Ages: Up to 21 years." in description
    assert head.find("link", rel="canonical").attrs["href"] == f"{PUBLIC}/trials/NCT99990001"
    assert meta(head, property="og:url") == f"{PUBLIC}/trials/NCT99990001"
    assert meta(head, name="robots") is None
    assert "evil.example" not in html.get_data(as_text=True)


def test_the_sitemap_lists_the_public_pages_and_open_trials(make_app):
    app = make_app(PUBLIC_URL=PUBLIC)
    store_trial(app, "NCT99990003", overall_status="NOT_YET_RECRUITING")
    store_trial(app, "NCT99990001")
    store_trial(app, "NCT99990002", overall_status="COMPLETED")
    store_trial(app, "NCT99990004", overall_status="ACTIVE_NOT_RECRUITING")
    response = app.test_client().get("/sitemap.xml", headers={"Host": "evil.example"})
    assert response.status_code == 200
    assert response.mimetype == "application/xml"
    assert response.headers["Cache-Control"].startswith("public, max-age=")
    assert response.headers["ETag"] and "Set-Cookie" not in response.headers

    urls = ElementTree.fromstring(response.data).findall("s:url", SITEMAP_NS)
    entries = {
        url.findtext("s:loc", namespaces=SITEMAP_NS): url.findtext(
            "s:lastmod", namespaces=SITEMAP_NS
        )
        for url in urls
    }
    with app.app_context():
        imported = {
            nct_id: when.date().isoformat()
            for nct_id, when in db.session.execute(db.select(Trial.nct_id, Trial.imported_at))
        }
    english = {
        "/": ARTICLE_LAST_REVIEWED.isoformat(),
        "/apply": None,
        "/share": None,
        "/privacy": None,
        "/trials/NCT99990001": imported["NCT99990001"],
        "/trials/NCT99990003": imported["NCT99990003"],
    }
    assert entries == {  # each page in English and in Spanish
        **{f"{PUBLIC}{path}": changed for path, changed in english.items()},
        **{f"{PUBLIC}/es{path}": changed for path, changed in english.items()},
    }


def test_the_sitemap_holds_at_most_its_limit_of_urls(make_app, monkeypatch):
    app = make_app(PUBLIC_URL=PUBLIC)
    for number in range(1, 6):
        store_trial(app, f"NCT9999000{number}")
    monkeypatch.setattr(trial_pages, "SITEMAP_LIMIT", 12)  # 4 pages, 2 trials, 2 languages
    response = app.test_client().get("/sitemap.xml")
    locs = [
        url.findtext("s:loc", namespaces=SITEMAP_NS)
        for url in ElementTree.fromstring(response.data).findall("s:url", SITEMAP_NS)
    ]
    assert len(locs) == 12
    assert locs[-4:] == [
        f"{PUBLIC}/trials/NCT99990001",
        f"{PUBLIC}/es/trials/NCT99990001",
        f"{PUBLIC}/trials/NCT99990002",
        f"{PUBLIC}/es/trials/NCT99990002",
    ]


def test_robots_txt_points_at_the_sitemap(make_app):
    app = make_app(PUBLIC_URL=PUBLIC)
    rules = app.test_client().get("/robots.txt", headers={"Host": "evil.example"})
    assert f"Sitemap: {PUBLIC}/sitemap.xml" in rules.get_data(as_text=True).splitlines()


# --- The record's markdown, rendered inert -------------------------------------------------

HOSTILE = [
    ("<script>alert(1)</script>", "alert(1)"),
    ('<img src="x" onerror="alert(1)">', "onerror"),
    ('<iframe src="https://evil.example/"></iframe>', "iframe"),
    ('<svg onload="alert(1)"><circle r="1"/></svg>', "onload"),
    ('<a href="javascript:alert(1)">a raw link</a>', "a raw link"),
    ('<div onclick="alert(1)" style="position:fixed">covering div</div>', "covering div"),
    ("[markdown link](javascript:alert(1))", "markdown link"),
    ("[mixed case](JaVaScRiPt:alert(1))", "mixed case"),
    ("[data link](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)", "data link"),
    ("[vb link](vbscript:msgbox(1))", "vb link"),
    ("[relative](/staff/leads)", "relative"),
    ("[elsewhere](//evil.example/x)", "elsewhere"),
    ("<javascript:alert(1)>", "javascript:alert(1)"),
    ("![tracking pixel](https://tracker.example/p.png)", "tracking pixel"),
    ("[reference][x]\n\n[x]: javascript:alert(1)", "reference"),
]


def assert_inert(section: Element) -> None:
    for element in section.iter():
        assert element.tag not in {"script", "iframe", "img", "svg", "object", "embed", "style"}
        assert not [name for name in element.attrs if name.startswith("on")], element.attrs
        assert "style" not in element.attrs
        if element.tag == "a" and "href" in element.attrs:
            assert element.attrs["href"].startswith(("https://", "http://")), element.attrs
            assert element.attrs["rel"] == "nofollow noopener noreferrer"


@pytest.mark.parametrize(("markdown", "still_readable"), HOSTILE)
def test_hostile_markdown_in_the_criteria_and_summary_is_inert(
    app, client, markdown, still_readable
):
    store_trial(
        app,
        brief_summary=f"Summary. {markdown}",
        eligibility_criteria=(
            f"Before the lists. {markdown}\n\nInclusion Criteria:\n\n* {markdown}\n\n"
            f"Exclusion Criteria:\n\n* item\n\n  * {markdown}"
        ),
    )
    main = page_of(client)
    summary = main.find("section", **{"aria-labelledby": "summary-heading"})
    criteria = main.find(id="criteria")
    for section in (summary, criteria):
        assert_inert(section)
        assert still_readable in section.text()
    lists = inclusion_and_exclusion(main)
    assert still_readable in lists["Inclusion criteria"].text()
    assert still_readable in lists["Exclusion criteria"].find("li").find("li").text()


def test_safe_links_in_the_record_are_kept_with_their_rel(app, client):
    store_trial(app, eligibility_criteria="See [the protocol](https://example.org/protocol).")
    criteria = page_of(client).find(id="criteria")
    link = criteria.find("a")
    assert link.attrs == {
        "href": "https://example.org/protocol",
        "rel": "nofollow noopener noreferrer",
    }
    assert link.text() == "the protocol"


def test_the_records_backslash_escapes_come_out_as_the_characters(app, client):
    store_trial(
        app,
        brief_summary=r"For children \< 18 years \[see note\]",
        eligibility_criteria=(
            "Inclusion Criteria:\n\n"
            r"* Age \>= 1 and \< 22 years \[per protocol\] \*not emphasis\* \#1 a\_b"
        ),
    )
    main = page_of(client)
    assert "For children < 18 years [see note]" in main.text()
    item = inclusion_and_exclusion(main)["Inclusion criteria"].find("li")
    assert item.text() == "Age >= 1 and < 22 years [per protocol] *not emphasis* #1 a_b"
    assert not item.find_all("em")


# --- Inclusion and exclusion criteria ------------------------------------------------------


@pytest.mark.parametrize(
    "criteria",
    [
        "Patients with relapsed neuroblastoma, aged 1 to 21.\n\n* Measurable disease\n* Consent",
        "Inclusion criteria are listed in the protocol.\n\n* Measurable disease\n* Consent",
        "* Inclusion criteria: measurable disease\n* Consent",  # a list item, not a heading
        "Exclusion criteria for safety apply all through the study.\n\n* Consent",
    ],
)
def test_criteria_without_headings_are_shown_whole(app, client, criteria):
    store_trial(app, eligibility_criteria=criteria)
    section = page_of(client).find(id="criteria")
    assert section.find("h2").text() == "Eligibility criteria"
    assert not section.find_all("h3")
    assert [li.text() for li in section.find_all("li")][-1] == "Consent"
    assert criteria.split("\n")[0].lstrip("* ") in section.text()


HEADING_FORMS = {
    "colon": ("Inclusion Criteria:", "Exclusion Criteria:"),
    "capitals": ("KEY INCLUSION CRITERIA", "KEY EXCLUSION CRITERIA"),
    "bold": ("**Inclusion criteria**", "**Exclusion criteria**"),
    "bold with colon": ("**Inclusion Criteria:**", "__Exclusion Criteria__:"),
    "main": ("Main inclusion criteria:", "Main exclusion criteria:"),
    "markdown heading": ("# Inclusion criteria", "## Exclusion criteria ##"),
    "capitals with colon": ("INCLUSION CRITERIA:", "EXCLUSION CRITERIA:"),
    "bare": ("Inclusion:", "Exclusion:"),
    "indented": ("  Inclusion Criteria:", "  Exclusion Criteria:"),
    "setext": ("Inclusion criteria\n------------------", "Exclusion criteria\n=================="),
}


@pytest.mark.parametrize(
    ("inclusion", "exclusion"), HEADING_FORMS.values(), ids=list(HEADING_FORMS)
)
def test_headings_in_any_common_form_split_the_criteria(app, client, inclusion, exclusion):
    store_trial(
        app,
        eligibility_criteria=(
            "Participants must meet every criterion below.\n\n"
            f"{inclusion}\n\n"
            "* Relapsed neuroblastoma\n"
            "* Adequate organ function:\n\n"
            "  * Creatinine within limits\n"
            "  * Bilirubin within limits\n\n"
            "    * Unless Gilbert syndrome\n"
            "* Consent\n\n"
            f"{exclusion}\n\n"
            "1. Pregnancy\n"
            "2. Prior study drug"
        ),
    )
    main = page_of(client)
    criteria = main.find(id="criteria")
    lead_in = criteria.find("div", class_="record")
    assert lead_in.text() == "Participants must meet every criterion below."
    lists = inclusion_and_exclusion(main)
    assert list(lists) == ["Inclusion criteria", "Exclusion criteria"]

    top = items(lists["Inclusion criteria"].find("ul"))
    assert [own_text(li) for li in top] == [
        "Relapsed neuroblastoma",
        "Adequate organ function:",
        "Consent",
    ]
    nested = items(top[1].find("ul"))
    assert [own_text(li) for li in nested] == [
        "Creatinine within limits",
        "Bilirubin within limits",
    ]
    assert [li.text() for li in items(nested[1].find("ul"))] == ["Unless Gilbert syndrome"]

    excluded = lists["Exclusion criteria"]
    assert [li.text() for li in excluded.find("ol").find_all("li")] == [
        "Pregnancy",
        "Prior study drug",
    ]
    assert (
        "Relapsed" not in excluded.text() and "Pregnancy" not in lists["Inclusion criteria"].text()
    )
    assert "---" not in criteria.text() and "===" not in criteria.text()


def test_headings_that_say_more_keep_their_words(app, client):
    store_trial(
        app,
        eligibility_criteria=(
            "Inclusion Criteria for Part A:\n\n* Age 1 to 12\n\n"
            "Exclusion Criteria for Part A:\n\n* Prior surgery\n\n"
            "Inclusion Criteria for Part B:\n\n* Age 12 to 21\n\n"
            "Exclusion criteria (all parts): none"
        ),
    )
    lists = inclusion_and_exclusion(page_of(client))
    included = lists["Inclusion criteria"]
    assert [h4.text() for h4 in included.find_all("h4")] == [
        "Inclusion Criteria for Part A",
        "Inclusion Criteria for Part B",
    ]
    assert [li.text() for li in included.find_all("li")] == ["Age 1 to 12", "Age 12 to 21"]
    excluded = lists["Exclusion criteria"]
    assert [h4.text() for h4 in excluded.find_all("h4")] == [
        "Exclusion Criteria for Part A",
        "Exclusion criteria (all parts)",
    ]
    assert "none" in excluded.text()


def test_headings_inside_the_record_stay_below_the_pages_own(app, client):
    store_trial(
        app,
        brief_summary="# Background\n\nText.",
        eligibility_criteria="Inclusion Criteria:\n\n# Cohort 1\n\n* Age 1 to 12",
    )
    main = page_of(client)
    summary = main.find("section", **{"aria-labelledby": "summary-heading"})
    assert summary.find("h3").text() == "Background"
    assert inclusion_and_exclusion(main)["Inclusion criteria"].find("h5").text() == "Cohort 1"
    assert len(main.find_all("h1")) == 1


# --- What it costs the rest of the app -----------------------------------------------------


def test_the_markdown_libraries_load_only_when_a_page_is_rendered(tmp_path):
    """Commands that never render a trial page (imports, exports) never import them."""
    program = (
        "import sys\n"
        "from microsite import create_app\n"
        "create_app()\n"
        "print(sorted(name for name in ('markdown_it', 'nh3') if name in sys.modules))\n"
    )
    environment = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'unused.sqlite3'}",
        "SECRET_KEY": "s" * 40,
    }
    result = subprocess.run(
        [sys.executable, "-c", program],
        cwd=Path(__file__).resolve().parent.parent,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert result.stdout.strip() == "[]"
