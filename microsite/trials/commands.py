"""``flask --app microsite trials ...``: load the trial catalog from files or from the
ClinicalTrials.gov API. Both go through ``catalog.Importer``."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from . import catalog

trials = AppGroup("trials", help="Load the trial catalog from ClinicalTrials.gov data.")


def _print_problem(position: str, reason: str) -> None:
    click.echo(f"{position}: {reason}", err=True)


def _print_report(report: catalog.ImportReport) -> None:
    click.echo(
        f"Studies: {report.new} new, {report.updated} updated, {report.skipped} skipped."
    )
    unknown = report.unknown_countries
    if unknown:
        names = ", ".join(
            f"{name} ({count} site{'s' if count != 1 else ''})"
            for name, count in sorted(unknown.items())
        )
        click.echo(f"Unrecognized countries: {len(unknown)} ({names}); kept as given, without an ISO code.")
    else:
        click.echo("Unrecognized countries: 0.")


@trials.command(
    "import",
    help=(
        "Import ClinicalTrials.gov API v2 studies from FILE... (a study, a list of studies, "
        "a search page, newline-delimited JSON (.ndjson/.jsonl), or a .zip of such JSON "
        "files, like the bulk download). Upserts by NCT id: a study imported again is "
        "updated and its sites and contacts replaced. Malformed records are listed with "
        "their position and skipped. Exits 0 when the files could be read, whatever was "
        "skipped; non-zero when a file cannot be read at all (a missing, non-JSON or "
        "corrupt file is found before anything is imported)."
    ),
)
@click.argument("files", nargs=-1, required=True, type=click.Path())
def trials_import(files: tuple[str, ...]) -> None:
    try:
        report = catalog.import_files(files, on_problem=_print_problem)
    except catalog.UnreadableFile as problem:
        raise click.ClickException(str(problem)) from None
    _print_report(report)
