"""HTTP benchmark: the site under gunicorn against a hello-world Flask app under the very
same gunicorn configuration, measured with wrk on loopback in the same run.

Run as ``.venv/bin/python -m bench.http_pages`` (or ``make bench BENCH=http``). It makes a
throwaway SQLite database in a temporary folder (migrations, then the sample content),
starts ``gunicorn -c gunicorn.conf.py`` twice with the same settings (WEB_CONCURRENCY,
GUNICORN_THREADS, one SECRET_KEY, rate limits off, mail to an SMTP sink on loopback): once
with the site (``microsite:create_app()``, the configuration's own app) and once with
``bench.hello_app:app``. For each of ``GET /``, ``GET /apply`` and the apply flow (load the
form, post it back: bench/apply_flow.lua; GET and POST count as two requests) it runs wrk
against hello-world then the site, ``--rounds`` times, and prints the median requests per
second, p50 and p99 latency, and the median of the rounds' ratios site/hello-world (each
ratio compares two runs made one after the other, so slow drift on a shared machine hits
both sides alike).

It fails (exit 1) when any response was not 2xx/3xx, any connection failed, or the leads
the flow reported stored are not in the database; a missed speed target is only reported.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from loadtest.checks import database_counts
from loadtest.site import Site
from loadtest.workspace import ScenarioError, Workspace
from tools.app import GUNICORN
from tools.machine import describe, version

HERE = Path(__file__).resolve().parent
HELLO_APP = "bench.hello_app:app"


@dataclass(frozen=True)
class Test:
    name: str
    path: str
    script: str
    target: float  # the site's throughput as a share of hello-world's, at least


TESTS = (
    Test("GET /", "/", "wrk_report.lua", 0.8),
    Test("GET /apply", "/apply", "wrk_report.lua", 0.5),
    Test("apply flow", "/apply", "apply_flow.lua", 0.2),
)
_RESULT = re.compile(r"^RESULT (.*)$", re.MULTILINE)


@dataclass
class Run:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int  # not 2xx/3xx, or a connection that failed
    requests: int
    stored: int = 0  # apply flow: POSTs answered 303 to /apply/thanks
    posts: int = 0
    bad: int = 0  # apply flow: a form without its token, or a POST not answered 303


def wrk(port: int, test: Test, seconds: float, connections: int) -> Run:
    argv = [
        "wrk",
        f"-t{connections}",
        f"-c{connections}",
        f"-d{seconds:g}s",
        "--timeout",
        "10s",
        "-s",
        str(HERE / test.script),
        f"http://127.0.0.1:{port}{test.path}",
    ]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
    found = _RESULT.search(done.stdout)
    if done.returncode != 0 or not found:
        raise ScenarioError(f"wrk failed: {done.stdout[-500:]} {done.stderr[-500:]}")
    values = {
        key: float(value) for key, value in (pair.split("=") for pair in found.group(1).split())
    }
    return Run(
        rps=values["requests"] / values["seconds"],
        p50_ms=values["p50_us"] / 1000,
        p99_ms=values["p99_us"] / 1000,
        errors=int(sum(values[k] for k in ("connect", "read", "write", "status", "timeout"))),
        requests=int(values["requests"]),
        stored=int(values.get("stored", 0)),
        posts=int(values.get("posts", 0)),
        bad=int(values.get("bad", 0)),
    )


def median_run(runs: list[Run]) -> Run:
    """The run with the median throughput (its own latencies, not a mix of runs)."""
    return sorted(runs, key=lambda run: run.rps)[len(runs) // 2]


@dataclass
class Cell:
    site: Run  # the median runs
    hello: Run
    ratio: float  # the median of the rounds' ratios


def machine() -> str:
    return (
        f"{describe()}; {version([GUNICORN, '--version'])}; "
        f"wrk {version(['wrk', '--version'], word=1)}"
    )


def table(results: dict[str, Cell]) -> str:
    columns = ("request", "site req/s", "hello-world req/s", "ratio", "target")
    columns += ("site p50", "site p99", "hello p50", "hello p99")
    lines = ["| " + " | ".join(columns) + " |", "|---|" + "---:|" * (len(columns) - 1)]
    for test in TESTS:
        cell = results[test.name]
        site, hello = cell.site, cell.hello
        lines.append(
            f"| {test.name} | {site.rps:,.0f} | {hello.rps:,.0f} | {cell.ratio:.2f} | "
            f"≥ {test.target:g} | {site.p50_ms:.1f} ms | {site.p99_ms:.0f} ms | "
            f"{hello.p50_ms:.1f} ms | {hello.p99_ms:.0f} ms |"
        )
    return "\n".join(lines)


def measure(args) -> tuple[dict[str, Cell], list[str]]:
    """Every cell of the table: the median run of the site and of hello-world per request."""
    problems: list[str] = []
    results: dict[str, Cell] = {}
    with Workspace() as workspace:
        url = f"sqlite:///{workspace.path / 'bench.sqlite3'}"
        app = Site(workspace, url, RATELIMIT_ENABLED="false")
        site = app.serve("site", args.workers, threads=args.threads)
        hello = app.serve(
            "hello", args.workers, threads=args.threads, app=HELLO_APP, ready_path="/"
        )
        print(
            f"gunicorn -c gunicorn.conf.py, {args.workers} workers x {args.threads} threads each: "
            f"the site on port {site.port}, {HELLO_APP} on port {hello.port}; wrk with "
            f"{args.connections} connections, {args.rounds} x {args.seconds:g} s per cell",
            flush=True,
        )
        for test in TESTS:
            flow = test.script == "apply_flow.lua"
            for server in (site, hello):  # warm up: every worker has imported and rendered
                wrk(server.port, test, 2, args.connections)
            runs: dict[str, list[Run]] = {"site": [], "hello": []}
            for _ in range(args.rounds):  # alternating, so drift in the machine hits both alike
                for name, server in (("hello", hello), ("site", site)):
                    before = database_counts(url)["leads"] if name == "site" and flow else 0
                    run = wrk(server.port, test, args.seconds, args.connections)
                    runs[name].append(run)
                    print(
                        f"  {test.name:<10} {name:<5} {run.rps:8,.0f} req/s  "
                        f"p50 {run.p50_ms:7.1f} ms  p99 {run.p99_ms:7.0f} ms  errors {run.errors}",
                        flush=True,
                    )
                    if run.errors or run.bad:
                        problems.append(
                            f"{test.name} on {name}: {run.errors} errors (not 2xx/3xx or "
                            f"failed connections), {run.bad} bad forms or answers"
                        )
                    if name == "site" and flow:
                        time.sleep(1)  # the requests wrk left in flight finish
                        added = database_counts(url)["leads"] - before
                        print(
                            f"    {run.posts} POSTs, {run.stored} answered 303 to /apply/thanks, "
                            f"{added} leads stored",
                            flush=True,
                        )
                        if (
                            run.stored == 0
                            or not run.stored <= added <= run.stored + args.connections
                        ):
                            problems.append(
                                f"apply flow: {run.stored} POSTs answered 303, {added} leads stored"
                            )
            ratios = [
                site_run.rps / hello_run.rps
                for site_run, hello_run in zip(runs["site"], runs["hello"], strict=True)
            ]
            results[test.name] = Cell(
                median_run(runs["site"]), median_run(runs["hello"]), statistics.median(ratios)
            )
        print(f"load average at the end: {os.getloadavg()[0]:.1f}")
    return results, problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5, help="length of each wrk run (5)")
    parser.add_argument("--rounds", type=int, default=5, help="wrk runs per request and app (5)")
    parser.add_argument(
        "--connections", type=int, default=8, help="wrk connections, one per wrk thread (8)"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 2,
        help="gunicorn workers of both apps (WEB_CONCURRENCY; default: the cores)",
    )
    parser.add_argument("--threads", type=int, default=4, help="GUNICORN_THREADS of both apps (4)")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("the wrk command is missing: install it with: apt-get install -y wrk")

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # still stop the servers
    print(f"machine: {machine()}", flush=True)
    print(
        f"load average at the start: {os.getloadavg()[0]:.1f} (other work on this machine "
        "makes every figure noisy)",
        flush=True,
    )
    try:
        results, problems = measure(args)
    except ScenarioError as error:
        print(f"FAILED: {error}")
        return 1

    print()
    print(
        f"HTTP: the site against a hello-world Flask app, both under gunicorn -c gunicorn.conf.py "
        f"(median of {args.rounds} wrk runs of {args.seconds:g} s each; the ratio is the median of "
        f"the {args.rounds} rounds' ratios)"
    )
    print(table(results))
    print()
    for test in TESTS:
        ratio = results[test.name].ratio
        print(
            f"{test.name}: at least {test.target:g} of hello-world's throughput: "
            f"{'met' if ratio >= test.target else 'MISSED'} ({ratio:.2f})"
        )
    if problems:
        print("FAILED: " + "; ".join(problems))
        return 1
    print(
        "errors: none (every response 2xx or 3xx, every connection whole; every lead the flow "
        "sent is in the database)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
