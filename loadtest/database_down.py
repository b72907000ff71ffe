"""Scenario 4: the PostgreSQL server stopped (pg_ctl stop -m fast) in the middle of the
load, then started again. While it is down, POST /apply must answer 503 with the form and
everything typed kept, and GET /healthz 503; once it is back, everything works again
without restarting gunicorn (same master, same workers) and the clients' retries store
every application once.

Run: .venv/bin/python -m loadtest.database_down [--submissions N] [--clients N]
"""

from __future__ import annotations

import sys
import time
from collections import Counter

from .checks import check_database, only_retryable_failures
from .client import Load, one_server, summarize
from .scenario import arguments, run_scenario
from .services import Postgres
from .site import Site, status_of
from .workspace import say, tally, wait_for

OUTAGE_AT_LEAST = 3.0  # seconds
OUTAGE_AT_MOST = 20.0
ENOUGH_503S = 30


def main(argv: list[str] | None = None) -> int:
    args = arguments(__doc__, argv, submissions=400, clients=16, workers=2)

    def scenario(workspace, checks):
        postgres = Postgres(workspace)
        site = Site(workspace, postgres.create())
        server = site.serve("outage", args.workers)
        say(f"  {server}, PostgreSQL on loopback")
        for _ in range(8):
            status_of(server.port, "/")  # the article, rendered before the outage
        load = Load(args.submissions, args.clients, one_server(server.port, patience=90))

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
            f"  after {time.monotonic() - down_at:.1f} s down and {load.done} submissions: "
            "pg_ctl start"
        )
        up_at = time.monotonic()
        wait_for(server.healthy, 60, "/healthz to answer 200 again")
        say(f"  /healthz answered 200 {time.monotonic() - up_at:.1f} s after the start")
        load.join()

        events = summarize(load, (server,))
        say(f"  during the outage: {tally((f'GET {k}', v) for k, v in sorted(during.items()))}")
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
            tally((k, v) for k, v in during.items() if k.startswith("/healthz")),
        )
        others = {k: v for k, v in events.items() if k.startswith("POST 5") and k != "POST 503"}
        checks.check(
            not others,
            "no 5xx other than 503",
            tally(others.items()) or "none",
        )
        only_retryable_failures(checks, events)
        checks.check(
            server.healthy() and server.pid == master and server.workers() == workers,
            "everything works again without restarting gunicorn (same master, same workers)",
            f"master {master}, workers {workers}",
        )
        check_database(checks, load, site)

    return run_scenario(
        f"4. {args.submissions:,} submissions, {args.clients} clients, "
        "PostgreSQL stopped and started in the middle",
        scenario,
    )


if __name__ == "__main__":
    sys.exit(main())
