"""A Spanish-speaking family's trial alerts in the real browser, from the box on /es/apply
to the one-click stop: the confirmation mail's link and its button turn the alerts on; a
trial that opens since is mailed to them by the alerts' search; from that mail's link they
change the travel distance and pause the alerts, and its List-Unsubscribe link stops
them, leaving the application as it was.

Mail goes to the real SMTP test server (``smtp_server``, aiosmtpd on loopback): this
module's ``make_app`` gives the live server MAIL_SERVER and MAIL_PORT, so the app sends
over SMTP, as in production. Spanish words are the catalog's translations of the English
ones (``states.spanish``).
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from microsite import alert_sending, alerts
from microsite.models import Lead, TrialAlert
from tests.helpers import add_trial, rows

from .pages import expect_h1, received, viewport
from .states import fill_application_es, send_form, spanish

pytestmark = [pytest.mark.browser, pytest.mark.real_smtp]

ADDRESS = "ana@example.com"  # fill_application_es


def mail_with_subject(smtp_server, app, subject: str, messages: int):
    """The one message with ``subject`` among the first ``messages`` sent to ADDRESS
    (waiting for them)."""
    received(smtp_server, app, ADDRESS, messages)
    mine = [message for _, to, message in smtp_server.messages if to == [ADDRESS]]
    [message] = [message for message in mine if message["Subject"] == subject]
    return message


def link_in(message, pattern: str) -> str:
    """The one link matching ``pattern``, the same in the text and the HTML part."""
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    [link] = set(re.findall(pattern, text))
    assert f'href="{link}"' in html
    return link


def expect_spanish_h1(page: Page, live_server, message: str) -> None:
    expect(page.locator("html")).to_have_attribute("lang", "es")
    expect_h1(page, spanish(live_server, message))


def alert_of(app) -> TrialAlert:
    [alert] = rows(app, TrialAlert)
    return alert


def test_a_family_confirms_changes_pauses_and_stops_their_alerts_in_spanish(
    open_page, live_server, smtp_server, screenshot
):
    app, url = live_server.app, re.escape(live_server.url)
    org = app.config["ORG_NAME"]
    page = open_page(**viewport(390))

    # The application, with the alerts box ticked: the thanks page asks to confirm.
    page.goto("/es/apply")
    fill_application_es(page)
    page.locator("#trial_alerts").check()
    send_form(page)
    expect(page).to_have_url(f"{live_server.url}/es/apply/thanks")
    confirm_heading = spanish(live_server, "Confirm your trial alerts")
    panel = page.get_by_role("status").filter(has=page.get_by_role("heading", name=confirm_heading))
    expect(panel).to_contain_text(ADDRESS)
    alert = alert_of(app)
    assert (alert.state, alert.consent_version) == ("pending", alerts.CONSENT["es"][0])

    # The confirmation mail (beside the application's own), in Spanish; its link shows a
    # button, and only the button turns the alerts on.
    subject = spanish(live_server, "Please confirm your trial alerts – %(org)s", org=org)
    confirmation = mail_with_subject(smtp_server, app, subject, messages=2)
    page.goto(link_in(confirmation, url + r"/es/alerts/confirm/[\w.-]+"))
    expect_spanish_h1(page, live_server, "Confirm your trial alerts")
    assert alert_of(app).state == "pending"
    page.get_by_role("button", name=spanish(live_server, "Yes, send me trial alerts")).click()
    expect_spanish_h1(page, live_server, "Your trial alerts are on")
    assert alert_of(app).state == "active"

    # A trial that opens after the application: the alerts' search mails it.
    add_trial(app, "NCT99990010", sites=[("GB", "RECRUITING", "Alder Hey", "Liverpool")])
    with app.app_context():
        assert alert_sending.send_alerts().queued == 1
    news = mail_with_subject(
        smtp_server, app, spanish(live_server, "New trials that may fit"), messages=3
    )
    assert "NCT99990010" in news.get_body(("plain",)).get_content()
    assert news["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    [stop_link] = re.findall(r"<(" + url + r"/es/alerts/stop/[\w.-]+)>", news["List-Unsubscribe"])

    # From the mail's link: a farther travel distance, saved; then the alerts paused.
    page.goto(link_in(news, url + r"/es/alerts/manage/[\w.-]+"))
    expect_spanish_h1(page, live_server, "Your trial alerts")
    page.locator('input[name="travel_distance"][value="400"]').check()
    page.get_by_role("button", name=spanish(live_server, "Save changes")).click()
    saved = spanish(
        live_server, "Your changes are saved. The next alerts look for trials from there."
    )
    expect(page.get_by_role("status")).to_have_text(saved)
    expect(page.locator('input[name="travel_distance"][value="400"]')).to_be_checked()
    [lead] = rows(app, Lead)
    assert lead.travel_distance == "400"

    page.get_by_role("button", name=spanish(live_server, "Pause alerts")).click()
    paused = spanish(
        live_server, "Your alerts are paused. Nothing more will be sent until you resume them."
    )
    expect(page.get_by_role("status")).to_have_text(paused)
    expect(page.get_by_role("button", name=spanish(live_server, "Resume alerts"))).to_be_visible()
    screenshot(page, "es-alerts-paused-390")
    assert alert_of(app).state == "paused"

    # The one-click stop link of the mail's List-Unsubscribe, opened in the browser.
    page.goto(stop_link)
    expect_spanish_h1(page, live_server, "Stop trial alerts")
    page.get_by_role("button", name=spanish(live_server, "Stop trial alerts")).click()
    expect_spanish_h1(page, live_server, "Your trial alerts are stopped")
    alert = alert_of(app)
    assert (alert.state, alert.stop_reason) == ("stopped", alerts.FAMILY)
    [lead] = rows(app, Lead)  # the application stays
    assert lead.status == "new"
