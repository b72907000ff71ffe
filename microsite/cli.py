"""Operator commands, run as ``flask --app microsite ...``. They call the same functions
as the site."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

from . import mail
from .content import load_testimonials
from .models import OUTBOX_STATUSES


content = AppGroup("content", help="Manage the site's content.")


@content.command("load", help="Load the sample testimonials, published. Safe to run again.")
def content_load() -> None:
    result = load_testimonials()
    click.echo(
        f"Testimonials: {result.added} added, {result.updated} updated, "
        f"{result.unchanged} unchanged."
    )


outbox = AppGroup("outbox", help="Send and inspect the mail outbox.")


@outbox.command("send", help="Send every message that is due (run it from cron or a timer).")
@click.option("--retry-failed", is_flag=True, help="Queue failed messages again first.")
def outbox_send(retry_failed: bool) -> None:
    report = mail.send_due(retry_failed=retry_failed)
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


def init_app(app: Flask) -> None:
    app.cli.add_command(content)
    app.cli.add_command(outbox)
