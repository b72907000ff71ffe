"""The catalogue of page states: every page of the site in each of its states, and how a
browser gets there.

A state is one driver function, registered by name with the status its last document must
answer::

    @page_state_driver("share-errors", 422)
    def _to_share_errors(page, server, monkeypatch):
        page.goto("/share")
        send_unchecked(page, "Send to my friend")
        expect(page).to_have_title(re.compile(r"^Error: "))

``page`` is a fresh page of the default size whose base URL is the live server
(``server``: its ``url`` and ``app``); ``monkeypatch`` undoes whatever the driver changes
on the app. The driver ends with an ``expect`` that the state is reached. Nothing else is
needed: ``test_page_states.py`` visits every registered state once and runs every check on
it (axe-core, the Nu HTML Checker, inline code, console, the layout at 320, 390, 768 and
1280 px and at 200% zoom, requests staying on the site).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from microsite import erasure, suppression
from microsite.extensions import db
from microsite.models import (
    Lead,
    OutboxMessage,
    PostalPlace,
    Testimonial,
    Trial,
    TrialContact,
    TrialImport,
    TrialSite,
    utcnow,
)
from microsite.trials import matching, synonyms
from tests.helpers import add_lead

from .pages import (
    FRIEND_EMAIL,
    LiveServer,
    enter_password,
    expect_h1,
    fill_application,
    fill_share,
    send_application,
    send_share,
    send_unchecked,
    sign_in_as_staff,
)

StateDriver = Callable[[Page, LiveServer, pytest.MonkeyPatch], None]


@dataclass(frozen=True)
class RegisteredState:
    drive: StateDriver
    status: int  # the status the state's last document answers


PAGE_STATES: dict[str, RegisteredState] = {}


def page_state_driver(name: str, status: int = 200) -> Callable[[StateDriver], StateDriver]:
    """Register ``drive`` as the way to the state ``name``, whose document answers
    ``status``."""

    def register(drive: StateDriver) -> StateDriver:
        if name in PAGE_STATES:
            raise ValueError(f"two drivers for the page state {name!r}")
        PAGE_STATES[name] = RegisteredState(drive, status)
        return drive

    return register


# The lead that staff pages show: a neuroblastoma patient of 6 in Sweden.
MAYA = {
    "name": "Maya Lindqvist",
    "email": "maya.lindqvist@example.com",
    "diagnosis": "neuroblastoma",
    "country": "SE",
    "patient_age": 6,
}


# The article


@page_state_driver("article-rotating")
def _to_article_rotating(page, server, monkeypatch):
    # Real time (axe-core waits on timers, so a paused clock would stop it too): a slide
    # may change while a test looks, as it would for a visitor.
    page.goto("/")
    expect(page.locator("[data-carousel]")).to_have_attribute("data-rotating", "true")


@page_state_driver("article-paused")
def _to_article_paused(page, server, monkeypatch):
    page.goto("/")
    carousel = page.locator("[data-carousel]")
    carousel.get_by_role("button", name="Pause").click()
    carousel.get_by_role("button", name="Next testimonial").click()
    expect(carousel.locator("[data-carousel-rotation]")).to_have_text("Play")
    position = carousel.locator("[data-carousel-position]")
    expect(position).to_have_text(re.compile(r"^Testimonial 2 of"))
    expect(carousel).to_have_attribute("data-rotating", "false")


# Find your trial


@page_state_driver("apply-empty")
def _to_apply_empty(page, server, monkeypatch):
    page.goto("/apply")
    expect_h1(page, "Find your trial")


def _sent_empty(page: Page, path: str, button: str) -> None:
    """The form at ``path`` sent as it is, empty, for the server to turn down."""
    page.goto(path)
    send_unchecked(page, button)
    expect(page).to_have_title(re.compile(r"^Error: "))
    expect(page.locator("[data-error-summary]")).to_be_focused()


def _sent_after_the_session_ended(page: Page, path: str, fill, button: str) -> None:
    """The form at ``path`` filled in, then sent once the session (and with it the form's
    token) is gone: the answers come back with a request to press the button again."""
    page.goto(path)
    fill(page)
    page.context.clear_cookies()
    page.get_by_role("button", name=button).click()
    expect(page.locator("[data-error-summary]")).to_be_focused()
    again = page.get_by_role("heading", name=f"Please press “{button}” again")
    expect(again).to_be_visible()


@page_state_driver("apply-errors", 422)
def _to_apply_errors(page, server, monkeypatch):
    _sent_empty(page, "/apply", "Send my application")


@page_state_driver("apply-expired-token", 400)
def _to_apply_expired_token(page, server, monkeypatch):
    _sent_after_the_session_ended(page, "/apply", fill_application, "Send my application")
    expect(page.get_by_label("Your name")).to_have_value("Alex Example")


@page_state_driver("thanks")
def _to_thanks(page, server, monkeypatch):
    page.goto("/apply")
    fill_application(page)
    send_application(page)
    expect(page).to_have_url(f"{server.url}/apply/thanks")
    expect(page.get_by_role("button", name="Copy link")).to_be_visible()


# Send this to a friend


@page_state_driver("share")
def _to_share(page, server, monkeypatch):
    page.goto("/share")
    expect_h1(page, "Send this to a friend")


@page_state_driver("share-errors", 422)
def _to_share_errors(page, server, monkeypatch):
    _sent_empty(page, "/share", "Send to my friend")


@page_state_driver("share-expired-token", 400)
def _to_share_expired_token(page, server, monkeypatch):
    def fill(page: Page) -> None:
        fill_share(page, friend=None)

    _sent_after_the_session_ended(page, "/share", fill, "Send to my friend")


@page_state_driver("share-sent")
def _to_share_sent(page, server, monkeypatch):
    page.goto("/share")
    fill_share(page, friend=None)
    send_share(page)
    expect(page).to_have_url(f"{server.url}/share/sent")
    expect(page.get_by_role("button", name="Copy link")).to_be_visible()


# Other public pages


@page_state_driver("privacy")
def _to_privacy(page, server, monkeypatch):
    page.goto("/privacy")
    expect_h1(page, "Privacy notice")


@page_state_driver("not-found", 404)
def _to_not_found(page, server, monkeypatch):
    page.goto("/no-such-page")
    expect_h1(page, "Page not found")


@page_state_driver("server-error", 500)
def _to_server_error(page, server, monkeypatch):
    from microsite.public import views

    def broken():
        raise RuntimeError("a fault for the test")

    # The app's own error page, as in production, rather than the exception for the test.
    monkeypatch.setitem(server.app.config, "PROPAGATE_EXCEPTIONS", False)
    monkeypatch.setattr(views, "published_testimonials", broken)
    page.goto("/")
    expect_h1(page, "Sorry, something went wrong")


@page_state_driver("unsubscribe")
def _to_unsubscribe(page, server, monkeypatch):
    with server.app.app_context():
        token = suppression.unsubscribe_token(FRIEND_EMAIL)
    page.goto(f"/unsubscribe/{token}")
    expect_h1(page, "Stop messages from us")


@page_state_driver("unsubscribed")
def _to_unsubscribed(page, server, monkeypatch):
    with server.app.app_context():
        token = suppression.unsubscribe_token(FRIEND_EMAIL)
    page.goto(f"/unsubscribe/{token}")
    page.get_by_role("button", name="Stop all messages to me").click()
    expect_h1(page, "You will get no more messages")


@page_state_driver("unsubscribe-broken-link", 404)
def _to_unsubscribe_broken_link(page, server, monkeypatch):
    page.goto("/unsubscribe/not-a-token")
    expect_h1(page, "This link does not work")


def _withdraw_page(page: Page, server: LiveServer) -> None:
    lead_id = add_lead(server.app, **MAYA)
    with server.app.app_context():
        token = erasure.withdraw_token(db.session.get(Lead, lead_id))
    page.goto(f"/withdraw/{token}")
    expect_h1(page, "Withdraw your request")


@page_state_driver("withdraw")
def _to_withdraw(page, server, monkeypatch):
    _withdraw_page(page, server)


@page_state_driver("withdrawn")
def _to_withdrawn(page, server, monkeypatch):
    _withdraw_page(page, server)
    page.get_by_role("button", name="Withdraw and delete my data").click()
    expect_h1(page, "Your data has been deleted")


@page_state_driver("withdraw-expired-token", 400)
def _to_withdraw_expired_token(page, server, monkeypatch):
    _withdraw_page(page, server)
    page.context.clear_cookies()
    page.get_by_role("button", name="Withdraw and delete my data").click()
    expect_h1(page, "Bad Request")  # errors/error.html


@page_state_driver("withdraw-broken-link", 404)
def _to_withdraw_broken_link(page, server, monkeypatch):
    page.goto("/withdraw/not-a-token")
    expect_h1(page, "Nothing to withdraw")


# The staff area


@page_state_driver("staff-login")
def _to_staff_login(page, server, monkeypatch):
    page.goto("/staff/login")
    expect_h1(page, "Staff sign in")


@page_state_driver("staff-login-error", 401)
def _to_staff_login_error(page, server, monkeypatch):
    page.goto("/staff/login")
    enter_password(page, password="not-the-right-password")
    expect(page.get_by_role("region", name="There is a problem")).to_be_focused()


@page_state_driver("staff-dashboard")
def _to_staff_dashboard(page, server, monkeypatch):
    lead_id = add_lead(server.app, **MAYA)
    tomas = {"name": "Tomás Herrera", "email": "tomas.herrera@example.com", "country": "MX"}
    add_lead(server.app, **{**MAYA, **tomas})
    with server.app.app_context():
        # A message that could not be delivered, for the dashboard's list of them.
        db.session.add(
            OutboxMessage(
                kind="confirmation",
                lead_id=lead_id,
                to_address=MAYA["email"],
                subject="We have your application",
                body_text="-",
                body_html="<p>-</p>",
                message_id="<state@example.com>",
                status="failed",
                attempts=5,
                last_error="SMTPConnectError",
            )
        )
        db.session.commit()
    sign_in_as_staff(page, server)
    assert page.request.get("/staff/leads.csv").ok  # an export, for the exports table
    page.reload()
    exports = page.locator("section", has=page.get_by_role("heading", name="Recent exports"))
    expect(exports.locator("tbody tr")).to_have_count(1)


@page_state_driver("staff-dashboard-bad-filter")
def _to_staff_dashboard_bad_filter(page, server, monkeypatch):
    add_lead(server.app, **MAYA)
    sign_in_as_staff(page, server)
    page.goto("/staff/?from=2026-02-31")
    expect(page.get_by_role("alert")).to_contain_text("Some filters were not understood")


@page_state_driver("staff-lead")
def _to_staff_lead(page, server, monkeypatch):
    lead_id = add_lead(server.app, **MAYA)
    sign_in_as_staff(page, server)
    page.goto(f"/staff/leads/{lead_id}")
    page.get_by_role("combobox", name="Status").select_option(label="Contacted")
    page.get_by_role("button", name="Change status").click()
    page.get_by_label("Add a call note").fill("Called the mother: she will send the scan report.")
    page.get_by_role("button", name="Add note").click()
    expect(page.locator(".note")).to_have_count(1)
    expect(page.locator("section[aria-labelledby=status-heading] .history li")).to_have_count(1)


@page_state_driver("staff-testimonials")
def _to_staff_testimonials(page, server, monkeypatch):
    sign_in_as_staff(page, server)
    page.goto("/staff/testimonials")
    expect_h1(page, "Testimonials")


def _first_testimonial(server: LiveServer) -> int:
    with server.app.app_context():
        return db.session.scalars(select(Testimonial.id).order_by(Testimonial.id)).first()


@page_state_driver("staff-testimonial")
def _to_staff_testimonial(page, server, monkeypatch):
    sign_in_as_staff(page, server)
    page.goto(f"/staff/testimonials/{_first_testimonial(server)}")
    expect_h1(page, "Edit testimonial")


@page_state_driver("staff-testimonial-errors", 422)
def _to_staff_testimonial_errors(page, server, monkeypatch):
    sign_in_as_staff(page, server)
    page.goto(f"/staff/testimonials/{_first_testimonial(server)}")
    page.get_by_label("Name shown").fill("")
    page.get_by_label("Quote", exact=True).fill("")
    send_unchecked(page, "Save")
    expect(page).to_have_title(re.compile(r"^Error: "))


# Trial matching

# Long words and names as studies really have them, to show where lines break.
TRIALS = [
    (
        "NCT99990001",
        "Naxitamab and GM-CSF Plus Isotretinoin for High-Risk Neuroblastoma in "
        "Children Who Have Completed Induction Therapy (ANBL-Immunotherapy-2026)",
        ["Neuroblastoma", "Ganglioneuroblastoma"],
        ["PHASE1", "PHASE2"],
        3,
        252,
        [
            ("Great Ormond Street Hospital for Children NHS Foundation Trust", "London"),
            ("Royal Manchester Children's Hospital", "Manchester"),
            ("Birmingham Women's and Children's NHS Foundation Trust", "Birmingham"),
            ("Alder Hey Children's Hospital", "Liverpool"),
        ],
    ),
    (
        "NCT99990002",
        "Dinutuximab Beta Long-Term Infusion in Relapsed Neuroblastoma",
        ["Neuroblastoma"],
        ["PHASE3"],
        None,
        216,
        [("Karolinska University Hospital", "Stockholm")],
    ),
    (
        "NCT99990003",
        "A Registry of Children With Peripheral Neuroblastic Tumours",
        ["Neuroblastoma"],
        [],
        None,
        None,
        [],
    ),
]

SWEDISH_SITES = [
    ("Astrid Lindgren Children's Hospital, Karolinska University Hospital", "Stockholm"),
    ("Queen Silvia Children's Hospital, Sahlgrenska University Hospital", "Göteborg"),
    ("Skåne University Hospital", "Lund"),
    ("Uppsala University Children's Hospital", "Uppsala"),
]


def add_trials(server, country: str) -> None:
    """Three neuroblastoma trials; their sites are in ``country`` (the last two elsewhere)."""
    with server.app.app_context():
        for nct_id, title, conditions, phases, low, high, sites in TRIALS:
            trial = Trial(
                nct_id=nct_id,
                brief_title=title,
                overall_status="RECRUITING" if sites else "NOT_YET_RECRUITING",
                phases=phases,
                conditions=conditions,
                keywords=[],
                min_age_months=low,
                max_age_months=high,
                last_update_on=date(2026, 11, 1),
                diagnoses=synonyms.diagnoses_key(conditions),
            )
            here = country if nct_id == "NCT99990001" else "US"
            sites = SWEDISH_SITES if here == "SE" else sites
            trial.sites = [
                TrialSite(facility=f, city=c, country_code=here, status="RECRUITING")
                for f, c in sites
            ]
            db.session.add(trial)
        db.session.commit()


@page_state_driver("thanks-with-matches")
def _to_thanks_with_matches(page, server, monkeypatch):
    add_trials(server, "GB")  # fill_application: neuroblastoma, 7 years, United Kingdom
    page.goto("/apply")
    fill_application(page)
    send_application(page)
    expect(page).to_have_url(f"{server.url}/apply/thanks")
    matches = page.get_by_role("region", name="Trials that may fit")
    expect(matches.locator("li.trial")).to_have_count(3)
    expect(matches.get_by_role("heading", level=3).first).to_have_text(re.compile("^Naxitamab"))


@page_state_driver("thanks-without-matches")
def _to_thanks_without_matches(page, server, monkeypatch):
    page.goto("/apply")
    fill_application(page)
    send_application(page)
    expect(page).to_have_url(f"{server.url}/apply/thanks")
    matches = page.get_by_role("region", name="Trials that may fit")
    expect(matches).to_contain_text("Your navigator will search further")


@page_state_driver("staff-lead-with-matches")
def _to_staff_lead_with_matches(page, server, monkeypatch):
    add_trials(server, "SE")
    lead_id = add_lead(server.app, **MAYA)  # neuroblastoma, 6 years, Sweden
    with server.app.app_context():
        matching.store_matches(db.session.get(Lead, lead_id))
        db.session.commit()
    sign_in_as_staff(page, server)
    page.goto(f"/staff/leads/{lead_id}")
    page.get_by_role("button", name="Match again").click()
    expect(page).to_have_url(f"{server.url}/staff/leads/{lead_id}#matches")
    matches = page.get_by_role("region", name="Trials shown to the family")
    expect(matches.locator("li.trial")).to_have_count(3)


@page_state_driver("staff-trials")
def _to_staff_trials(page, server, monkeypatch):
    add_trials(server, "GB")
    with server.app.app_context():
        finished = utcnow() - timedelta(hours=3)
        db.session.add_all(
            [
                TrialImport(
                    source="import",
                    started_at=finished - timedelta(days=7, minutes=9),
                    finished_at=finished - timedelta(days=7),
                    new=3,
                    updated=0,
                    skipped=1,
                ),
                TrialImport(
                    source="sync",
                    started_at=finished - timedelta(minutes=6),
                    finished_at=finished,
                    new=0,
                    updated=3,
                    skipped=0,
                ),
            ]
        )
        db.session.commit()
    sign_in_as_staff(page, server)
    page.get_by_role("navigation", name="Staff").get_by_role("link", name="Trials").click()
    expect_h1(page, "Trial catalog")


# Trials near the family, and the trial page

# Children's hospitals at their coordinates; the family applies from Chicago's 60637.
NEARBY_SITES = [
    (
        "Ann & Robert H. Lurie Children's Hospital of Chicago",
        "Chicago",
        "Illinois",
        "US",
        41.896,
        -87.621,
    ),
    ("The Hospital for Sick Children", "Toronto", "Ontario", "CA", 43.700, -79.416),
    ("Texas Children's Hospital", "Houston", "Texas", "US", 29.763, -95.363),
    ("St. Jude Children's Research Hospital", "Memphis", "Tennessee", "US", 35.150, -90.049),
    ("Seattle Children's Hospital", "Seattle", "Washington", "US", 47.606, -122.332),
    ("Children's Hospital Without Coordinates", "Springfield", "Illinois", "US", None, None),
]
CRITERIA = """Inclusion Criteria:

* Age 12 months to 21 years at enrolment
* Relapsed or refractory high-risk neuroblastoma, with either:
  * a new lesion on MIBG scan, or
  * biopsy-proven persistent disease
* Adequate organ function \\(see the protocol\\)

Exclusion Criteria:

* Active infection needing treatment
* Pregnancy or breastfeeding"""


def add_nearby_trials(server) -> None:
    """A Chicago ZIP code and four neuroblastoma trials at different distances from it."""
    with server.app.app_context():
        db.session.add(
            PostalPlace(
                country="US",
                postal_code="60637",
                place_name="Chicago",
                region="IL",
                latitude=41.7813,
                longitude=-87.6051,
            )
        )
        for number, sites in enumerate(
            [NEARBY_SITES[0:3], NEARBY_SITES[3:4], NEARBY_SITES[4:5], NEARBY_SITES[5:6]], start=1
        ):
            trial = Trial(
                nct_id=f"NCT0555000{number}",
                brief_title=f"{TRIALS[0][1]} (site group {number})",
                brief_summary="This trial studies how well naxitamab works in children "
                "with neuroblastoma that has come back or has not responded to treatment.",
                eligibility_criteria=CRITERIA,
                overall_status="RECRUITING",
                phases=["PHASE2"],
                conditions=["Neuroblastoma"],
                keywords=[],
                min_age_months=12,
                max_age_months=263,
                last_update_on=date(2026, 11, 1),
                diagnoses=synonyms.diagnoses_key(["Neuroblastoma"]),
            )
            for facility, city, state, country, latitude, longitude in sites:
                trial.sites.append(
                    TrialSite(
                        facility=facility,
                        city=city,
                        state=state,
                        country="Canada" if country == "CA" else "United States",
                        country_code=country,
                        latitude=latitude,
                        longitude=longitude,
                        status="RECRUITING",
                        contact_name="Research Nurse Coordinator",
                        contact_phone="+1 312 555 0142",
                        contact_email=f"neuroblastoma-trials-{city.lower()}@example.org",
                    )
                )
            trial.contacts.append(
                TrialContact(
                    name="Study Office", phone="+1 800 555 0100", email="study@example.org"
                )
            )
            db.session.add(trial)
        db.session.commit()


def apply_from_chicago(page) -> None:
    page.goto("/apply")
    fill_application(page, country="US")
    page.get_by_label("Postal code (optional)").fill("60637")
    page.get_by_role("radio", name="Up to 100 miles (160 km)").check()
    send_application(page)


@page_state_driver("thanks-by-distance")
def _to_thanks_by_distance(page, server, monkeypatch):
    add_nearby_trials(server)
    apply_from_chicago(page)
    expect(page).to_have_url(f"{server.url}/apply/thanks")
    matches = page.get_by_role("region", name="Trials that may fit")
    expect(matches.locator("li.trial")).to_have_count(4)
    expect(matches.get_by_role("heading", name="Farther away")).to_be_visible()
    expect(matches).to_contain_text("nearest about 8 mi (13 km)")


@page_state_driver("staff-lead-by-distance")
def _to_staff_lead_by_distance(page, server, monkeypatch):
    add_nearby_trials(server)
    apply_from_chicago(page)
    expect(page).to_have_url(f"{server.url}/apply/thanks")
    with server.app.app_context():
        lead_id = db.session.scalar(select(Lead.id))
        site = db.session.scalar(select(TrialSite).filter_by(city="Toronto"))
        site.contact_name = "Neuro-oncology Trials Office"  # changed since the match
        db.session.commit()
    sign_in_as_staff(page, server)
    page.goto(f"/staff/leads/{lead_id}")
    matches = page.get_by_role("region", name="Trials shown to the family")
    expect(matches).to_contain_text("(changed since the match)")
    expect(matches).to_contain_text("Central contacts")


@page_state_driver("trial-page")
def _to_trial_page(page, server, monkeypatch):
    add_nearby_trials(server)
    page.goto("/trials/NCT05550001")
    expect(page.get_by_role("heading", name="Inclusion criteria")).to_be_visible()
    expect(page.get_by_role("link", name="Ask a navigator about this trial").first).to_be_visible()


@page_state_driver("trial-page-closed-bare")
def _to_trial_page_without_criteria(page, server, monkeypatch):
    """A trial whose record gives no criteria, sites or contacts, and that has closed."""
    with server.app.app_context():
        db.session.add(
            Trial(
                nct_id="NCT05550009",
                brief_title=TRIALS[2][1],
                overall_status="COMPLETED",
                diagnoses="|neuroblastoma|",
            )
        )
        db.session.commit()
    page.goto("/trials/NCT05550009")
    expect_h1(page, TRIALS[2][1])


# The public pages in Spanish (/es/...): the same states, reached by field names and ids,
# since the labels are in Spanish; each heading is the catalog's Spanish for the English
# one, so a page left in English does not reach its state.


def spanish(server: LiveServer, message: str, **values) -> str:
    """The catalog's Spanish for the English ``message`` (with ``values`` put in, as
    gettext does); fails when there is none."""
    from flask_babel import force_locale, gettext

    with server.app.test_request_context("/es/"), force_locale("es"):
        translated = gettext(message, **values)
    assert translated != (message % values if values else message), (
        f"no Spanish in the catalog for {message!r}"
    )
    return translated


def expect_spanish_h1(page: Page, server: LiveServer, message: str) -> None:
    expect(page.locator("html")).to_have_attribute("lang", "es")
    expect_h1(page, spanish(server, message))


def fill_application_es(page: Page, *, diagnosis: str = "neuroblastoma") -> None:
    """fill_application's answers, chosen by the fields' names and ids (any language)."""
    page.locator('input[name="role"][value="parent"]').check()
    page.locator("#patient_age").fill("7")
    page.locator("#diagnosis").select_option(diagnosis)
    page.locator("#country").select_option("GB")
    page.locator("#name").fill("Ana Ejemplo")
    page.locator("#email").fill("ana@example.com")
    page.locator('input[name="contact_method"][value="email"]').check()
    page.locator("#consent").check()


def send_form(page: Page, *, unchecked: bool = False) -> None:
    """Press the form's submit button (whatever its words); ``unchecked``: with the
    browser's own checks off, as send_unchecked."""
    form = page.locator("form.form")
    if unchecked:
        form.evaluate("form => { form.noValidate = true; }")
    form.locator('button[type="submit"]').click()


def _spanish_thanks(page: Page, server: LiveServer, diagnosis: str) -> None:
    page.goto("/es/apply")
    fill_application_es(page, diagnosis=diagnosis)
    send_form(page)
    expect(page).to_have_url(f"{server.url}/es/apply/thanks")
    expect_spanish_h1(page, server, "Thank you: we have your application")


@page_state_driver("es-article")
def _to_es_article(page, server, monkeypatch):
    page.goto("/es/")
    expect(page.locator("html")).to_have_attribute("lang", "es")
    expect(page.locator("[data-carousel]")).to_have_attribute("data-rotating", "true")
    banner = page.locator(".banner").get_by_role("link", name=spanish(server, "Find your trial"))
    expect(banner).to_have_attribute("href", "/es/apply")


@page_state_driver("es-apply-empty")
def _to_es_apply_empty(page, server, monkeypatch):
    page.goto("/es/apply")
    expect_spanish_h1(page, server, "Find your trial")


@page_state_driver("es-apply-errors", 422)
def _to_es_apply_errors(page, server, monkeypatch):
    page.goto("/es/apply")
    send_form(page, unchecked=True)
    expect(page.locator("[data-error-summary]")).to_be_focused()
    expect(page.locator("#name-error")).to_contain_text(spanish(server, "Enter your name."))
    expect(page.locator("html")).to_have_attribute("lang", "es")


@page_state_driver("es-thanks-with-matches")
def _to_es_thanks_with_matches(page, server, monkeypatch):
    add_trials(server, "GB")
    _spanish_thanks(page, server, "neuroblastoma")
    expect(page.locator("section.matches li.trial")).to_have_count(3)


@page_state_driver("es-thanks-without-matches")
def _to_es_thanks_without_matches(page, server, monkeypatch):
    _spanish_thanks(page, server, "wilms")
    expect(page.locator("section.matches li.trial")).to_have_count(0)


@page_state_driver("es-share")
def _to_es_share(page, server, monkeypatch):
    page.goto("/es/share")
    expect_spanish_h1(page, server, "Send this to a friend")


@page_state_driver("es-privacy")
def _to_es_privacy(page, server, monkeypatch):
    page.goto("/es/privacy")
    expect_spanish_h1(page, server, "Privacy notice")


@page_state_driver("es-trial-page")
def _to_es_trial_page(page, server, monkeypatch):
    add_nearby_trials(server)
    page.goto("/es/trials/NCT05550001")
    expect(page.locator("html")).to_have_attribute("lang", "es")
    heading = page.get_by_role("heading", name=spanish(server, "Inclusion criteria"))
    expect(heading).to_be_visible()
    ask = page.get_by_role("link", name=spanish(server, "Ask a navigator about this trial"))
    expect(ask.first).to_have_attribute("href", "/es/apply")


@page_state_driver("es-not-found", 404)
def _to_es_not_found(page, server, monkeypatch):
    page.goto("/es/no-such-page")
    expect_spanish_h1(page, server, "Page not found")


from . import alert_states as _alerts  # noqa: E402, F401  (the trial-alert pages)
from . import mfa_states as _mfa  # noqa: E402, F401  (the second factor of staff sign-in)
from . import team_states  # noqa: E402, F401  (the team, account and password-link pages)
from . import workspace_states as _workspace  # noqa: E402, F401  (the work-queue pages)
