"""Scenario 1: 2,000 form submissions from 32 concurrent clients against one gunicorn with
4 workers on a SQLite file. Each submission is a GET of /apply (CSRF cookie and token,
idempotency key) and the POST. Checks: exactly 2,000 leads, zero 5xx.

Run: .venv/bin/python -m loadtest.sqlite_load [--submissions N] [--clients N]
"""

from __future__ import annotations

import sys

from .checks import check_steady_load
from .client import Load, one_server
from .scenario import arguments, run_scenario
from .site import Site, sqlite_url
from .workspace import say


def main(argv: list[str] | None = None) -> int:
    args = arguments(__doc__, argv, submissions=2000, clients=32, workers=4)

    def scenario(workspace, checks):
        site = Site(workspace, sqlite_url(workspace))
        server = site.serve("sqlite", args.workers)
        say(f"  {server}, SQLite in {workspace.path}")
        load = Load(args.submissions, args.clients, one_server(server.port))
        check_steady_load(checks, load, site, (server,))

    return run_scenario(
        f"1. {args.submissions:,} submissions, {args.clients} clients, "
        f"{args.workers} gunicorn workers, SQLite",
        scenario,
    )


if __name__ == "__main__":
    sys.exit(main())
