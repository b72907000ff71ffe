"""``flask alerts send`` killed with SIGKILL in the middle of a run, then run again.

The command commits once per batch of leads: the "mailed" records (LeadTrial's
first_mailed_at, TrialAlert's last_mailed_at) and the outbox rows of a batch go together
or not at all. So a run killed on the way leaves whole batches only, the runs page shows
it as not finished, and the next run mails exactly the leads the killed one did not:
nobody twice, nobody missed.

The command runs in a real process (``python -m flask``, as ``helpers.flask_command``
starts it) on the test's database, SQLite file or PostgreSQL schema, and is killed once
the database shows its first batch committed and before it shows the last.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from datetime import timedelta

from sqlalchemy import func, select

from microsite.extensions import db
from microsite.models import JobRun, Lead, LeadTrial, OutboxMessage, TrialAlert, utcnow
from tests.helpers import ROOT, add_trial, count, flask_command, lead_values, rows

# Enough leads that a run lasts many batches: the kill must land between the first commit
# and the last. If a faster machine ever finishes first, the test fails and says so; the
# fix is more leads, never slower code.
LEADS = 1_500
BATCH = 100
TRIALS = ("NCT10000001", "NCT10000002", "NCT10000003")
POLL_SECONDS = 0.02


def fill(app) -> list[int]:
    """LEADS leads in Great Britain whose alerts are on (confirmed, months to go), none
    ever shown or mailed a trial, and TRIALS recruiting in their country; returns the lead
    ids."""
    for number, nct_id in enumerate(TRIALS, start=1):
        add_trial(
            app,
            nct_id,
            title=f"Neuroblastoma study number {number}",
            sites=[("GB", "RECRUITING", f"Hospital {number}", "London")],
        )
    now = utcnow()
    with app.app_context():
        leads = [
            Lead(**lead_values(email=f"family{number}@example.com", name=f"Family {number}"))
            for number in range(LEADS)
        ]
        db.session.add_all(leads)
        db.session.flush()
        db.session.add_all(
            TrialAlert(
                lead_id=lead.id,
                state="active",
                consent_version="alerts-2026-12-01",
                consent_at=now,
                confirmed_at=now,
                active_until=now + timedelta(days=150),  # no renewal due
            )
            for lead in leads
        )
        db.session.commit()
        return [lead.id for lead in leads]


def start_alerts(database_url: str, output) -> subprocess.Popen:
    """``flask alerts send --batch-size BATCH`` in a process of its own, started as
    ``helpers.flask_command`` starts one, but not waited for."""
    return subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "microsite"]
        + ["alerts", "send", "--batch-size", str(BATCH)],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": database_url, "SECRET_KEY": "s" * 40},
        stdin=subprocess.DEVNULL,
        stdout=output,
        stderr=subprocess.STDOUT,
    )


def runs_page_row(html: str, label: str) -> str:
    """The text of the runs page's row for the job labelled ``label``."""
    for row in re.findall(r"<tr>(.*?)</tr>", html, re.S):
        if f'<th scope="row">{label}</th>' in row:
            return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row)).strip()
    raise AssertionError(f"no row {label!r} on the runs page")


def alert_mails(app) -> int:
    return count(app, OutboxMessage, OutboxMessage.kind == "trial_alert")


def kill_after_first_batch(app, process: subprocess.Popen) -> None:
    """Wait until a batch has committed, then SIGKILL the process at once."""
    while alert_mails(app) == 0:
        assert process.poll() is None, "the command ended before any batch was committed"
        time.sleep(POLL_SECONDS)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()


def mailed_state(app) -> dict[str, list[int]]:
    """Per record of a mail, the lead ids that have it (a lead once per row)."""
    with app.app_context():
        return {
            "outbox": list(
                db.session.scalars(
                    select(OutboxMessage.lead_id)
                    .where(OutboxMessage.kind == "trial_alert")
                    .order_by(OutboxMessage.lead_id)
                )
            ),
            "alert last mailed": list(
                db.session.scalars(
                    select(TrialAlert.lead_id)
                    .where(TrialAlert.last_mailed_at.is_not(None))
                    .order_by(TrialAlert.lead_id)
                )
            ),
            "trials first mailed": list(
                db.session.scalars(
                    select(LeadTrial.lead_id)
                    .where(LeadTrial.first_mailed_at.is_not(None))
                    .group_by(LeadTrial.lead_id)
                    .having(func.count() == len(TRIALS))
                    .order_by(LeadTrial.lead_id)
                )
            ),
            "any trial first mailed": list(
                db.session.scalars(
                    select(LeadTrial.lead_id)
                    .where(LeadTrial.first_mailed_at.is_not(None))
                    .distinct()
                    .order_by(LeadTrial.lead_id)
                )
            ),
        }


def test_a_run_killed_mid_way_loses_only_its_open_batch_and_the_next_run_mails_the_rest(
    app, staff_client, database_url, tmp_path
):
    lead_ids = fill(app)
    output = tmp_path / "killed-run.txt"
    with output.open("wb") as handle:
        process = start_alerts(database_url, handle)
        try:
            kill_after_first_batch(app, process)
        finally:
            if process.poll() is None:  # a failed assertion: leave no process behind
                process.kill()
                process.wait()
    # Killed, not ended by itself: a run that ended first would prove nothing.
    assert process.returncode == -signal.SIGKILL, (
        f"not killed mid-run (exit {process.returncode}): make LEADS bigger\n{output.read_text()}"
    )

    # Killed mid-run: some batches committed, not all.
    state = mailed_state(app)
    mailed = state["outbox"]
    assert 0 < len(mailed) < LEADS, f"{len(mailed)} of {LEADS} mailed at the kill"
    # Whole batches, the first leads in id order: each batch is all or nothing.
    assert len(mailed) % BATCH == 0
    assert mailed == lead_ids[: len(mailed)]
    # Every mailed lead has its mail's records, and no lead has them without the mail.
    assert state["alert last mailed"] == mailed
    assert state["trials first mailed"] == mailed
    assert state["any trial first mailed"] == mailed

    # The killed run was recorded when it started and never completed.
    [killed_run] = rows(app, JobRun, JobRun.job == "alerts")
    assert killed_run.finished_at is None and killed_run.error is None
    runs_page = staff_client.get("/staff/runs").get_data(as_text=True)
    assert "Not finished" in runs_page_row(runs_page, "Trial alerts")

    # The next run, to the end, mails the others only.
    result = flask_command("alerts", "send", url=database_url, check=True)
    rest = LEADS - len(mailed)
    assert result.stdout.strip() == (
        f"Queued: {rest} alert mails and 0 renewals; {LEADS} leads checked, "
        f"{rest * len(TRIALS)} new matches found, 0 alerts expired."
    )
    state = mailed_state(app)
    assert state["outbox"] == lead_ids  # each lead once: nobody twice, nobody missed
    assert state["alert last mailed"] == lead_ids
    assert state["trials first mailed"] == lead_ids
    for message in rows(app, OutboxMessage, OutboxMessage.kind == "trial_alert"):
        for nct_id in TRIALS:
            assert message.body_text.count(f"/trials/{nct_id}") == 1, message.lead_id
            assert message.body_html.count(f'href="http://localhost:5000/trials/{nct_id}"') == 1

    runs = rows(app, JobRun, JobRun.job == "alerts")
    assert [run.finished_at is None for run in runs] == [True, False]
    assert runs[1].error is None and runs[1].counts["queued"] == rest
