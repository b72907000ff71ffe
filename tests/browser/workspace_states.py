"""Page states of the navigator's workspace (issue 15), registered in the catalogue of
``states.py`` (which imports this module at its end), so that ``test_page_states.py`` runs
every check on each of them: the dashboard's work queue with its counts and filters, the
lead page as an admin sees it (assignment, due time, the family's other applications, who
opened it) and after a refused assignment, the access record (and a bad filter on it), the
runs page, and the 403 page a navigator gets on an admin's page.

The rows are stored directly, through the live server's app, with due times and past
moments worked out from today in DISPLAY_TIMEZONE, so that every word of the queue
("Overdue", "Due today", "Called back") shows whatever day the suite runs on."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from playwright.sync_api import Page, expect
from sqlalchemy import select

from microsite import auth, dates, runs
from microsite.extensions import db
from microsite.leads import email_digest
from microsite.models import (
    AccessRecord,
    Assignment,
    JobRun,
    StaffSession,
    StaffUser,
    utcnow,
)
from tests.helpers import STAFF_EMAIL, add_lead, create_staff_user, log_in

from .pages import LiveServer, expect_h1, sign_in, sign_in_as_staff
from .states import MAYA, page_state_driver

NAVIGATOR = "jordan.okafor@example.com"
NAVIGATOR_PASSWORD = "jordan's long enough password"
FORMER = "priya.former-navigator@example.com"  # a member since disabled
FORMER_PASSWORD = "a password nobody uses now"
INVALID_MEMBER = "Choose one of the listed members."


# --- The team and the leads -----------------------------------------------------------------


def _team(server: LiveServer) -> dict[str, int]:
    """The admin (STAFF_EMAIL, the first of the team: made here unless ``sign_in_as_staff``
    made them), a navigator who calls in English, and a member who calls in English and
    Spanish, signed in once, then disabled while holding leads."""
    with server.app.app_context():
        admin = db.session.scalar(select(StaffUser.id).filter_by(email=STAFF_EMAIL))
    if admin is None:
        admin = create_staff_user(server.app)
    navigator = create_staff_user(server.app, NAVIGATOR, NAVIGATOR_PASSWORD, role="navigator")
    former = create_staff_user(
        server.app, FORMER, FORMER_PASSWORD, role="navigator", languages="en,es"
    )
    assert log_in(server.app.test_client(), FORMER, FORMER_PASSWORD).status_code == 303
    with server.app.app_context():
        auth.disable(db.session.get(StaffUser, former))
        db.session.commit()
    return {"admin": admin, "navigator": navigator, "former": former}


def _moments(server: LiveServer) -> dict[str, datetime]:
    """Due times as the site stores them (the midnight ending a day in DISPLAY_TIMEZONE)
    and arrival times around them."""
    with server.app.app_context():
        today = dates.today()
        end_of_today = dates.start_of(today + timedelta(days=1))
        now = utcnow()
    return {
        "now": now,
        "overdue": end_of_today - timedelta(days=2),  # the end of the day before yesterday
        "today": end_of_today,
        "later": end_of_today + timedelta(days=2),
    }


def _lead(server: LiveServer, **columns) -> int:
    """A lead with its email's keyed digest, as an application stores it."""
    with server.app.app_context():
        digest = email_digest(columns.get("email", "alex@example.com"))
    return add_lead(server.app, email_digest=digest, **columns)


def _queue(server: LiveServer, team: dict[str, int]) -> dict[str, int]:
    """Open leads for the work queue: four of the navigator's (overdue, due today, due
    later, called back), three nobody calls (one in Spanish, one held by the disabled
    member) and a closed one the queue leaves out."""
    at = _moments(server)
    day = timedelta(days=1)
    navigator, former = team["navigator"], team["former"]
    leads = {
        "overdue": _lead(
            server,
            **MAYA,
            assigned_to_id=navigator,
            created_at=at["overdue"] - 3 * day,
            callback_due_at=at["overdue"],
        ),
        "today": _lead(
            server,
            name="Oluwaseun Adebayo-Whitfield",
            email="seun.adebayo.whitfield@example.com",
            diagnosis="wilms",
            country="GB",
            patient_age=4,
            assigned_to_id=navigator,
            created_at=at["today"] - 3 * day,
            callback_due_at=at["today"],
        ),
        "later": _lead(
            server,
            name="Chen Wei",
            email="chen.wei@example.com",
            diagnosis="aml",
            country="CA",
            patient_age=12,
            assigned_to_id=navigator,
            created_at=at["now"] - timedelta(hours=2),
            callback_due_at=at["later"],
        ),
        "called": _lead(
            server,
            name="Amelia Hart",
            email="amelia.hart@example.com",
            status="contacted",
            assigned_to_id=navigator,
            created_at=at["now"] - 5 * day,
            callback_due_at=at["overdue"] - day,
            callback_met_at=at["now"] - 4 * day,
        ),
        "spanish": _lead(
            server,
            name="Lucía Fernández Ortega",
            email="lucia.fernandez@example.com",
            diagnosis="all",
            country="MX",
            patient_age=9,
            language="es",
            created_at=at["today"] - 2 * day,
            callback_due_at=at["today"],
        ),
        "held": _lead(
            server,
            name="Noah Bergström",
            email="noah.bergstrom@example.com",
            country="SE",
            patient_age=15,
            assigned_to_id=former,
            created_at=at["overdue"] - 4 * day,
            callback_due_at=at["overdue"] - day,
        ),
        "unassigned": _lead(
            server,
            name="Grace Mwangi",
            email="grace.mwangi@example.com",
            country="KE",
            patient_age=2,
            created_at=at["now"] - timedelta(minutes=20),
            callback_due_at=at["later"],
        ),
    }
    _lead(
        server,
        name="Sam Closed",
        email="sam.closed@example.com",
        status="enrolled",
        assigned_to_id=navigator,
        created_at=at["now"] - 20 * day,
        callback_met_at=at["now"] - 19 * day,
    )
    return leads


def _session_of(server: LiveServer, staff_id: int) -> int:
    """The id of the member's newest session."""
    with server.app.app_context():
        return db.session.scalar(
            select(StaffSession.id)
            .where(StaffSession.staff_id == staff_id)
            .order_by(StaffSession.id.desc())
        )


def _navigator_signed_in_elsewhere(server: LiveServer) -> int:
    """The navigator signs in from another browser (an HTTP client): their session's id."""
    other = server.app.test_client()
    assert log_in(other, NAVIGATOR, NAVIGATOR_PASSWORD).status_code == 303
    with server.app.app_context():
        navigator = db.session.scalar(select(StaffUser.id).filter_by(email=NAVIGATOR))
    return _session_of(server, navigator)


def _records(server: LiveServer, *entries: dict) -> None:
    """Access-record entries as the app writes them, at the moments given."""
    with server.app.app_context():
        db.session.add_all(AccessRecord(**entry) for entry in entries)
        db.session.commit()


# --- The work queue -------------------------------------------------------------------------


@page_state_driver("staff-dashboard-queue")
def _to_staff_dashboard_queue(page: Page, server, monkeypatch):
    team = _team(server)
    _queue(server, team)
    page.goto("/staff/login")
    sign_in(page, server.app, NAVIGATOR, NAVIGATOR_PASSWORD)
    expect(page).to_have_url(f"{server.url}/staff/")
    # The filters: unassigned leads due today whose language nobody on the team speaks.
    filters = page.get_by_role("search", name="Search and filter leads")
    filters.get_by_label("Assigned to").select_option(label="Nobody (unassigned)")
    filters.get_by_label("Call back").select_option(label="Due today")
    filters.get_by_label("Only leads whose language no assigned navigator speaks").check()
    filters.get_by_role("button", name="Apply filters").click()
    expect(page).to_have_url(re.compile(r"assignee=none.*due=today.*language_gap=y"))

    # The section is named by its heading, "My leads", and so is the table's region in it.
    mine = page.locator('div[role="region"][aria-label="My leads"]')
    expect(mine.locator("tbody tr")).to_have_count(4)
    expect(mine.locator("tbody tr").first).to_contain_text("Overdue")
    expect(mine).to_contain_text("Due today")
    expect(mine).to_contain_text("Called back")
    unassigned = page.get_by_role("region", name="Unassigned leads")
    expect(unassigned.locator("tbody tr")).to_have_count(3)
    expect(unassigned).to_contain_text("(disabled: give it to someone)")
    expect(unassigned).to_contain_text("Spanish")
    everyone = page.locator('div[role="region"][aria-label="All leads"]')
    expect(everyone.locator("tbody tr")).to_have_count(1)
    expect(everyone).to_contain_text("Lucía Fernández Ortega")


# --- The lead page --------------------------------------------------------------------------


def _worked_lead(server: LiveServer, team: dict[str, int]) -> int:
    """A Spanish-speaking family's second application: given to the member since
    disabled, then to the navigator (who calls in English only); not called back yet;
    opened before by both. Returns its id."""
    at = _moments(server)
    day = timedelta(days=1)
    family = {
        "name": "Lucía Fernández Ortega",
        "email": "Lucia.Fernandez@example.com",
        "country": "MX",
        "language": "es",
        "phone": "+525555550142",  # stored as E.164, as the form leaves it
        "contact_method": "phone",
    }
    _lead(
        server,
        **{**family, "email": "lucia.fernandez@example.com"},
        diagnosis="all",
        patient_age=8,
        status="enrolled",
        created_at=at["now"] - 400 * day,
        callback_met_at=at["now"] - 399 * day,
    )
    lead_id = _lead(
        server,
        **family,
        diagnosis="all",
        patient_age=9,
        treatment_stage="relapsed",
        postal_code="06700",
        assigned_to_id=team["navigator"],
        created_at=at["today"] - 2 * day,
        callback_due_at=at["today"],
    )
    admin, navigator, former = team["admin"], team["navigator"], team["former"]
    with server.app.app_context():
        db.session.add_all(
            [
                Assignment(
                    lead_id=lead_id,
                    staff_id=admin,
                    from_staff_id=None,
                    to_staff_id=former,
                    created_at=at["today"] - 2 * day + timedelta(hours=1),
                ),
                Assignment(
                    lead_id=lead_id,
                    staff_id=admin,
                    from_staff_id=former,
                    to_staff_id=navigator,
                    created_at=at["now"] - timedelta(hours=3),
                ),
            ]
        )
        db.session.commit()
    navigator_session = _navigator_signed_in_elsewhere(server)
    admin_session = _session_of(server, admin)
    _records(
        server,
        {
            "created_at": at["now"] - timedelta(hours=26),
            "staff_id": former,
            "actor": FORMER,
            "session_id": _session_of(server, former),
            "action": "lead viewed",
            "lead_id": lead_id,
        },
        {
            "created_at": at["now"] - timedelta(hours=3, minutes=2),
            "staff_id": admin,
            "actor": STAFF_EMAIL,
            "session_id": admin_session,
            "action": "lead viewed",
            "lead_id": lead_id,
        },
        {
            "created_at": at["now"] - timedelta(minutes=40),
            "staff_id": navigator,
            "actor": NAVIGATOR,
            "session_id": navigator_session,
            "action": "lead viewed",
            "lead_id": lead_id,
        },
    )
    return lead_id


def _admin_on_the_lead_page(page: Page, server: LiveServer) -> int:
    sign_in_as_staff(page, server)  # the admin, first of the team
    team = _team(server)
    lead_id = _worked_lead(server, team)
    page.goto(f"/staff/leads/{lead_id}")
    expect_h1(page, re.compile(r"^Lucía Fernández Ortega"))
    return lead_id


@page_state_driver("staff-lead-workspace")
def _to_staff_lead_workspace(page: Page, server, monkeypatch):
    _admin_on_the_lead_page(page, server)
    navigator = page.get_by_role("region", name="Navigator")
    expect(navigator.get_by_role("combobox", name="Assigned to")).to_be_visible()
    expect(navigator.get_by_role("button", name="Take this lead")).to_be_visible()
    expect(navigator.locator(".history li")).to_have_count(2)
    expect(navigator).to_contain_text("does not speak Spanish")
    expect(page.locator(".details").first).to_contain_text("Due today")
    family = page.get_by_role("region", name="Other applications from this email address")
    expect(family.get_by_role("link")).to_have_count(1)
    viewers = page.get_by_role("region", name="Who opened this page")
    expect(viewers.locator("li")).to_have_count(4)  # three before, and this visit


@page_state_driver("staff-lead-assign-errors", 422)
def _to_staff_lead_assign_errors(page: Page, server, monkeypatch):
    _admin_on_the_lead_page(page, server)
    # A member the list does not offer (a page left open while the team changed, or a
    # hand-made request): the server turns it down.
    page.get_by_role("combobox", name="Assigned to").evaluate(
        """select => {
            select.add(new Option("someone.removed@example.com (en)", "99999"));
            select.value = "99999";
        }"""
    )
    page.get_by_role("button", name="Assign").click()
    expect(page).to_have_title(re.compile(r"^Error: "))
    summary = page.locator("[data-error-summary]")
    expect(summary).to_be_focused()
    expect(summary).to_contain_text(INVALID_MEMBER)


# --- The access record ----------------------------------------------------------------------


def _access_entries(page: Page, server: LiveServer) -> dict[str, int]:
    """An admin's week: lead pages opened by the team, an export, team changes, and a
    family's withdrawal; the admin signed in in ``page``."""
    sign_in_as_staff(page, server)
    team = _team(server)
    leads = _queue(server, team)
    at = _moments(server)
    admin, navigator = team["admin"], team["navigator"]
    admin_session = _session_of(server, admin)
    navigator_session = _navigator_signed_in_elsewhere(server)
    hour = timedelta(hours=1)
    _records(
        server,
        {
            "created_at": at["now"] - 50 * hour,
            "staff_id": admin,
            "actor": STAFF_EMAIL,
            "session_id": admin_session,
            "action": "invite",
            "detail": NAVIGATOR,
        },
        {
            "created_at": at["now"] - 49 * hour,
            "staff_id": admin,
            "actor": STAFF_EMAIL,
            "session_id": admin_session,
            "action": "disable",
            "detail": FORMER,
        },
        {
            "created_at": at["now"] - 30 * hour,
            "staff_id": navigator,
            "actor": NAVIGATOR,
            "session_id": navigator_session,
            "action": "lead viewed",
            "lead_id": leads["overdue"],
        },
        {
            "created_at": at["now"] - 29 * hour,
            "staff_id": navigator,
            "actor": NAVIGATOR,
            "session_id": navigator_session,
            "action": "lead viewed",
            "lead_id": leads["today"],
        },
        {
            "created_at": at["now"] - 5 * hour,
            "actor": "public site",
            "action": "erasure",
            "lead_id": 4242,
            "detail": "withdrawal: 1 leads, 2 notes, 1 referrals, 3 messages, 3 mail files",
        },
        {
            "created_at": at["now"] - 2 * hour,
            "staff_id": admin,
            "actor": STAFF_EMAIL,
            "session_id": admin_session,
            "action": "role",
            "detail": NAVIGATOR,
        },
    )
    # And, now, through the site: the admin opens a lead page and downloads the leads.
    page.goto(f"/staff/leads/{leads['spanish']}")
    assert page.request.get("/staff/leads.csv").ok
    return {"admin": admin}


@page_state_driver("staff-access-record")
def _to_staff_access_record(page: Page, server, monkeypatch):
    _access_entries(page, server)
    page.get_by_role("navigation", name="Staff").get_by_role("link", name="Access record").click()
    expect_h1(page, "Access record")
    with server.app.app_context():
        today = dates.today()
    filters = page.get_by_role("search", name="Filter the access record")
    filters.get_by_label("From").fill((today - timedelta(days=7)).isoformat())
    filters.get_by_label("To").fill(today.isoformat())
    filters.get_by_role("button", name="Apply filters").click()
    expect(page).to_have_url(re.compile(r"from=\d{4}-\d\d-\d\d&to=\d{4}-\d\d-\d\d"))
    entries = page.get_by_role("region", name="Access record entries")
    expect(entries.locator("tbody tr")).to_have_count(8)
    expect(entries).to_contain_text("Exported a CSV")
    expect(entries).to_contain_text("Changed a member's role")


@page_state_driver("staff-access-record-errors", 422)
def _to_staff_access_record_errors(page: Page, server, monkeypatch):
    """Days the wrong way round and a lead named, not numbered. (Not yet an impossible
    day such as 2026-02-31: the page writes it back as the date input's value, which is
    invalid HTML, since ``_form.html`` leaves out the value of a ``DateField`` with an
    error but not of the audit form's ``DayField``.)"""
    _access_entries(page, server)
    page.goto("/staff/access?staff=&lead=forty-two&from=2026-11-30&to=2026-11-02")
    expect(page).to_have_title(re.compile(r"^Error: "))
    problem = page.get_by_role("region", name="There is a problem")
    expect(problem).to_contain_text("“To” must be the same day as “From” or later.")
    expect(problem).to_contain_text("A lead id is a whole number")
    expect(page.get_by_text("Correct the filters above to see the entries.")).to_be_visible()


# --- The runs page --------------------------------------------------------------------------


@page_state_driver("staff-runs")
def _to_staff_runs(page: Page, server, monkeypatch):
    """Outbox send ran minutes ago; the retention purge failed last night after a good
    run the night before; the trials sync has not run for three days; the staff digest
    and the trial alerts never ran."""
    sign_in_as_staff(page, server)
    now = utcnow()
    minute, day = timedelta(minutes=1), timedelta(days=1)

    def run(job, started, took, counts, error=None):
        return JobRun(
            job=job,
            started_at=started,
            finished_at=started + took,
            counts=counts,
            error=error,
        )

    with server.app.app_context():
        db.session.add_all(
            [
                run("outbox send", now - 25 * minute, minute, {"sent": 1, "failed": 0}),
                run(
                    "outbox send",
                    now - 10 * minute,
                    timedelta(seconds=4),
                    {"sent": 3, "retrying": 1, "failed": 0, "cancelled": 0},
                ),
                run(
                    "retention purge",
                    now - day - 6 * 60 * minute,
                    2 * minute,
                    {"leads": 12, "notes": 30, "referrals": 4, "access_records": 0},
                ),
                run(
                    "retention purge",
                    now - 6 * 60 * minute,
                    minute / 2,
                    {},
                    error="OperationalError",
                ),
                run(
                    "trials sync",
                    now - 3 * day - 90 * minute,
                    7 * minute,
                    {"new": 2, "updated": 41, "unchanged": 980, "skipped": 1},
                ),
            ]
        )
        db.session.commit()
    page.get_by_role("navigation", name="Staff").get_by_role("link", name="Runs").click()
    expect_h1(page, "Timer runs")
    jobs = page.get_by_role("region", name="Last run of each job")
    expect(jobs.locator("tbody tr")).to_have_count(len(runs.JOBS))
    expect(jobs).to_contain_text("Failed: OperationalError")
    expect(jobs).to_contain_text("Not run for more than two days")
    expect(jobs.get_by_text("Never run")).to_have_count(2)


# --- A navigator on an admin's page ---------------------------------------------------------


@page_state_driver("staff-forbidden", 403)
def _to_staff_forbidden(page: Page, server, monkeypatch):
    _team(server)
    page.goto("/staff/login")
    sign_in(page, server.app, NAVIGATOR, NAVIGATOR_PASSWORD)
    expect(page).to_have_url(f"{server.url}/staff/")
    page.goto("/staff/team")
    expect_h1(page, "This page is for admins")
