"""The call-back promise on business days: due times across weekends, holidays, time
zones and daylight-saving changes; HOLIDAYS checked at start-up and by check-config; the
thanks page and the confirmation mail saying the day; the upgrade giving due times to the
leads still new, and making existing accounts admins."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, text

from microsite import create_app
from microsite.callbacks import due_at
from microsite.config import ConfigError
from microsite.extensions import db
from microsite.models import Lead, OutboxMessage, StaffUser
from tests.helpers import dispose, flask_command, submit_application

LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")
AUCKLAND = ZoneInfo("Pacific/Auckland")
CHRISTMAS = {date(2026, 12, 25), date(2026, 12, 28), date(2027, 1, 1)}


def at(zone: ZoneInfo, *moment: int) -> datetime:
    return datetime(*moment, tzinfo=zone)


# arrival (local), business days, holidays, zone, due (the local midnight that ends the day)
DUE_TIMES = [
    # Weekdays: Tuesday + 2 = end of Thursday, whatever the hour of arrival.
    ("tue morning", at(LONDON, 2026, 12, 1, 9, 0), 2, set(), LONDON, at(LONDON, 2026, 12, 4)),
    ("tue late", at(LONDON, 2026, 12, 1, 23, 59), 2, set(), LONDON, at(LONDON, 2026, 12, 4)),
    ("wed midnight", at(LONDON, 2026, 12, 2, 0, 0), 2, set(), LONDON, at(LONDON, 2026, 12, 5)),
    # Thursday + 2 skips the weekend: end of Monday.
    ("thu", at(LONDON, 2026, 12, 3, 12, 0), 2, set(), LONDON, at(LONDON, 2026, 12, 8)),
    # Friday + 1: end of Monday.
    ("fri + 1", at(LONDON, 2026, 12, 4, 17, 0), 1, set(), LONDON, at(LONDON, 2026, 12, 8)),
    # A Saturday or Sunday arrival counts as Monday's: + 2 = end of Wednesday.
    ("saturday", at(LONDON, 2026, 12, 5, 10, 0), 2, set(), LONDON, at(LONDON, 2026, 12, 10)),
    ("sunday", at(LONDON, 2026, 12, 6, 22, 0), 2, set(), LONDON, at(LONDON, 2026, 12, 10)),
    # Holidays: Christmas Eve (Thu) + 2 skips Fri 25, the weekend and Mon 28: end of Wed 30.
    ("christmas", at(LONDON, 2026, 12, 24, 9, 0), 2, CHRISTMAS, LONDON, at(LONDON, 2026, 12, 31)),
    # Arriving on a holiday counts as the next business day's arrival.
    ("on holiday", at(LONDON, 2026, 12, 25, 9, 0), 1, CHRISTMAS, LONDON, at(LONDON, 2026, 12, 31)),
    # Over the new year: Thu 31 + 1 skips Fri 1 January and the weekend: end of Mon 4.
    ("new year", at(LONDON, 2026, 12, 31, 9, 0), 1, CHRISTMAS, LONDON, at(LONDON, 2027, 1, 5)),
    # The day is the display zone's: 02:00 UTC on a Wednesday is still Tuesday in New York.
    (
        "ny tuesday",
        datetime(2026, 12, 2, 2, 0, tzinfo=UTC),
        1,
        set(),
        NEW_YORK,
        at(NEW_YORK, 2026, 12, 3),
    ),
    # ... and 20:00 UTC on Friday is already Saturday in Auckland: counts as Monday's.
    (
        "nz saturday",
        datetime(2026, 12, 4, 20, 0, tzinfo=UTC),
        1,
        set(),
        AUCKLAND,
        at(AUCKLAND, 2026, 12, 9),
    ),
    # Daylight saving: London's clocks go forward on Sunday 28 March 2027; the promise is
    # still the end of a local day (23:00 UTC before, 00:00 UTC before the change).
    ("dst spring", at(LONDON, 2027, 3, 25, 9, 0), 2, set(), LONDON, at(LONDON, 2027, 3, 30)),
    # ... and back on Sunday 31 October 2027.
    ("dst autumn", at(LONDON, 2027, 10, 28, 9, 0), 2, set(), LONDON, at(LONDON, 2027, 11, 2)),
    # New York's change (Sunday 14 March 2027) in the middle of the promise.
    ("ny dst", at(NEW_YORK, 2027, 3, 12, 16, 0), 1, set(), NEW_YORK, at(NEW_YORK, 2027, 3, 16)),
    # Many days: Monday 14 December + 10 business days, over Christmas: end of Wed 30.
    ("ten days", at(LONDON, 2026, 12, 14, 9, 0), 10, CHRISTMAS, LONDON, at(LONDON, 2026, 12, 31)),
]


@pytest.mark.parametrize(
    ("arrival", "days", "holidays", "zone", "due"),
    [case[1:] for case in DUE_TIMES],
    ids=[case[0] for case in DUE_TIMES],
)
def test_due_times(arrival, days, holidays, zone, due):
    found = due_at(arrival, days, holidays, zone)
    assert found.tzinfo == UTC
    assert found == due  # the same moment
    assert found.astimezone(zone).time().isoformat() == "00:00:00"  # a local midnight


def test_daylight_saving_moves_the_utc_hour_not_the_day():
    before = due_at(at(LONDON, 2027, 3, 24, 9, 0), 2, set(), LONDON)  # due end of Fri 26
    after = due_at(at(LONDON, 2027, 3, 25, 9, 0), 2, set(), LONDON)  # due end of Tue 30
    assert before == datetime(2027, 3, 27, 0, 0, tzinfo=UTC)  # GMT
    assert after == datetime(2027, 3, 29, 23, 0, tzinfo=UTC)  # midnight BST is 23:00 UTC


# --- settings ----------------------------------------------------------------------------


def test_holidays_are_read_from_a_comma_separated_setting(make_app):
    app = make_app(HOLIDAYS=" 2026-12-25, 2027-01-01 ,")
    assert app.config["HOLIDAY_DATES"] == {date(2026, 12, 25), date(2027, 1, 1)}


@pytest.mark.parametrize("bad", ["2026-13-01", "25/12/2026", "2026-12-25;2027-01-01", "soon"])
def test_a_bad_holiday_stops_the_start(make_app, bad):
    with pytest.raises(ConfigError, match="HOLIDAYS must be days written YYYY-MM-DD"):
        make_app(HOLIDAYS=bad)


def test_check_config_reports_a_bad_holiday_in_one_line(database_url, monkeypatch):
    monkeypatch.setenv("HOLIDAYS", "2026-12-25,christmas")
    result = flask_command("check-config", url=database_url)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "Error: HOLIDAYS must be days written YYYY-MM-DD, separated by commas, like "
        "2026-12-25,2027-01-01; 'christmas' is not one"
    )


def test_check_config_warns_when_no_holiday_lies_ahead(make_app):
    from datetime import timedelta

    from microsite.models import utcnow

    warning = "warning: HOLIDAYS lists no day in the next 12 months"
    bare = make_app().test_cli_runner().invoke(args=["check-config"])
    assert warning in bare.output
    soon = (utcnow() + timedelta(days=30)).date().isoformat()
    listed = make_app(HOLIDAYS=f"2020-12-25,{soon}").test_cli_runner()
    assert warning not in listed.invoke(args=["check-config"]).output


# --- what the family reads ---------------------------------------------------------------

SATURDAY = datetime(2026, 12, 5, 10, 0, tzinfo=UTC)


@pytest.fixture
def on_a_saturday(monkeypatch):
    monkeypatch.setattr("microsite.leads.utcnow", lambda: SATURDAY)


@pytest.mark.parametrize(
    ("prefix", "promise", "mail"),
    [
        ("", "will contact you by Wednesday 9 December.", "will email you by Wednesday 9 December"),
        (
            "/es",
            "se comunicará con usted a más tardar el miércoles 9 de diciembre.",
            "le escribirá a más tardar el miércoles 9 de diciembre",
        ),
    ],
)
def test_the_thanks_page_and_the_mail_name_the_day(app, on_a_saturday, prefix, promise, mail):
    client = submit_application(app, path=f"{prefix}/apply")
    html = client.get(f"{prefix}/apply/thanks").get_data(as_text=True)
    assert promise in html
    with app.app_context():
        lead = db.session.scalars(select(Lead)).one()
        assert lead.callback_due_at == datetime(2026, 12, 10, 0, 0, tzinfo=UTC)
        [message] = db.session.scalars(select(OutboxMessage).filter_by(kind="confirmation"))
    assert mail in " ".join(message.body_text.split())
    assert mail in " ".join(message.body_html.split())


def test_the_promise_follows_holidays_and_the_time_zone(make_app, monkeypatch):
    # Christmas Eve 2026, 23:30 in New York (04:30 UTC on the 25th), two business days,
    # with the 25th and the 28th off: counted from Thursday 24, due end of Wednesday 30.
    monkeypatch.setattr("microsite.leads.utcnow", lambda: datetime(2026, 12, 25, 4, 30, tzinfo=UTC))
    app = make_app(DISPLAY_TIMEZONE="America/New_York", HOLIDAYS="2026-12-25,2026-12-28")
    client = submit_application(app)
    html = client.get("/apply/thanks").get_data(as_text=True)
    assert "will contact you by Wednesday 30 December." in html


# --- the upgrade -------------------------------------------------------------------------

BEFORE_WORKSPACE = "4906e7ae4628"


def test_the_upgrade_gives_due_times_to_new_leads_only_and_makes_accounts_admins(
    tmp_path, empty_database_url
):
    app = create_app(
        {
            "INSTANCE_PATH": tmp_path,
            "SECRET_KEY": "x" * 40,
            "DATABASE_URL": empty_database_url,
            "HOLIDAYS": "2026-12-25",
        }
    )
    try:
        runner = app.test_cli_runner()
        assert runner.invoke(args=["db", "upgrade", BEFORE_WORKSPACE]).exit_code == 0
        with app.app_context():
            for email, active in (("on@example.com", True), ("off@example.com", False)):
                db.session.execute(
                    text(
                        "INSERT INTO staff_user (email, password_hash, active, created_at) "
                        "VALUES (:email, 'x', :active, :now)"
                    ),
                    {"email": email, "active": active, "now": datetime(2026, 12, 1)},
                )
            for name, status in (("Waiting", "new"), ("Called", "contacted")):
                db.session.execute(
                    text(
                        "INSERT INTO lead (created_at, role, patient_age, diagnosis, country, "
                        "name, email, contact_method, consent_version, consent_at, "
                        "updates_opt_in, status, language) VALUES (:at, 'parent', 7, 'all', "
                        "'GB', :name, :email, 'email', 'v', :at, false, :status, 'en')"
                    ),
                    # Thursday 24 December 2026, 10:00 UTC: due end of Tuesday 29.
                    {
                        "at": datetime(2026, 12, 24, 10, 0),
                        "name": name,
                        "email": f"{name}@Example.com",
                        "status": status,
                    },
                )
            db.session.commit()
        result = runner.invoke(args=["db", "upgrade"])
        assert result.exit_code == 0, result.output
        with app.app_context():
            roles = dict(db.session.execute(select(StaffUser.email, StaffUser.role)).all())
            assert roles == {"on@example.com": "admin", "off@example.com": "navigator"}
            leads = {lead.name: lead for lead in db.session.scalars(select(Lead))}
            assert leads["Waiting"].callback_due_at == datetime(2026, 12, 30, 0, 0, tzinfo=UTC)
            assert leads["Called"].callback_due_at is None
            digests = {lead.email_digest for lead in leads.values()}
            assert len(digests) == 2 and None not in digests
    finally:
        dispose(app)
