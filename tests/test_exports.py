"""CSV exports: the same streamed bytes from the web and the CLI, safe in spreadsheets."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from microsite import exports
from microsite.dates import today
from microsite.extensions import db
from microsite.models import ExportLog, Lead, LeadMatch, Referral, utcnow
from tests.helpers import (
    BROWSER_UA,
    STAFF_EMAIL,
    VALID_APPLICATION,
    add_lead,
    add_trial,
    create_staff_user,
    form_filler,
    log_in,
    share_form_for,
)

LEAD_COLUMNS = (
    "id,created_at,role,patient_age,diagnosis,diagnosis_other,treatment_stage,country,"
    "postal_code,name,email,phone,contact_method,consent_version,consent_at,updates_opt_in,"
    "status,referral_code,utm_source,utm_medium,utm_campaign,utm_content,utm_term,"
    "matched_nct_ids,travel_distance_km,nearest_site_km,language,assigned_to,callback_due_at,"
    "trial_alerts"
).split(",")
REFERRAL_COLUMNS = (
    "id,created_at,code,sender_name,friend_name,friend_email,lead_id,clicks,first_click_at,"
    "last_click_at,leads_attributed,mail_status"
).split(",")


def parse(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def test_anonymous_requests_get_401_and_no_data(client, app):
    add_lead(app)
    for path in ("/staff/leads.csv", "/staff/referrals.csv"):
        response = client.get(path)
        assert response.status_code == 401
        assert b"created_at" not in response.data and b"alex@example.com" not in response.data


def test_a_round_trip_through_csv_equals_the_database(app, staff_client):
    add_trial(app, "NCT99990001", sites=[("US", "RECRUITING")])
    add_trial(app, "NCT99990002", sites=[("GB", "RECRUITING")])  # first: a site at home
    visitor = app.test_client()
    visitor.get("/?utm_source=news&utm_campaign=spring")
    fill = form_filler(visitor, "/apply", VALID_APPLICATION)
    visitor.post(
        "/apply", data=fill(name='Quote " and, comma', phone="020 7946 0018", updates_opt_in="y")
    )
    visitor.post(
        "/apply", data=fill(name="Zoë Ünicode", diagnosis="other", diagnosis_other="Rare; tumor")
    )
    response = staff_client.get("/staff/leads.csv")
    assert response.status_code == 200
    rows = parse(response.data)
    assert rows[0] == LEAD_COLUMNS
    with app.app_context():
        leads = list(db.session.scalars(select(Lead).order_by(Lead.id)))
        matches = {}
        for match in db.session.scalars(select(LeadMatch).order_by(LeadMatch.rank)):
            matches.setdefault(match.lead_id, []).append(match)
        expected = []
        for lead in leads:
            expected.append(
                [
                    str(lead.id),
                    lead.created_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    lead.role,
                    str(lead.patient_age),
                    lead.diagnosis,
                    lead.diagnosis_other or "",
                    lead.treatment_stage or "",
                    lead.country,
                    lead.postal_code or "",
                    lead.name,
                    lead.email,
                    lead.phone or "",
                    lead.contact_method,
                    lead.consent_version,
                    lead.consent_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "true" if lead.updates_opt_in else "false",
                    lead.status,
                    lead.referral.code if lead.referral else "",
                    lead.utm_source or "",
                    lead.utm_medium or "",
                    lead.utm_campaign or "",
                    lead.utm_content or "",
                    lead.utm_term or "",
                    " ".join(match.nct_id for match in matches.get(lead.id, [])),
                    lead.travel_distance or "",
                    "" if lead.nearest_site_km is None else str(lead.nearest_site_km),
                    lead.language,
                    "",  # nobody has taken the lead yet
                    lead.callback_due_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "none",  # nobody asked for trial alerts
                ]
            )
    assert rows[1:] == expected
    assert rows[1][LEAD_COLUMNS.index("utm_source")] == "news"
    assert rows[1][LEAD_COLUMNS.index("phone")] == "+442079460018"
    assert rows[1][LEAD_COLUMNS.index("matched_nct_ids")] == "NCT99990002 NCT99990001"
    assert rows[2][LEAD_COLUMNS.index("matched_nct_ids")] == ""  # "other": never matched


def test_the_file_is_utf8_with_bom_crlf_and_rfc_4180_quoting(app, staff_client):
    add_lead(app, name='Say "hi", then go')
    data = staff_client.get("/staff/leads.csv").data
    assert data.startswith(b"\xef\xbb\xbfid,created_at,")
    assert data.count(b"\r\n") == 2 and b"\n" not in data.replace(b"\r\n", b"")
    assert b'"Say ""hi"", then go"' in data


def test_headers_name_a_dated_file_and_forbid_caching(app, staff_client):
    response = staff_client.get("/staff/leads.csv")
    response.get_data()  # a server always reads a streamed body to its end
    assert response.mimetype == "text/csv"
    with app.app_context():
        day = today().isoformat()
    assert response.headers["Content-Disposition"] == f'attachment; filename="leads-{day}.csv"'
    assert "no-store" in response.headers["Cache-Control"]
    referrals = staff_client.get("/staff/referrals.csv")
    referrals.get_data()
    assert f'filename="referrals-{day}.csv"' in referrals.headers["Content-Disposition"]


FORMULAS = [
    ("=1+2", "'=1+2"),
    ('=HYPERLINK("http://evil.example")', '\'=HYPERLINK("http://evil.example")'),
    ("+1+2", "'+1+2"),
    ("-2+3", "'-2+3"),
    ("@SUM(A1)", "'@SUM(A1)"),
    ("\t=1", "'\t=1"),
    ("\r=1", "'\r=1"),
    ("+44 20 7946 0018", "'+44 20 7946 0018"),
    ("-", "'-"),
    ("+", "'+"),
    # Left alone: plain numbers, E.164 numbers, and anything not starting with a trigger.
    ("-5", "-5"),
    ("-3.25", "-3.25"),
    ("+7", "+7"),
    ("+442079460018", "+442079460018"),
    ("Anne=Marie", "Anne=Marie"),
    ("O'Brien", "O'Brien"),
    ("'=1", "'=1"),
    ("", ""),
    ("Zoë", "Zoë"),
]


@pytest.mark.parametrize(("cell", "written"), FORMULAS)
def test_formula_cells_are_neutralized_and_nothing_else_changes(app, staff_client, cell, written):
    text_columns = ("name", "email", "postal_code", "diagnosis_other", "utm_source", "utm_term")
    # Only where the cell fits: PostgreSQL refuses a value longer than its column.
    text_columns = [c for c in text_columns if len(cell) <= Lead.__table__.c[c].type.length]
    add_lead(app, **{column: cell for column in text_columns})
    [header, row] = parse(staff_client.get("/staff/leads.csv").data)
    for column in text_columns:
        assert row[header.index(column)] == written, column


@pytest.mark.parametrize(
    ("name", "written"),
    [
        ("=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"),
        ("+SUM(1)", "'+SUM(1)"),
        ("-SUM(1)", "'-SUM(1)"),
        ("@SUM(1)", "'@SUM(1)"),
        ("Plain Name", "Plain Name"),
    ],
)
def test_hostile_names_arrive_neutralized_in_the_file(app, staff_client, name, written):
    add_lead(app, name=name, phone="+442079460018", utm_source="=evil()")
    [header, row] = parse(staff_client.get("/staff/leads.csv").data)
    assert row[header.index("name")] == written
    assert row[header.index("phone")] == "+442079460018"
    assert row[header.index("utm_source")] == "'=evil()"


def test_the_response_is_streamed_in_batches(app, staff_client, monkeypatch):
    monkeypatch.setattr(exports, "BATCH", 2)
    for n in range(5):
        add_lead(app, name=f"Lead {n}")
    response = staff_client.get("/staff/leads.csv", buffered=False)
    assert response.is_streamed
    chunks = list(response.response)
    assert len(chunks) == 1 + 3  # the header, then batches of 2, 2 and 1 rows
    assert len(parse(b"".join(chunks))) == 6
    response.close()


def test_date_filters_are_inclusive_days_in_the_display_time_zone(make_app):
    app = make_app(DISPLAY_TIMEZONE="America/New_York")
    create_staff_user(app)
    # 2026-03-10 02:00 UTC is still 9 March in New York.
    add_lead(app, name="Ninth", created_at=datetime(2026, 3, 10, 2, 0, tzinfo=UTC))
    add_lead(app, name="Tenth", created_at=datetime(2026, 3, 10, 15, 0, tzinfo=UTC))
    add_lead(app, name="Twelfth", created_at=datetime(2026, 3, 13, 3, 0, tzinfo=UTC))
    client = app.test_client()
    assert log_in(client).status_code == 303

    def names(query):
        rows = parse(client.get(f"/staff/leads.csv{query}").data)
        return [row[rows[0].index("name")] for row in rows[1:]]

    assert names("?from=2026-03-10&to=2026-03-10") == ["Tenth"]
    assert names("?to=2026-03-09") == ["Ninth"]
    assert names("?from=2026-03-10") == ["Tenth", "Twelfth"]
    assert names("?from=2026-03-09&to=2026-03-12") == ["Ninth", "Tenth", "Twelfth"]
    assert names("") == ["Ninth", "Tenth", "Twelfth"]


@pytest.mark.parametrize(
    "query", ["from=2026-13-01", "to=yesterday", "from=2026-1-1", "to=20260101", "from=2026-02-30"]
)
def test_a_bad_date_is_a_400_with_a_message(staff_client, query):
    for path in ("/staff/leads.csv", "/staff/referrals.csv"):
        response = staff_client.get(f"{path}?{query}")
        assert response.status_code == 400
        assert "must be a date written YYYY-MM-DD" in response.get_data(as_text=True)


def test_the_cli_and_the_web_give_identical_bytes(app, staff_client, tmp_path):
    add_lead(app, name="=Formula", created_at=utcnow() - timedelta(days=3))
    add_lead(app, name="Recent")
    day = (utcnow() - timedelta(days=1)).date().isoformat()
    for query, args in (("", []), (f"?from={day}", ["--from", day])):
        web = staff_client.get(f"/staff/leads.csv{query}").data
        result = app.test_cli_runner().invoke(args=["leads", "export", *args])
        assert result.exit_code == 0
        assert result.stdout_bytes == web
        out = tmp_path / "leads.csv"
        result = app.test_cli_runner().invoke(args=["leads", "export", *args, "--out", str(out)])
        assert out.read_bytes() == web
        assert "leads written to" in result.output


def test_the_cli_refuses_a_bad_date(app):
    result = app.test_cli_runner().invoke(args=["leads", "export", "--from", "31/12/2026"])
    assert result.exit_code == 2
    assert "must be a date written YYYY-MM-DD" in result.output


def test_every_export_is_logged_with_who_what_and_how_many(app, staff_client):
    add_lead(app)
    add_lead(app)
    web_csv = staff_client.get("/staff/leads.csv?from=2020-01-01").data  # read to the end
    assert web_csv.count(b"\r\n") == 3
    exported = app.test_cli_runner().invoke(args=["leads", "export", "--to", "2099-12-31"])
    assert exported.exit_code == 0
    with app.app_context():
        web, cli = db.session.scalars(select(ExportLog).order_by(ExportLog.id))
        assert (web.actor, web.kind, web.filters, web.rows, web.completed) == (
            STAFF_EMAIL,
            "leads",
            {"from": "2020-01-01", "to": None},
            2,
            True,
        )
        assert cli.actor.startswith("cli:") and cli.filters == {"from": None, "to": "2099-12-31"}
        assert cli.rows == 2
    html = staff_client.get("/staff/").get_data(as_text=True)
    assert "Recent exports" in html and STAFF_EMAIL in html


def test_referrals_export_counts_clicks_attribution_and_mail(app, staff_client):
    sharer = app.test_client()
    sharer.post("/share", data=share_form_for(sharer)(sender_name="=Sender"))
    with app.app_context():
        code = db.session.scalar(select(Referral.code))
    visitor = app.test_client()
    assert visitor.get(f"/r/{code}", headers={"User-Agent": BROWSER_UA}).status_code == 302
    applied = visitor.post("/apply", data=form_filler(visitor, "/apply", VALID_APPLICATION)())
    assert applied.status_code == 303
    header, *records = parse(staff_client.get("/staff/referrals.csv").data)
    assert header[: len(REFERRAL_COLUMNS)] == REFERRAL_COLUMNS
    shared = [
        dict(zip(header, record, strict=True))
        for record in records
        if record[header.index("kind")] == "share"
    ]
    [row] = shared
    assert row["code"] == code and row["sender_name"] == "'=Sender"
    assert row["friend_email"] == "kim@example.com"
    assert (row["clicks"], row["leads_attributed"], row["mail_status"]) == ("1", "1", "queued")
    assert row["first_click_at"].endswith("Z") and row["lead_id"] == ""


def test_leads_csv_appends_the_navigator_and_the_call_back_due_time(app, staff_client):
    navigator = create_staff_user(app, "caller@example.com", "a long password here", "navigator")
    due = datetime(2026, 12, 3, 0, 0, tzinfo=UTC)
    add_lead(app, assigned_to_id=navigator, callback_due_at=due)
    add_lead(app, email="other@example.com")
    header, first, second = parse(staff_client.get("/staff/leads.csv").data)
    assert header[-4:-1] == ["language", "assigned_to", "callback_due_at"]
    assert first[-3:-1] == ["caller@example.com", "2026-12-03T00:00:00Z"]
    assert second[-3:-1] == ["", ""]
