"""Scenario 2: the same load against TWO app instances (two gunicorn masters on different
ports) sharing one PostgreSQL database and one Redis for the rate limits. Every form is
fetched from one instance and posted to the other, so the shared SECRET_KEY is what makes
the CSRF token good. Checks: exactly 2,000 leads, zero 5xx, both instances served, and the
apply limit counted every POST in Redis.

Run: .venv/bin/python -m loadtest.two_instances [--submissions N] [--clients N]
"""

from __future__ import annotations

import sys

from .checks import check_steady_load
from .client import Load, submit
from .scenario import arguments, run_scenario
from .services import Postgres, Redis
from .site import Site
from .workspace import say


def main(argv: list[str] | None = None) -> int:
    args = arguments(
        __doc__, argv, submissions=2000, clients=32, workers=2, workers_help="per instance"
    )

    def scenario(workspace, checks):
        url = Postgres(workspace).create()
        redis = Redis(workspace)
        site = Site(workspace, url, RATELIMIT_STORAGE_URI=redis.url)
        servers = (site.serve("a", args.workers), site.serve("b", args.workers))
        say(
            f"  two gunicorn masters on ports {servers[0].port} and {servers[1].port}, "
            f"{args.workers} workers x {servers[0].threads} threads each, one SECRET_KEY; "
            "PostgreSQL and redis-server on loopback; each form is fetched from one instance "
            "and posted to the other"
        )
        ports = [server.port for server in servers]

        def send(browser, submission):  # the form from one instance, the POST to the other
            n = submission.number
            submit(browser, submission, ports[n % 2], ports[(n + 1) % 2])

        load = Load(args.submissions, args.clients, send)
        check_steady_load(checks, load, site, servers)

        posts = sum(len(s.post_statuses) for s in load.submissions)
        counted = {
            key.decode(): int(redis.client.get(key) or 0)
            for key in redis.client.scan_iter(match="*apply*")
        }
        say(f"  Redis keys of the apply limit: {counted}")
        checks.check(
            sum(counted.values()) == posts and len(counted) == 1,
            "both instances counted every POST /apply in the one Redis counter",
            f"{posts} POSTs sent, {sum(counted.values())} counted in {len(counted)} key(s)",
        )

    return run_scenario(
        f"2. {args.submissions:,} submissions, {args.clients} clients, two gunicorn instances, "
        "PostgreSQL and Redis",
        scenario,
    )


if __name__ == "__main__":
    sys.exit(main())
