"""Sharing in the real browser: "Send this to a friend" from the article to the message
the friend receives, the personal link with its copy and share buttons (with and without
JavaScript), and a friend's click on /r/<code> that ends in an application counted to the
referral. A link preview or crawler (here: headless Chromium's own user agent) is no click.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Page, expect

from microsite.attribution import REFERRAL_COOKIE
from microsite.models import Lead, Referral
from tests.helpers import BROWSER_UA, rows

from .pages import (
    FRIEND,
    FRIEND_EMAIL,
    JOURNEY_WIDTHS,
    SENDER,
    SHARE_CONSENT,
    THANKS,
    fill_application,
    fill_share,
    send_application,
    send_share,
    viewport,
)

pytestmark = pytest.mark.browser

CLIPBOARD = ["clipboard-read", "clipboard-write"]
CODE = re.compile(r"/r/([A-Za-z0-9_-]{16})")
SENT = "Thank you for sharing"
COPIED = re.compile(r"^Link copied")
MAIL_SUBJECT = "Help finding a clinical trial"


# --- Helpers ----------------------------------------------------------------------------


def consent_box(page: Page):
    return page.get_by_role("checkbox", name=SHARE_CONSENT)


def share_from_scratch(page: Page, live_server, **answers) -> str:
    """Send the form on /share and return the personal link shown on /share/sent."""
    page.goto("/share")
    fill_share(page, **answers)
    send_share(page)
    expect(page).to_have_url(f"{live_server.url}/share/sent")
    expect(page.get_by_role("heading", level=1)).to_have_text(SENT)
    return personal_link(page, live_server)


def personal_link_pattern(live_server) -> re.Pattern:
    """A personal link: on PUBLIC_URL, which for the live server is its own origin."""
    public_url = live_server.app.config["PUBLIC_URL"]
    assert public_url == live_server.url
    return re.compile(rf"^{re.escape(public_url)}{CODE.pattern}$")


def personal_link(page: Page, live_server) -> str:
    field = page.locator("#personal-link")
    expect(field).to_have_value(personal_link_pattern(live_server))
    return field.input_value()


def code_of(link: str) -> str:
    return CODE.search(link)[1]


def stored_referral(live_server, code: str) -> Referral:
    found = rows(live_server.app, Referral, Referral.code == code)
    assert found, f"no referral with code {code}"
    return found[0]


def referral_cookie(page: Page) -> list[dict]:
    return [cookie for cookie in page.context.cookies() if cookie["name"] == REFERRAL_COOKIE]


def clipboard_text(page: Page) -> str:
    return page.evaluate("navigator.clipboard.readText()")


def expect_hidden_button(page: Page, name: str) -> None:
    """The button is in the page, left hidden by share.js (or by no script at all), and
    does not show."""
    button = page.get_by_role("button", name=name, include_hidden=True)
    expect(button).to_have_count(1)
    expect(button).to_have_attribute("hidden", "")
    expect(button).to_be_hidden()


def press_copy(page: Page, how: str) -> None:
    button = page.get_by_role("button", name="Copy link")
    expect(button).to_be_visible()
    if how == "click":
        button.click()
    else:  # a key press on the focused button, as a keyboard user would
        button.focus()
        expect(button).to_be_focused()
        page.keyboard.press(how)


# --- Sending it to a friend ----------------------------------------------------------------


@pytest.mark.parametrize("width", JOURNEY_WIDTHS)
def test_send_to_a_friend_from_the_article(open_page, live_server, screenshot, width):
    page = open_page(**viewport(width))
    page.goto("/")
    page.get_by_role("link", name="Send this to a friend").click()

    expect(page).to_have_url(f"{live_server.url}/share")
    expect(page.get_by_role("heading", level=1)).to_have_text("Send this to a friend")
    expect(page).to_have_title(re.compile(r"^Send this to a friend"))
    fill_share(page)
    screenshot(page, f"share-{width}")
    send_share(page)

    expect(page).to_have_url(f"{live_server.url}/share/sent")
    expect(page.get_by_role("heading", level=1)).to_have_text(SENT)
    expect(page).to_have_title(re.compile(rf"^{SENT}"))
    # On PUBLIC_URL, the live server's own origin; that it never comes from the Host
    # header is tested over HTTP with a forged one (tests/test_share.py).
    link = personal_link(page, live_server)
    screenshot(page, f"share-sent-{width}")

    [referral] = rows(live_server.app, Referral)
    stored = (
        referral.code,
        referral.sender_name,
        referral.friend_name,
        referral.friend_email,
        referral.clicks,
        referral.lead_id,
    )
    assert stored == (code_of(link), SENDER, FRIEND, FRIEND_EMAIL, 0, None)


def test_a_mistake_only_the_server_sees_keeps_everything_typed(open_page, live_server, screenshot):
    page = open_page(**viewport(390))
    page.goto("/share")
    # A text input, so Chromium lets it through; the server wants a dot in the domain.
    fill_share(page, email="kim@example")
    friend_email = page.get_by_label("Your friend’s email address")
    assert friend_email.evaluate("el => el.checkValidity()")
    send_share(page)

    expect(page).to_have_url(f"{live_server.url}/share")
    expect(page).to_have_title(re.compile(r"^Error: "))
    summary = page.locator("[data-error-summary]")
    expect(summary).to_be_focused()
    expect(summary).to_contain_text("There is a problem")
    problem = "Enter an email address like name@example.com."
    expect(summary.get_by_role("link", name=problem)).to_have_attribute("href", "#friend_email")
    expect(friend_email).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#friend_email-error")).to_contain_text(problem)
    # Everything typed is still there.
    expect(page.get_by_label("Your name")).to_have_value(SENDER)
    expect(page.get_by_label("Your friend’s name (optional)")).to_have_value(FRIEND)
    expect(friend_email).to_have_value("kim@example")
    expect(consent_box(page)).to_be_checked()
    screenshot(page, "share-error-390")
    assert rows(live_server.app, Referral) == []

    # The summary's link takes the visitor to the field; correcting it sends the form.
    summary.get_by_role("link", name=problem).click()
    expect(friend_email).to_be_focused()
    friend_email.fill(FRIEND_EMAIL)
    send_share(page)
    expect(page).to_have_url(f"{live_server.url}/share/sent")
    expect(page.get_by_role("heading", level=1)).to_have_text(SENT)


# --- The personal link ------------------------------------------------------------------


@pytest.mark.parametrize("how", ["click", "Enter", "Space"])
def test_copy_button_puts_the_link_on_the_clipboard(open_page, live_server, how):
    page = open_page(permissions=CLIPBOARD)
    link = share_from_scratch(page, live_server)
    assert page.evaluate("window.isSecureContext"), "http://localhost should be trustworthy"
    status = page.get_by_role("status")
    expect(status).to_have_text("")

    press_copy(page, how)

    expect(status).to_have_text(COPIED)
    assert clipboard_text(page) == link


@pytest.mark.parametrize(
    "native_share", [False, True], ids=["this-browser", "with-navigator-share"]
)
def test_share_button_shows_only_where_the_browser_can_share(open_page, live_server, native_share):
    page = open_page()
    if native_share:  # a browser with a share sheet: record what it was given
        page.add_init_script(
            "Navigator.prototype.share = function (data) {"
            " window.sharedData = data; return Promise.resolve(); };"
        )
    link = share_from_scratch(page, live_server)
    can_share = page.evaluate("typeof navigator.share === 'function'")
    assert can_share == native_share

    if not can_share:
        expect_hidden_button(page, "Share…")
        return
    button = page.get_by_role("button", name="Share…")
    expect(button).to_be_visible()
    button.click()
    shared = page.evaluate("window.sharedData")
    assert shared["url"] == link
    assert shared["title"] == live_server.app.config["ORG_NAME"]
    assert link in shared["text"]


def test_without_javascript_the_link_is_plain_selectable_text(open_page, live_server, screenshot):
    page = open_page(java_script_enabled=False, **viewport(390))
    link = share_from_scratch(page, live_server)
    screenshot(page, "share-sent-nojs-390")

    field = page.get_by_label("Your personal link")
    expect(field).to_be_visible()
    expect(field).to_have_value(link)
    expect(field).not_to_be_editable()  # readonly, yet it can be selected and copied
    field.click()
    page.keyboard.press("ControlOrMeta+A")
    selected = field.evaluate("el => el.value.slice(el.selectionStart, el.selectionEnd)")
    assert selected == link

    mailto = page.get_by_role("link", name="Send from my email")
    href = mailto.get_attribute("href")
    parts = urlsplit(href)
    assert (parts.scheme, parts.path) == ("mailto", "")
    query = parse_qs(parts.query, strict_parsing=True)
    assert query["subject"] == [MAIL_SUBJECT]
    [body] = query["body"]
    assert body.endswith(" " + link)

    for name in ("Copy link", "Share…"):
        expect_hidden_button(page, name)


def test_thanks_page_offers_a_personal_link_to_copy(open_page, live_server):
    page = open_page(permissions=CLIPBOARD)
    page.goto("/apply")
    fill_application(page)
    send_application(page)
    expect(page).to_have_url(f"{live_server.url}/apply/thanks")
    expect(page.get_by_role("heading", level=1)).to_have_text(THANKS)

    link = personal_link(page, live_server)
    press_copy(page, "click")
    expect(page.get_by_role("status")).to_have_text(COPIED)
    assert clipboard_text(page) == link

    [lead] = rows(live_server.app, Lead)
    referral = stored_referral(live_server, code_of(link))
    assert (referral.lead_id, referral.friend_email, referral.sender_name) == (
        lead.id,
        None,
        "Alex Example",
    )

    # Sending it to a friend from here starts with the applicant's name filled in.
    page.get_by_role("link", name="Send this to a friend").click()
    expect(page).to_have_url(f"{live_server.url}/share")
    expect(page.get_by_label("Your name")).to_have_value("Alex Example")


# --- The friend: the message, the click, the application ------------------------------------


def test_the_friend_gets_the_message_and_applying_after_the_click_counts(
    open_page, live_server, outbox
):
    sharer = open_page()
    link = share_from_scratch(sharer, live_server)
    code = code_of(link)

    [message] = outbox.drain()
    assert message["To"] == FRIEND_EMAIL
    assert message["Subject"] == "A friend thought this might help: finding a clinical trial"
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    assert f"{SENDER} asked" in text and f"{SENDER} asked" in html
    assert link in text.split() and f'href="{link}"' in html
    unsubscribe = re.fullmatch(
        rf"<({re.escape(live_server.url)}/unsubscribe/[^>\s]+)>", message["List-Unsubscribe"]
    )
    assert unsubscribe, message["List-Unsubscribe"]
    assert unsubscribe[1] in text
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    # The friend follows the link in a person's browser: one click, and a cookie to remember it.
    friend = open_page(user_agent=BROWSER_UA)
    assert "HeadlessChrome" not in friend.evaluate("navigator.userAgent")
    friend.goto(link)
    expect(friend).to_have_url(f"{live_server.url}/")
    expect(friend.get_by_role("heading", level=1)).to_be_visible()
    assert stored_referral(live_server, code).clicks == 1
    assert len(referral_cookie(friend)) == 1

    friend.locator(".banner").get_by_role("link", name="Find your trial").click()
    fill_application(friend, email="kim@example.com")
    send_application(friend)
    expect(friend).to_have_url(f"{live_server.url}/apply/thanks")
    [lead] = rows(live_server.app, Lead)
    referral = stored_referral(live_server, code)
    assert lead.referral_id == referral.id
    assert referral.clicks == 1

    # A link preview of the same link (headless Chromium's user agent) is no click.
    preview = open_page()
    assert "HeadlessChrome" in preview.evaluate("navigator.userAgent")
    preview.goto(link)
    expect(preview).to_have_url(f"{live_server.url}/")
    assert stored_referral(live_server, code).clicks == 1
    # Nothing more went to the friend; the applicant got only their confirmation.
    recipients = sorted(message["To"] for message in outbox.drain())
    assert recipients == sorted([FRIEND_EMAIL, lead.email])


def test_a_headless_browser_following_the_link_is_not_counted(open_page, live_server):
    link = share_from_scratch(open_page(), live_server)
    code = code_of(link)

    page = open_page()  # Playwright's default: "HeadlessChrome", a crawler to crawlerdetect
    assert "HeadlessChrome" in page.evaluate("navigator.userAgent")
    page.goto(link)
    expect(page).to_have_url(f"{live_server.url}/")
    assert stored_referral(live_server, code).clicks == 0
    assert referral_cookie(page) == []

    page.goto("/apply")
    fill_application(page)
    send_application(page)
    expect(page).to_have_url(f"{live_server.url}/apply/thanks")
    [lead] = rows(live_server.app, Lead)
    assert lead.referral_id is None
    referral = stored_referral(live_server, code)
    assert (referral.clicks, referral.first_click_at) == (0, None)
