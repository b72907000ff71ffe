"""Page states of the trial alerts (issue 16), registered in the catalogue of ``states.py``
(which imports this module at its end), so that ``test_page_states.py`` runs every check on
each of them: the thanks page asking to confirm, the confirmation link's pages (its
button, done, used, expired, broken), the manage page in each state of the alerts, with
its errors and its saved message, the one-click stop page, and the staff's "New matches"
and the lead page's "Trial alerts".

Every public page is registered twice, as ``<name>`` in English and ``es-<name>`` in
Spanish (``in_both_languages``): the same driver, given the language, reaches the page
under /es/ by field names and button values, and expects the catalog's Spanish for each
English heading (``states.spanish``), so a page left in English does not reach its
Spanish state. Staff pages are English only.

The alerts are made through the app (``microsite.alerts``: opt_in, confirm, pause, stop,
the tokens), and the staff's matches by the alerts' own search
(``alert_sending.send_alerts``), as ``flask alerts send`` runs it."""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from itsdangerous.timed import TimestampSigner
from playwright.sync_api import Page, expect

from microsite import alert_sending, alerts
from microsite.extensions import db
from microsite.models import Lead
from tests.helpers import add_lead, add_trial

from .pages import LiveServer, expect_h1, fill_application, send_application, sign_in_as_staff
from .states import MAYA, add_trials, fill_application_es, page_state_driver, send_form, spanish

# A family in Chicago who asked for alerts, within 100 miles of their ZIP code.
FAMILY = {
    "name": "Lucía Romero",
    "email": "lucia.romero@example.com",
    "diagnosis": "neuroblastoma",
    "country": "US",
    "postal_code": "60637",
    "travel_distance": "160",
    "patient_age": 6,
}
# A paste gone wrong: a line separator (U+2028) from a document, inside the ZIP code.
PASTED_POSTAL_CODE = "606\u202837"


@dataclass(frozen=True)
class Language:
    """The language a state is reached in: its paths and its words."""

    code: str
    server: LiveServer

    def path(self, path: str) -> str:
        return f"/es{path}" if self.code == "es" else path

    def words(self, message: str, **values) -> str:
        """The page's words for the English ``message``: the catalog's Spanish in Spanish
        (failing when there is none)."""
        if self.code == "es":
            return spanish(self.server, message, **values)
        return message % values if values else message

    def expect_h1(self, page: Page, message: str) -> None:
        expect(page.locator("html")).to_have_attribute("lang", self.code)
        expect_h1(page, self.words(message))


LanguageDriver = Callable[[Page, LiveServer, object, Language], None]


def in_both_languages(name: str, status: int = 200) -> Callable[[LanguageDriver], LanguageDriver]:
    """Register ``drive`` as the state ``name`` in English and ``es-name`` in Spanish; it
    is called with the ``Language`` as its fourth argument."""

    def register(drive: LanguageDriver) -> LanguageDriver:
        for code, prefix in (("en", ""), ("es", "es-")):

            def in_language(page, server, monkeypatch, code=code):
                drive(page, server, monkeypatch, Language(code, server))

            functools.update_wrapper(in_language, drive)
            page_state_driver(prefix + name, status)(in_language)
        return drive

    return register


# --- The family's alerts, made through the app ----------------------------------------------


def _family_alert(server: LiveServer, language: Language, *changes) -> dict[str, str]:
    """The family's lead in ``language`` with a pending alert, then each of ``changes``
    (alerts.confirm, alerts.pause, alerts.stop...) applied to it in turn; the paths of its
    manage and stop pages and of its confirmation link, as the mails give them."""
    lead_id = add_lead(server.app, **FAMILY, language=language.code)
    with server.app.app_context():
        lead = db.session.get(Lead, lead_id)
        alert = alerts.opt_in(lead)
        db.session.flush()
        confirm = alerts.confirm_token(alert)
        for change in changes:
            change(alert)
        db.session.commit()
        manage = alerts.manage_token(lead)
    return {
        "manage": language.path(f"/alerts/manage/{manage}"),
        "stop": language.path(f"/alerts/stop/{manage}"),
        "confirm": language.path(f"/alerts/confirm/{confirm}"),
    }


def _confirmation_signed_ago(server, language: Language, monkeypatch, seconds: int) -> str:
    """The path of a confirmation link signed ``seconds`` ago."""
    then = int(time.time()) - seconds
    with monkeypatch.context() as patch:
        patch.setattr(TimestampSigner, "get_timestamp", lambda self: then)
        return _family_alert(server, language)["confirm"]


def _button(page: Page, language: Language, message: str):
    return page.get_by_role("button", name=language.words(message), exact=True)


# --- The thanks page ------------------------------------------------------------------------


@in_both_languages("thanks-with-alerts")
def _to_thanks_with_alerts(page, server, monkeypatch, language):
    page.goto(language.path("/apply"))
    if language.code == "es":
        fill_application_es(page)
        page.locator("#trial_alerts").check()
        send_form(page)
    else:
        fill_application(page)
        page.get_by_role("checkbox", name="Email me when a new trial that may fit opens").check()
        send_application(page)
    expect(page).to_have_url(f"{server.url}{language.path('/apply/thanks')}")
    language.expect_h1(page, "Thank you: we have your application")
    panel = page.get_by_role("status").filter(
        has=page.get_by_role("heading", name=language.words("Confirm your trial alerts"))
    )
    expect(panel).to_be_visible()


# --- The confirmation link ------------------------------------------------------------------


@in_both_languages("alerts-confirm")
def _to_alerts_confirm(page, server, monkeypatch, language):
    page.goto(_family_alert(server, language)["confirm"])
    language.expect_h1(page, "Confirm your trial alerts")
    expect(_button(page, language, "Yes, send me trial alerts")).to_be_visible()


@in_both_languages("alerts-confirmed")
def _to_alerts_confirmed(page, server, monkeypatch, language):
    page.goto(_family_alert(server, language)["confirm"])
    _button(page, language, "Yes, send me trial alerts").click()
    language.expect_h1(page, "Your trial alerts are on")


@in_both_languages("alerts-confirm-used")
def _to_alerts_confirm_used(page, server, monkeypatch, language):
    paths = _family_alert(server, language, alerts.confirm)
    page.goto(paths["confirm"])
    language.expect_h1(page, "This link has been used")
    expect(page.locator(f'main a[href="{paths["manage"]}"]')).to_be_visible()


@in_both_languages("alerts-confirm-expired", 410)
def _to_alerts_confirm_expired(page, server, monkeypatch, language):
    eight_days = 8 * 24 * 3600
    page.goto(_confirmation_signed_ago(server, language, monkeypatch, eight_days))
    language.expect_h1(page, "This link has expired")


@in_both_languages("alerts-confirm-broken-link", 404)
def _to_alerts_confirm_broken_link(page, server, monkeypatch, language):
    page.goto(language.path("/alerts/confirm/not-a-token"))
    language.expect_h1(page, "This link does not work")


# --- The manage page ------------------------------------------------------------------------


def _manage_page(page: Page, server, language: Language, *changes) -> None:
    page.goto(_family_alert(server, language, *changes)["manage"])
    language.expect_h1(page, "Your trial alerts")


@in_both_languages("alerts-manage-active")
def _to_alerts_manage_active(page, server, monkeypatch, language):
    _manage_page(page, server, language, alerts.confirm)
    expect(_button(page, language, "Pause alerts")).to_be_visible()
    expect(page.locator("#postal_code")).to_have_value(FAMILY["postal_code"])


@in_both_languages("alerts-manage-paused")
def _to_alerts_manage_paused(page, server, monkeypatch, language):
    _manage_page(page, server, language, alerts.confirm, alerts.pause)
    expect(_button(page, language, "Resume alerts")).to_be_visible()


@in_both_languages("alerts-manage-pending")
def _to_alerts_manage_pending(page, server, monkeypatch, language):
    _manage_page(page, server, language)
    pending = "Alerts start once you follow the link in the email we sent you."
    expect(page.locator(".alert-state")).to_have_text(language.words(pending))


@in_both_languages("alerts-manage-stopped")
def _to_alerts_manage_stopped(page, server, monkeypatch, language):
    _manage_page(page, server, language, alerts.confirm, alerts.stop)
    expect(_button(page, language, "Turn alerts on again")).to_be_visible()
    expect(page.locator("#postal_code")).to_have_count(0)


@in_both_languages("alerts-manage-errors", 422)
def _to_alerts_manage_errors(page, server, monkeypatch, language):
    _manage_page(page, server, language, alerts.confirm)
    page.locator("#postal_code").fill(PASTED_POSTAL_CODE)
    page.locator('button[name="action"][value="save"]').click()
    expect(page).to_have_title(re.compile(r"^Error: "))  # the same in Spanish
    expect(page.locator("[data-error-summary]")).to_be_focused()
    refused = language.words("Remove the special characters from this answer.")
    expect(page.locator("#postal_code-error")).to_contain_text(refused)
    expect(page.locator("#postal_code")).to_have_value(PASTED_POSTAL_CODE)


@in_both_languages("alerts-manage-saved")
def _to_alerts_manage_saved(page, server, monkeypatch, language):
    _manage_page(page, server, language, alerts.confirm)
    page.locator("#postal_code").fill("60615")
    page.locator('input[name="travel_distance"][value="400"]').check()
    page.locator('button[name="action"][value="save"]').click()
    saved = "Your changes are saved. The next alerts look for trials from there."
    expect(page.get_by_role("status")).to_have_text(language.words(saved))
    expect(page.locator("#postal_code")).to_have_value("60615")


@in_both_languages("alerts-manage-broken-link", 404)
def _to_alerts_manage_broken_link(page, server, monkeypatch, language):
    page.goto(language.path("/alerts/manage/not-a-token"))
    language.expect_h1(page, "This link does not work")


# --- The one-click stop page ----------------------------------------------------------------


@in_both_languages("alerts-stop")
def _to_alerts_stop(page, server, monkeypatch, language):
    page.goto(_family_alert(server, language, alerts.confirm)["stop"])
    language.expect_h1(page, "Stop trial alerts")
    expect(_button(page, language, "Stop trial alerts")).to_be_visible()


@in_both_languages("alerts-stopped")
def _to_alerts_stopped(page, server, monkeypatch, language):
    page.goto(_family_alert(server, language, alerts.confirm)["stop"])
    _button(page, language, "Stop trial alerts").click()
    language.expect_h1(page, "Your trial alerts are stopped")


@in_both_languages("alerts-stop-broken-link", 404)
def _to_alerts_stop_broken_link(page, server, monkeypatch, language):
    page.goto(language.path("/alerts/stop/not-a-token"))
    language.expect_h1(page, "This link does not work")


# --- Staff: what the alerts' search found ---------------------------------------------------

TOMAS = {"name": "Tomás Herrera", "email": "tomas.herrera@example.com"}  # Maya's, no alerts


def _found_by_the_alerts(server: LiveServer) -> int:
    """Two runs of the alerts' search: Maya's active alerts mail her the two recruiting
    trials there are; then, her alerts paused, a trial that opened since is found for
    staff but not mailed. Tomás, who asked for no alerts, has all three found. Returns
    Maya's lead id."""
    add_trials(server, "SE")
    maya = add_lead(server.app, **MAYA)
    add_lead(server.app, **{**MAYA, **TOMAS})
    with server.app.app_context():
        alert = alerts.opt_in(db.session.get(Lead, maya))
        alerts.confirm(alert)
        db.session.commit()
        assert alert_sending.send_alerts().queued == 1
    add_trial(
        server.app,
        "NCT99990004",
        title="Haploidentical Stem Cell Transplant With Natural Killer Cell Infusion "
        "for Relapsed Neuroblastoma",
        sites=[("SE", "RECRUITING", "Skåne University Hospital", "Lund")],
    )
    with server.app.app_context():
        alerts.pause(alerts.for_lead(maya))
        db.session.commit()
        assert alert_sending.send_alerts().found == 2
    return maya


@page_state_driver("staff-dashboard-new-matches")
def _to_staff_dashboard_new_matches(page, server, monkeypatch):
    _found_by_the_alerts(server)
    sign_in_as_staff(page, server)
    new_matches = page.get_by_role("region", name="New matches")
    expect(new_matches.locator("tbody tr")).to_have_count(2)
    expect(new_matches.get_by_role("button", name=f"Reviewed: {MAYA['name']}")).to_be_visible()


@page_state_driver("staff-lead-alerts")
def _to_staff_lead_alerts(page, server, monkeypatch):
    maya = _found_by_the_alerts(server)
    sign_in_as_staff(page, server)
    page.goto(f"/staff/leads/{maya}#alerts")
    section = page.get_by_role("region", name="Trial alerts")
    expect(section.locator("dl")).to_contain_text("Paused by the family")
    found = section.get_by_role("region", name="Trials found by the alerts search")
    expect(found.locator("tbody tr")).to_have_count(3)
    opened_since = found.locator("tbody tr", has_text="NCT99990004")
    expect(opened_since.locator("th")).to_contain_text("new")
    expect(opened_since.locator("td").last).to_have_text("No")  # not mailed: paused
    mailed = found.locator("tbody tr", has_text="NCT99990001").locator("td").last
    expect(mailed).not_to_have_text("No")  # a time: mailed on the first run
