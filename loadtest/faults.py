"""Scenario 3: faults in the middle of the load. One third of the way through, the gunicorn
worker holding the most client connections is killed with SIGKILL; two thirds of the way,
the master gets SIGHUP (a graceful reload of every worker). A client whose request fails
(dropped connection or 5xx) sends the same form again, same CSRF token and idempotency
key, as a person pressing the button again.

Checks: every submission answered 303 is in the database; every failure was one a client
can retry; nothing is stored twice (by email and by idempotency key) and no lead is half
written; sending stored forms again stores nothing; gunicorn is back to full strength.

Run: .venv/bin/python -m loadtest.faults [--submissions N] [--clients N]
"""

from __future__ import annotations

import random
import sys

from .checks import check_database, only_retryable_failures
from .client import Browser, Dropped, Load, one_server, summarize
from .scenario import arguments, run_scenario
from .site import Site, sqlite_url
from .workspace import say, wait_for

REPLAYS = 50


def main(argv: list[str] | None = None) -> int:
    args = arguments(__doc__, argv, submissions=800, clients=32, workers=4)

    def scenario(workspace, checks):
        site = Site(workspace, sqlite_url(workspace))
        server = site.serve("faults", args.workers)
        say(f"  {server}, SQLite")
        load = Load(args.submissions, args.clients, one_server(server.port))

        load.wait_until_done(args.submissions // 3)
        before = set(server.workers())
        victim, held = server.kill_busiest_worker()
        say(
            f"  after {load.done} submissions: SIGKILL to worker {victim}, "
            f"which held {held} client connections"
        )
        wait_for(
            lambda: (
                len(set(server.workers()) - before) == 1 and len(server.workers()) == args.workers
            ),
            60,
            "gunicorn to replace the killed worker",
        )

        load.wait_until_done(2 * args.submissions // 3)
        before = set(server.workers())
        server.reload()
        say(f"  after {load.done} submissions: SIGHUP to the master {server.pid} (graceful reload)")
        wait_for(
            lambda: not set(server.workers()) & before and len(server.workers()) == args.workers,
            90,
            "the reload to replace every worker",
        )
        say(f"  after {load.done} submissions: the reload is done, workers {server.workers()}")
        load.join()

        events = summarize(load, (server,))
        retried = [s for s in load.submissions if len(s.events) > 1]
        say(
            f"  {len(retried)} submissions needed more than one try; for example: "
            + "; ".join(" -> ".join(s.events) for s in retried[:3])
        )
        dropped = sum(n for name, n in events.items() if "dropped" in name)
        checks.check(
            dropped > 0, "the faults hit requests in flight", f"{dropped} dropped connections"
        )
        only_retryable_failures(checks, events)

        # The same forms once more, as a person pressing the button again much later.
        browser = Browser()
        replayed = random.Random(7).sample([s for s in load.submissions if s.stored], REPLAYS)
        answers = []
        for submission in replayed:
            browser.cookies = dict(submission.cookies)
            try:
                answers.append(
                    browser.request(server.port, "POST", "/apply", submission.fields).status
                )
            except Dropped as error:
                answers.append(str(error))
        browser.close()
        checks.check(
            all(status == 303 for status in answers),
            f"{REPLAYS} stored forms sent again with their idempotency keys answer 303",
            f"{sum(status == 303 for status in answers)} of {REPLAYS}",
        )

        check_database(checks, load, site)
        checks.check(
            server.process.poll() is None
            and len(server.workers()) == args.workers
            and server.healthy(),
            f"gunicorn runs on with {args.workers} workers and /healthz answers 200",
        )

    return run_scenario(
        f"3. {args.submissions:,} submissions, {args.clients} clients, SQLite, a worker SIGKILLed "
        "and a SIGHUP reload in the middle",
        scenario,
    )


if __name__ == "__main__":
    sys.exit(main())
