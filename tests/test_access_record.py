"""The access record: append-only in the database itself (on the run's backend), purged
only past its retention, recorded for exports and erasures, read on the audit page, as CSV
and with ``flask audit export``."""

from __future__ import annotations

import csv
import html
import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from microsite import access, create_app
from microsite.extensions import db
from microsite.models import AccessPurge, AccessRecord, ExportLog, OutboxMessage, utcnow
from tests.helpers import (
    PUBLIC_URL,
    STAFF_EMAIL,
    STAFF_PASSWORD,
    add_lead,
    count,
    create_staff_user,
    dispose,
    log_in,
    rendered_hidden_fields,
    rows,
    submit_application,
)

NAVIGATOR_EMAIL = "nav@example.com"
CSV_COLUMNS = ["created_at", "actor", "staff_id", "session_id", "action", "lead_id", "detail"]


def add_entry(app, days_ago: float = 0, at: datetime | None = None, **columns) -> int:
    """An entry stored directly (an old one can only be written old: UPDATE is refused)."""
    values = {"actor": "someone@example.org", "action": "lead viewed", **columns}
    with app.app_context():
        entry = AccessRecord(created_at=at or utcnow() - timedelta(days=days_ago), **values)
        db.session.add(entry)
        db.session.commit()
        return entry.id


def refused(app, sql: str, **parameters) -> str:
    """Run ``sql`` through the app's session: the database must refuse it. Its message."""
    with app.app_context():
        with pytest.raises(IntegrityError) as error:
            db.session.execute(text(sql), parameters)
            db.session.flush()
        db.session.rollback()
    message = str(error.value.orig)
    assert "append-only" in message
    return message


def parse(data: bytes) -> list[dict]:
    assert data.startswith(b"\xef\xbb\xbf")
    reader = csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""))
    header, *lines = list(reader)
    assert header == CSV_COLUMNS
    return [dict(zip(header, line, strict=True)) for line in lines]


# --- Append-only, in the database --------------------------------------------------------


def test_the_database_refuses_an_update_of_an_entry(app):
    entry_id = add_entry(app, detail="as written")
    refused(app, "UPDATE access_record SET detail = 'rewritten' WHERE id = :id", id=entry_id)
    refused(app, "UPDATE access_record SET created_at = created_at")
    [entry] = rows(app, AccessRecord)
    assert entry.detail == "as written"


def test_the_database_refuses_a_delete_even_of_an_old_entry_before_a_purge(app):
    add_entry(app, days_ago=5000)
    add_entry(app)
    refused(app, "DELETE FROM access_record")
    refused(app, "DELETE FROM access_record WHERE created_at < :cutoff", cutoff=utcnow())
    assert count(app, AccessRecord) == 2


def test_the_engine_outside_the_session_is_refused_too(app):
    add_entry(app)
    with app.app_context():
        with pytest.raises(IntegrityError):
            with db.engine.begin() as connection:
                connection.execute(text("UPDATE access_record SET actor = 'nobody'"))
    assert [entry.actor for entry in rows(app, AccessRecord)] == ["someone@example.org"]


@pytest.mark.postgresql_only("TRUNCATE is PostgreSQL's")
def test_postgresql_refuses_a_truncate(app):
    add_entry(app)
    for table in ("access_record", "access_purge"):
        message = refused(app, f"TRUNCATE {table}")
        assert f"TRUNCATE on {table}" in message
    assert count(app, AccessRecord) == 1


def test_the_purge_removes_only_entries_past_the_retention_period(app):
    old = add_entry(app, days_ago=2191, lead_id=7)
    kept_old = add_entry(app, days_ago=2189)
    recent = add_entry(app)
    with app.app_context():
        assert access.purge() == 1  # ACCESS_RECORD_RETENTION_DAYS, 2190 by default
        db.session.commit()
    assert [entry.id for entry in rows(app, AccessRecord)] == [kept_old, recent]
    assert old not in [entry.id for entry in rows(app, AccessRecord)]
    [purge] = rows(app, AccessPurge)
    assert purge.removed == 1
    expected = utcnow() - timedelta(days=2190)
    assert abs(purge.purged_before - expected) < timedelta(minutes=5)


def test_after_a_purge_newer_entries_are_still_refused(app):
    add_entry(app, days_ago=3000)
    add_entry(app, days_ago=10)
    with app.app_context():
        assert access.purge(30) == 1
        db.session.commit()
    refused(app, "DELETE FROM access_record")
    refused(app, "UPDATE access_record SET actor = 'x'")
    assert count(app, AccessRecord) == 1


def test_a_purge_leaves_a_row_nobody_can_change_or_delete(app):
    add_entry(app, days_ago=3000)
    with app.app_context():
        access.purge(30)
        db.session.commit()
    refused(app, "UPDATE access_purge SET purged_before = :later", later=utcnow())
    refused(app, "UPDATE access_purge SET removed = 0")
    refused(app, "DELETE FROM access_purge")
    assert [purge.removed for purge in rows(app, AccessPurge)] == [1]


def test_a_dry_run_or_nothing_to_purge_changes_nothing(app):
    add_entry(app, days_ago=3000)
    with app.app_context():
        assert access.purge(30, dry_run=True) == 1
        assert access.purge(5000) == 0
        db.session.commit()
    assert count(app, AccessRecord) == 1 and count(app, AccessPurge) == 0
    with app.app_context(), pytest.raises(ValueError):
        access.purge(0)


def test_the_retention_purge_purges_the_access_record_with_its_own_period(make_app):
    app = make_app(ACCESS_RECORD_RETENTION_DAYS=100)
    add_entry(app, days_ago=150)
    add_entry(app, days_ago=50)
    runner = app.test_cli_runner()
    dry = runner.invoke(args=["leads", "purge"])
    assert dry.exit_code == 0, dry.output
    assert "0 mail files, 1 access records; older than 730 days." in dry.output
    assert count(app, AccessRecord) == 2 and count(app, AccessPurge) == 0
    done = runner.invoke(args=["leads", "purge", "--yes"])
    assert done.exit_code == 0, done.output
    assert done.output.startswith("Deleted: 0 leads, 0 notes, 0 referrals, 0 messages, 0 mail")
    assert "1 access records" in done.output
    remaining = rows(app, AccessRecord)
    assert [entry.action for entry in remaining] == ["lead viewed", "erasure"]
    erasure = remaining[-1]
    assert erasure.actor.startswith("cli:") and erasure.lead_id is None
    assert erasure.detail.startswith("retention purge: 0 leads")
    assert "access record older than 100 days" in erasure.detail
    assert [purge.removed for purge in rows(app, AccessPurge)] == [1]


# --- What is recorded --------------------------------------------------------------------


def test_web_and_cli_exports_are_recorded_with_their_filters(app, staff, staff_client):
    add_lead(app)
    response = staff_client.get("/staff/leads.csv?from=2026-01-01")
    assert response.status_code == 200
    response.close()
    assert (
        app.test_cli_runner().invoke(args=["leads", "export", "--to", "2026-02-01"]).exit_code == 0
    )
    web, cli = rows(app, AccessRecord, AccessRecord.action == "export")
    assert (web.staff_id, web.actor, web.lead_id) == (staff, STAFF_EMAIL, None)
    assert web.session_id is not None
    assert web.detail == "leads.csv: from 2026-01-01"
    assert cli.actor.startswith("cli:") and cli.staff_id is None and cli.session_id is None
    assert cli.detail == "leads.csv: to 2026-02-01"


def test_every_erasure_is_recorded_by_lead_id_without_the_address(app):
    submit_application(app, email="erin@example.com", name="Erin Example")
    submit_application(app, email="Erin@example.com", name="Erin Example")
    result = app.test_cli_runner().invoke(args=["leads", "erase", "erin@example.com"])
    assert result.exit_code == 0, result.output
    app.test_cli_runner().invoke(args=["leads", "erase", "nobody@example.com"])
    entries = rows(app, AccessRecord, AccessRecord.action == "erasure")
    assert [entry.lead_id for entry in entries] == [1, 2, None]
    assert entries[0].detail == "cli erase: 2 leads, 0 notes, 2 referrals, 2 messages, 2 mail files"
    assert entries[2].detail.startswith("cli erase: 0 leads")
    for entry in entries:
        assert "erin" not in (entry.detail + entry.actor).lower()
        assert "Example" not in entry.detail


def test_a_withdrawal_is_recorded_as_done_from_the_public_site(app):
    submit_application(app)
    [message] = rows(app, OutboxMessage, OutboxMessage.kind == "confirmation")
    [path] = re.findall(rf"{re.escape(PUBLIC_URL)}(/withdraw/\S+)", message.body_text)
    visitor = app.test_client()
    fields = rendered_hidden_fields(visitor.get(path).get_data(as_text=True))
    assert visitor.post(path, data=fields).status_code == 200
    [entry] = rows(app, AccessRecord)
    assert (entry.action, entry.actor, entry.lead_id, entry.staff_id) == (
        "erasure",
        access.PUBLIC_ACTOR,
        1,
        None,
    )
    assert entry.detail.startswith("withdrawal: 1 leads")
    assert "alex" not in entry.detail.lower()


def test_a_detail_too_long_for_its_column_is_shortened(app):
    with app.app_context():
        entry = access.record("export", detail="x" * 1000)
        db.session.commit()
        assert len(entry.detail) == access.DETAIL_LENGTH and entry.detail.endswith("…")
        with pytest.raises(ValueError):
            access.record("looked around")


# --- Reading it --------------------------------------------------------------------------


@pytest.fixture
def admin_and_navigator(app, staff):
    """The admin (the first member, ``staff``) and a navigator; returns their ids."""
    return staff, create_staff_user(app, NAVIGATOR_EMAIL, role="navigator")


@pytest.fixture
def filled(app, admin_and_navigator):
    """Entries by both members on two leads, over a few days; returns their ids by name."""
    admin, navigator = admin_and_navigator
    march = lambda day, hour=12: datetime(2026, 3, day, hour, tzinfo=UTC)  # noqa: E731
    return {
        "admin views 1": add_entry(
            app, at=march(1), staff_id=admin, actor=STAFF_EMAIL, lead_id=1, session_id=11
        ),
        "navigator views 1": add_entry(
            app, at=march(2), staff_id=navigator, actor=NAVIGATOR_EMAIL, lead_id=1, session_id=22
        ),
        "navigator views 2": add_entry(
            app, at=march(3), staff_id=navigator, actor=NAVIGATOR_EMAIL, lead_id=2, session_id=22
        ),
        "navigator exports": add_entry(
            app,
            at=march(4),
            staff_id=navigator,
            actor=NAVIGATOR_EMAIL,
            action="export",
            detail="leads.csv: no filters",
        ),
        "cli erases 2": add_entry(
            app, at=march(5), actor="cli:root", action="erasure", lead_id=2, detail="cli erase"
        ),
    }


def shown(page: str) -> list[str]:
    """The rows of the audit page's table, as text, top to bottom."""
    body = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0] if "<tbody>" in page else ""
    return [
        " ".join(html.unescape(re.sub(r"<[^>]+>", " ", row)).split())
        for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)
    ]


def test_the_audit_page_lists_every_entry_newest_first(app, staff_client, filled):
    response = staff_client.get("/staff/access")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "<h1>Access record</h1>" in page and "5 entries found" in page
    lines = shown(page)
    assert len(lines) == 5
    assert lines[0].startswith("5 Mar 2026, 12:00 cli:root — Erased a person's data Lead 2")
    assert lines[-1].startswith(f"1 Mar 2026, 12:00 {STAFF_EMAIL}")
    assert "11 Opened the lead page Lead 1" in lines[-1]
    assert 'href="/staff/leads/2"' in page and 'href="/staff/access?lead=2"' in page
    assert 'href="/staff/access.csv"' in page


def test_the_audit_page_filters_by_staff_member_and_by_lead(
    app, staff_client, filled, admin_and_navigator
):
    _, navigator = admin_and_navigator
    by_member = staff_client.get(f"/staff/access?staff={navigator}").get_data(as_text=True)
    assert "3 entries found" in by_member
    assert all(NAVIGATOR_EMAIL in line for line in shown(by_member))
    assert f'<option selected value="{navigator}">{NAVIGATOR_EMAIL}</option>' in by_member
    assert f'href="/staff/access.csv?staff={navigator}"' in by_member
    by_lead = staff_client.get("/staff/access?lead=2").get_data(as_text=True)
    assert [line.split(" Lead ")[1][:1] for line in shown(by_lead)] == ["2", "2"]
    both = staff_client.get(f"/staff/access?lead=1&staff={navigator}").get_data(as_text=True)
    assert len(shown(both)) == 1 and "22 Opened the lead page Lead 1" in shown(both)[0]


def test_the_audit_page_filters_by_days_in_the_display_time_zone(make_app):
    app = make_app(DISPLAY_TIMEZONE="America/New_York")
    create_staff_user(app)
    client = app.test_client()
    log_in(client)
    add_entry(app, at=datetime(2026, 3, 2, 3, tzinfo=UTC))  # 1 March, 22:00 in New York
    add_entry(app, at=datetime(2026, 3, 2, 15, tzinfo=UTC))
    first = client.get("/staff/access?from=2026-03-01&to=2026-03-01").get_data(as_text=True)
    assert [line[:17] for line in shown(first)] == ["1 Mar 2026, 22:00"]
    second = client.get("/staff/access?from=2026-03-02").get_data(as_text=True)
    assert [line[:17] for line in shown(second)] == ["2 Mar 2026, 10:00"]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("from=2026-02-30", "“From” must be a date written YYYY-MM-DD, like 2026-01-31."),
        ("to=yesterday", "“To” must be a date written YYYY-MM-DD, like 2026-01-31."),
        ("from=2026-03-05&to=2026-03-01", "“To” must be the same day as “From” or later."),
        ("lead=abc", "A lead id is a whole number, like 42."),
        ("staff=999", "Choose a staff member from the list."),
    ],
)
def test_bad_filters_are_a_422_with_a_clear_message_and_what_was_typed(
    staff_client, filled, query, message
):
    response = staff_client.get(f"/staff/access?{query}")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert message in page and "There is a problem" in page
    assert shown(page) == []
    name, typed = query.split("&")[-1].split("=")
    if name in ("from", "to") and "&" not in query:
        # Not a real date: a date input cannot hold it, so it is left out (the message
        # says what was wrong), as on every form of the site.
        assert f'value="{typed}"' not in page and f'name="{name}"' in page
    elif not query.startswith("staff"):
        assert f'value="{typed}"' in page
    csv_response = staff_client.get(f"/staff/access.csv?{query}")
    assert csv_response.status_code == 400 and message in csv_response.get_data(as_text=True)


def test_a_navigator_gets_403_and_strangers_the_sign_in_page(app, filled):
    navigator = app.test_client()
    assert log_in(navigator, NAVIGATOR_EMAIL, STAFF_PASSWORD).status_code == 303
    page = navigator.get("/staff/access")
    assert page.status_code == 403 and NAVIGATOR_EMAIL not in page.get_data(as_text=True)
    csv_response = navigator.get("/staff/access.csv")
    assert csv_response.status_code == 403 and b"cli:root" not in csv_response.data
    assert "Access record</a>" not in navigator.get("/staff/").get_data(as_text=True)
    stranger = app.test_client()
    assert stranger.get("/staff/access").status_code == 302
    assert stranger.get("/staff/access.csv").status_code == 401
    assert count(app, AccessRecord, AccessRecord.action == "export") == 1  # filled's own


def test_the_nav_links_the_access_record_for_admins(staff_client):
    page = staff_client.get("/staff/").get_data(as_text=True)
    assert '<a href="/staff/access">Access record</a>' in page


def test_the_csv_holds_the_filtered_entries_oldest_first_and_is_recorded(
    app, staff, staff_client, filled
):
    response = staff_client.get("/staff/access.csv?lead=2")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert re.fullmatch(
        r'attachment; filename="access-\d{4}-\d\d-\d\d\.csv"',
        response.headers["Content-Disposition"],
    )
    assert parse(response.data) == [
        {
            "created_at": "2026-03-03T12:00:00Z",
            "actor": NAVIGATOR_EMAIL,
            "staff_id": "2",
            "session_id": "22",
            "action": "lead viewed",
            "lead_id": "2",
            "detail": "",
        },
        {
            "created_at": "2026-03-05T12:00:00Z",
            "actor": "cli:root",
            "staff_id": "",
            "session_id": "",
            "action": "erasure",
            "lead_id": "2",
            "detail": "cli erase",
        },
    ]
    [log] = rows(app, ExportLog)
    assert (log.kind, log.actor, log.rows, log.completed) == ("access", STAFF_EMAIL, 2, True)
    assert log.filters == {"staff": None, "lead": 2, "from": None, "to": None}
    recorded = rows(app, AccessRecord, AccessRecord.id > filled["cli erases 2"])
    assert [(entry.action, entry.staff_id, entry.detail) for entry in recorded] == [
        ("export", staff, "access.csv: lead 2")
    ]


@pytest.mark.parametrize(
    ("detail", "written"),
    [
        ('=HYPERLINK("http://evil.example")', '\'=HYPERLINK("http://evil.example")'),
        ("+1+2", "'+1+2"),
        ("-2-3", "'-2-3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("-12", "-12"),
        ("leads.csv: no filters", "leads.csv: no filters"),
    ],
)
def test_formula_cells_are_neutralized(app, staff_client, detail, written):
    add_entry(app, detail=detail, actor="=cmd|' /C calc'!A0")
    line, itself = parse(staff_client.get("/staff/access.csv").data)
    assert line["detail"] == written and itself["detail"] == "access.csv: no filters"
    assert line["actor"] == "'=cmd|' /C calc'!A0"


def test_flask_audit_export_writes_the_same_csv_with_its_filters(
    app, staff_client, filled, tmp_path
):
    out = tmp_path / "access.csv"
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=[
            "audit",
            "export",
            "--staff",
            NAVIGATOR_EMAIL,
            "--from",
            "2026-03-03",
            "--out",
            str(out),
        ]
    )
    assert result.exit_code == 0, result.output
    assert "2 entries written to" in result.output
    lines = parse(out.read_bytes())
    assert [(line["action"], line["lead_id"]) for line in lines] == [
        ("lead viewed", "2"),
        ("export", ""),
    ]
    assert lines[1]["detail"] == "leads.csv: no filters"
    everything = runner.invoke(args=["audit", "export", "--lead", "1"])
    assert everything.exit_code == 0
    assert [line["session_id"] for line in parse(everything.stdout_bytes)] == ["11", "22"]
    web = staff_client.get("/staff/access.csv?lead=1")
    assert web.data == everything.stdout_bytes  # the same bytes
    [first, second] = rows(app, AccessRecord, AccessRecord.detail.startswith("access.csv"))[:2]
    assert first.actor.startswith("cli:")
    assert first.detail == "access.csv: staff 2, from 2026-03-03"
    assert second.detail == "access.csv: lead 1"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--staff", "nobody@example.com"], "no staff member has this email address"),
        (["--from", "2026-13-01"], "must be a date written YYYY-MM-DD"),
        (["--lead", "0"], "--lead"),
    ],
)
def test_flask_audit_export_refuses_bad_filters(app, arguments, message):
    result = app.test_cli_runner().invoke(args=["audit", "export", *arguments])
    assert result.exit_code == 2
    assert message in result.output
    assert count(app, AccessRecord) == 0


def test_lead_viewers_are_the_views_of_one_lead_newest_first(app, filled):
    with app.app_context():
        viewers = access.lead_viewers(1)
        assert [(v.actor, v.session_id) for v in viewers] == [
            (NAVIGATOR_EMAIL, 22),
            (STAFF_EMAIL, 11),
        ]
        assert [v.id for v in access.lead_viewers(2)] == [filled["navigator views 2"]]
        assert len(access.lead_viewers(1, limit=1)) == 1


def test_the_page_is_paginated(app, staff_client):
    for minute in range(access.PER_PAGE + 1):
        add_entry(app, at=datetime(2026, 3, 1, 12, minute % 60, tzinfo=UTC), lead_id=minute + 1)
    first = staff_client.get("/staff/access?lead=").get_data(as_text=True)
    assert len(shown(first)) == access.PER_PAGE and "Page 1 of 2" in first
    assert 'href="/staff/access?page=2"' in first
    second = staff_client.get("/staff/access?page=2").get_data(as_text=True)
    assert len(shown(second)) == 1 and "Lead 1 " in shown(second)[0] + " "


# --- The migration -----------------------------------------------------------------------


@pytest.fixture
def migrated_app(tmp_path, empty_database_url):
    """An app on a database built by the migrations, not by ``db.create_all()``."""
    app = create_app(
        {"INSTANCE_PATH": tmp_path, "SECRET_KEY": "x" * 40, "DATABASE_URL": empty_database_url}
    )
    result = app.test_cli_runner().invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    yield app
    dispose(app)


def test_the_migration_makes_the_triggers_and_its_downgrade_drops_them(migrated_app):
    app = migrated_app
    old = add_entry(app, days_ago=3000)
    add_entry(app)
    refused(app, "UPDATE access_record SET actor = 'x'")
    refused(app, "DELETE FROM access_record")
    with app.app_context():
        assert access.purge(30) == 1
        db.session.commit()
    assert old not in [entry.id for entry in rows(app, AccessRecord)]
    refused(app, "DELETE FROM access_purge")
    refused(app, "UPDATE access_purge SET removed = 2")

    runner = app.test_cli_runner()
    assert runner.invoke(args=["db", "downgrade", "7e5bd2444dc9"]).exit_code == 0
    with app.app_context():
        db.session.execute(text("UPDATE access_record SET actor = 'changed'"))
        db.session.execute(text("DELETE FROM access_purge"))
        db.session.commit()
        assert db.session.scalars(select(AccessRecord.actor)).all() == ["changed"]
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
    refused(app, "UPDATE access_record SET actor = 'again'")
