"""Scenario 4: the PostgreSQL server stopped (pg_ctl stop -m fast) in the middle of the
load, then started again. While it is down, POST /apply must answer 503 with the form and
everything typed kept, and GET /healthz 503; once it is back, everything works again
without restarting gunicorn (same master, same workers) and the clients' retries store
every application once.

Run: .venv/bin/python -m loadtest.database_down [--submissions N] [--clients N]
"""

from __future__ import annotations

import argparse
import http.client
import sys
import time
from collections import Counter

from .harness import (
    Gunicorn,
    Load,
    Postgres,
    SmtpSink,
    app_environment,
    check_stored_once,
    database_counts,
    mail_summary,
    only_retryable_failures,
    prepare_database,
    run_scenario,
    say,
    submit,
    summarize,
    wait_for,
)

OUTAGE_AT_LEAST = 3.0  # seconds
OUTAGE_AT_MOST = 20.0
ENOUGH_503S = 30


def status_of(port: int, path: str) -> int | str:
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request("GET", path)
        status = connection.getresponse().status
        connection.close()
        return status
    except (OSError, http.client.HTTPException) as error:
        return type(error).__name__


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--submissions", type=int, default=400)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)

    def scenario(workspace, checks):
        postgres = Postgres(workspace)
        url = postgres.create()
        smtp = SmtpSink(workspace)
        env = app_environment(workspace, url, smtp)
        prepare_database(env)
        server = Gunicorn(workspace, "outage", env, workers=args.workers)
        say(
            f"  gunicorn -c gunicorn.conf.py on port {server.port}: {args.workers} workers x 4 threads, "
            "PostgreSQL 15 on loopback"
        )
        for _ in range(8):
            status_of(server.port, "/")  # the article, rendered before the outage
        load = Load(
            args.submissions,
            args.clients,
            lambda browser, s: submit(browser, s, server.port, server.port, patience=90),
        )

        load.wait_until_done(args.submissions // 3)
        master, workers = server.pid, server.workers()
        postgres.stop("fast")
        down_at = time.monotonic()
        say(f"  after {load.done} submissions: pg_ctl stop -m fast")

        during = Counter()  # what /healthz and / answered while the database was down

        def answers_503s() -> bool:
            during[f"/healthz {status_of(server.port, '/healthz')}"] += 1
            during[f"/ {status_of(server.port, '/')}"] += 1
            seen = sum(s.echoed_503s + s.bare_503s for s in load.submissions)
            return seen >= ENOUGH_503S and time.monotonic() - down_at >= OUTAGE_AT_LEAST

        wait_for(answers_503s, OUTAGE_AT_MOST, f"{ENOUGH_503S} answers 503 to POST /apply", 0.2)
        postgres.start()
        say(
            f"  after {time.monotonic() - down_at:.1f} s down and {load.done} submissions: pg_ctl start"
        )
        up_at = time.monotonic()
        wait_for(server.healthy, 60, "/healthz to answer 200 again")
        say(f"  /healthz answered 200 {time.monotonic() - up_at:.1f} s after the start")
        load.join()

        events = summarize(load, (server,))
        say("  during the outage: " + ", ".join(f"GET {k} x{v}" for k, v in sorted(during.items())))
        echoed = sum(s.echoed_503s for s in load.submissions)
        bare = sum(s.bare_503s for s in load.submissions)
        checks.check(
            echoed > 0 and bare == 0,
            "POST /apply answered 503 with the form and the input kept while the database was down",
            f"{echoed} such answers, {bare} 503s without the input",
        )
        checks.check(
            during["/healthz 503"] > 0
            and set(k for k in during if k.startswith("/healthz")) == {"/healthz 503"},
            "GET /healthz answered 503 while the database was down",
            ", ".join(f"{k} x{v}" for k, v in during.items() if k.startswith("/healthz")),
        )
        others = {k: v for k, v in events.items() if k.startswith("POST 5") and k != "POST 503"}
        checks.check(
            not others,
            "no 5xx other than 503",
            ", ".join(f"{k} x{v}" for k, v in others.items()) or "none",
        )
        only_retryable_failures(checks, events)
        checks.check(
            server.healthy() and server.pid == master and server.workers() == workers,
            "everything works again without restarting gunicorn (same master, same workers)",
            f"master {master}, workers {workers}",
        )
        counts = database_counts(url)
        mail_summary(counts, smtp)
        check_stored_once(checks, load, counts)

    return run_scenario(
        f"4. {args.submissions:,} submissions, {args.clients} clients, PostgreSQL stopped and started "
        "in the middle",
        scenario,
    )


if __name__ == "__main__":
    sys.exit(main())
