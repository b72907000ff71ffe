"""A patient navigator's working session in the real browser: sign in (after a wrong
password; then the authenticator code), filter the leads, open one, change its status, add
a call note, download the leads CSV and see the export logged, then sign out. And a
stranger's browser gets no CSV.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Page, expect

from microsite import dates
from microsite.models import ExportLog, Lead, utcnow
from tests.helpers import STAFF_EMAIL, add_lead, count, create_staff_user, rows

from .pages import JOURNEY_WIDTHS, enter_password, sign_in, viewport

pytestmark = pytest.mark.browser

WRONG = "The email address or password is not right"

# Two Mayas, so that neither the search nor the diagnosis alone finds just one lead.
LEADS = [
    {
        "name": "Maya Lindqvist",
        "email": "maya.lindqvist@example.com",
        "diagnosis": "neuroblastoma",
        "country": "SE",
        "patient_age": 6,
    },
    {
        "name": "Maya Okafor",
        "email": "maya.okafor@example.com",
        "diagnosis": "wilms",
        "country": "NG",
        "patient_age": 4,
    },
    {
        "name": "Tomás Herrera",
        "email": "tomas.herrera@example.com",
        "diagnosis": "neuroblastoma",
        "country": "MX",
        "patient_age": 9,
    },
]
WANTED = LEADS[0]
NEUROBLASTOMA = "Neuroblastoma"  # DIAGNOSES["neuroblastoma"], as staff read it
NOTE = "Called the mother: she will send the latest scan report by Friday."
CSV_HEADER_START = ["id", "created_at", "role", "patient_age", "diagnosis"]
CSV_NAME = re.compile(r"^leads-(\d{4}-\d{2}-\d{2})\.csv$")


def arrange(app, *, leads=LEADS) -> dict[str, int]:
    """The staff user and the leads, straight into the database: {lead name: id}."""
    create_staff_user(app)
    return {details["name"]: add_lead(app, **details) for details in leads}


# --- Locators ---------------------------------------------------------------------------


def term(page: Page, label: str):
    """The value shown for ``label`` in a description list (dashboard stats, lead details)."""
    label_ = page.locator("dt", has_text=re.compile(rf"^{re.escape(label)}$"))
    return page.locator("dl div", has=label_).locator("dd")


def section(page: Page, heading: str):
    """The <section> headed ``heading`` (its table sits in a scroll region of the same name)."""
    return page.locator("section", has=page.get_by_role("heading", name=heading, exact=True))


def lead_rows(page: Page):
    return section(page, "All leads").locator("tbody tr")


def expect_sign_in_page(page: Page, next_: str | None) -> None:
    expect(page.get_by_role("heading", level=1)).to_have_text("Staff sign in")
    parts = urlsplit(page.url)
    assert parts.path == "/staff/login"
    assert parse_qs(parts.query).get("next") == ([next_] if next_ else None)
    if next_:
        assert "/staff/login?next=" in page.url


# --- The journey ------------------------------------------------------------------------


@pytest.mark.parametrize("width", JOURNEY_WIDTHS)
def test_staff_filter_open_lead_change_status_and_download_csv(
    open_page, live_server, screenshot, width
):
    ids = arrange(live_server.app)
    page = open_page(**viewport(width))

    # A stranger is sent to sign in, and brought back to the dashboard afterwards.
    page.goto("/staff/")
    expect_sign_in_page(page, "/staff/")
    expect(page).to_have_title(re.compile(r"^Staff sign in"))

    enter_password(page, password="not-the-right-password")
    problem = page.get_by_role("region", name="There is a problem")
    expect(problem).to_contain_text(WRONG)
    expect(problem).to_be_focused()
    expect(page).to_have_title(re.compile(r"^Error: Staff sign in"))
    expect(page.get_by_label("Password")).to_have_value("")  # never sent back to the page
    expect_sign_in_page(page, "/staff/")

    sign_in(page, live_server.app)
    expect(page).to_have_url(f"{live_server.url}/staff/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Leads")
    expect(term(page, "All time")).to_have_text("3")
    expect(term(page, "Today")).to_have_text("3")
    expect(page.get_by_text("3 leads found.")).to_be_visible()
    expect(lead_rows(page)).to_have_count(3)
    expect(section(page, "Recent exports")).to_contain_text("No exports yet.")

    # Filter: the search finds both Mayas, the diagnosis keeps one of them.
    page.get_by_label("Search name, email or phone").fill("maya")
    page.get_by_label("Diagnosis", exact=True).select_option(label=NEUROBLASTOMA)
    page.get_by_role("button", name="Apply filters").click()
    expect(page.get_by_text("1 lead found.")).to_be_visible()
    expect(lead_rows(page)).to_have_count(1)
    row = lead_rows(page).first
    expect(row.get_by_role("link")).to_have_text(WANTED["name"])
    expect(row).to_contain_text(NEUROBLASTOMA)
    expect(row).to_contain_text(WANTED["country"])
    expect(row).to_contain_text("New")
    # The filters show what was asked for.
    expect(page.get_by_label("Search name, email or phone")).to_have_value("maya")
    expect(page.get_by_label("Diagnosis", exact=True)).to_have_value("neuroblastoma")
    screenshot(page, f"staff-dashboard-{width}")

    # The lead.
    row.get_by_role("link", name=WANTED["name"]).click()
    lead_id = ids[WANTED["name"]]
    expect(page).to_have_url(f"{live_server.url}/staff/leads/{lead_id}")
    expect(page.get_by_role("heading", level=1)).to_contain_text(WANTED["name"])
    expect(term(page, "Email")).to_have_text(WANTED["email"])
    expect(page.get_by_role("link", name=WANTED["email"])).to_have_attribute(
        "href", f"mailto:{WANTED['email']}"
    )
    expect(term(page, "Diagnosis")).to_have_text(NEUROBLASTOMA)
    expect(term(page, "Status")).to_have_text("New")
    status_section = section(page, "Status")
    expect(status_section.get_by_role("listitem")).to_have_count(0)

    page.get_by_role("combobox", name="Status").select_option(label="Contacted")
    page.get_by_role("button", name="Change status").click()
    expect(term(page, "Status")).to_have_text("Contacted")
    expect(page.get_by_role("combobox", name="Status")).to_have_value("contacted")
    history = status_section.get_by_role("listitem")
    expect(history).to_have_count(1)
    expect(history).to_contain_text(f"New → Contacted, by {STAFF_EMAIL}")
    expect(page).to_have_url(f"{live_server.url}/staff/leads/{lead_id}")

    notes = section(page, "Call notes")
    expect(notes).to_contain_text("No notes yet.")
    page.get_by_label("Add a call note").fill(NOTE)
    page.get_by_role("button", name="Add note").click()
    expect(page).to_have_url(f"{live_server.url}/staff/leads/{lead_id}#notes")
    note = notes.get_by_role("article")
    expect(note).to_have_count(1)
    expect(note.locator(".note__body")).to_have_text(NOTE)
    expect(note.locator(".note__meta")).to_contain_text(STAFF_EMAIL)
    expect(notes).not_to_contain_text("No notes yet.")
    expect(page.get_by_label("Add a call note")).to_have_value("")
    screenshot(page, f"staff-lead-{width}")

    statuses = {lead.id: lead.status for lead in rows(live_server.app, Lead)}
    assert statuses == {
        ids[details["name"]]: "contacted" if details is WANTED else "new" for details in LEADS
    }

    # Back on the dashboard, without the filters: download the CSV of every lead.
    page.get_by_role("link", name="All leads").click()
    expect(page).to_have_url(f"{live_server.url}/staff/")
    expect(lead_rows(page)).to_have_count(3)
    expect(lead_rows(page).filter(has_text=WANTED["name"])).to_contain_text("Contacted")

    with live_server.app.app_context():
        days = {dates.today(), (utcnow() + timedelta(minutes=1)).astimezone(dates.zone()).date()}
    with page.expect_download() as info:
        page.get_by_role("link", name="leads", exact=True).click()
    download = info.value
    assert download.failure() is None
    match = CSV_NAME.fullmatch(download.suggested_filename)
    assert match, download.suggested_filename
    assert match[1] in {day.isoformat() for day in days}

    raw = download.path().read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # the BOM, for spreadsheet programs
    header, *lines = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    assert header[: len(CSV_HEADER_START)] == CSV_HEADER_START
    assert len(lines) == 3
    records = {int(line[0]): dict(zip(header, line, strict=True)) for line in lines}
    assert set(records) == set(ids.values())
    assert records[lead_id]["status"] == "contacted"
    for details in LEADS:
        record = records[ids[details["name"]]]
        assert (record["name"], record["email"], record["diagnosis"], record["country"]) == (
            details["name"],  # "Tomás" too: the accent survives the round trip
            details["email"],
            details["diagnosis"],
            details["country"],
        )
        if details is not WANTED:
            assert record["status"] == "new"

    # The export is logged, with who made it and how many rows it had.
    page.reload()
    exports = section(page, "Recent exports").locator("tbody tr")
    expect(exports).to_have_count(1)
    cells = exports.first.locator("td")
    expect(cells).to_have_count(5)
    expect(cells.nth(1)).to_have_text(STAFF_EMAIL)
    expect(cells.nth(2)).to_have_text("leads")
    expect(cells.nth(3)).to_have_text("start to today")
    expect(cells.nth(4)).to_have_text("3")

    # Sign out: back to the sign-in page, and the dashboard is closed again.
    page.get_by_role("button", name="Sign out").click()
    expect_sign_in_page(page, None)
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)
    page.goto("/staff/")
    expect_sign_in_page(page, "/staff/")


def test_anonymous_browser_gets_no_csv(open_page, live_server):
    arrange(live_server.app, leads=LEADS[:1])
    page = open_page()

    response = page.goto("/staff/leads.csv")
    assert response is not None
    assert response.status == 401
    assert not response.headers.get("content-type", "").startswith("text/csv")
    assert "content-disposition" not in response.headers
    body = response.text()
    assert "id,created_at" not in body
    assert LEADS[0]["name"] not in body and LEADS[0]["email"] not in body
    assert count(live_server.app, ExportLog) == 0
