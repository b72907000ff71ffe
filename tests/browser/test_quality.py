"""Accessibility and markup of every page in each of its states (``page_state``):

- axe-core, with the WCAG 2.0, 2.1 and 2.2 rules of levels A and AA, finds no violation
  in the page as the browser shows it;
- the Nu HTML Checker finds no error in the HTML as served, nor in the document as it
  stands after the page's scripts ran;
- neither has inline script or style (a strict Content Security Policy allows none);

and the Nu HTML Checker finds no error in the stylesheet (and the favicon's SVG).
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from html.parser import HTMLParser

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from microsite.extensions import db
from microsite.models import Lead, Trial, TrialImport, TrialSite, utcnow
from microsite.trials import matching, synonyms

from .conftest import (
    REPO_ROOT,
    NuChecker,
    add_lead,
    expect_h1,
    fill_application,
    page_state_driver,
    sign_in_as_staff,
)
from .test_layout import PHONE_WIDTHS, Layout, report, settle, viewport

pytestmark = pytest.mark.browser

WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"]
AXE_OPTIONS = {"runOnly": {"type": "tag", "values": WCAG_TAGS}, "resultTypes": ["violations"]}
STATIC = REPO_ROOT / "static"

axe = Axe()


def axe_report(violations: list[dict]) -> str:
    lines = []
    for violation in violations:
        lines.append(
            f"  {violation['id']} ({violation.get('impact')}): {violation['help']}"
            f" [{', '.join(t for t in violation['tags'] if t.startswith('wcag'))}]"
            f"\n    {violation['helpUrl']}"
        )
        for node in violation["nodes"]:
            target = " ".join(str(part) for part in node["target"])
            lines.append(f"    - {target}\n        {node['html'][:200]}")
            summary = (node.get("failureSummary") or "").replace("\n", "\n          ")
            if summary:
                lines.append(f"        {summary}")
    return "\n".join(lines)


class _InlineCode(HTMLParser):
    """Script or style written into the page itself rather than loaded from a file."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "style":
            self.found.append("a <style> element")
        if tag == "script" and not attributes.get("src"):
            self.found.append("a <script> without src")
        for attribute in attributes:
            if attribute == "style" or attribute.startswith("on"):
                self.found.append(f"a {attribute}= attribute on <{tag}>")


def inline_code(html: str) -> list[str]:
    parser = _InlineCode()
    parser.feed(html)
    parser.close()
    return parser.found


def test_every_page_and_state_is_accessible_and_valid_html(page_state, nu_checker):
    """Every check runs before the verdict, so one failure hides none of the others."""
    name, page = page_state
    served_html = page_state.html
    rendered_html = page.content()  # before axe-core is injected into the page
    problems = []

    violations = axe.run(page, options=AXE_OPTIONS).response["violations"]
    if violations:
        problems.append(f"axe found {len(violations)} WCAG violations:\n{axe_report(violations)}")
    for html, which in [
        (served_html, "the HTML as served"),
        (rendered_html, "the document after its scripts"),
    ]:
        errors = nu_checker.check(html)
        if errors:
            problems.append(
                f"the Nu HTML Checker found errors in {which}:\n{NuChecker.report(errors)}"
            )
        inline = inline_code(html)
        if inline:
            problems.append(f"inline code in {which}: {', '.join(inline)}")

    assert not problems, f"{name} ({page.url}):\n" + "\n".join(problems)


@pytest.mark.parametrize(
    "path, content_type",
    [("css/site.css", "text/css"), ("favicon.svg", "image/svg+xml")],
    ids=["stylesheet", "favicon"],
)
def test_static_files_are_valid(nu_checker, path, content_type):
    errors = nu_checker.check((STATIC / path).read_bytes(), content_type)
    assert not errors, (
        f"the Nu HTML Checker found errors in static/{path}:\n{NuChecker.report(errors)}"
    )


# --- The pages of trial matching ----------------------------------------------------------
# Registered here, with the same drivers as every other state, and checked by the same
# test through ``page_state`` parametrized with their names; and at four widths below.

# Long words and names as studies really have them, to show where lines break.
TRIALS = [
    (
        "NCT99990001",
        "Naxitamab and GM-CSF Plus Isotretinoin for High-Risk Neuroblastoma in "
        "Children Who Have Completed Induction Therapy (ANBL-Immunotherapy-2026)",
        ["Neuroblastoma", "Ganglioneuroblastoma"],
        ["PHASE1", "PHASE2"],
        3,
        252,
        [
            ("Great Ormond Street Hospital for Children NHS Foundation Trust", "London"),
            ("Royal Manchester Children's Hospital", "Manchester"),
            ("Birmingham Women's and Children's NHS Foundation Trust", "Birmingham"),
            ("Alder Hey Children's Hospital", "Liverpool"),
        ],
    ),
    (
        "NCT99990002",
        "Dinutuximab Beta Long-Term Infusion in Relapsed Neuroblastoma",
        ["Neuroblastoma"],
        ["PHASE3"],
        None,
        216,
        [("Karolinska University Hospital", "Stockholm")],
    ),
    (
        "NCT99990003",
        "A Registry of Children With Peripheral Neuroblastic Tumours",
        ["Neuroblastoma"],
        [],
        None,
        None,
        [],
    ),
]

SWEDISH_SITES = [
    ("Astrid Lindgren Children's Hospital, Karolinska University Hospital", "Stockholm"),
    ("Queen Silvia Children's Hospital, Sahlgrenska University Hospital", "Göteborg"),
    ("Skåne University Hospital", "Lund"),
    ("Uppsala University Children's Hospital", "Uppsala"),
]


def add_trials(server, country: str) -> None:
    """Three neuroblastoma trials; their sites are in ``country`` (the last two elsewhere)."""
    with server.app.app_context():
        for nct_id, title, conditions, phases, low, high, sites in TRIALS:
            trial = Trial(
                nct_id=nct_id,
                brief_title=title,
                overall_status="RECRUITING" if sites else "NOT_YET_RECRUITING",
                phases=phases,
                conditions=conditions,
                keywords=[],
                min_age_months=low,
                max_age_months=high,
                last_update_on=date(2026, 11, 1),
                diagnoses=synonyms.diagnoses_key(conditions),
            )
            here = country if nct_id == "NCT99990001" else "US"
            sites = SWEDISH_SITES if here == "SE" else sites
            trial.sites = [
                TrialSite(facility=f, city=c, country_code=here, status="RECRUITING")
                for f, c in sites
            ]
            db.session.add(trial)
        db.session.commit()


@page_state_driver("thanks-with-matches")
def _to_thanks_with_matches(page, server, monkeypatch):
    add_trials(server, "GB")  # fill_application: neuroblastoma, 7 years, United Kingdom
    page.goto("/apply")
    fill_application(page)
    page.get_by_role("button", name="Send my application").click()
    expect(page).to_have_url(f"{server.url}/apply/thanks")
    matches = page.get_by_role("region", name="Trials that may fit")
    expect(matches.locator("li.trial")).to_have_count(3)
    expect(matches.get_by_role("heading", level=3).first).to_have_text(re.compile("^Naxitamab"))


@page_state_driver("thanks-without-matches")
def _to_thanks_without_matches(page, server, monkeypatch):
    page.goto("/apply")
    fill_application(page)
    page.get_by_role("button", name="Send my application").click()
    expect(page).to_have_url(f"{server.url}/apply/thanks")
    matches = page.get_by_role("region", name="Trials that may fit")
    expect(matches).to_contain_text("Your navigator will search further")


@page_state_driver("staff-lead-with-matches")
def _to_staff_lead_with_matches(page, server, monkeypatch):
    add_trials(server, "SE")
    lead = add_lead(server)  # neuroblastoma, 6 years, Sweden
    with server.app.app_context():
        matching.store_matches(db.session.get(Lead, lead.id))
        db.session.commit()
    sign_in_as_staff(page, server)
    page.goto(f"/staff/leads/{lead.id}")
    page.get_by_role("button", name="Match again").click()
    expect(page).to_have_url(f"{server.url}/staff/leads/{lead.id}#matches")
    matches = page.get_by_role("region", name="Trials shown to the family")
    expect(matches.locator("li.trial")).to_have_count(3)


@page_state_driver("staff-trials")
def _to_staff_trials(page, server, monkeypatch):
    add_trials(server, "GB")
    with server.app.app_context():
        finished = utcnow() - timedelta(hours=3)
        db.session.add_all(
            [
                TrialImport(
                    source="import",
                    started_at=finished - timedelta(days=7, minutes=9),
                    finished_at=finished - timedelta(days=7),
                    new=3,
                    updated=0,
                    skipped=1,
                ),
                TrialImport(
                    source="sync",
                    started_at=finished - timedelta(minutes=6),
                    finished_at=finished,
                    new=0,
                    updated=3,
                    skipped=0,
                ),
            ]
        )
        db.session.commit()
    sign_in_as_staff(page, server)
    page.get_by_role("navigation", name="Staff").get_by_role("link", name="Trials").click()
    expect_h1(page, "Trial catalog")


TRIAL_STATES = [
    "thanks-with-matches",
    "thanks-without-matches",
    "staff-lead-with-matches",
    "staff-trials",
]


@pytest.mark.parametrize("page_state", TRIAL_STATES, indirect=True)
def test_trial_matching_pages_are_accessible_and_valid_html(page_state, nu_checker):
    test_every_page_and_state_is_accessible_and_valid_html(page_state, nu_checker)


@pytest.mark.parametrize("width", [320, 390, 768, 1280])
@pytest.mark.parametrize("state", TRIAL_STATES)
def test_trial_matching_pages_fit_every_width(
    open_page, live_server, monkeypatch, screenshot, state, width
):
    """No sideways scrolling, tap targets of 24 px, text of 16 px on phones; screenshots at
    each width (test-artifacts/screenshots/trials-<state>-<width>.png)."""
    from .conftest import PAGE_STATES

    page = open_page(**viewport(width))
    PAGE_STATES[state][0](page, live_server, monkeypatch)
    settle(page)
    layout = Layout.of(page)
    screenshot(page, f"trials-{state}-{width}")
    problems = layout.reflow_problems() + layout.target_problems()
    if width in PHONE_WIDTHS:
        problems += layout.text_problems()
    assert not problems, report(f"{state} at {width} px", problems)
