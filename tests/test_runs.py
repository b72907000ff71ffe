"""Runs of the timer jobs: each command records a JobRun with its counts (or its error), and
the runs page shows the last of each job to admins."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html import unescape

import pytest
from sqlalchemy import delete, select

from microsite import mail, runs
from microsite.extensions import db
from microsite.models import JobRun, utcnow
from microsite.trials import catalog, sync
from tests.helpers import add_lead, count, create_staff_user, free_port, log_in, rows


def invoke(app, *args):
    return app.test_cli_runner().invoke(args=list(args))


def last_run(app, job: str) -> JobRun:
    [run] = rows(app, JobRun, JobRun.job == job)
    return run


def add_run(app, job: str, started_ago: timedelta, error: str | None = None, **counts) -> None:
    with app.app_context():
        started = utcnow() - started_ago
        db.session.add(
            JobRun(
                job=job,
                started_at=started,
                finished_at=started + timedelta(seconds=3),
                counts=counts,
                error=error,
            )
        )
        db.session.commit()


def page_rows(html: str) -> dict[str, str]:
    """The runs page's table as {job label: the row's text}."""
    found = {}
    for row in re.findall(r"<tr>(.*?)</tr>", html, re.S):
        label = re.search(r'<th scope="row">(.*?)</th>', row)
        if label:
            text = re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", row))).strip()
            found[label.group(1)] = text
    return found


@pytest.fixture
def fake_sync(monkeypatch):
    """``trials sync`` without a network: the sync reports 2 new, 1 updated, 5 unchanged
    and 1 skipped study."""
    report = sync.SyncReport(
        imported=catalog.ImportReport(new=2, updated=1, unchanged=5, skipped=1),
        pages=1,
        complete=True,
    )
    monkeypatch.setattr(sync, "sync", lambda *args, **kwargs: report)


# --- Recording ----------------------------------------------------------------------------


def test_every_job_is_recorded_with_its_counts(app, runner, fake_sync):
    with app.app_context():
        mail.queue_message(to="staff@example.com", subject="s", text="t", html="<p>h</p>")
        db.session.commit()
    add_lead(app, created_at=utcnow() - timedelta(days=800))  # older than RETENTION_DAYS
    commands = [
        ["outbox", "send"],
        ["leads", "purge", "--yes"],
        ["trials", "sync"],
        ["staff", "digest"],
        ["alerts", "send"],
    ]
    for command in commands:
        result = runner.invoke(args=command)
        assert result.exit_code == 0, (command, result.output)

    recorded = {run.job: run for run in rows(app, JobRun)}
    assert set(recorded) == set(runs.JOBS)  # a job added to JOBS needs its command tracked
    assert recorded["outbox send"].counts == {"sent": 1, "retrying": 0, "failed": 0, "cancelled": 0}
    purged = recorded["retention purge"].counts
    assert {"leads", "notes", "referrals", "messages", "mail_files"} <= set(purged)
    assert purged == {name: 1 if name == "leads" else 0 for name in purged}
    assert recorded["trials sync"].counts == {"new": 2, "updated": 1, "unchanged": 5, "skipped": 1}
    assert recorded["staff digest"].counts == {
        "mailed": 0,
        "listed": 0,
        "unassigned": 0,
        "held_by_disabled": 0,
    }
    assert recorded["alerts"].counts == {
        "checked": 0,
        "queued": 0,
        "found": 0,
        "renewals": 0,
        "expired": 0,
    }
    for run in recorded.values():
        assert run.error is None
        assert run.started_at <= run.finished_at <= utcnow()


def test_a_dry_run_of_the_purge_is_not_a_run(app, runner):
    result = runner.invoke(args=["leads", "purge"])
    assert result.exit_code == 0 and result.output.startswith("Would delete")
    assert count(app, JobRun) == 0


def test_the_output_of_the_commands_is_as_before(app, runner, fake_sync):
    assert runner.invoke(args=["outbox", "send"]).output == (
        "Outbox: 0 sent, 0 to retry later, 0 failed, 0 cancelled (unsubscribed).\n"
    )
    purged = runner.invoke(args=["leads", "purge", "--yes"]).output
    assert purged.startswith("Deleted: 0 leads, 0 notes, 0 referrals, 0 messages, 0 mail files")
    assert purged.endswith("; older than 730 days.\n")
    assert "Studies: 2 new, 1 updated, 5 unchanged, 1 skipped." in (
        runner.invoke(args=["trials", "sync"]).output
    )


def test_a_failing_job_is_recorded_with_its_error_and_still_exits_non_zero(make_app):
    nothing_listens = f"http://127.0.0.1:{free_port()}/api/v2"
    app = make_app(CTGOV_API_URL=nothing_listens)
    result = invoke(app, "trials", "sync", "--attempts", "1", "--interval", "0", "--timeout", "5")
    assert result.exit_code == 1
    assert "sync stopped: GET /studies (listing page 1) failed" in result.stderr
    run = last_run(app, "trials sync")
    assert (run.error, run.counts) == ("SyncError", {})
    assert run.finished_at is not None


def test_an_unexpected_error_is_recorded_by_its_class_only(app, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("smtp said no to someone@example.com")

    monkeypatch.setattr(mail, "send_due", broken)
    result = invoke(app, "outbox", "send")
    assert result.exit_code != 0
    assert isinstance(result.exception, RuntimeError)
    run = last_run(app, "outbox send")
    assert run.error == "RuntimeError"  # never the message, which may name an address


def test_a_run_is_written_when_it_starts(app, monkeypatch):
    """A run killed on the way (a timeout, a power cut) stays as started, never finished."""
    seen = []

    def look(**kwargs):
        with app.app_context():
            seen.extend(db.session.scalars(select(JobRun.finished_at)))
        return mail.SendReport()

    monkeypatch.setattr(mail, "send_due", look)
    assert invoke(app, "outbox", "send").exit_code == 0
    assert seen == [None]


def test_old_runs_are_forgotten_but_the_last_successful_one(app, monkeypatch):
    assert runs.RUNS_KEPT == timedelta(days=30)
    add_run(app, "outbox send", timedelta(days=45), sent=3)
    add_run(app, "outbox send", timedelta(days=40), sent=4)
    add_run(app, "outbox send", timedelta(days=35), error="OperationalError")
    add_run(app, "trials sync", timedelta(days=50), new=1)  # another job: left alone

    def broken(**kwargs):
        raise RuntimeError

    monkeypatch.setattr(mail, "send_due", broken)
    assert invoke(app, "outbox", "send").exit_code != 0
    outbox_runs = rows(app, JobRun, JobRun.job == "outbox send")
    assert [(r.counts, r.error) for r in outbox_runs] == [({"sent": 4}, None), ({}, "RuntimeError")]
    assert count(app, JobRun, JobRun.job == "trials sync") == 1


# --- Staleness and words ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("job", "started", "now", "stale"),
    [
        ("outbox send", "2026-12-01T10:00", "2026-12-03T09:59", False),
        ("outbox send", "2026-12-01T10:00", "2026-12-03T10:01", True),
        ("outbox send", "2026-12-04T10:00", "2026-12-07T09:00", True),  # a weekend counts
        # The digest runs Monday to Friday: a weekend does not make it stale...
        ("staff digest", "2026-12-04T07:30", "2026-12-07T23:00", False),  # Fri to Mon night
        ("staff digest", "2026-12-04T07:30", "2026-12-08T07:31", True),  # Monday's missed
        ("staff digest", "2026-12-02T07:30", "2026-12-04T07:31", True),  # Wed to Fri
        ("staff digest", "2026-12-02T07:30", "2026-12-04T07:29", False),
    ],
)
def test_a_job_is_stale_after_two_days_the_digest_after_two_weekdays(app, job, started, now, stale):
    run = JobRun(job=job, started_at=datetime.fromisoformat(started).replace(tzinfo=UTC))
    with app.app_context():
        assert runs.is_stale(job, run, datetime.fromisoformat(now).replace(tzinfo=UTC)) is stale


def test_counts_read_in_words():
    assert runs.describe_counts({"sent": 1, "retrying": 0, "failed": 2}) == (
        "1 sent, 0 to retry later, 2 failed"
    )
    assert runs.describe_counts({"leads": 1, "mail_files": 2}) == "1 lead, 2 mail files"
    assert runs.describe_counts({"mailed": 1, "listed": 3}) == (
        "1 navigator mailed, 3 leads listed"
    )
    assert runs.describe_counts({"something_new": 4}) == "4 something new"


def test_a_job_must_be_listed():
    with pytest.raises(ValueError, match="unknown job"):
        with runs.tracked("backup"):
            pass


# --- The runs page ------------------------------------------------------------------------


def test_the_runs_page_shows_every_job_with_its_last_run(staff_client, app):
    add_run(app, "outbox send", timedelta(minutes=5), sent=2, retrying=1, failed=0, cancelled=0)
    add_run(app, "outbox send", timedelta(minutes=6), sent=9)  # an earlier run: not shown
    add_run(app, "retention purge", timedelta(days=3), leads=1, notes=0)
    add_run(app, "trials sync", timedelta(days=1), new=3, updated=0, unchanged=10, skipped=0)
    add_run(app, "trials sync", timedelta(hours=2), error="SyncError")
    response = staff_client.get("/staff/runs")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    table = page_rows(html)
    assert list(table) == [job.label for job in runs.JOBS.values()]  # one row per job
    outbox = table["Outbox send"]
    assert "Ran without errors" in outbox
    assert "2 sent, 1 to retry later, 0 failed, 0 cancelled" in outbox and "9 sent" not in outbox
    assert "Not run for more than two days" in table["Retention purge"]
    assert "1 lead, 0 notes" in table["Retention purge"]
    sync_row = table["Trials sync"]
    assert "Failed: SyncError" in sync_row
    assert "3 new, 0 updated, 10 unchanged, 0 skipped" in sync_row  # the last success
    assert "Never run" in table["Staff digest"]
    assert "Not run for more than" not in outbox + sync_row
    assert "<h1>Timer runs</h1>" in html


def test_a_failed_job_that_never_succeeded_says_so(staff_client, app):
    add_run(app, "staff digest", timedelta(hours=1), error="OperationalError")
    add_run(app, "retention purge", timedelta(days=5), error="OperationalError")
    table = page_rows(staff_client.get("/staff/runs").get_data(as_text=True))
    assert "Failed: OperationalError" in table["Staff digest"]
    assert "None yet" in table["Staff digest"]
    assert "Not run for more than two days ; Failed: OperationalError" in table["Retention purge"]


def test_a_run_not_finished_says_so(staff_client, app):
    with app.app_context():
        db.session.add(JobRun(job="trials sync", started_at=utcnow(), counts={}))
        db.session.commit()
    table = page_rows(staff_client.get("/staff/runs").get_data(as_text=True))
    assert "Not finished" in table["Trials sync"]


def test_the_page_is_for_admins_and_so_is_its_link(staff_client, app):
    assert 'href="/staff/runs">Runs</a>' in staff_client.get("/staff/").get_data(as_text=True)
    create_staff_user(app, "second@example.com", role="navigator")
    navigator = app.test_client()
    assert log_in(navigator, email="second@example.com").status_code == 303
    response = navigator.get("/staff/runs")
    assert response.status_code == 403
    assert "Outbox send" not in response.get_data(as_text=True)
    assert 'href="/staff/runs"' not in navigator.get("/staff/").get_data(as_text=True)


def test_strangers_are_sent_to_sign_in(client):
    response = client.get("/staff/runs")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/staff/login")


def test_when_the_run_cannot_be_recorded_the_job_error_still_comes_first(app, monkeypatch, caplog):
    def broken(**kwargs):
        raise ConnectionError("the database went away")

    def cannot_record(*args):
        raise RuntimeError("and so did recording")

    monkeypatch.setattr(mail, "send_due", broken)
    monkeypatch.setattr(runs, "_record", cannot_record)
    result = invoke(app, "outbox", "send")
    assert isinstance(result.exception, ConnectionError)
    assert "could not be recorded" in caplog.text


def test_a_run_deleted_on_the_way_is_not_recorded_again(app, monkeypatch):
    def delete_runs(**kwargs):
        with app.app_context():
            db.session.execute(delete(JobRun))
            db.session.commit()
        return mail.SendReport()

    monkeypatch.setattr(mail, "send_due", delete_runs)
    assert invoke(app, "outbox", "send").exit_code == 0
    assert count(app, JobRun) == 0
