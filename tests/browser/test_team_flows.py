"""The team's flows in the real browser: an admin invites a member from the team page and
the member sets a password from the mail's link, sets up an authenticator app and saves
the recovery codes, landing on the dashboard as a navigator;
an admin sends a password-reset link and the member chooses a new password with it; and
sessions ended for real, with two browser contexts (one ends the other's session from the
account page) and a signed-out cookie replayed in a fresh context.

Mail goes to the real SMTP test server (``smtp_server``, aiosmtpd on loopback): this
module's ``make_app`` gives the live server MAIL_SERVER and MAIL_PORT, so the app sends the
invitation and the reset link over SMTP, as in production.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from microsite.models import AccessRecord, StaffFactor, StaffUser
from tests.helpers import STAFF_EMAIL, STAFF_PASSWORD, create_staff_user, rows

from .pages import (
    enrol_app,
    enter_code,
    enter_password,
    expect_h1,
    expect_recovery_codes,
    received,
    sign_in,
)

pytestmark = [pytest.mark.browser, pytest.mark.real_smtp]

NEWCOMER = "robin.newcomer@example.com"
NAVIGATOR = "sam.navigator@example.com"
NAVIGATOR_PASSWORD = "sam's long password"
NEW_PASSWORD = "correct horse battery staple"
FIREFOX_UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:140.0) Gecko/20100101 Firefox/140.0"


def link_in(message, live_server) -> str:
    """The set-password link, the same in the text and the HTML part."""
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    [link] = set(re.findall(re.escape(live_server.url) + r"/staff/set-password/[\w.-]+", text))
    assert f'href="{link}"' in html
    return link


def signed_in_page(open_page, live_server, email=STAFF_EMAIL, password=STAFF_PASSWORD, **options):
    page = open_page(**options)
    page.goto("/staff/login")
    sign_in(page, live_server.app, email, password)
    expect(page).to_have_url(f"{live_server.url}/staff/")
    return page


def nav(page: Page):
    return page.get_by_role("navigation", name="Staff")


def choose_password(page: Page, password: str = NEW_PASSWORD) -> None:
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_label("Type the new password again").fill(password)


def expect_sign_in_page(page: Page, live_server) -> None:
    expect_h1(page, "Staff sign in")
    assert page.url.startswith(f"{live_server.url}/staff/login")


# --- invitation ---------------------------------------------------------------------------


def test_an_invited_member_sets_a_password_and_an_authenticator_app_and_lands_on_the_dashboard(
    open_page, live_server, smtp_server, screenshot
):
    app = live_server.app
    create_staff_user(app)  # the team's first member: its admin
    admin = signed_in_page(open_page, live_server)

    nav(admin).get_by_role("link", name="Team").click()
    expect_h1(admin, "Team")
    form = admin.locator("form", has=admin.get_by_role("button", name="Send the invitation"))
    expect(form.get_by_label("Role")).to_have_value("navigator")
    expect(form.get_by_role("checkbox", name="English")).to_be_checked()
    form.get_by_label("Email address").fill(NEWCOMER)
    form.get_by_role("checkbox", name="Spanish").check()
    form.get_by_role("button", name="Send the invitation").click()
    expect(admin).to_have_url(f"{live_server.url}/staff/team")
    expect(admin.get_by_role("status")).to_contain_text(f"Invitation sent to {NEWCOMER}")
    row = admin.get_by_role("row", name=re.compile(re.escape(NEWCOMER)))
    expect(row).to_contain_text("Invited")
    expect(row).to_contain_text("English, Spanish")
    expect(row).to_contain_text("Never")
    screenshot(admin, "staff-team-1280")

    message = received(smtp_server, app, NEWCOMER)
    assert message["Subject"] == f"You are invited to the {app.config['ORG_NAME']} staff area"
    text = message.get_body(("plain",)).get_content()
    assert f"{STAFF_EMAIL} has invited you" in text and "72 hours" in text
    link = link_in(message, live_server)

    newcomer = open_page()
    newcomer.goto(link)
    expect_h1(newcomer, "Set your password")
    expect(newcomer.locator("#member-email")).to_have_text(NEWCOMER)  # shown, not typed
    expect(newcomer.locator('input[autocomplete="username"]')).to_have_value(NEWCOMER)
    choose_password(newcomer)
    screenshot(newcomer, "staff-set-password-1280")
    newcomer.get_by_role("button", name="Set my password").click()

    # The password alone opens nothing: first a second sign-in method, then the codes.
    expect(newcomer).to_have_url(f"{live_server.url}/staff/mfa/setup")
    expect_h1(newcomer, "Set up your second sign-in method")
    # The header offers nothing but Sign out before the set-up, and a page asked for by
    # address leads back to it.
    expect(nav(newcomer).get_by_role("link")).to_have_count(0)
    expect(nav(newcomer).get_by_role("button", name="Sign out")).to_be_visible()
    newcomer.goto("/staff/")
    expect(newcomer).to_have_url(f"{live_server.url}/staff/mfa/setup")
    secret = enrol_app(newcomer)
    expect_recovery_codes(newcomer)
    newcomer.get_by_role("link", name="I have saved them: go to the leads").click()
    expect(newcomer).to_have_url(f"{live_server.url}/staff/")
    expect_h1(newcomer, "Leads")
    expect(nav(newcomer).get_by_role("link", name="Account")).to_be_visible()
    expect(nav(newcomer).get_by_role("link", name="Team")).to_have_count(0)  # a navigator
    [member] = rows(app, StaffUser, StaffUser.email == NEWCOMER)
    assert (member.role, member.languages) == ("navigator", "en,es")
    [factor] = rows(app, StaffFactor, StaffFactor.staff_id == member.id)
    assert (factor.kind, factor.name) == ("totp", "Phone app")
    assert secret not in factor.totp_secret  # kept encrypted

    # The link worked once.
    again = open_page()
    response = again.goto(link)
    assert response is not None and response.status == 410
    expect_h1(again, "This link has been used already")
    expect(again.get_by_text("Ask an admin of your team to send you a new link")).to_be_visible()

    actions = [(r.actor, r.action, r.detail) for r in rows(app, AccessRecord)]
    assert actions == [
        (STAFF_EMAIL, "invite", NEWCOMER),
        (NEWCOMER, "password changed", NEWCOMER),
        (NEWCOMER, "factor added", "You added an authenticator app, “Phone app”."),
    ]


# --- password reset -----------------------------------------------------------------------


def test_a_member_chooses_a_new_password_from_a_reset_link(
    open_page, live_server, smtp_server, screenshot
):
    app = live_server.app
    create_staff_user(app)
    member_id = create_staff_user(app, NAVIGATOR, NAVIGATOR_PASSWORD, role="navigator")
    member_before = signed_in_page(open_page, live_server, NAVIGATOR, NAVIGATOR_PASSWORD)
    admin = signed_in_page(open_page, live_server)

    admin.goto("/staff/team")
    admin.get_by_role("link", name=NAVIGATOR).click()
    expect(admin).to_have_url(f"{live_server.url}/staff/team/{member_id}")
    expect_h1(admin, NAVIGATOR)
    admin.get_by_role("button", name="Send a password-reset link").click()
    expect(admin.get_by_role("status")).to_contain_text(
        f"Sent a password-reset link to {NAVIGATOR}"
    )
    screenshot(admin, "staff-team-member-1280")

    message = received(smtp_server, app, NAVIGATOR)
    text = message.get_body(("plain",)).get_content()
    assert f"{STAFF_EMAIL} has sent you a link" in text and "72 hours" in text
    link = link_in(message, live_server)

    page = open_page()
    page.goto(link)
    expect_h1(page, "Choose a new password")
    expect(page.locator("#member-email")).to_have_text(NAVIGATOR)
    # A mistake first: the two passwords differ. The page says so, and sends neither back.
    page.get_by_label("Password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Type the new password again").fill(NEW_PASSWORD + " oops")
    page.get_by_role("button", name="Save my new password").click()
    expect(page.locator("[data-error-summary]")).to_contain_text("are not the same")
    expect(page.get_by_label("Password", exact=True)).to_have_value("")
    choose_password(page)
    page.get_by_role("button", name="Save my new password").click()
    # The new password kept the member's authenticator app: it is asked for next.
    enter_code(page, app, NAVIGATOR)
    expect(page).to_have_url(f"{live_server.url}/staff/")
    expect_h1(page, "Leads")

    # The session from before the reset has ended; the new password signs in, the old not.
    member_before.reload()
    expect_sign_in_page(member_before, live_server)
    enter_password(member_before, NAVIGATOR, NAVIGATOR_PASSWORD)
    expect(member_before.get_by_role("region", name="There is a problem")).to_be_visible()
    sign_in(member_before, app, NAVIGATOR, NEW_PASSWORD)
    expect(member_before).to_have_url(f"{live_server.url}/staff/")

    assert open_page().goto(link).status == 410


# --- sessions ended for real ----------------------------------------------------------------


def test_a_session_ended_from_another_context_and_a_replayed_cookie_get_the_sign_in_page(
    open_page, live_server, screenshot
):
    app = live_server.app
    create_staff_user(app)
    a = signed_in_page(open_page, live_server, user_agent=FIREFOX_UA)
    b = signed_in_page(open_page, live_server)

    nav(b).get_by_role("link", name="Account").click()
    expect_h1(b, "Your account")
    sessions = b.get_by_role("region", name="Your open sessions").locator("tbody tr")
    expect(sessions).to_have_count(2)
    expect(sessions.first).to_contain_text("(this session)")
    expect(sessions.nth(1)).to_contain_text("Firefox on Windows")
    screenshot(b, "staff-account-1280")
    sessions.nth(1).get_by_role("button", name=re.compile(r"^End this session")).click()
    expect(b.get_by_role("status")).to_contain_text("That session has ended")
    expect(sessions).to_have_count(1)

    # A's next page load: the sign-in page.
    a.goto("/staff/")
    expect_sign_in_page(a, live_server)
    expect(nav(a)).to_have_count(0)

    # B signs out; its cookie, saved before, replayed in a fresh context signs nobody in.
    saved = b.context.cookies()
    assert any(cookie["name"] == "session" for cookie in saved)
    b.get_by_role("button", name="Sign out").click()
    expect_sign_in_page(b, live_server)
    replay = open_page()
    replay.context.add_cookies(saved)
    replay.goto("/staff/account")
    expect_sign_in_page(replay, live_server)
    expect(replay.get_by_text("Your open sessions")).to_have_count(0)

    assert [(r.action, r.detail) for r in rows(app, AccessRecord)] == [
        ("session ended", STAFF_EMAIL)
    ]
