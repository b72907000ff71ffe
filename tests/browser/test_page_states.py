"""Every page of the site in each of its states (the catalogue of ``states.py``), visited
once, with every check run on that one visit:

- the document answers the status the state must have, with a Content-Security-Policy;
- the Nu HTML Checker finds no error in the HTML as served, nor in the document as it
  stands after the page's scripts ran; neither has inline script or style (the strict
  Content-Security-Policy allows none);
- axe-core, with the WCAG 2.0, 2.1 and 2.2 rules of levels A and AA, finds no violation in
  the page as the browser shows it (1280 by 800);
- nothing is logged to the console but Chromium's note of the status of an error page;
- at 320, 390, 768 and 1280 px: no sideways scrolling, nothing clipped, tap targets of 24
  by 24 px, and on phones (320, 390) text of at least 16 px; at 200% zoom (640 px at
  device scale factor 2): no sideways scrolling and nothing clipped (the rules are in
  ``checks.py``); a screenshot of each (test-artifacts/screenshots/state-<name>-<width>.png,
  state-<name>-zoom200.png);
- every request the page made stayed on the site's origin and no script threw
  (``open_page``).

Every check runs before the verdict, so one failure hides none of the others. Then the Nu
HTML Checker on the stylesheet and the favicon, and the layout measurements on a specimen
page, to show they catch what they should.

None of this depends on the database, so it runs once, in the SQLite run; the journeys
(``test_journey.py``, ``test_share.py``, ``test_staff.py``) run on both databases.
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from playwright.sync_api import Page

from tests.helpers import ROOT

from .checks import (
    PHONE_WIDTHS,
    WIDTHS,
    ZOOM_200,
    Layout,
    NuChecker,
    axe_report,
    axe_violations,
    console_problems,
    inline_code,
    report,
)
from .pages import HEIGHT, settle

pytestmark = pytest.mark.database_independent(
    "markup, accessibility and layout are the same whatever database keeps the rows"
)

STATIC = ROOT / "static"


def markup_problems(nu_checker: NuChecker, html: str, which: str) -> list[str]:
    problems = []
    errors = nu_checker.check(html)
    if errors:
        problems.append(f"the Nu HTML Checker found errors in {which}:\n{NuChecker.report(errors)}")
    inline = inline_code(html)
    if inline:
        problems.append(f"inline code in {which}: {', '.join(inline)}")
    return problems


def layout_problems(page: Page, width: int, screenshot, name: str) -> list[str]:
    """The layout at ``width`` (the page resized to it, as a window is), screenshotted."""
    page.set_viewport_size({"width": width, "height": HEIGHT[width]})
    settle(page)
    layout = Layout.of(page)
    screenshot(page, f"state-{name}-{width}")
    problems = layout.reflow_problems() + layout.target_problems()
    if layout.targets == 0:
        problems.append("no tap target at all: the measurement saw no page")
    if width in PHONE_WIDTHS:
        if layout.smallest_text is None:
            problems.append("no text at all: the measurement saw no page")
        problems += layout.text_problems()
    return [report(f"at {width} px", problems)] if problems else []


def zoom_problems(page: Page, screenshot_dir: Path, name: str) -> list[str]:
    """The layout at 200% zoom: Chromium's device metrics set to 640 CSS px at scale 2 on
    the page as it is (Playwright sets them only for a new context), and a screenshot of
    the whole page in device pixels, taken through the same session."""
    session = page.context.new_cdp_session(page)
    session.send("Emulation.setDeviceMetricsOverride", {**ZOOM_200, "mobile": False})
    try:
        settle(page)
        shown = page.evaluate("[innerWidth, devicePixelRatio]")
        assert shown == [ZOOM_200["width"], ZOOM_200["deviceScaleFactor"]], shown
        layout = Layout.of(page)
        size = session.send("Page.getLayoutMetrics")["cssContentSize"]
        clip = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
        shot = session.send(
            "Page.captureScreenshot", {"format": "png", "clip": clip, "captureBeyondViewport": True}
        )
        (screenshot_dir / f"state-{name}-zoom200.png").write_bytes(base64.b64decode(shot["data"]))
    finally:
        session.send("Emulation.clearDeviceMetricsOverride")
        session.detach()
    problems = layout.reflow_problems()
    return [report("at 200% zoom (640 px at 2x)", problems)] if problems else []


def test_page_state(page_state, nu_checker, screenshot, screenshot_dir):
    name, page = page_state.name, page_state.page
    problems = []

    headers = page_state.response.headers
    if "content-security-policy" not in headers:
        problems.append("the document came without a Content-Security-Policy")
    rendered_html = page.content()  # before axe-core is injected into the page
    problems += markup_problems(nu_checker, page_state.html, "the HTML as served")
    problems += markup_problems(nu_checker, rendered_html, "the document after its scripts")

    violations = axe_violations(page)
    if violations:
        problems.append(f"axe found {len(violations)} WCAG violations:\n{axe_report(violations)}")

    noisy = console_problems(page_state.console, page_state.documents)
    if noisy:
        problems.append(f"the console has errors or warnings: {noisy}")

    for width in sorted(WIDTHS, reverse=True):  # from the laptop's size the state has now
        problems += layout_problems(page, width, screenshot, name)
    problems += zoom_problems(page, screenshot_dir, name)

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


SPECIMEN = """
<style>
  body { margin: 0; font-size: 17px; line-height: 1.6; }
  button, select { font: inherit; }
  .visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden;
                     clip: rect(0 0 0 0); white-space: nowrap; }
  .tiny { width: 10px; height: 10px; padding: 0; border: 0; }
  .gap { margin-top: 40px; }
  .big { width: 120px; height: 44px; }
  .clip { width: 50px; overflow: hidden; white-space: nowrap; }
</style>
<p>Read the <a href="#notice" id="in-a-sentence">notice</a> today.</p>
<div><button class="tiny" id="crowded-1"></button><button class="tiny" id="crowded-2"></button>
</div>
<div class="gap"><button class="tiny" id="spaced"></button></div>
<div class="gap"><button class="tiny" id="by-a-big-one"></button>
<button class="big">Big enough</button></div>
<p style="font-size: 12px" id="small-print">Small print</p>
<div class="clip" id="clipping">Far too long to fit</div>
<span class="visually-hidden">Clipped on purpose, and long enough to be clipped</span>
<select id="narrow" style="width: 80px"><option>A long option label</option></select>
<select id="roomy" style="width: 300px"><option>A long option label</option></select>
<div id="too-wide" style="width: 2000px">Wide</div>
"""


def test_the_measurements_catch_what_they_should(open_page):
    """The layout checks can fail: on a specimen page with one of each problem, and with
    the cases the rules exempt, they find exactly the problems."""
    page = open_page(viewport={"width": 640, "height": 800})  # selects are held from 600 px
    page.set_content(SPECIMEN)
    layout = Layout.of(page)

    assert layout.scroll_width == 2000 and layout.inner_width == 640
    assert [(s["first"], s["count"]) for s in layout.sticking] == [('div#too-wide "Wide"', 1)]
    assert [c["element"] for c in layout.clipped] == [
        'div#clipping.clip "Far too long to fit"',
        'select#narrow "A long option label"',
    ]
    too_small = [t["element"] for t in layout.small_targets]
    assert too_small == [  # not the link in a sentence, nor the button with room around it
        "button#crowded-1.tiny",
        "button#crowded-2.tiny",
        "button#by-a-big-one.tiny",
    ]
    assert layout.targets == 8
    assert layout.smallest_text == {"element": 'p#small-print "Small print"', "fontSize": 12}
    assert [t["element"] for t in layout.small_text] == ['p#small-print "Small print"']


def test_the_markup_and_console_checks_catch_what_they_should(open_page, nu_checker):
    """The other checks can fail too: the Nu HTML Checker and the inline-code search on a
    page with an error and inline code, axe on a page with a violation, and the console
    filter, which lets through only an error page's note of its own status."""
    broken = '<!DOCTYPE html><html lang="en"><title>x</title><p style="color: red"><div></p>'
    assert markup_problems(nu_checker, broken, "the specimen")
    assert inline_code(broken) == ["a style= attribute on <p>"]
    page = open_page()
    page.set_content("<!DOCTYPE html><html><title>x</title><p>No language given.</p>")
    assert "html-has-lang" in {violation["id"] for violation in axe_violations(page)}
    note = "Failed to load resource: the server responded with a status of 404 (NOT FOUND)"
    messages = [("error", note, "http://localhost/x"), ("warning", "a warning", "")]
    assert console_problems(messages, {"http://localhost/x": 404}) == ["warning: a warning ()"]
    assert console_problems(messages[:1], {"http://localhost/x": 200}) != []
