"""Playwright steps and page facts shared by the browser journeys and the state drivers
(``states.py``): answering the forms, signing in, the carousel on a paused clock, viewport
sizes. Plain functions; the fixtures are in ``conftest.py``."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pyotp
from flask import Flask
from playwright.sync_api import Page, expect

from microsite import mail
from tests.helpers import (
    STAFF_EMAIL,
    STAFF_PASSWORD,
    allow_code_again,
    create_staff_user,
    totp_code,
)

H1 = "Latest Clinical Research and Developments in Pediatric Cancer: A Global Perspective"
AUTHORS = ["Frank Kaons", "Doris Webber", "Fiona McClure", "Selena McGuaery"]
UNDER_18 = "please ask a parent or guardian to fill in this form"
THANKS = "Thank you: we have your application"
ROTATION_MS = 7_000

PARENT = "A parent or guardian of the patient"
PATIENT = "The patient (18 or older)"
APPLICANT = {"name": "Alex Example", "email": "alex@example.com"}
SENDER = "Robin Sender"
FRIEND = "Kim Friend"
FRIEND_EMAIL = "kim.friend@example.com"
SHARE_CONSENT = "I know this person and believe they would welcome this"

# The window heights that go with each width (phones, a tablet, a laptop).
HEIGHT = {320: 568, 390: 844, 768: 1024, 1280: 800}
# The journeys run on a phone and on a laptop.
JOURNEY_WIDTHS = [390, 1280]
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@dataclass
class LiveServer:
    """The app served on a real port, as http://localhost:<port> (the app's PUBLIC_URL
    too, so that mail links and the browser agree). ``url`` has no trailing slash."""

    url: str
    app: Flask

    @property
    def origin(self) -> tuple[str, str | None, int | None]:
        parts = urlsplit(self.url)
        return parts.scheme, parts.hostname, parts.port

    def is_same_origin(self, url: str) -> bool:
        parts = urlsplit(url)
        return (parts.scheme, parts.hostname, parts.port) == self.origin


def viewport(width: int) -> dict:
    """Context options for a window ``width`` CSS px wide."""
    return {"viewport": {"width": width, "height": HEIGHT[width]}}


def settle(page: Page) -> None:
    """Wait for the page's stylesheet and fonts. After a form is sent, the new page's text
    can be in the DOM before its stylesheet has loaded: measured then, a radio button is
    13 px, not 24."""
    page.wait_for_load_state("load")
    page.evaluate("document.fonts.ready.then(() => true)")


def expect_h1(page: Page, text: str | re.Pattern) -> None:
    expect(page.get_by_role("heading", level=1)).to_have_text(text)


# --- The forms ----------------------------------------------------------------------------


def fill_application(
    page: Page,
    *,
    role: str = PARENT,
    age: str = "7",
    diagnosis: str = "neuroblastoma",
    country: str = "GB",
    name: str = APPLICANT["name"],
    email: str = APPLICANT["email"],
) -> None:
    """Answer every question of /apply (validly, unless the answers say otherwise)."""
    page.get_by_role("radio", name=role, exact=True).check()
    page.get_by_label("How old is the patient?").fill(age)
    page.get_by_label("Diagnosis", exact=True).select_option(diagnosis)
    page.get_by_label("Country where the patient lives").select_option(country)
    page.get_by_label("Your name").fill(name)
    page.get_by_label("Your email address").fill(email)
    page.get_by_role("radio", name="Email", exact=True).check()
    page.get_by_role("checkbox", name=re.compile(r"^I agree that")).check()


def send_application(page: Page) -> None:
    page.get_by_role("button", name="Send my application").click()


def fill_share(
    page: Page, *, sender: str = SENDER, friend: str | None = FRIEND, email: str = FRIEND_EMAIL
) -> None:
    """Answer the questions of /share (the friend's name is optional: None leaves it)."""
    page.get_by_label("Your name").fill(sender)
    if friend is not None:
        page.get_by_label("Your friend’s name (optional)").fill(friend)
    page.get_by_label("Your friend’s email address").fill(email)
    page.get_by_role("checkbox", name=SHARE_CONSENT).check()


def send_share(page: Page) -> None:
    page.get_by_role("button", name="Send to my friend").click()


def send_unchecked(page: Page, button: str) -> None:
    """Send the page's form as it is, the browser's own checks off (as in a browser
    without them), so that only the server judges it."""
    page.locator("form.form").evaluate("form => { form.noValidate = true; }")
    page.get_by_role("button", name=button).click()


# --- Staff --------------------------------------------------------------------------------


def enter_password(page: Page, email: str = STAFF_EMAIL, password: str = STAFF_PASSWORD) -> None:
    """The first step, on the sign-in page, by keyboard: type the details, then Enter in
    the password. A right password leads to the second step (/staff/mfa), a wrong one
    back to the sign-in page."""
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_label("Password").press("Enter")


def enter_code(page: Page, app: Flask, email: str = STAFF_EMAIL) -> None:
    """The second step, on the challenge (/staff/mfa): the code of the member's
    authenticator app (``totp_code``), typed and sent with Enter. The step last used is
    forgotten first: a test signs the same member in many times within 30 seconds."""
    expect(page).to_have_url(re.compile(r"/staff/mfa$"))
    allow_code_again(app, email)
    code = page.get_by_label("Code from your authenticator app")
    code.fill(totp_code(email))
    code.press("Enter")


def sign_in(
    page: Page, app: Flask, email: str = STAFF_EMAIL, password: str = STAFF_PASSWORD
) -> None:
    """Both steps of signing in, from the sign-in page: the password, then the member's
    authenticator code. The page goes on to where the member was going (the dashboard,
    unless the sign-in page had a ``next``)."""
    enter_password(page, email, password)
    enter_code(page, app, email)


def sign_in_as_staff(page: Page, server: LiveServer) -> None:
    """Create the staff user, sign in through the form and land on the dashboard."""
    create_staff_user(server.app)
    page.goto("/staff/login")
    sign_in(page, server.app)
    expect(page).to_have_url(f"{server.url}/staff/")


def secret_shown(page: Page) -> str:
    """The authenticator-app key the set-up page shows as text (beside its QR code)."""
    return "".join(page.locator("code.secret").inner_text().split())


def enrol_app(page: Page, name: str = "Phone app") -> str:
    """On /staff/mfa/setup: add an authenticator app, as a person does with their phone
    (here, pyotp reads the key shown as text and makes the code). Returns the key."""
    secret = secret_shown(page)
    form = page.locator("form", has=page.get_by_role("button", name="Add the app"))
    form.get_by_label("Code from your authenticator app").fill(pyotp.TOTP(secret).now())
    form.locator("input[name=name]").fill(name)
    form.get_by_role("button", name="Add the app").click()
    return secret


def expect_recovery_codes(page: Page) -> list[str]:
    """The page of new recovery codes, shown once: ten of them, each 4 groups of 4 hex
    digits. Returns them."""
    expect_h1(page, "Your recovery codes")
    codes = page.locator(".recovery-codes code")
    expect(codes).to_have_count(10)
    found = codes.all_inner_texts()
    assert all(re.fullmatch(r"[0-9a-f]{4}(-[0-9a-f]{4}){3}", code) for code in found), found
    assert len(set(found)) == 10
    return found


# --- The carousel -------------------------------------------------------------------------


def with_paused_clock(page: Page) -> Page:
    """Fake timers, standing still until the test moves them."""
    page.clock.install(time=START)
    page.clock.pause_at(START + timedelta(seconds=1))
    return page


def expect_slide(page: Page, number: int) -> None:
    """Exactly one slide shows, the given one, and the position text agrees."""
    position = page.locator("[data-carousel-position]")
    expect(position).to_have_text(f"Testimonial {number} of {len(AUTHORS)}")
    slides = page.locator("[data-carousel] .carousel__slide:visible")
    expect(slides).to_have_count(1)
    expect(slides).to_contain_text(AUTHORS[number - 1])


MAIL_DEADLINE = 10  # seconds for the message sent after the response to reach the server


def received(smtp_server, app: Flask, address: str, number: int = 1):
    """The ``number``-th message the SMTP server (``smtp_server``, in a test marked
    ``real_smtp``) received for ``address``, waiting for the send the app makes once its
    response has gone (and sending what is still due)."""
    deadline = time.monotonic() + MAIL_DEADLINE
    while time.monotonic() < deadline:
        found = [message for _, to, message in smtp_server.messages if to == [address]]
        if len(found) >= number:
            return found[number - 1]
        with app.app_context():
            mail.send_due()
        time.sleep(0.1)
    raise AssertionError(f"no message {number} for {address} within {MAIL_DEADLINE} s")
