"""``flask staff digest``: each member's overdue and due-today call backs, by lead id and due
time only, through the outbox to the real SMTP test server (aiosmtpd on loopback)."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from microsite import auth, digest
from microsite.extensions import db
from microsite.models import JobRun, OutboxMessage, utcnow
from tests.helpers import PUBLIC_URL, add_lead, count, create_staff_user, rows

ZONE = "America/New_York"
ADMIN = "admin@example.com"
NAVIGATOR = "navigator@example.com"
OTHER = "other@example.com"
FAMILY = ("Alex Example", "alex@example.com", "neuroblastoma", "Neuroblastoma")


@pytest.fixture
def digest_app(make_app, smtp_server):
    """Mail to the loopback SMTP server; days in New York, hours behind UTC."""
    return make_app(
        MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp_server.port, MAIL_TIMEOUT=5, DISPLAY_TIMEZONE=ZONE
    )


@pytest.fixture
def team(digest_app) -> dict[str, int]:
    """An admin (the team's first member) and two navigators."""
    return {
        ADMIN: create_staff_user(digest_app, ADMIN, role="admin"),
        NAVIGATOR: create_staff_user(digest_app, NAVIGATOR, role="navigator"),
        OTHER: create_staff_user(digest_app, OTHER, role="navigator"),
    }


def local_midnight(days_from_today: int) -> datetime:
    """The UTC moment a New York day begins, ``days_from_today`` after today's: call backs
    are due then (the end of the day before)."""
    zone = ZoneInfo(ZONE)
    today = datetime.now(UTC).astimezone(zone).date()
    start = datetime.combine(today + timedelta(days=days_from_today), time.min, tzinfo=zone)
    return start.astimezone(UTC)


def end_of_day_words(moment: datetime) -> str:
    day = moment.astimezone(ZoneInfo(ZONE)).date() - timedelta(days=1)
    year = "" if day.year == datetime.now(UTC).astimezone(ZoneInfo(ZONE)).year else f" {day.year}"
    return f"the end of {day:%a} {day.day} {day:%b}{year}"


def run_digest(app, *args) -> str:
    result = app.test_cli_runner().invoke(args=["staff", "digest", *args])
    assert result.exit_code == 0, result.output
    return result.output


def send_outbox(app) -> None:
    result = app.test_cli_runner().invoke(args=["outbox", "send"])
    assert result.exit_code == 0, result.output


def received(smtp_server) -> dict[str, tuple[str, str, str]]:
    """(subject, text, html) of each message the SMTP server received, by recipient."""
    found = {}
    for _, recipients, message in smtp_server.messages:
        [to] = recipients
        assert to not in found, f"two digests for {to}"
        text = message.get_body(("plain",)).get_content()
        html = message.get_body(("html",)).get_content()
        found[to] = (message["Subject"], text, html)
    return found


def test_a_navigator_gets_one_mail_with_their_overdue_and_due_today_leads_only(
    digest_app, team, smtp_server, caplog
):
    mine = team[NAVIGATOR]
    overdue_at, today_at = local_midnight(-1), local_midnight(1)
    overdue = add_lead(digest_app, assigned_to_id=mine, callback_due_at=overdue_at)
    due_today = add_lead(digest_app, assigned_to_id=mine, callback_due_at=today_at)
    later = add_lead(digest_app, assigned_to_id=mine, callback_due_at=local_midnight(2))
    met = add_lead(
        digest_app, assigned_to_id=mine, callback_due_at=overdue_at, callback_met_at=utcnow()
    )
    no_due_time = add_lead(digest_app, assigned_to_id=mine)
    caplog.set_level(logging.INFO)

    output = run_digest(digest_app)
    send_outbox(digest_app)

    assert output == "Digest: 1 navigator mailed, 2 leads listed; 0 unassigned due.\n"
    mails = received(smtp_server)
    assert list(mails) == [NAVIGATOR]  # the admin and the other navigator have nothing due
    subject, text, html = mails[NAVIGATOR]
    assert subject == "2 call backs due – Trial Finder"
    assert f"Lead #{overdue}: overdue, due by {end_of_day_words(overdue_at)}." in text
    assert f"Lead #{due_today}: due today, due by {end_of_day_words(today_at)}." in text
    assert text.index(f"Lead #{overdue}:") < text.index(f"Lead #{due_today}:")  # earliest first
    assert f"{ZONE} time" in text
    for lead_id in (overdue, due_today):
        link = f"{PUBLIC_URL}/staff/leads/{lead_id}"
        assert link in text.splitlines()  # on a line of its own
        assert f'href="{link}"' in html
    for lead_id in (later, met, no_due_time):
        assert f"#{lead_id}" not in text + html
    assert set(re.findall(r"#(\d+)", text)) == {str(overdue), str(due_today)}
    assert "<strong>overdue</strong>" in html and "<strong>due today</strong>" in html
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("microsite"))
    assert "digest: staff 2, 2 leads listed" in ours  # staff by id in the logs
    for personal in (*FAMILY, NAVIGATOR):
        assert personal not in ours
    for personal in FAMILY:
        assert personal not in subject + text + html
    [message] = rows(digest_app, OutboxMessage)
    assert (message.kind, message.lead_id, message.status) == ("staff_digest", None, "sent")


def test_nothing_due_means_no_mail_at_all(digest_app, team, smtp_server):
    add_lead(digest_app, assigned_to_id=team[NAVIGATOR], callback_due_at=local_midnight(2))
    add_lead(
        digest_app,
        assigned_to_id=team[NAVIGATOR],
        callback_due_at=local_midnight(-3),
        callback_met_at=utcnow(),
    )
    add_lead(digest_app, callback_due_at=local_midnight(3))  # unassigned, due later

    assert (
        run_digest(digest_app) == "Digest: 0 navigators mailed, 0 leads listed; 0 unassigned due.\n"
    )
    send_outbox(digest_app)
    assert smtp_server.messages == []
    assert count(digest_app, OutboxMessage) == 0


def test_a_disabled_member_gets_nothing_and_admins_are_told_of_their_leads(
    digest_app, team, smtp_server
):
    add_lead(digest_app, assigned_to_id=team[OTHER], callback_due_at=local_midnight(0))
    with digest_app.app_context():
        auth.disable(auth.existing(OTHER))
        db.session.commit()

    assert "1 navigator mailed, 0 leads listed" in run_digest(digest_app)
    send_outbox(digest_app)
    mails = received(smtp_server)
    assert list(mails) == [ADMIN]
    subject, text, _ = mails[ADMIN]
    assert subject == "1 unassigned call back due – Trial Finder"
    assert "0 unassigned, and 1 held by members who are disabled" in text
    assert "Lead #" not in text


def test_every_admin_sees_the_count_of_unassigned_leads_due(digest_app, team, smtp_server):
    second_admin = create_staff_user(digest_app, "second-admin@example.com", role="admin")
    unassigned = [
        add_lead(digest_app, callback_due_at=local_midnight(-2)),
        add_lead(digest_app, callback_due_at=local_midnight(1)),
    ]
    own = add_lead(digest_app, assigned_to_id=second_admin, callback_due_at=local_midnight(1))

    assert run_digest(digest_app).startswith("Digest: 2 navigators mailed, 1 lead listed")
    send_outbox(digest_app)
    mails = received(smtp_server)
    assert sorted(mails) == [ADMIN, "second-admin@example.com"]  # navigators: nothing
    subject, text, html = mails[ADMIN]
    assert subject == "2 unassigned call backs due – Trial Finder"
    assert "None of your own call backs are due today." in text
    assert "due by the end of today: 2 unassigned." in text
    assert "<strong>2 unassigned</strong>" in html
    subject, text, _ = mails["second-admin@example.com"]
    assert subject == "1 call back due, 2 unassigned – Trial Finder"
    assert f"Lead #{own}: due today" in text
    assert "2 unassigned" in text
    for lead_id in unassigned:  # counted, never listed
        assert f"#{lead_id}" not in "".join(m[1] + m[2] for m in mails.values())


def test_a_run_is_recorded_with_its_counts(digest_app, team):
    add_lead(digest_app, assigned_to_id=team[NAVIGATOR], callback_due_at=local_midnight(-1))
    add_lead(digest_app, callback_due_at=local_midnight(0))
    run_digest(digest_app)
    [run] = rows(digest_app, JobRun)
    assert run.job == "staff digest"
    assert run.counts == {"mailed": 2, "listed": 1, "unassigned": 1, "held_by_disabled": 0}
    assert run.error is None and run.finished_at >= run.started_at


def test_a_dry_run_mails_nothing_and_is_not_a_run(digest_app, team, smtp_server):
    add_lead(digest_app, assigned_to_id=team[NAVIGATOR], callback_due_at=local_midnight(-1))
    output = run_digest(digest_app, "--dry-run")
    assert output.startswith("Digest: 1 navigator would be mailed (dry run), 1 lead listed")
    assert count(digest_app, OutboxMessage) == 0
    assert count(digest_app, JobRun) == 0


@pytest.mark.parametrize(
    ("moment", "words"),
    [
        (datetime(2020, 12, 2, 5, 0, tzinfo=UTC), "the end of Tue 1 Dec 2020"),  # midnight EST
        (datetime(2020, 7, 1, 4, 0, tzinfo=UTC), "the end of Tue 30 Jun 2020"),  # midnight EDT
        (datetime(2020, 12, 3, 19, 30, tzinfo=UTC), "Thu 3 Dec 2020, 14:30"),
        (datetime(2021, 1, 1, 5, 0, tzinfo=UTC), "the end of Thu 31 Dec 2020"),
    ],
)
def test_due_times_read_in_the_display_time_zone(digest_app, moment, words):
    with digest_app.app_context():
        assert digest.due_words(moment) == words


def test_due_times_of_this_year_leave_the_year_out(digest_app):
    with digest_app.app_context():
        assert not re.search(r"\d{4}", digest.due_words(local_midnight(1)))


def test_the_digest_can_be_made_during_a_request_too(digest_app, team):
    add_lead(digest_app, assigned_to_id=team[NAVIGATOR], callback_due_at=local_midnight(-1))
    with digest_app.test_request_context("/staff/"):
        report = digest.send_digests(dry_run=True)
    assert (report.mailed, report.listed) == (1, 1)
