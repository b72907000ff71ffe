"""A visitor's journey through the real browser: the article, its testimonial carousel
(by keyboard, on a fake clock, with reduced motion, without JavaScript) and the
"Find your trial" form, from a server-side error to the thank-you page and the stored lead.

Time never passes for real: every carousel test installs Playwright's clock, paused, before
the page loads, and moves it on by hand.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

H1 = "Latest Clinical Research and Developments in Pediatric Cancer: A Global Perspective"
AUTHORS = ["Frank Kaons", "Doris Webber", "Fiona McClure", "Selena McGuaery"]
UNDER_18 = "please ask a parent or guardian to fill in this form"
THANKS = "Thank you: we have your application"
ROTATION_MS = 7_000

WIDTHS = [390, 1280]
HEIGHT = {390: 844, 1280: 800}
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def viewport(width: int) -> dict:
    return {"viewport": {"width": width, "height": HEIGHT[width]}}


def with_paused_clock(page: Page) -> Page:
    """Fake timers, standing still until the test moves them."""
    page.clock.install(time=START)
    page.clock.pause_at(START + timedelta(seconds=1))
    return page


def position(page: Page):
    return page.locator("[data-carousel-position]")


def visible_slides(page: Page):
    return page.locator("[data-carousel] .carousel__slide:visible")


def expect_slide(page: Page, number: int) -> None:
    """Exactly one slide shows, the given one, and the position text agrees."""
    expect(position(page)).to_have_text(f"Testimonial {number} of {len(AUTHORS)}")
    expect(visible_slides(page)).to_have_count(1)
    expect(visible_slides(page)).to_contain_text(AUTHORS[number - 1])


# --- The article ------------------------------------------------------------------------


@pytest.mark.parametrize("width", WIDTHS)
def test_article_has_one_h1_and_a_banner_link_to_the_form(open_page, screenshot, width):
    page = open_page(**viewport(width))
    page.goto("/")

    expect(page.locator("h1")).to_have_count(1)
    expect(page.get_by_role("heading", level=1)).to_have_text(H1)
    banner_link = page.locator(".banner").get_by_role("link", name="Find your trial")
    expect(banner_link).to_have_attribute("href", "/apply")
    screenshot(page, f"article-{width}")


# --- The carousel -----------------------------------------------------------------------


@pytest.mark.parametrize("width", WIDTHS)
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


def test_carousel_never_moves_by_itself_with_reduced_motion(open_page):
    page = with_paused_clock(open_page(reduced_motion="reduce"))
    page.goto("/")
    carousel = page.locator("[data-carousel]")

    expect(carousel.locator("[data-carousel-rotation]")).to_have_text("Play")
    expect(carousel).to_have_attribute("data-rotating", "false")
    expect_slide(page, 1)
    page.clock.fast_forward(60_000)
    page.clock.run_for(60_000)
    expect_slide(page, 1)


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


def fill_application(page: Page, *, role: str, email: str) -> None:
    page.get_by_role("radio", name=role, exact=True).check()
    page.get_by_label("How old is the patient?").fill("12")
    page.get_by_label("Diagnosis", exact=True).select_option("wilms")
    page.get_by_label("Country where the patient lives").select_option("GB")
    page.get_by_label("Your name").fill("Alex Example")
    page.get_by_label("Your email address").fill(email)
    page.get_by_role("radio", name="Email", exact=True).check()
    page.get_by_role("checkbox", name=re.compile(r"^I agree that")).check()


def send(page: Page) -> None:
    page.get_by_role("button", name="Send my application").click()


@pytest.mark.parametrize("width", WIDTHS)
def test_apply_journey_from_error_to_thanks(open_page, live_server, screenshot, width):
    page = open_page(**viewport(width))
    page.goto("/")
    page.locator(".banner").get_by_role("link", name="Find your trial").click()
    expect(page).to_have_url(f"{live_server.url}/apply")
    expect(page.get_by_role("heading", level=1)).to_have_text("Find your trial")

    # A mistake only the server can see: the browser's own validation lets it through.
    typed_email = "Alex.Parent@Example.COM"
    fill_application(page, role="The patient (18 or older)", email=typed_email)
    send(page)

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
    assert live_server.leads() == []

    page.get_by_role("radio", name="A parent or guardian of the patient").check()
    send(page)

    expect(page).to_have_url(f"{live_server.url}/apply/thanks")
    expect(page.get_by_role("heading", level=1)).to_have_text(THANKS)
    expect(page).to_have_title(re.compile(rf"^{THANKS}"))
    expect(page.locator(".steps")).to_contain_text("email you at Alex.Parent@example.com")
    screenshot(page, f"thanks-{width}")

    [lead] = live_server.leads()
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
    fill_application(page, role="A parent or guardian of the patient", email=email)
    field = page.get_by_label("Your email address")
    problem = field.evaluate("el => el.checkValidity() ? '' : el.validationMessage")
    assert problem == "", (
        f"Chromium blocks {email!r} in an input of type {field.get_attribute('type')!r}: {problem}"
    )
    send(page)

    expect(page).to_have_url(f"{live_server.url}/apply/thanks")
    expect(page.get_by_role("heading", level=1)).to_have_text(THANKS)
    expect(page.locator(".steps")).to_contain_text(f"email you at {email}")
    [lead] = live_server.leads()
    assert lead.email == email
