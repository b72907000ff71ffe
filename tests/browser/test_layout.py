"""Layout, reflow, tap targets, text size, keyboard use and motion, page by page, in the
real browser.

Every page and state a visitor or a navigator can reach (the article with its carousel
moving and paused; /apply empty, with errors and after an expired session; the thank-you
page; /share and its result; /privacy; the 404 page; the staff sign-in, dashboard and lead
pages) is measured at 320, 390, 768 and 1280 px, and at 200% zoom (a 640 px wide viewport
at device scale factor 2: what a 1280 px window shows at 200%). What is measured:

* **No horizontal scrolling**: ``document.documentElement.scrollWidth <= innerWidth``
  (WCAG 1.4.10 Reflow). A wide data table may scroll inside its own region; the page may not.
* **Nothing clipped**: no shown element whose computed ``overflow-x`` is ``hidden`` or
  ``clip`` has ``scrollWidth > clientWidth + 1``, i.e. cuts off its own text. The
  ``.visually-hidden`` and ``.hp`` (honeypot) classes clip on purpose and are left out.
  A closed ``select`` clips without a scrollWidth to show it, so its chosen option's text
  is measured (canvas ``measureText`` in its computed font) against its content box less
  ``SELECT_ARROW`` px for the arrow, from 600 px wide up (the 200% zoom case included).
  On a phone a long option label cannot fit a closed select at 16 px whatever the design,
  and the phone opens the list full width to choose, so narrower widths are not held to it.
* **Tap targets of at least 24 by 24 CSS px** (WCAG 2.5.8 Target Size (Minimum)), for
  every shown ``a[href]``, ``button``, ``input`` (not hidden), ``select``, ``textarea``
  and ``summary``. The rule, with the two exceptions WCAG allows:

  1. *Inline*: an ``<a>`` whose display is ``inline`` and whose nearest non-inline
     ancestor is a ``p``, ``li``, ``dd`` or ``td`` text block is exempt: its size is set
     by the line-height of the sentence it sits in.
  2. *Spacing*: any other undersized target passes when a circle of 24 px diameter centred
     on its bounding box intersects no other target's box and no other undersized
     target's circle (centres at least 24 px apart).

  "Shown" means: rendered (``checkVisibility`` with visibility and opacity), with a box of
  some size, not inside ``.visually-hidden`` or ``.hp``, and not placed off the page
  (the skip link waits above the top edge until it is focused).
* **Body text of at least 16 px on phones** (320 and 390 px): the computed font-size of
  every shown ``p``, ``li``, ``label``, ``td``, ``th``, ``dd``, ``dt``, ``legend``, ``a``
  and ``button`` with text of its own, and every text-bearing ``input``, ``select`` and
  ``textarea``. A failure names the smallest.

At each width all of these are asked for (text size on phones only); at 200% zoom, reflow
only: no horizontal scrolling and nothing clipped.

Each page is screenshotted whole as ``layout-<page>-<width>`` or ``layout-<page>-zoom200``.

Then the keyboard: the whole apply flow, from the article to the thank-you page, with Tab,
Shift+Tab, arrow keys, Space, typing and Enter only, checking after every key that moves
focus that the focused element shows a focus indicator; after the server turns the form
down, focus is on the error summary. And with ``prefers-reduced-motion: reduce`` the
carousel never moves by itself. Every page is opened through ``open_page``, which fails
the test if any request leaves the site's origin.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from playwright.sync_api import Page, expect

from .conftest import PAGE_STATES
from .test_journey import (
    AUTHORS,
    THANKS,
    expect_slide,
    with_paused_clock,
)

pytestmark = pytest.mark.browser

WIDTHS = [320, 390, 768, 1280]
PHONE_WIDTHS = {320, 390}
HEIGHT = {320: 568, 390: 844, 768: 1024, 1280: 800}
# 200% zoom of a 1280 x 800 window: half the CSS pixels, each drawn twice as large.
ZOOM_200 = {"viewport": {"width": 640, "height": 400}, "device_scale_factor": 2}

MIN_TARGET = 24  # CSS px, WCAG 2.5.8
MIN_PHONE_TEXT = 16  # CSS px
# Room Chromium keeps for a closed <select>'s arrow, right of the padding (about 24 px
# measured on screenshots; 20 here, so only text that is surely cut short counts).
SELECT_ARROW = 20  # CSS px
UNDER_18 = "please ask a parent or guardian to fill in this form"


def viewport(width: int) -> dict:
    return {"viewport": {"width": width, "height": HEIGHT[width]}}


# --- Reaching each page and state ---------------------------------------------------------

# The pages and states the issue names, reached by the same drivers as the quality suite.
STATES = [
    "article-rotating",
    "article-paused",
    "apply-empty",
    "apply-errors",
    "apply-expired-token",
    "thanks",
    "share",
    "share-sent",
    "privacy",
    "not-found",
    "staff-login",
    "staff-dashboard",
    "staff-lead",
]


def reach(state: str, page: Page, live_server, monkeypatch) -> None:
    drive, _status = PAGE_STATES[state]
    drive(page, live_server, monkeypatch)


def settle(page: Page) -> None:
    """Wait for the page's stylesheet and fonts. After a form is sent, the new page's text
    can be in the DOM before its stylesheet has loaded: measured then, a radio button is
    13 px, not 24."""
    page.wait_for_load_state("load")
    page.evaluate("document.fonts.ready.then(() => true)")


# --- Measuring ----------------------------------------------------------------------------

MEASURE = """
({minTarget, minText, selectArrow}) => {
  const TARGETS = 'a[href], button, input:not([type="hidden"]), select, textarea, summary';
  const TEXT = 'p, li, label, td, th, dd, dt, legend, input, select, textarea, button, a';
  const TEXT_BLOCKS = new Set(['P', 'LI', 'DD', 'TD']);
  const NO_TEXT_INPUTS = new Set(['checkbox', 'radio', 'range', 'color', 'image', 'file']);
  const round = (n) => Math.round(n * 100) / 100;

  function describe(el) {
    let s = el.tagName.toLowerCase();
    if (el.id) s += '#' + el.id;
    for (const c of el.classList) s += '.' + c;
    if (!el.id && el.getAttribute('name')) s += '[name=' + el.getAttribute('name') + ']';
    if (el.type === 'radio' || el.type === 'checkbox') s += '[value=' + el.value + ']';
    let text = el.tagName === 'SELECT' ? (el.selectedOptions[0] || {}).text
      : (el.innerText || el.value || el.getAttribute('aria-label') || '');
    text = (text || '').trim().replace(/\\s+/g, ' ');
    if (text) s += ' "' + (text.length > 40 ? text.slice(0, 39) + '…' : text) + '"';
    return s;
  }
  function onPurpose(el) { return el.closest('.visually-hidden, .hp') !== null; }
  function shown(el) {
    if (onPurpose(el)) return false;
    if (!el.checkVisibility({checkOpacity: true, checkVisibilityCSS: true})) return false;
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) return false;
    // Placed off the page on purpose, like the skip link until it has focus.
    if (r.right + scrollX <= 0 || r.bottom + scrollY <= 0) return false;
    return true;
  }
  const box = (r) => ({x: round(r.x + scrollX), y: round(r.y + scrollY),
                       width: round(r.width), height: round(r.height)});

  // Horizontal scrolling: the outermost elements that stick out to the right, by parent.
  const doc = document.documentElement;
  const sticking = new Map();
  for (const el of document.body.querySelectorAll('*')) {
    if (!shown(el)) continue;
    const right = el.getBoundingClientRect().right + scrollX;
    if (right <= innerWidth + 0.5) continue;
    const parent = el.parentElement;
    if (parent !== document.body && shown(parent)
        && parent.getBoundingClientRect().right + scrollX > innerWidth + 0.5) continue;
    const seen = sticking.get(parent);
    if (seen) { seen.count += 1; seen.right = Math.max(seen.right, round(right)); continue; }
    const p = parent.getBoundingClientRect();
    sticking.set(parent, {inside: describe(parent).slice(0, 60),
                          insideRight: round(p.right + scrollX),
                          first: describe(el), count: 1, right: round(right)});
  }

  // Elements that cut off their own content.
  const clipped = [];
  const ruler = document.createElement('canvas').getContext('2d');
  for (const el of document.body.querySelectorAll('*')) {
    if (!shown(el)) continue;
    const style = getComputedStyle(el);
    const overflow = style.overflowX;
    if ((overflow === 'hidden' || overflow === 'clip') && el.scrollWidth > el.clientWidth + 1) {
      clipped.push({element: describe(el), overflow, scrollWidth: el.scrollWidth,
                    clientWidth: el.clientWidth});
    }
    // A closed <select> cuts its chosen option short without any scrollWidth to show it.
    if (el.tagName === 'SELECT' && el.selectedOptions.length && window.innerWidth >= 600) {
      ruler.font = [style.fontStyle, style.fontWeight, style.fontSize, style.fontFamily].join(' ');
      const textWidth = ruler.measureText(el.selectedOptions[0].text).width;
      const room = el.clientWidth - parseFloat(style.paddingLeft)
        - parseFloat(style.paddingRight) - selectArrow;
      if (textWidth > room + 1) {
        clipped.push({element: describe(el), overflow: 'select', textWidth: round(textWidth),
                      roomForText: round(room)});
      }
    }
  }

  // Tap targets.
  const targets = [...document.querySelectorAll(TARGETS)].filter(shown).map((el) => {
    const r = el.getBoundingClientRect();
    let block = el.parentElement;
    while (block && getComputedStyle(block).display === 'inline') block = block.parentElement;
    const inline = el.tagName === 'A' && getComputedStyle(el).display === 'inline'
      && block !== null && TEXT_BLOCKS.has(block.tagName);
    return {el, r, cx: r.x + r.width / 2, cy: r.y + r.height / 2, inline,
            small: r.width < minTarget - 0.01 || r.height < minTarget - 0.01};
  });
  function distanceToBox(x, y, r) {
    const dx = Math.max(r.left - x, 0, x - r.right);
    const dy = Math.max(r.top - y, 0, y - r.bottom);
    return Math.hypot(dx, dy);
  }
  const smallTargets = [];
  for (const t of targets) {
    if (!t.small || t.inline) continue;
    const near = targets.filter((o) => o !== t && !o.el.contains(t.el) && !t.el.contains(o.el)
      && (o.small ? Math.hypot(o.cx - t.cx, o.cy - t.cy) < minTarget
                  : distanceToBox(t.cx, t.cy, o.r) < minTarget / 2));
    if (near.length) {
      smallTargets.push({element: describe(t.el), ...box(t.r),
                         tooCloseTo: near.slice(0, 3).map((o) => describe(o.el))});
    }
  }

  // Text sizes.
  let smallest = null;
  const smallText = [];
  for (const el of document.body.querySelectorAll(TEXT)) {
    if (!shown(el)) continue;
    const control = ['INPUT', 'SELECT', 'TEXTAREA'].includes(el.tagName);
    if (el.tagName === 'INPUT' && NO_TEXT_INPUTS.has(el.type)) continue;
    const ownText = [...el.childNodes].some((n) => n.nodeType === 3 && n.data.trim());
    if (!control && !ownText) continue;
    const size = parseFloat(getComputedStyle(el).fontSize);
    const entry = {element: describe(el), fontSize: size};
    if (smallest === null || size < smallest.fontSize) smallest = entry;
    if (size < minText) smallText.push(entry);
  }

  return {scrollWidth: doc.scrollWidth, innerWidth, sticking: [...sticking.values()], clipped,
          targets: targets.length, smallTargets, smallest, smallText};
}
"""


@dataclass
class Layout:
    scroll_width: int
    inner_width: int
    sticking: list[dict]
    clipped: list[dict]
    targets: int
    small_targets: list[dict]
    smallest_text: dict | None
    small_text: list[dict]

    @classmethod
    def of(cls, page: Page) -> Layout:
        m = page.evaluate(
            MEASURE,
            {"minTarget": MIN_TARGET, "minText": MIN_PHONE_TEXT, "selectArrow": SELECT_ARROW},
        )
        return cls(
            m["scrollWidth"],
            m["innerWidth"],
            m["sticking"],
            m["clipped"],
            m["targets"],
            m["smallTargets"],
            m["smallest"],
            m["smallText"],
        )

    def reflow_problems(self) -> list[str]:
        problems = []
        if self.scroll_width > self.inner_width:
            problems.append(
                f"horizontal scroll: document scrollWidth {self.scroll_width} px > "
                f"innerWidth {self.inner_width} px; sticking out: {self.sticking}"
            )
        problems += [f"clipped text: {c}" for c in self.clipped]
        return problems

    def target_problems(self) -> list[str]:
        return [
            f"tap target under {MIN_TARGET}x{MIN_TARGET} px and too close to others: {t}"
            for t in self.small_targets
        ]

    def text_problems(self) -> list[str]:
        if not self.small_text:
            return []
        return [
            f"text under {MIN_PHONE_TEXT} px (smallest {self.smallest_text}): "
            f"{self.small_text[:10]}"
        ]


def report(where: str, problems: list[str]) -> str:
    return f"{where}:\n  " + "\n  ".join(problems)


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
<div class="gap"><button class="tiny" id="by-a-big-one"></button><button class="big">Big enough</button>
</div>
<p style="font-size: 12px" id="small-print">Small print</p>
<div class="clip" id="clipping">Far too long to fit</div>
<span class="visually-hidden">Clipped on purpose, and long enough to be clipped</span>
<select id="narrow" style="width: 80px"><option>A long option label</option></select>
<select id="roomy" style="width: 300px"><option>A long option label</option></select>
<div id="too-wide" style="width: 2000px">Wide</div>
"""


def test_the_measurements_catch_what_they_should(open_page):
    """The checks above can fail: on a specimen page with one of each problem, and with
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


# --- Every page at every width ------------------------------------------------------------


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("state", STATES)
def test_layout_at_width(open_page, live_server, monkeypatch, screenshot, state, width):
    page = open_page(**viewport(width))
    reach(state, page, live_server, monkeypatch)
    settle(page)
    layout = Layout.of(page)
    screenshot(page, f"layout-{state}-{width}")

    assert layout.targets > 0
    problems = layout.reflow_problems() + layout.target_problems()
    if width in PHONE_WIDTHS:
        assert layout.smallest_text is not None
        problems += layout.text_problems()
    assert not problems, report(f"{state} at {width} px", problems)


@pytest.mark.parametrize("state", STATES)
def test_layout_at_200_percent_zoom(open_page, live_server, monkeypatch, screenshot, state):
    page = open_page(**ZOOM_200)
    reach(state, page, live_server, monkeypatch)
    settle(page)
    assert page.evaluate("[innerWidth, devicePixelRatio]") == [640, 2]
    layout = Layout.of(page)
    screenshot(page, f"layout-{state}-zoom200")

    problems = layout.reflow_problems()
    assert not problems, report(f"{state} at 200% zoom (640 px at 2x)", problems)


# --- Keyboard only ------------------------------------------------------------------------

FOCUS = """
() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const s = getComputedStyle(el);
  const r = el.getBoundingClientRect();
  let name = el.tagName.toLowerCase() + (el.id ? '#' + el.id : '');
  for (const c of el.classList) name += '.' + c;
  if (el.type === 'radio' || el.type === 'checkbox') name += '[value=' + el.value + ']';
  const text = (el.innerText || '').trim().replace(/\\s+/g, ' ').slice(0, 40);
  if (text) name += ' "' + text + '"';
  return {
    name,
    outlineStyle: s.outlineStyle,
    outlineWidth: parseFloat(s.outlineWidth),
    boxShadow: s.boxShadow,
    inView: r.bottom > 0 && r.right > 0 && r.top < innerHeight && r.left < innerWidth,
  };
}
"""


def focused(page: Page) -> dict:
    """The focused element, which must show a focus indicator and be in view."""
    focus = page.evaluate(FOCUS)
    assert focus is not None, "focus is on the page body, not on an element"
    outline = focus["outlineStyle"] != "none" and focus["outlineWidth"] > 0
    shadow = focus["boxShadow"] not in ("none", "")
    assert outline or shadow, f"no visible focus indicator on {focus}"
    assert focus["inView"], f"the focused element is out of view: {focus}"
    return focus


def press(page: Page, key: str) -> dict:
    page.keyboard.press(key)
    return focused(page)


def is_focused(page: Page, selector: str) -> bool:
    return page.evaluate("(s) => document.activeElement.matches(s)", selector)


def tab_to(page: Page, selector: str, *, key: str = "Tab", limit: int = 40) -> list[str]:
    """Press Tab (or Shift+Tab) until the focused element matches ``selector``, checking the
    focus indicator after every press. Returns the names of the elements passed through."""
    path = []
    for _ in range(limit):
        path.append(press(page, key)["name"])
        if is_focused(page, selector):
            return path
    raise AssertionError(f"{key} never reached {selector} in {limit} presses: {path}")


def choose(page: Page, select_id: str, typed: str, value: str) -> None:
    """On the focused closed <select>: type the start of the option's label, then ArrowDown
    until the option is chosen (type-ahead alone stops at spaces)."""
    assert is_focused(page, f"#{select_id}")
    page.keyboard.type(typed)
    field = page.locator(f"#{select_id}")
    for _ in range(20):
        if field.input_value() == value:
            break
        press(page, "ArrowDown")
    expect(field).to_have_value(value)
    expect(field).to_be_focused()


def test_apply_flow_by_keyboard_only(open_page, live_server, screenshot):
    page = open_page(**viewport(1280))
    page.goto("/")

    # The article's first "Find your trial" link, reached and followed by keyboard.
    passed = tab_to(page, 'a[href="/apply"]')
    assert passed[0].startswith("a.skip-link"), passed  # the first stop is the skip link
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{live_server.url}/apply")
    expect(page.get_by_role("heading", level=1)).to_have_text("Find your trial")
    settle(page)

    # The first radio of a group with none checked takes the Tab; arrows move and check.
    tab_to(page, 'input[name="role"]')
    assert is_focused(page, "#role-0")
    press(page, "ArrowDown")
    assert is_focused(page, "#role-1")
    expect(page.get_by_role("radio", name="The patient (18 or older)")).to_be_checked()

    tab_to(page, "#patient_age")
    page.keyboard.type("12")
    tab_to(page, "#diagnosis")
    choose(page, "diagnosis", "Wilms", "wilms")
    tab_to(page, "#country")
    choose(page, "country", "United", "GB")
    tab_to(page, "#name")
    page.keyboard.type("Alex Example")
    tab_to(page, "#email")
    page.keyboard.type("alex@example.com")
    tab_to(page, 'input[name="contact_method"]')
    assert is_focused(page, "#contact_method-0")  # Email
    press(page, "Space")
    expect(page.get_by_role("radio", name="Email", exact=True)).to_be_checked()
    tab_to(page, "#consent")
    press(page, "Space")
    expect(page.locator("#consent")).to_be_checked()
    tab_to(page, 'button[type="submit"]')
    page.keyboard.press("Enter")

    # Turned down by the server (a patient under 18): focus is on the error summary.
    expect(page).to_have_title(re.compile(r"^Error: "))
    settle(page)
    summary = page.locator("[data-error-summary]")
    expect(summary).to_be_focused()
    assert page.evaluate("document.activeElement.hasAttribute('data-error-summary')")
    focused(page)  # and it shows
    screenshot(page, "layout-keyboard-apply-error-1280")

    # The summary's link leads to the field; Shift+Tab goes back to the role.
    tab_to(page, "[data-error-summary] a")
    assert UNDER_18 in page.evaluate("document.activeElement.textContent")
    page.keyboard.press("Enter")
    expect(page.locator("#patient_age")).to_be_focused()
    focused(page)
    tab_to(page, 'input[name="role"]', key="Shift+Tab")
    assert is_focused(page, "#role-1")  # the checked radio of the group
    press(page, "ArrowUp")
    assert is_focused(page, "#role-0")
    expect(page.get_by_role("radio", name="A parent or guardian of the patient")).to_be_checked()
    tab_to(page, 'button[type="submit"]')
    page.keyboard.press("Enter")

    expect(page).to_have_url(f"{live_server.url}/apply/thanks")
    expect(page.get_by_role("heading", level=1)).to_have_text(THANKS)
    [lead] = live_server.leads()
    assert (lead.role, lead.patient_age, lead.diagnosis, lead.country) == (
        "parent",
        12,
        "wilms",
        "GB",
    )
    assert (lead.name, lead.email, lead.contact_method, lead.updates_opt_in) == (
        "Alex Example",
        "alex@example.com",
        "email",
        False,
    )


# --- Motion -------------------------------------------------------------------------------


def test_carousel_never_moves_by_itself_with_reduced_motion(open_page, screenshot):
    page = with_paused_clock(open_page(reduced_motion="reduce", **viewport(390)))
    page.goto("/")
    carousel = page.locator("[data-carousel]")
    expect(carousel).to_have_attribute("data-rotating", "false")
    expect(carousel.locator("[data-carousel-rotation]")).to_have_text("Play")
    expect_slide(page, 1)

    for _ in range(6):  # a minute, ten seconds at a time
        page.clock.run_for(10_000)
        expect_slide(page, 1)
    expect(carousel).to_have_attribute("data-rotating", "false")
    assert len(AUTHORS) > 1  # so there was somewhere to move to
    screenshot(page, "layout-article-reduced-motion-390")
