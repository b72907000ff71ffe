"""A Spanish-speaking family's journey in the real browser: "Find your trial" at /es/apply,
from a mistake only the server sees (the errors in Spanish, everything typed kept) to the
Spanish thank-you page, the lead stored in Spanish and its confirmation in Spanish; and a
friend told in Spanish, whose link lands on the Spanish article.

Mail goes to the real SMTP test server (``smtp_server``, aiosmtpd on loopback): this
module's ``make_app`` gives the live server MAIL_SERVER and MAIL_PORT, so the app sends
over SMTP, as in production, rather than writing the outbox files of the other journeys.
Spanish words are the catalog's translations of the English ones (``states.spanish``).
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from microsite import leads
from microsite.models import Lead, Referral
from tests.helpers import BROWSER_UA, rows

from .pages import received, viewport
from .states import fill_application_es, send_form, spanish

pytestmark = [pytest.mark.browser, pytest.mark.real_smtp]


def bodies(message) -> tuple[str, str]:
    return (
        message.get_body(("plain",)).get_content(),
        message.get_body(("html",)).get_content(),
    )


def test_applying_in_spanish_from_an_error_to_the_thanks_page_and_the_mail(
    open_page, live_server, smtp_server, screenshot
):
    app = live_server.app
    page = open_page(**viewport(390))
    page.goto("/es/")
    expect(page.locator("html")).to_have_attribute("lang", "es")
    page.locator(".banner").get_by_role(
        "link", name=spanish(live_server, "Find your trial")
    ).click()
    expect(page).to_have_url(f"{live_server.url}/es/apply")

    # Two mistakes only the server sees: a patient of 12, and an address with no domain.
    fill_application_es(page)
    page.locator('input[name="role"][value="patient"]').check()
    page.locator("#patient_age").fill("12")
    page.locator("#email").fill("ana@example")
    send_form(page)

    expect(page).to_have_url(f"{live_server.url}/es/apply")
    expect(page.locator("html")).to_have_attribute("lang", "es")
    summary = page.locator("[data-error-summary]")
    expect(summary).to_be_focused()
    expect(summary).to_contain_text(spanish(live_server, "There is a problem"))
    under_18 = spanish(
        live_server,
        "If you are under 18, please ask a parent or guardian to fill in this form with you.",
    )
    expect(page.locator("#patient_age-error")).to_contain_text(under_18)
    email_message = spanish(live_server, "Enter an email address like name@example.com.")
    expect(page.locator("#email-error")).to_contain_text(email_message)
    expect(summary.get_by_role("link", name=email_message)).to_have_attribute("href", "#email")
    expect(page.locator("#patient_age")).to_have_attribute("aria-invalid", "true")
    for field, value in [
        ("#patient_age", "12"),
        ("#email", "ana@example"),
        ("#name", "Ana Ejemplo"),
        ("#diagnosis", "neuroblastoma"),
        ("#country", "GB"),
    ]:
        expect(page.locator(field)).to_have_value(value)
    expect(page.locator('input[name="role"][value="patient"]')).to_be_checked()
    expect(page.locator('input[name="contact_method"][value="email"]')).to_be_checked()
    expect(page.locator("#consent")).to_be_checked()
    screenshot(page, "es-apply-error-390")
    assert rows(app, Lead) == []

    # Put right: a parent fills it in (the patient is 12), with the whole address.
    page.locator('input[name="role"][value="parent"]').check()
    page.locator("#email").fill("ana@example.com")
    send_form(page)
    expect(page).to_have_url(f"{live_server.url}/es/apply/thanks")
    expect(page.locator("html")).to_have_attribute("lang", "es")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        spanish(live_server, "Thank you: we have your application")
    )
    expect(page.locator("main")).to_contain_text("ana@example.com")
    screenshot(page, "es-thanks-390")

    [lead] = rows(app, Lead)
    assert (lead.language, lead.consent_version) == ("es", leads.CONSENT["es"][0])
    assert (lead.email, lead.role, lead.patient_age) == ("ana@example.com", "parent", 12)

    message = received(smtp_server, app, "ana@example.com")
    org = app.config["ORG_NAME"]
    subject = spanish(live_server, "We have your request – %(org)s", org=org)
    assert message["Subject"] == subject != f"We have your request – {org}"
    text, html = bodies(message)
    withdraw = re.escape(live_server.url) + r"/es/withdraw/[A-Za-z0-9._-]+"
    [link] = set(re.findall(withdraw, text))
    assert f'href="{link}"' in html
    assert f"{live_server.url}/withdraw/" not in text + html

    # The mail's link opens the Spanish page to withdraw.
    page.goto(link)
    expect(page.locator("html")).to_have_attribute("lang", "es")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        spanish(live_server, "Withdraw your request")
    )


def test_a_friend_told_in_spanish_lands_on_the_spanish_article(open_page, live_server, smtp_server):
    app = live_server.app
    page = open_page()
    page.goto("/es/share")
    expect(page.locator("html")).to_have_attribute("lang", "es")
    page.locator("#sender_name").fill("Ana Ejemplo")
    page.locator("#friend_name").fill("Luz Amiga")
    page.locator("#friend_email").fill("luz@example.com")
    page.locator("#consent").check()
    send_form(page)
    expect(page).to_have_url(f"{live_server.url}/es/share/sent")
    expect(page.locator("html")).to_have_attribute("lang", "es")

    [referral] = rows(app, Referral)
    assert referral.language == "es"
    message = received(smtp_server, app, "luz@example.com")
    assert message["Subject"] == spanish(
        live_server, "A friend thought this might help: finding a clinical trial"
    )
    assert f"{live_server.url}/es/unsubscribe/" in message["List-Unsubscribe"]
    text, _ = bodies(message)
    [link] = set(re.findall(re.escape(live_server.url) + r"/r/[A-Za-z0-9_-]+", text))

    friend = open_page(user_agent=BROWSER_UA)  # a person's browser: the click counts
    friend.goto(link)
    expect(friend).to_have_url(f"{live_server.url}/es/")
    expect(friend.locator("html")).to_have_attribute("lang", "es")
    expect(friend.get_by_role("heading", level=1)).to_be_visible()
    [referral] = rows(app, Referral)
    assert referral.clicks == 1
