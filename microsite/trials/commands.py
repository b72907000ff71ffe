"""``flask --app microsite trials ...``: load the trial catalog from files or from the
ClinicalTrials.gov API (both go through ``catalog.Importer``); ``flask places import``: load
GeoNames postal codes."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from .. import runs
from . import catalog
from . import places as place_data
from . import sync as sync_module
from .files import UnreadableFile

trials = AppGroup("trials", help="Load the trial catalog from ClinicalTrials.gov data.")


def _print_problem(position: str, reason: str) -> None:
    click.echo(f"{position}: {reason}", err=True)


def _print_report(report: catalog.ImportReport) -> None:
    click.echo(
        f"Studies: {report.new} new, {report.updated} updated, {report.unchanged} unchanged, "
        f"{report.skipped} skipped."
    )
    unknown = report.unknown_countries
    if unknown:
        names = ", ".join(
            f"{name} ({count} site{'s' if count != 1 else ''})"
            for name, count in sorted(unknown.items())
        )
        click.echo(
            f"Unrecognized countries: {len(unknown)} ({names}); kept as given, without an ISO code."
        )
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
    except UnreadableFile as problem:
        raise click.ClickException(str(problem)) from None
    _print_report(report)


@trials.command(
    "sync",
    help=(
        "Fetch the recruiting and not-yet-recruiting studies of our diagnosis list from the "
        "ClinicalTrials.gov API v2 (CTGOV_API_URL/studies), following every page, and "
        "upsert them like 'trials import'. Then asks by NCT id for the trials held as "
        "recruiting that the listing left out, to store their new status. Retries 429, "
        "5xx, timeouts and dropped connections with a doubling wait (honouring "
        "Retry-After); exits non-zero with one line when a request still fails, keeping "
        "what was fetched. Run it daily."
    ),
)
@click.option(
    "--max-pages", type=click.IntRange(min=1), help="Stop after this many pages (then no recheck)."
)
@click.option(
    "--page-size",
    type=click.IntRange(1, 1000),
    default=sync_module.PAGE_SIZE,
    show_default=True,
    help="Studies per page.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=30.0,
    show_default=True,
    help="Seconds allowed for each request.",
)
@click.option(
    "--attempts",
    type=click.IntRange(min=1),
    default=5,
    show_default=True,
    help="Tries per request before giving up.",
)
@click.option(
    "--backoff",
    type=click.FloatRange(min=0),
    default=2.0,
    show_default=True,
    help="Seconds before the first retry; doubles for each further one.",
)
@click.option(
    "--interval",
    type=click.FloatRange(min=0),
    default=1.5,
    show_default=True,
    help="Least seconds between the starts of two requests.",
)
def trials_sync(max_pages, page_size, timeout, attempts, backoff, interval) -> None:
    client = sync_module.Client(
        current_app.config["CTGOV_API_URL"],
        timeout=timeout,
        attempts=attempts,
        backoff=backoff,
        interval=interval,
    )
    try:
        with runs.tracked("trials sync") as counts:
            report = sync_module.sync(
                client, _print_problem, max_pages=max_pages, page_size=page_size
            )
            imported = report.imported
            counts.update(
                new=imported.new,
                updated=imported.updated,
                unchanged=imported.unchanged,
                skipped=imported.skipped,
            )
    except sync_module.SyncError as problem:
        raise click.ClickException(
            f"sync stopped: {problem}; studies fetched before were kept"
        ) from None
    more = "" if report.complete else f" (stopped by --max-pages {max_pages}; more are listed)"
    click.echo(f"Pages: {report.pages}{more}; requests: {client.requests}.")
    _print_report(report.imported)
    if report.complete:
        click.echo(
            f"Rechecked by NCT id: {report.rechecked} held as recruiting but not listed; "
            f"{report.not_found} not found."
        )


places = AppGroup("places", help="Load postal-code centres, to sort trial sites by distance.")


@places.command(
    "import",
    help=(
        "Import GeoNames postal-code dumps (tab-separated, 12 columns): one country's XX.zip "
        "or XX.txt, or allCountries.zip. Streams; safe to run again (codes are upserted); a "
        "code listed more than once gets the average of its coordinates. Malformed lines "
        "are listed by line number and skipped. Exits 0 when the files could be read; "
        "non-zero when a file cannot be read at all. US ZIP codes come with `content load`."
    ),
)
@click.argument("files", nargs=-1, required=True, type=click.Path())
def places_import(files: tuple[str, ...]) -> None:
    try:
        report = place_data.import_geonames(files, on_problem=_print_problem)
    except UnreadableFile as problem:
        raise click.ClickException(str(problem)) from None
    click.echo(
        f"Postal codes: {report.lines} lines read, {report.skipped} skipped, "
        f"{report.codes} codes stored."
    )
