"""A visitor's journey through the real browser: the article, its testimonial carousel
(by keyboard, on a fake clock, with reduced motion, without JavaScript) and the
"Find your trial" form, from a server-side error to the thank-you page and the stored lead;
and the whole apply flow by keyboard alone (Tab, Shift+Tab, arrow keys, Space, typing and
Enter), with a visible focus indicator after every key that moves focus.

Time never passes for real: every carousel test installs Playwright's clock, paused, before
the page loads, and moves it on by hand.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from microsite.models import Lead
from tests.helpers import rows

from .pages import (
    AUTHORS,
    H1,
    JOURNEY_WIDTHS,
    PARENT,
    PATIENT,
    ROTATION_MS,
    THANKS,
    UNDER_18,
    expect_slide,
    fill_application,
    send_application,
    settle,
    viewport,
    with_paused_clock,
)

pytestmark = pytest.mark.browser


# --- The article ------------------------------------------------------------------------


@pytest.mark.parametrize("width", JOURNEY_WIDTHS)
def test_article_has_one_h1_and_a_banner_link_to_the_form(open_page, screenshot, width):
    page = open_page(**viewport(width))
    page.goto("/")

    expect(page.locator("h1")).to_have_count(1)
    expect(page.get_by_role("heading", level=1)).to_have_text(H1)
    banner_link = page.locator(".banner").get_by_role("link", name="Find your trial")
    expect(banner_link).to_have_attribute("href", "/apply")
    screenshot(page, f"article-{width}")


# --- The carousel -----------------------------------------------------------------------


@pytest.mark.parametrize("width", JOURNEY_WIDTHS)
def test_carousel_by_keyboard(open_page, width):
    page = with_paused_clock(open_page(**viewport(width)))
    page.goto("/")
    carousel = page.locator("[data-carousel]")
    rotation = carousel.locator("[data-carousel-rotation]")
    previous = carousel.get_by_role("button", name="Previous testimonial")
    next_ = carousel.get_by_role("button", name="Next testimonial")

    for control in (rotation, previous, next_):
        expect(control).to_be_visible()
    expect(rotation).to_have_accessible_name("Pause")
    expect_slide(page, 1)

    # From the article's last link, real Tab presses reach the controls in order.
    page.locator(".article").get_by_role("link", name="Send this to a friend").focus()
    page.keyboard.press("Tab")
    expect(rotation).to_be_focused()
    expect(carousel).to_have_attribute("data-rotating", "false")  # focus pauses it
    page.keyboard.press("Tab")
    expect(previous).to_be_focused()
    page.keyboard.press("Tab")
    expect(next_).to_be_focused()

    page.keyboard.press("Enter")
    expect_slide(page, 2)
    page.keyboard.press("Space")
    expect_slide(page, 3)

    page.keyboard.press("Shift+Tab")
    expect(previous).to_be_focused()
    page.keyboard.press("Enter")
    expect_slide(page, 2)
    page.keyboard.press("Enter")
    expect_slide(page, 1)
    page.keyboard.press("Enter")  # wraps round to the last one
    expect_slide(page, 4)

    # Stepping by hand stops rotation for good, even once focus has left the carousel:
    # the rotation button now offers to start it again.
    page.keyboard.press("Shift+Tab")
    expect(rotation).to_be_focused()
    expect(rotation).to_have_accessible_name("Play")
    page.keyboard.press("Shift+Tab")
    expect(
        page.locator(".article").get_by_role("link", name="Send this to a friend")
    ).to_be_focused()
    expect(carousel).to_have_attribute("data-rotating", "false")
    page.clock.run_for(60_000)
    expect_slide(page, 4)


def test_carousel_rotates_every_7_seconds_when_left_alone(open_page):
    page = with_paused_clock(open_page())
    page.goto("/")
    expect(page.locator("[data-carousel]")).to_have_attribute("data-rotating", "true")
    expect_slide(page, 1)

    page.clock.run_for(ROTATION_MS - 1)
    expect_slide(page, 1)
    page.clock.run_for(1)
    expect_slide(page, 2)
    page.clock.run_for(ROTATION_MS)
    expect_slide(page, 3)
    page.clock.fast_forward(ROTATION_MS)
    expect_slide(page, 4)
    page.clock.run_for(ROTATION_MS)
    expect_slide(page, 1)


def test_hovering_the_carousel_stops_rotation(open_page):
    page = with_paused_clock(open_page())
    page.goto("/")
    carousel = page.locator("[data-carousel]")

    carousel.locator(".carousel__slides").hover()
    expect(carousel).to_have_attribute("data-rotating", "false")
    page.clock.run_for(60_000)
    expect_slide(page, 1)

    page.mouse.move(0, 0)  # the pointer leaves: rotation starts again, from a fresh interval
    expect(carousel).to_have_attribute("data-rotating", "true")
    page.clock.run_for(ROTATION_MS)
    expect_slide(page, 2)


def test_without_javascript_every_testimonial_shows_as_a_list(open_page, screenshot):
    page = open_page(java_script_enabled=False, **viewport(390))
    page.goto("/")
    carousel = page.locator("[data-carousel]")

    items = carousel.get_by_role("list").get_by_role("listitem")
    expect(items).to_have_count(len(AUTHORS))
    for item, author in zip(items.all(), AUTHORS, strict=True):
        expect(item).to_be_visible()
        expect(item).to_contain_text(author)
    expect(carousel.locator(".carousel__controls")).to_be_hidden()
    expect(carousel.get_by_role("button")).to_have_count(0)  # hidden ones are not counted
    screenshot(page, "article-nojs-390")


# --- The form ---------------------------------------------------------------------------


@pytest.mark.parametrize("width", JOURNEY_WIDTHS)
def test_apply_journey_from_error_to_thanks(open_page, live_server, screenshot, width):
    page = open_page(**viewport(width))
    page.goto("/")
    page.locator(".banner").get_by_role("link", name="Find your trial").click()
    expect(page).to_have_url(f"{live_server.url}/apply")
    expect(page.get_by_role("heading", level=1)).to_have_text("Find your trial")

    # A mistake only the server can see: the browser's own validation lets it through.
    typed_email = "Alex.Parent@Example.COM"
    fill_application(page, role=PATIENT, age="12", diagnosis="wilms", email=typed_email)
    send_application(page)

    expect(page).to_have_title(re.compile(r"^Error: "))
    summary = page.locator("[data-error-summary]")
    expect(summary).to_be_focused()
    assert page.evaluate("document.activeElement.hasAttribute('data-error-summary')")
    expect(summary).to_contain_text("There is a problem")
    expect(summary).to_contain_text(UNDER_18)
    expect(summary.get_by_role("link", name=re.compile(UNDER_18))).to_have_attribute(
        "href", "#patient_age"
    )
    age = page.get_by_label("How old is the patient?")
    expect(age).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#patient_age-error")).to_contain_text(UNDER_18)
    # Everything typed is still there.
    expect(age).to_have_value("12")
    expect(page.get_by_label("Your name")).to_have_value("Alex Example")
    expect(page.get_by_label("Your email address")).to_have_value(typed_email)
    expect(page.get_by_role("radio", name="The patient (18 or older)")).to_be_checked()
    expect(page.get_by_label("Diagnosis", exact=True)).to_have_value("wilms")
    expect(page.get_by_label("Country where the patient lives")).to_have_value("GB")
    expect(page.get_by_role("radio", name="Email", exact=True)).to_be_checked()
    expect(page.get_by_role("checkbox", name=re.compile(r"^I agree that"))).to_be_checked()
    screenshot(page, f"apply-error-{width}")
    assert rows(live_server.app, Lead) == []

    page.get_by_role("radio", name=PARENT).check()
    send_application(page)

    expect(page).to_have_url(f"{live_server.url}/apply/thanks")
    expect(page.get_by_role("heading", level=1)).to_have_text(THANKS)
    expect(page).to_have_title(re.compile(rf"^{THANKS}"))
    expect(page.locator(".steps")).to_contain_text("email you at Alex.Parent@example.com")
    screenshot(page, f"thanks-{width}")

    [lead] = rows(live_server.app, Lead)
    assert (lead.role, lead.patient_age, lead.diagnosis, lead.country) == (
        "parent",
        12,
        "wilms",
        "GB",
    )
    assert (lead.name, lead.email, lead.contact_method) == (
        "Alex Example",
        "Alex.Parent@example.com",  # the domain lower-cased, the local part kept
        "email",
    )
    assert lead.phone is None and lead.postal_code is None and lead.treatment_stage is None
    assert lead.updates_opt_in is False


@pytest.mark.parametrize("email", ["josé@example.com", "用户@例子.广告"])
def test_internationalized_email_is_accepted_end_to_end(open_page, live_server, email):
    page = open_page()
    page.goto("/apply")
    fill_application(page, email=email)
    field = page.get_by_label("Your email address")
    problem = field.evaluate("el => el.checkValidity() ? '' : el.validationMessage")
    assert problem == "", (
        f"Chromium blocks {email!r} in an input of type {field.get_attribute('type')!r}: {problem}"
    )
    send_application(page)

    expect(page).to_have_url(f"{live_server.url}/apply/thanks")
    expect(page.get_by_role("heading", level=1)).to_have_text(THANKS)
    expect(page.locator(".steps")).to_contain_text(f"email you at {email}")
    [lead] = rows(live_server.app, Lead)
    assert lead.email == email


# --- The apply flow by keyboard only -------------------------------------------------------

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
    screenshot(page, "keyboard-apply-error-1280")

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
    [lead] = rows(live_server.app, Lead)
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
    page.clock.fast_forward(60_000)
    page.clock.run_for(60_000)
    expect_slide(page, 1)
    expect(carousel).to_have_attribute("data-rotating", "false")
    assert len(AUTHORS) > 1  # so there was somewhere to move to
    screenshot(page, "article-reduced-motion-390")
