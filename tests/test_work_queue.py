"""The navigator's work queue, through HTTP: "My leads" and "Unassigned" by call-back due
time, overdue and due today said in words and counted (in DISPLAY_TIMEZONE's days), the
promise kept by a status change or a call note and by nothing else, taking and assigning
leads with their history, the dashboard's assignee, due, language and language-gap
filters, new applications arriving unassigned and due and linked to the family's other
applications, and every view of a lead page in the access record."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta
from html.parser import HTMLParser
from zoneinfo import ZoneInfo

import pytest

from microsite import auth, callbacks, leads
from microsite.extensions import db
from microsite.models import AccessRecord, Assignment, Lead, StaffSession, StaffUser, utcnow
from tests.helpers import (
    STAFF_EMAIL,
    STAFF_PASSWORD,
    add_lead,
    create_staff_user,
    fetch,
    log_in,
    post_on_lead_page,
    rows,
    submit_application,
)

NAVIGATOR = "nav@example.com"
NAVIGATOR_PASSWORD = "a navigator's long password"
OTHER = "other.nav@example.com"
OTHER_PASSWORD = "another navigator's password"
NEW_YORK = "America/New_York"
NOT_UNDERSTOOD = "Some filters were not understood"
INVALID_MEMBER = "Choose one of the listed members."


# --- Reading the pages --------------------------------------------------------------------


class _Regions(HTMLParser):
    """The body rows of every table inside a ``role="region"`` with an aria-label: for
    each row, the text of its cells, whitespace collapsed."""

    def __init__(self):
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self._label: str | None = None
        self._depth = 0  # divs open inside the current region
        self._in_body = False
        self._row: list[str] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "div":
            if self._label is not None:
                self._depth += 1
            elif attributes.get("role") == "region" and attributes.get("aria-label"):
                self._label = attributes["aria-label"]
                self._depth = 0
                self.tables.setdefault(self._label, [])
        elif self._label is None:
            return
        elif tag == "tbody":
            self._in_body = True
        elif tag == "tr" and self._in_body:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
        elif tag == "br" and self._cell is not None:
            self._cell.append(" ")

    def handle_endtag(self, tag):
        if self._label is None:
            return
        if tag == "div":
            if self._depth == 0:
                self._label = None
            else:
                self._depth -= 1
        elif tag == "tbody":
            self._in_body = False
        elif tag in ("td", "th") and self._cell is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.tables[self._label].append(self._row)
            self._row = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def tables(html: str) -> dict[str, list[list[str]]]:
    parser = _Regions()
    parser.feed(html)
    return parser.tables


def names_in(html: str, label: str) -> list[str]:
    """The lead names of a table's rows, in order; [] when the page has no such table."""
    return [row[0] for row in tables(html).get(label, [])]


def call_back_cells(html: str, label: str) -> dict[str, str]:
    """Each listed lead's "Call back" cell (the second column of the queue tables), by name."""
    return {row[0]: row[1] for row in tables(html)[label]}


def queue_counts(html: str) -> dict[str, int]:
    """The counts above the queue, by label (Overdue, Due today, Yours ...)."""
    block = re.search(r'<dl class="stats stats--queue">(.*?)</dl>', html, re.S).group(1)
    return {
        label: int(value)
        for label, value in re.findall(r"<dt>(.*?)</dt><dd>(?:<a [^>]*>)?(\d+)", block)
    }


def page(client, path: str = "/staff/", status: int = 200) -> str:
    response = client.get(path)
    assert response.status_code == status, (path, response.status_code)
    return response.get_data(as_text=True)


def section(html: str, heading_id: str) -> str:
    """The HTML of the <section> labelled by the heading with that id ("" if absent)."""
    found = re.search(rf'<section aria-labelledby="{heading_id}".*?</section>', html, re.S)
    return found.group(0) if found else ""


def day_words(day) -> str:
    """A day as the due_time filter writes it: "Wed 2 Dec 2026"."""
    return day.strftime("%a %-d %b %Y")


# --- People -------------------------------------------------------------------------------


@pytest.fixture
def team(app) -> dict[str, int]:
    """The admin (the team's first member, English), an English-only navigator and another
    navigator; ids by email."""
    return {
        STAFF_EMAIL: create_staff_user(app),
        NAVIGATOR: create_staff_user(app, NAVIGATOR, NAVIGATOR_PASSWORD, role="navigator"),
        OTHER: create_staff_user(app, OTHER, OTHER_PASSWORD, role="navigator"),
    }


def signed_in(app, email: str = STAFF_EMAIL, password: str = STAFF_PASSWORD):
    client = app.test_client()
    assert log_in(client, email, password).status_code == 303
    return client


@pytest.fixture
def admin(app, team):
    return signed_in(app)


@pytest.fixture
def navigator(app, team):
    return signed_in(app, NAVIGATOR, NAVIGATOR_PASSWORD)


def set_member(app, staff_id: int, **columns) -> None:
    with app.app_context():
        member = db.session.get(StaffUser, staff_id)
        for name, value in columns.items():
            setattr(member, name, value)
        db.session.commit()


# --- 1. The queue's order -------------------------------------------------------------------


def test_my_leads_unmet_by_due_time_then_no_due_time_then_met_and_no_closed(app, team, navigator):
    now = utcnow()
    mine = team[NAVIGATOR]
    add_lead(app, name="Due in five days", assigned_to_id=mine, callback_due_at=now + timedelta(5))
    add_lead(app, name="No due time", assigned_to_id=mine, status="contacted")
    add_lead(
        app,
        name="Met, was overdue",
        assigned_to_id=mine,
        status="contacted",
        callback_due_at=now - timedelta(days=3),
        callback_met_at=now - timedelta(days=4),
    )
    add_lead(app, name="Overdue two days", assigned_to_id=mine, callback_due_at=now - timedelta(2))
    add_lead(
        app,
        name="Referred, due in three hours",
        assigned_to_id=mine,
        status="referred",
        callback_due_at=now + timedelta(hours=3),
    )
    for status in ("enrolled", "not_eligible", "withdrew"):
        add_lead(
            app,
            name=f"Closed {status}",
            status=status,
            assigned_to_id=mine,
            callback_due_at=now - timedelta(days=9),
        )
    add_lead(
        app, name="The other's", assigned_to_id=team[OTHER], callback_due_at=now - timedelta(9)
    )
    add_lead(app, name="Unassigned", callback_due_at=now - timedelta(days=9))

    html = page(navigator)

    assert names_in(html, "My leads") == [
        "Overdue two days",
        "Referred, due in three hours",
        "Due in five days",
        "No due time",
        "Met, was overdue",
    ]
    cells = call_back_cells(html, "My leads")
    assert cells["No due time"] == "No due time"
    assert cells["Met, was overdue"] == "Called back"


def test_unassigned_lists_only_open_unassigned_leads_by_due_time(app, team, navigator):
    now = utcnow()
    add_lead(app, name="Due tomorrow", callback_due_at=now + timedelta(days=1))
    add_lead(app, name="Overdue an hour", callback_due_at=now - timedelta(hours=1))
    add_lead(
        app,
        name="Called, no one yet",
        status="contacted",
        callback_due_at=now - timedelta(days=5),
        callback_met_at=now - timedelta(days=6),
    )
    add_lead(app, name="Overdue a week", callback_due_at=now - timedelta(days=7))
    add_lead(app, name="Withdrew", status="withdrew", callback_due_at=now - timedelta(days=8))
    add_lead(app, name="Enrolled", status="enrolled", callback_due_at=now - timedelta(days=8))
    add_lead(app, name="Mine", assigned_to_id=team[NAVIGATOR], callback_due_at=now - timedelta(9))
    add_lead(app, name="Others", assigned_to_id=team[OTHER], callback_due_at=now - timedelta(9))

    html = page(navigator)

    assert names_in(html, "Unassigned leads") == [
        "Overdue a week",
        "Overdue an hour",
        "Due tomorrow",
        "Called, no one yet",
    ]
    assert names_in(html, "My leads") == ["Mine"]


def test_the_queue_is_each_members_own(app, team):
    add_lead(app, name="Navigator's", assigned_to_id=team[NAVIGATOR])
    add_lead(app, name="Other's", assigned_to_id=team[OTHER])

    assert names_in(page(signed_in(app, OTHER, OTHER_PASSWORD)), "My leads") == ["Other's"]
    html = page(signed_in(app))  # the admin holds none
    assert names_in(html, "My leads") == []
    assert "No open leads are assigned to you." in html
    assert names_in(html, "Unassigned leads") == []
    assert "Every open lead has a navigator." in html


# --- 2. Overdue and due today, in words and counted ------------------------------------------


def utc_midnight(days_from_today: int) -> datetime:
    today = utcnow().date()
    return datetime.combine(today + timedelta(days=days_from_today), time.min, tzinfo=UTC)


def test_overdue_and_due_today_are_said_in_words_and_counted(app, team, navigator):
    now = utcnow()
    end_of_today = utc_midnight(1)  # due at the end of today, UTC (the default zone)
    mine, other = team[NAVIGATOR], team[OTHER]
    add_lead(
        app, name="Mine overdue", assigned_to_id=mine, callback_due_at=now - timedelta(hours=1)
    )
    add_lead(app, name="Mine today A", assigned_to_id=mine, callback_due_at=end_of_today)
    add_lead(app, name="Mine today B", assigned_to_id=mine, callback_due_at=end_of_today)
    add_lead(app, name="Mine later", assigned_to_id=mine, callback_due_at=utc_midnight(2))
    add_lead(
        app,
        name="Mine called",
        assigned_to_id=mine,
        status="contacted",
        callback_due_at=now - timedelta(days=2),
        callback_met_at=now - timedelta(days=3),
    )
    add_lead(app, name="Nobody's overdue", callback_due_at=now - timedelta(days=1))
    add_lead(app, name="Other overdue", assigned_to_id=other, callback_due_at=now - timedelta(1))
    for letter in "AB":
        add_lead(
            app, name=f"Other today {letter}", assigned_to_id=other, callback_due_at=end_of_today
        )

    html = page(navigator)

    assert queue_counts(html) == {
        "Overdue": 3,
        "Due today": 4,
        "Yours overdue": 1,
        "Yours due today": 2,
    }
    cells = call_back_cells(html, "My leads")
    assert cells["Mine overdue"].startswith("Overdue by ")
    today = utcnow().date()
    assert cells["Mine today A"] == f"Due today by end of {day_words(today)}"
    assert cells["Mine later"] == f"Due later by end of {day_words(today + timedelta(1))}"
    assert cells["Mine called"] == "Called back"
    assert call_back_cells(html, "Unassigned leads")["Nobody's overdue"].startswith("Overdue by ")
    # The state is text in the page, not only a colour.
    assert '<strong class="due due--overdue">Overdue</strong>' in html
    assert '<strong class="due due--today">Due today</strong>' in html


def test_the_counts_link_to_the_lists_they_count(app, team, navigator):
    now = utcnow()
    add_lead(app, name="Overdue", callback_due_at=now - timedelta(hours=2))
    add_lead(app, name="Today", callback_due_at=utc_midnight(1))
    add_lead(app, name="Later", callback_due_at=utc_midnight(3))

    assert names_in(page(navigator, "/staff/?due=overdue"), "All leads") == ["Overdue"]
    assert names_in(page(navigator, "/staff/?due=today"), "All leads") == ["Today"]
    html = page(navigator)
    assert 'href="/staff/?due=overdue#latest-heading">1</a>' in html
    assert 'href="/staff/?due=today#latest-heading">1</a>' in html


def ny_midnight(days_from_today: int) -> datetime:
    """The UTC moment a New York day begins, ``days_from_today`` after today's there."""
    zone = ZoneInfo(NEW_YORK)
    today = utcnow().astimezone(zone).date()
    start = datetime.combine(today + timedelta(days=days_from_today), time.min, tzinfo=zone)
    return start.astimezone(UTC)


def test_due_today_is_the_local_day_of_the_display_time_zone(make_app):
    app = make_app(DISPLAY_TIMEZONE=NEW_YORK)
    create_staff_user(app)
    nav = create_staff_user(app, NAVIGATOR, NAVIGATOR_PASSWORD, role="navigator")
    end_of_local_today = ny_midnight(1)  # 04:00 or 05:00 UTC: never a UTC day's end
    add_lead(
        app, name="End of the local day", assigned_to_id=nav, callback_due_at=end_of_local_today
    )
    add_lead(
        app,
        name="A minute into tomorrow",
        assigned_to_id=nav,
        callback_due_at=end_of_local_today + timedelta(minutes=1),
    )
    add_lead(
        app,
        name="A minute ago",
        assigned_to_id=nav,
        callback_due_at=utcnow() - timedelta(minutes=1),
    )

    html = page(signed_in(app, NAVIGATOR, NAVIGATOR_PASSWORD))

    local_today = utcnow().astimezone(ZoneInfo(NEW_YORK)).date()
    cells = call_back_cells(html, "My leads")
    assert cells["End of the local day"] == f"Due today by end of {day_words(local_today)}"
    assert cells["A minute into tomorrow"] == (
        f"Due later by {day_words(local_today + timedelta(1))}, 00:01"
    )
    assert cells["A minute ago"].startswith("Overdue by ")
    assert queue_counts(html) == {
        "Overdue": 1,
        "Due today": 1,
        "Yours overdue": 1,
        "Yours due today": 1,
    }
    assert names_in(page(signed_in(app), "/staff/?due=today"), "All leads") == [
        "End of the local day"
    ]


# --- 3. The promise kept --------------------------------------------------------------------


@pytest.fixture
def overdue_lead(app, team) -> int:
    return add_lead(
        app,
        name="Waiting family",
        assigned_to_id=team[NAVIGATOR],
        callback_due_at=utcnow() - timedelta(hours=5),
    )


@pytest.mark.parametrize(
    "action, data",
    [("status", {"status": "contacted"}), ("notes", {"body": "Called, left a message."})],
)
def test_a_status_change_from_new_or_a_call_note_keeps_the_promise(
    app, navigator, overdue_lead, action, data
):
    assert queue_counts(page(navigator))["Yours overdue"] == 1
    before = utcnow()

    assert post_on_lead_page(navigator, overdue_lead, action, **data).status_code == 303

    met = fetch(app, Lead, overdue_lead).callback_met_at
    assert met is not None and before <= met <= utcnow()
    lead_html = page(navigator, f"/staff/leads/{overdue_lead}")
    assert "<dt>Call back</dt><dd>Called back</dd>" in lead_html
    html = page(navigator)
    assert queue_counts(html)["Yours overdue"] == 0
    assert queue_counts(html)["Overdue"] == 0
    assert call_back_cells(html, "My leads")["Waiting family"] == "Called back"

    # Kept once: later work does not move the moment it was kept.
    post_on_lead_page(navigator, overdue_lead, "notes", body="A second call.")
    post_on_lead_page(navigator, overdue_lead, "status", status="referred")
    assert fetch(app, Lead, overdue_lead).callback_met_at == met


def test_other_changes_do_not_keep_the_promise(app, team, admin, navigator, overdue_lead):
    steps = [
        (navigator, "status", {"status": "new"}, 303),  # the same status: no change
        (navigator, "notes", {"body": ""}, 422),  # a note that was not written
        (navigator, "status", {"status": "someday"}, 422),
        (navigator, "matches", {}, 303),
        (admin, "assign", {"assignee": str(team[OTHER])}, 303),
        (admin, "assign", {"assignee": ""}, 303),
        (navigator, "take", {}, 303),
    ]
    for client, action, data, status in steps:
        response = post_on_lead_page(client, overdue_lead, action, **data)
        assert response.status_code == status, (action, data)
        assert fetch(app, Lead, overdue_lead).callback_met_at is None, (action, data)

    lead = fetch(app, Lead, overdue_lead)
    assert (lead.status, lead.assigned_to_id) == ("new", team[NAVIGATOR])
    assert '<strong class="due due--overdue">Overdue</strong>' in page(
        navigator, f"/staff/leads/{overdue_lead}"
    )
    assert queue_counts(page(navigator))["Yours overdue"] == 1


def test_a_status_change_between_open_statuses_does_not_count_as_the_call(app, navigator, team):
    """Only leaving "new" is the call back: a lead moved on from "contacted" without a
    call recorded (a lead from before due times) stays as it was."""
    lead_id = add_lead(
        app,
        name="Contacted",
        status="contacted",
        assigned_to_id=team[NAVIGATOR],
        callback_due_at=utcnow() - timedelta(days=1),
    )
    assert post_on_lead_page(navigator, lead_id, "status", status="referred").status_code == 303
    assert fetch(app, Lead, lead_id).callback_met_at is None


# --- 4. Taking and assigning ----------------------------------------------------------------


def assignments(app, lead_id: int) -> list[tuple]:
    return [
        (row.staff_id, row.from_staff_id, row.to_staff_id)
        for row in rows(app, Assignment, Assignment.lead_id == lead_id)
    ]


def test_a_navigator_takes_an_unassigned_lead(app, team, navigator):
    lead_id = add_lead(app, name="Free lead", callback_due_at=utcnow() + timedelta(days=1))
    assert names_in(page(navigator), "Unassigned leads") == ["Free lead"]
    lead_html = page(navigator, f"/staff/leads/{lead_id}")
    assert "Take this lead" in lead_html
    assert f'action="/staff/leads/{lead_id}/assign"' not in lead_html  # no assign form
    before = utcnow()

    response = post_on_lead_page(navigator, lead_id, "take")

    assert response.status_code == 303
    assert response.headers["Location"] == f"/staff/leads/{lead_id}"
    nav = team[NAVIGATOR]
    assert fetch(app, Lead, lead_id).assigned_to_id == nav
    [row] = rows(app, Assignment, Assignment.lead_id == lead_id)
    assert (row.staff_id, row.from_staff_id, row.to_staff_id) == (nav, None, nav)
    assert before <= row.created_at <= utcnow()
    lead_html = page(navigator, f"/staff/leads/{lead_id}")
    assert f"<dt>Assigned to</dt><dd>{NAVIGATOR}</dd>" in lead_html
    assert f"nobody → {NAVIGATOR}, by {NAVIGATOR}</li>" in lead_html
    assert "Take this lead" not in lead_html
    html = page(navigator)
    assert names_in(html, "My leads") == ["Free lead"]
    assert names_in(html, "Unassigned leads") == []


def test_a_navigator_cannot_take_anothers_lead_nor_assign(app, team, navigator):
    theirs = add_lead(app, name="Theirs", assigned_to_id=team[OTHER])
    free = add_lead(app, name="Free")
    lead_html = page(navigator, f"/staff/leads/{theirs}")
    assert "Take this lead" not in lead_html
    assert "Only an admin can give this lead to someone else." in lead_html

    assert post_on_lead_page(navigator, theirs, "take").status_code == 403
    for lead_id in (theirs, free):
        for value in (str(team[NAVIGATOR]), ""):
            response = post_on_lead_page(navigator, lead_id, "assign", assignee=value)
            assert response.status_code == 403
            assert "This page is for admins" in response.get_data(as_text=True)

    assert fetch(app, Lead, theirs).assigned_to_id == team[OTHER]
    assert fetch(app, Lead, free).assigned_to_id is None
    assert rows(app, Assignment) == []


def test_taking_needs_the_forms_token(app, team, navigator):
    lead_id = add_lead(app)
    assert navigator.post(f"/staff/leads/{lead_id}/take").status_code == 400
    assert fetch(app, Lead, lead_id).assigned_to_id is None


def test_an_admin_assigns_reassigns_and_unassigns(app, team, admin):
    lead_id = add_lead(app, name="To give")
    admin_id, nav, other = team[STAFF_EMAIL], team[NAVIGATOR], team[OTHER]

    for value in (str(nav), str(other), str(other), ""):
        response = post_on_lead_page(admin, lead_id, "assign", assignee=value)
        assert response.status_code == 303
        assert response.headers["Location"] == f"/staff/leads/{lead_id}"
        assert fetch(app, Lead, lead_id).assigned_to_id == (int(value) if value else None)

    # The same member twice is one change.
    assert assignments(app, lead_id) == [
        (admin_id, None, nav),
        (admin_id, nav, other),
        (admin_id, other, None),
    ]
    lead_html = page(admin, f"/staff/leads/{lead_id}")
    history = re.findall(r": (\S+ → \S+), by (\S+)</li>", section(lead_html, "assignment-heading"))
    assert history == [
        (f"nobody → {NAVIGATOR}", STAFF_EMAIL),
        (f"{NAVIGATOR} → {OTHER}", STAFF_EMAIL),
        (f"{OTHER} → nobody", STAFF_EMAIL),
    ]
    assert "<dt>Assigned to</dt><dd>Nobody yet</dd>" in lead_html


def test_an_admin_may_take_a_lead_someone_else_holds(app, team, admin):
    lead_id = add_lead(app, assigned_to_id=team[NAVIGATOR])
    assert "Take this lead" in page(admin, f"/staff/leads/{lead_id}")
    assert post_on_lead_page(admin, lead_id, "take").status_code == 303
    assert fetch(app, Lead, lead_id).assigned_to_id == team[STAFF_EMAIL]
    assert assignments(app, lead_id) == [(team[STAFF_EMAIL], team[NAVIGATOR], team[STAFF_EMAIL])]


@pytest.mark.parametrize("value", ["abc", "999", "-1", " ", "disabled"])
def test_an_assignee_not_listed_is_422_with_a_message(app, team, admin, value):
    gone = create_staff_user(app, "gone@example.com", role="navigator")
    set_member(app, gone, active=False)
    value = str(gone) if value == "disabled" else value
    lead_id = add_lead(app, name="Kept", assigned_to_id=team[NAVIGATOR])

    response = post_on_lead_page(admin, lead_id, "assign", assignee=value)

    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert INVALID_MEMBER in body
    assert "<title>Error: Lead" in body
    assert fetch(app, Lead, lead_id).assigned_to_id == team[NAVIGATOR]
    assert rows(app, Assignment) == []


def test_the_assign_form_lists_only_active_members(app, team, admin):
    gone = create_staff_user(app, "gone@example.com", role="navigator", languages="en,es")
    set_member(app, gone, active=False)
    set_member(app, team[OTHER], languages="en,es")
    lead_id = add_lead(app)

    html = page(admin, f"/staff/leads/{lead_id}")

    select = re.search(r'<select[^>]*name="assignee".*?</select>', html, re.S).group(0)
    options = re.findall(r'<option[^>]*value="([^"]*)"[^>]*>(.*?)</option>', select)
    assert options == [
        ("", "Nobody (unassigned)"),
        (str(team[NAVIGATOR]), f"{NAVIGATOR} (en)"),  # by email
        (str(team[STAFF_EMAIL]), f"{STAFF_EMAIL} (en)"),
        (str(team[OTHER]), f"{OTHER} (en, es)"),
    ]
    assert "gone@example.com" not in html


# --- 5. Filters -----------------------------------------------------------------------------


@pytest.fixture
def mixed_leads(app, team) -> None:
    now = utcnow()
    add_lead(
        app, name="Nav overdue", assigned_to_id=team[NAVIGATOR], callback_due_at=now - timedelta(1)
    )
    add_lead(app, name="Nav today", assigned_to_id=team[NAVIGATOR], callback_due_at=utc_midnight(1))
    add_lead(app, name="Other later", assigned_to_id=team[OTHER], callback_due_at=utc_midnight(4))
    add_lead(
        app,
        name="Nobody met",
        status="contacted",
        callback_due_at=now - timedelta(days=2),
        callback_met_at=now - timedelta(days=3),
    )
    add_lead(app, name="Nobody Spanish", language="es", callback_due_at=utc_midnight(5))
    add_lead(app, name="Nobody no due time")


@pytest.mark.parametrize(
    "query, names",
    [
        ({"assignee": "none"}, {"Nobody met", "Nobody Spanish", "Nobody no due time"}),
        ({"assignee": "NAV"}, {"Nav overdue", "Nav today"}),
        ({"assignee": "OTHER"}, {"Other later"}),
        ({"assignee": "ADMIN"}, set()),
        ({"due": "overdue"}, {"Nav overdue"}),
        ({"due": "today"}, {"Nav today"}),
        ({"due": "later"}, {"Other later", "Nobody Spanish"}),
        ({"due": "met"}, {"Nobody met"}),
        ({"language": "es"}, {"Nobody Spanish"}),
        ({"language": "en", "assignee": "none"}, {"Nobody met", "Nobody no due time"}),
        ({"due": "later", "assignee": "none"}, {"Nobody Spanish"}),
    ],
)
def test_the_assignee_due_and_language_filters(app, team, navigator, mixed_leads, query, names):
    ids = {"NAV": team[NAVIGATOR], "OTHER": team[OTHER], "ADMIN": team[STAFF_EMAIL]}
    query = {key: str(ids.get(value, value)) for key, value in query.items()}

    html = page(navigator, "/staff/?" + "&".join(f"{k}={v}" for k, v in query.items()))

    assert NOT_UNDERSTOOD not in html
    assert set(names_in(html, "All leads")) == names


@pytest.mark.parametrize(
    "query",
    [
        "assignee=abc",
        "assignee=999",
        "assignee=-1",
        "assignee=1.5",
        "due=soon",
        "due=Overdue",
        "language=xx",
        "language=es&due=yesterday",
        "assignee=%00",
        "due=" + "x" * 5000,
    ],
)
def test_a_filter_value_not_understood_is_a_message_not_a_500(navigator, mixed_leads, query):
    html = page(navigator, "/staff/?" + query)
    assert NOT_UNDERSTOOD in html
    assert len(names_in(html, "All leads")) == 6  # no filter applied


def language_gap(client) -> set[str]:
    html = page(client, "/staff/?language_gap=y")
    assert NOT_UNDERSTOOD not in html
    return set(names_in(html, "All leads"))


def test_the_language_gap_filter(app, team, admin):
    english_only = add_lead(
        app, name="Spanish, English-only navigator", language="es", assigned_to_id=team[NAVIGATOR]
    )
    add_lead(app, name="Spanish, nobody", language="es")
    add_lead(app, name="English, nobody")
    add_lead(app, name="English, navigator", assigned_to_id=team[NAVIGATOR])
    to_the_bilingual = add_lead(app, name="Spanish, bilingual", language="es")

    # Nobody on the team speaks Spanish.
    assert language_gap(admin) == {
        "Spanish, English-only navigator",
        "Spanish, nobody",
        "Spanish, bilingual",
    }
    lead_html = page(admin, f"/staff/leads/{english_only}")
    assert f"{NAVIGATOR} does not speak Spanish, the family’s language." in lead_html

    # A Spanish speaker who is disabled calls nobody.
    gone = create_staff_user(app, "gone@example.com", role="navigator", languages="es")
    set_member(app, gone, active=False)
    assert "Spanish, nobody" in language_gap(admin)

    # An active member speaking "en,es": the unassigned Spanish leads have a caller, and so
    # does the one given to them; the English-only navigator's still has none.
    bilingual = create_staff_user(
        app, "bilingual@example.com", "a bilingual long password", languages="en,es"
    )
    response = post_on_lead_page(admin, to_the_bilingual, "assign", assignee=str(bilingual))
    assert response.status_code == 303
    assert language_gap(admin) == {"Spanish, English-only navigator"}
    assert "does not speak" not in page(admin, f"/staff/leads/{to_the_bilingual}")

    # Filters join: the gap among one member's leads, and among the unassigned.
    html = page(admin, f"/staff/?language_gap=y&assignee={team[NAVIGATOR]}")
    assert names_in(html, "All leads") == ["Spanish, English-only navigator"]
    assert names_in(page(admin, "/staff/?language_gap=y&assignee=none"), "All leads") == []


def test_without_the_gap_filter_every_lead_is_listed(app, team, admin):
    add_lead(app, name="Spanish", language="es")
    add_lead(app, name="English")
    for query in ("", "?language_gap=", "?language_gap=false"):
        assert set(names_in(page(admin, "/staff/" + query), "All leads")) == {"Spanish", "English"}


# --- 6. New applications ---------------------------------------------------------------------


def test_an_application_arrives_unassigned_with_its_due_time_and_email_digest(app, team):
    before = utcnow()
    submit_application(app, name="Sam Applicant", email="sam@example.com")

    [lead] = rows(app, Lead)
    assert lead.assigned_to_id is None
    assert lead.callback_met_at is None
    assert before <= lead.created_at <= utcnow()
    with app.test_request_context():
        assert lead.callback_due_at == callbacks.lead_due_at(lead.created_at)
        assert lead.email_digest == leads.email_digest("sam@example.com")
    assert lead.callback_due_at > lead.created_at
    assert rows(app, Assignment) == []
    assert names_in(page(signed_in(app, NAVIGATOR, NAVIGATOR_PASSWORD)), "Unassigned leads") == [
        "Sam Applicant"
    ]


def test_applications_from_the_same_address_are_linked_whatever_its_case(app, team, admin):
    submit_application(app, name="First", email="Sam.Family@Example.com")
    submit_application(app, name="Second", email="sam.family@EXAMPLE.COM", patient_age="9")
    submit_application(app, name="Stranger", email="sam.family2@example.com")
    first, second, stranger = (lead.id for lead in rows(app, Lead))
    digests = [lead.email_digest for lead in rows(app, Lead)]
    assert digests[0] == digests[1] != digests[2]

    def family_links(lead_id: int) -> list[int]:
        found = section(page(admin, f"/staff/leads/{lead_id}"), "family-heading")
        if not found:
            return []
        assert "Other applications from this email address" in found
        return [int(n) for n in re.findall(r'<a href="/staff/leads/(\d+)">Lead \1</a>', found)]

    assert family_links(first) == [second]
    assert family_links(second) == [first]
    assert family_links(stranger) == []
    assert "Other applications from this email address" not in page(
        admin, f"/staff/leads/{stranger}"
    )
    assert "age 9" in section(page(admin, f"/staff/leads/{first}"), "family-heading")


# --- 7. The access record of lead pages --------------------------------------------------------


def open_session_id(app, staff_id: int) -> int:
    [row] = rows(
        app, StaffSession, StaffSession.staff_id == staff_id, StaffSession.ended_at.is_(None)
    )
    return row.id


def test_viewing_a_lead_page_is_recorded_with_the_member_and_session(app, team, navigator):
    lead_id = add_lead(app)
    before = utcnow()

    page(navigator, f"/staff/leads/{lead_id}")

    [entry] = rows(app, AccessRecord, AccessRecord.action == "lead viewed")
    assert entry.lead_id == lead_id
    assert (entry.staff_id, entry.actor) == (team[NAVIGATOR], NAVIGATOR)
    assert entry.session_id == open_session_id(app, team[NAVIGATOR])
    assert before <= entry.created_at <= utcnow()
    assert entry.detail is None

    page(navigator, f"/staff/leads/{lead_id}")
    assert len(rows(app, AccessRecord, AccessRecord.action == "lead viewed")) == 2


def test_an_unknown_lead_is_404_and_not_recorded(app, team, navigator):
    page(navigator, "/staff/leads/999", status=404)
    assert rows(app, AccessRecord, AccessRecord.action == "lead viewed") == []


def test_who_opened_the_page_is_shown_to_admins_only(app, team, admin, navigator):
    lead_id = add_lead(app)
    nav_html = page(navigator, f"/staff/leads/{lead_id}")
    assert "Who opened this page" not in nav_html

    html = page(admin, f"/staff/leads/{lead_id}")

    viewers = section(html, "viewers-heading")
    assert "Who opened this page" in viewers
    nav_session = open_session_id(app, team[NAVIGATOR])
    admin_session = open_session_id(app, team[STAFF_EMAIL])
    entries = re.findall(r"<li>[^<]*: (\S+) \(session (\d+)\)</li>", viewers)
    # Newest first: the admin's own view of this page, then the navigator's.
    assert entries == [(STAFF_EMAIL, str(admin_session)), (NAVIGATOR, str(nav_session))]
    assert "Who opened this page" not in page(navigator, f"/staff/leads/{lead_id}")


def test_a_lead_nobody_else_opened_lists_the_admins_own_view(app, team, admin):
    lead_id = add_lead(app)
    viewers = section(page(admin, f"/staff/leads/{lead_id}"), "viewers-heading")
    assert len(re.findall(r"<li>", viewers)) == 1
    assert STAFF_EMAIL in viewers


def test_an_ended_session_is_still_named_in_the_record(app, team, admin):
    lead_id = add_lead(app)
    client = signed_in(app, NAVIGATOR, NAVIGATOR_PASSWORD)
    page(client, f"/staff/leads/{lead_id}")
    session_id = open_session_id(app, team[NAVIGATOR])
    with app.test_request_context():
        auth.end_sessions(team[NAVIGATOR], "admin")
        db.session.commit()

    assert client.get(f"/staff/leads/{lead_id}").status_code == 302  # signed out now
    viewers = section(page(admin, f"/staff/leads/{lead_id}"), "viewers-heading")
    assert f"{NAVIGATOR} (session {session_id})" in viewers


# --- leads of a disabled member -------------------------------------------------------------


def test_a_disabled_members_leads_go_back_to_the_unassigned_queue(app):
    create_staff_user(app)  # the admin
    gone = create_staff_user(app, "gone@example.com", "a long password here", "navigator", "en,es")
    stays = create_staff_user(app, "stays@example.com", "another long password", "navigator", "en")
    lead_id = add_lead(app, name="Left Behind", language="es", assigned_to_id=gone)
    with app.app_context():
        auth.disable(db.session.get(StaffUser, gone))
        db.session.commit()
    client = app.test_client()
    assert log_in(client, "stays@example.com", "another long password").status_code == 303
    html = client.get("/staff/").get_data(as_text=True)
    unassigned = re.search(r'aria-label="Unassigned leads">(.*?)</table>', html, re.S).group(1)
    assert "Left Behind" in unassigned and "gone@example.com (disabled" in unassigned
    # Nobody active speaks Spanish now: the language filter flags the family.
    gap = client.get("/staff/", query_string={"language_gap": "y"}).get_data(as_text=True)
    table = re.search(r'aria-label="All leads">(.*?)</table>', gap, re.S).group(1)
    assert "Left Behind" in table
    # A navigator may take it over.
    response = post_on_lead_page(client, lead_id, "take")
    assert response.status_code == 303
    with app.app_context():
        assert db.session.get(Lead, lead_id).assigned_to_id == stays


def test_a_long_queue_shows_the_first_50_and_links_to_the_rest(app, team, navigator):
    for number in range(51):
        add_lead(
            app,
            name=f"Family {number:02d}",
            email=f"family{number}@example.com",
            assigned_to_id=team[NAVIGATOR],
            callback_due_at=utc_midnight(number),
        )
    html = page(navigator)
    mine = names_in(html, "My leads")
    assert len(mine) == 50 and mine[0] == "Family 00" and "Family 50" not in mine
    assert f'href="/staff/?assignee={team[NAVIGATOR]}#latest-heading">All my leads</a>' in html
    listed = page(navigator, f"/staff/?assignee={team[NAVIGATOR]}")
    assert "51 leads found." in listed
