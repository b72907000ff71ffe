"""Accessibility and markup of every page in each of its states (``page_state``):

- axe-core, with the WCAG 2.0, 2.1 and 2.2 rules of levels A and AA, finds no violation
  in the page as the browser shows it;
- the Nu HTML Checker finds no error in the HTML as served, nor in the document as it
  stands after the page's scripts ran;
- neither has inline script or style (a strict Content Security Policy allows none);

and the Nu HTML Checker finds no error in the stylesheet (and the favicon's SVG).
"""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from axe_playwright_python.sync_playwright import Axe

from .conftest import REPO_ROOT, NuChecker

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
    for html, which in [(served_html, "the HTML as served"),
                        (rendered_html, "the document after its scripts")]:
        errors = nu_checker.check(html)
        if errors:
            problems.append(f"the Nu HTML Checker found errors in {which}:\n"
                            f"{NuChecker.report(errors)}")
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
