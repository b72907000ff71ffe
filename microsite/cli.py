"""Operator commands, run as ``flask --app microsite ...``. They call the same functions
as the site."""

from __future__ import annotations

import getpass
import sys

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext

from . import alert_sending, auth, config, dates, digest, erasure, exports, mail, runs, team
from .access_commands import audit
from .choices import STAFF_ROLES
from .content import load_testimonials
from .extensions import db
from .models import OUTBOX_STATUSES, StaffUser
from .trials import places as place_data
from .trials.commands import places, trials

content = AppGroup("content", help="Manage the site's content.")


@content.command(
    "load",
    help="Load the sample testimonials (published) and the US ZIP code centres that come "
    "with the install. Safe to run again.",
)
def content_load() -> None:
    result = load_testimonials()
    click.echo(
        f"Testimonials: {result.added} added, {result.updated} updated, "
        f"{result.unchanged} unchanged."
    )
    click.echo(f"US ZIP codes: {place_data.load_us_zip_codes()} stored.")


outbox = AppGroup("outbox", help="Send and inspect the mail outbox.")


@outbox.command("send", help="Send every message that is due (run it from cron or a timer).")
@click.option("--retry-failed", is_flag=True, help="Queue failed messages again first.")
def outbox_send(retry_failed: bool) -> None:
    with runs.tracked("outbox send") as counts:
        report = mail.send_due(retry_failed=retry_failed)
        counts.update(
            sent=report.sent,
            retrying=report.retrying,
            failed=report.failed,
            cancelled=report.cancelled,
        )
    click.echo(
        f"Outbox: {report.sent} sent, {report.retrying} to retry later, "
        f"{report.failed} failed, {report.cancelled} cancelled (unsubscribed)."
    )


@outbox.command("status", help="Count messages by status and list the failed ones.")
def outbox_status() -> None:
    counts = mail.status_counts()
    click.echo(", ".join(f"{status}: {counts.get(status, 0)}" for status in OUTBOX_STATUSES))
    for message in mail.failed_messages():
        click.echo(
            f"failed: message {message.id} (referral {message.referral_id}), "
            f"{message.attempts} attempts, last error {message.last_error}"
        )


staff = AppGroup("staff", help="Manage staff accounts.")


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


def _staff_command(action):
    try:
        return action()
    except auth.StaffError as problem:
        raise click.ClickException(str(problem)) from None


@staff.command(
    "create",
    help="Create a staff user. Passwords need 12 characters or more. A new member is a "
    "navigator, but the first member of a team without an admin, who is its admin.",
)
@click.argument("email")
@click.option(
    "--role", type=click.Choice(list(STAFF_ROLES)), help="admin or navigator (see above)."
)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def staff_create(email: str, role: str | None, password_stdin: bool) -> None:
    def create():
        user = auth.create_staff(email, _password(password_stdin), role=role)
        db.session.commit()
        return user

    user = _staff_command(create)
    note = " (the team's first admin)" if role is None and user.is_admin else ""
    click.echo(f"Staff user {user.email} created as {user.role}{note}.")


def _change(email: str, change) -> StaffUser:
    def run():
        user = auth.existing(email)
        change(user)
        db.session.commit()
        return user

    return _staff_command(run)


@staff.command(
    "set-password", help="Give a staff user a new password (and enable them); ends their sessions."
)
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def staff_set_password(email: str, password_stdin: bool) -> None:
    password = _password(password_stdin)

    def change(user):
        auth.set_password(user, password)
        auth.enable(user)

    user = _change(email, change)
    click.echo(f"Password of {user.email} changed.")


@staff.command("set-role", help="Make a staff user an admin or a navigator.")
@click.argument("email")
@click.argument("role", type=click.Choice(list(STAFF_ROLES)))
def staff_set_role(email: str, role: str) -> None:
    user = _change(email, lambda user: auth.set_role(user, role))
    click.echo(f"Staff user {user.email} is now {user.role}.")


@staff.command("disable", help="Stop a staff user from signing in, and end their sessions.")
@click.argument("email")
def staff_disable(email: str) -> None:
    user = _change(email, auth.disable)
    click.echo(f"Staff user {user.email} disabled.")


@staff.command(
    "reset-mfa",
    help="Remove every passkey, authenticator app and recovery code of a staff user who "
    "lost them (the last admin, when no other admin can do it on the Team page), and end "
    "their sessions: they set up a new second factor at their next sign-in. Recorded.",
)
@click.argument("email")
def staff_reset_mfa(email: str) -> None:
    user = _change(email, team.reset_factors)
    click.echo(f"Sign-in methods of {user.email} removed; they set up a new one at sign-in.")


@staff.command(
    "digest",
    help="Mail each active member their own call backs overdue or due today, by lead id "
    "and due time only (admins also get the count of unassigned ones); nothing to members "
    "with nothing due. Through the outbox. Run it every weekday morning.",
)
@click.option("--dry-run", is_flag=True, help="Count what would be mailed; mail nothing.")
def staff_digest(dry_run: bool) -> None:
    report = runs.run_or_dry_run("staff digest", dry_run, digest.send_digests)
    verb = "would be mailed (dry run)" if dry_run else "mailed"
    click.echo(
        f"Digest: {report.mailed} navigator{'s' if report.mailed != 1 else ''} {verb}, "
        f"{report.listed} lead{'s' if report.listed != 1 else ''} listed; "
        f"{report.unassigned} unassigned due."
    )


alerts = AppGroup("alerts", help="Trial alerts: new trials for families and navigators.")


@alerts.command(
    "send",
    help="Match every open lead again against today's catalog (the age grown since it was "
    "given): mail families whose alerts are on their new recruiting trials within their "
    "travel distance (at most one mail per ALERT_INTERVAL_DAYS, at most 5 trials, none "
    "when nothing is new), list new matches for navigators, expire lapsed alerts and mail "
    "renewals. Through the outbox. Run it daily, after the trials sync.",
)
@click.option(
    "--dry-run", is_flag=True, help="Print what would be done, in counts; change nothing."
)
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=alert_sending.BATCH,
    show_default=True,
    help="Leads per transaction.",
)
def alerts_send(dry_run: bool, batch_size: int) -> None:
    report = runs.run_or_dry_run(
        "alerts", dry_run, lambda dry: alert_sending.send_alerts(dry_run=dry, batch=batch_size)
    )
    prefix = "Would queue (dry run)" if dry_run else "Queued"
    click.echo(
        f"{prefix}: {report.queued} alert mail{'s' if report.queued != 1 else ''} and "
        f"{report.renewals} renewal{'s' if report.renewals != 1 else ''}; "
        f"{report.checked} lead{'s' if report.checked != 1 else ''} checked, "
        f"{report.found} new match{'es' if report.found != 1 else ''} found, "
        f"{report.expired} alert{'s' if report.expired != 1 else ''} expired."
    )


leads = AppGroup("leads", help="Export, purge and erase leads.")


@leads.command("export", help="Write leads as CSV (the same bytes as /staff/leads.csv).")
@click.option("--from", "first", callback=dates.option_day("from"), help="First day, YYYY-MM-DD.")
@click.option("--to", "last", callback=dates.option_day("to"), help="Last day, YYYY-MM-DD.")
@click.option(
    "--out", type=click.Path(dir_okay=False, writable=True), help="File (default: standard output)."
)
def leads_export(first, last, out) -> None:
    export = exports.CsvExport("leads", first, last, actor=f"cli:{getpass.getuser()}")
    with click.open_file(out or "-", "wb") as handle:
        for chunk in export:
            handle.write(chunk)
    if out:
        click.echo(f"{export.rows} leads written to {out}.", err=True)


@leads.command(
    "purge", help="Delete data older than the retention period (a dry run without --yes)."
)
@click.option(
    "--older-than", "days", type=click.IntRange(min=1), help="Days (default: RETENTION_DAYS)."
)
@click.option("--yes", is_flag=True, help="Really delete.")
def leads_purge(days: int | None, yes: bool) -> None:
    days = days or current_app.config["RETENTION_DAYS"]
    removed = runs.run_or_dry_run(
        "retention purge", not yes, lambda dry: erasure.purge(days, dry_run=dry)
    )
    verb = "Deleted" if yes else "Would delete (run again with --yes to delete)"
    click.echo(f"{verb}: {removed.describe()}; older than {days} days.")


@leads.command("erase", help="Delete everything held about one person, by email address.")
@click.argument("email")
def leads_erase(email: str) -> None:
    removed = erasure.erase_person(email, "cli erase")
    click.echo(f"Deleted: {removed.describe()}.")


@click.command("check-config", help="Check that the settings are safe to run in production.")
@with_appcontext
def check_config() -> None:
    problems = config.configuration_problems(current_app.config)
    if current_app.config["MICROSITE_ENV"] != "production":
        problems.append("MICROSITE_ENV is not production")
    for warning in config.configuration_warnings(current_app.config, dates.today()):
        click.echo(f"warning: {warning}", err=True)
    for problem in problems:
        click.echo(f"problem: {problem}", err=True)
    if problems:
        raise SystemExit(1)
    click.echo("Configuration OK for production.")


def init_app(app: Flask) -> None:
    for group in (content, outbox, staff, leads, alerts, trials, places, audit, check_config):
        app.cli.add_command(group)
