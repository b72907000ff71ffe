"""Scenario 1: 2,000 form submissions from 32 concurrent clients against one gunicorn with
4 workers on a SQLite file. Each submission is a GET of /apply (CSRF cookie and token,
idempotency key) and the POST. Checks: exactly 2,000 leads, zero 5xx.

Run: .venv/bin/python -m loadtest.sqlite_load [--submissions N] [--clients N]
"""

from __future__ import annotations

import argparse
import sys

from .harness import (
    Gunicorn,
    Load,
    SmtpSink,
    app_environment,
    check_stored_once,
    database_counts,
    mail_summary,
    no_5xx,
    no_dropped,
    prepare_database,
    run_scenario,
    say,
    submit,
    summarize,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--submissions", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args(argv)

    def scenario(workspace, checks):
        url = f"sqlite:///{workspace.path / 'microsite.sqlite3'}"
        smtp = SmtpSink(workspace)
        env = app_environment(workspace, url, smtp)
        prepare_database(env)
        server = Gunicorn(workspace, "sqlite", env, workers=args.workers)
        say(
            f"  gunicorn -c gunicorn.conf.py on port {server.port}: {args.workers} workers x 4 threads, "
            f"SQLite in {workspace.path}"
        )
        load = Load(
            args.submissions,
            args.clients,
            lambda browser, s: submit(browser, s, server.port, server.port),
        )
        load.join()
        events = summarize(load, (server,))
        counts = database_counts(url)
        mail_summary(counts, smtp)
        no_5xx(checks, events)
        no_dropped(checks, events)
        check_stored_once(checks, load, counts)

    return run_scenario(
        f"1. {args.submissions:,} submissions, {args.clients} clients, {args.workers} gunicorn workers, SQLite",
        scenario,
    )


if __name__ == "__main__":
    sys.exit(main())
