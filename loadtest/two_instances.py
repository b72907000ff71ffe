"""Scenario 2: the same load against TWO app instances (two gunicorn masters on different
ports) sharing one PostgreSQL database and one Redis for the rate limits. Every form is
fetched from one instance and posted to the other, so the shared SECRET_KEY is what makes
the CSRF token good. Checks: exactly 2,000 leads, zero 5xx, both instances served, and the
apply limit counted every POST in Redis.

Run: .venv/bin/python -m loadtest.two_instances [--submissions N] [--clients N]
"""

from __future__ import annotations

import argparse
import sys

from .harness import (
    Gunicorn,
    Load,
    Postgres,
    Redis,
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
    parser.add_argument("--workers", type=int, default=2, help="per instance")
    args = parser.parse_args(argv)

    def scenario(workspace, checks):
        url = Postgres(workspace).create()
        redis = Redis(workspace)
        smtp = SmtpSink(workspace)
        env = app_environment(workspace, url, smtp, limiter_storage=redis.url)
        prepare_database(env)
        servers = (
            Gunicorn(workspace, "a", env, workers=args.workers),
            Gunicorn(workspace, "b", env, workers=args.workers),
        )
        say(
            f"  two gunicorn masters on ports {servers[0].port} and {servers[1].port}, "
            f"{args.workers} workers x 4 threads each, one SECRET_KEY; PostgreSQL 15 and redis-server "
            "on loopback; each form is fetched from one instance and posted to the other"
        )
        ports = [server.port for server in servers]

        def send(browser, submission):  # the form from one instance, the POST to the other
            n = submission.number
            submit(browser, submission, ports[n % 2], ports[(n + 1) % 2])

        load = Load(args.submissions, args.clients, send)
        load.join()
        events = summarize(load, servers)
        counts = database_counts(url)
        mail_summary(counts, smtp)
        no_5xx(checks, events)
        no_dropped(checks, events)
        check_stored_once(checks, load, counts)

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
