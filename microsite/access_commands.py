"""``flask audit``: the access record on the command line (the audit page's CSV, the same
bytes)."""

from __future__ import annotations

import getpass

import click
from flask.cli import AppGroup

from . import access, auth, dates, exports

audit = AppGroup("audit", help="Read the access record: who looked at or changed what.")


@audit.command(
    "export",
    help="Write the access record as CSV (columns created_at in UTC, actor, staff_id, "
    "session_id, action, lead_id, detail), oldest first; days in DISPLAY_TIMEZONE. The "
    "export is itself recorded.",
)
@click.option("--from", "first", callback=dates.option_day("from"), help="First day, YYYY-MM-DD.")
@click.option("--to", "last", callback=dates.option_day("to"), help="Last day, YYYY-MM-DD.")
@click.option("--staff", "email", help="Only this member's entries (their email address).")
@click.option("--lead", "lead_id", type=click.IntRange(min=1), help="Only entries on this lead.")
@click.option(
    "--out", type=click.Path(dir_okay=False, writable=True), help="File (default: standard output)."
)
def audit_export(first, last, email, lead_id, out) -> None:
    staff_id = None
    if email:
        member = auth.find_staff(email)
        if member is None:
            raise click.BadParameter("no staff member has this email address", param_hint="--staff")
        staff_id = member.id
    filters = access.AccessFilters(staff_id=staff_id, lead_id=lead_id, first=first, last=last)
    export = exports.access_export(filters, actor=f"cli:{getpass.getuser()}")
    with click.open_file(out or "-", "wb") as handle:
        for chunk in export:
            handle.write(chunk)
    if out:
        click.echo(f"{export.rows} entries written to {out}.", err=True)
