"""HTTP benchmark: the site under gunicorn against two floors under the very same gunicorn
configuration, measured with wrk on loopback in the same run, and the CPU time one
application costs.

Run as ``.venv/bin/python -m bench.http_pages`` (or ``make bench BENCH=http``). It makes a
throwaway SQLite database in a temporary folder (migrations, then the sample content with
the US ZIP codes, as ``make run`` does), adds a generated catalog of ``--trials`` trials
(10,000) with their sites at points of the continental US (bench/matching.py's generator),
and starts ``gunicorn -c gunicorn.conf.py`` three times with the same settings
(WEB_CONCURRENCY, GUNICORN_THREADS, one SECRET_KEY, rate limits off, mail to an SMTP sink
on loopback):

- the site (``microsite:create_app()``, the configuration's own app);
- ``bench.hello_app:app``, a hello-world Flask app: the floor of ``GET /`` and ``GET /apply``;
- ``bench.baseline_app:create_app()``, a plain Flask-WTF + Flask-SQLAlchemy app with the same
  form fields and validators that stores one row with the site's SQLite durability and
  redirects: the floor of the apply flow (its own SQLite file).

The apply flow (bench/apply_flow.lua) loads the form and posts it back, as a family in the
US with a ZIP code the site locates, so matching ranks the catalog by distance; GET and
POST count as two requests. It is measured twice: on the site as configured by default,
which tries each confirmation once right after its response (in the worker, over SMTP),
and on the same site started with MAIL_SEND_AFTER_RESPONSE=false, whose requests only
queue their mail (the application as the issue defines it: confirmation and staff notice
queued; delivery by ``flask outbox send`` is measured apart, below).

Each measure runs ``--rounds`` rounds (5), each one wrk run of the floor then one of the
site; the ratio of a round is site / floor, and a measure passes when the median of the
rounds' ratios reaches its target (the spread is the lowest and the highest ratio):
``GET /`` 0.9 and ``GET /apply`` 0.7 of hello-world, the apply flow (both ways) 0.8 of the
baseline.

CPU per application: one more apply-flow run of ``--seconds`` on the site that only queues
its mail, and on the baseline; the master's and workers' user + system CPU
(/proc/<pid>/stat) before and after, divided by the applications stored. The site's target
is at most 8 ms. Mail is measured apart: ``flask outbox send`` then delivers the queued
messages to the SMTP sink, timed, and its CPU per message (less the command's start-up,
timed in a second run with nothing to send) is reported (no target).

Every row goes to the one table of ``make bench`` (bench/results.py). It fails (exit 1)
when any response was not 2xx/3xx, any connection failed, or the applications stored are
not the ones the flow was answered for; a missed speed target is only reported.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import resource
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bench import matching
from bench.results import record
from loadtest.site import Gunicorn, Site
from loadtest.workspace import ScenarioError, Workspace, stop_process
from tools.app import FLASK, GUNICORN, ROOT
from tools.machine import describe, version

HERE = Path(__file__).resolve().parent
HELLO_APP = "bench.hello_app:app"
BASELINE_APP = "bench.baseline_app:create_app()"
CPU_TARGET_MS = 8.0
POSTAL_CODES = 2_000  # located ZIP codes the flow's families send, taken at random


@dataclass(frozen=True)
class Test:
    name: str
    path: str
    script: str
    floor: str  # "hello" or "baseline"
    target: float  # the site's throughput as a share of the floor's, at least
    site: str = "site"  # or "queuing": the site that leaves all mail to flask outbox send


TESTS = (
    Test("GET /", "/", "wrk_report.lua", "hello", 0.9),
    Test("GET /apply", "/apply", "wrk_report.lua", "hello", 0.7),
    Test("apply flow", "/apply", "apply_flow.lua", "baseline", 0.8),
    Test("apply flow, mail queued", "/apply", "apply_flow.lua", "baseline", 0.8, "queuing"),
)
FLOOR_NAMES = {"hello": "hello-world", "baseline": "baseline app"}
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


def wrk(port: int, test: Test, seconds: float, connections: int, codes: Path) -> Run:
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
        "--",
        str(codes),
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
    floor: Run
    ratios: list[float]

    @property
    def ratio(self) -> float:
        return statistics.median(self.ratios)

    @property
    def spread(self) -> str:
        return f"{min(self.ratios):.2f}-{max(self.ratios):.2f}"


@dataclass
class Server:
    name: str
    gunicorn: Gunicorn
    database: Path  # where its applications are stored
    table: str

    def stored(self) -> int:
        with sqlite3.connect(self.database) as connection:
            return connection.execute(f"SELECT count(*) FROM {self.table}").fetchone()[0]


def machine() -> str:
    return (
        f"{describe()}; {version([GUNICORN, '--version'])}; "
        f"wrk {version(['wrk', '--version'], word=1)}; SQLite {sqlite3.sqlite_version}"
    )


def table(results: dict[str, Cell]) -> str:
    columns = ("request", "site req/s", "floor", "floor req/s", "ratio", "spread", "target")
    columns += ("site p50", "site p99", "floor p50", "floor p99")
    lines = ["| " + " | ".join(columns) + " |", "|---|---:|---|" + "---:|" * (len(columns) - 3)]
    for test in TESTS:
        cell = results[test.name]
        site, floor = cell.site, cell.floor
        lines.append(
            f"| {test.name} | {site.rps:,.0f} | {FLOOR_NAMES[test.floor]} | {floor.rps:,.0f} | "
            f"{cell.ratio:.2f} | {cell.spread} | ≥ {test.target:g} | {site.p50_ms:.1f} ms | "
            f"{site.p99_ms:.0f} ms | {floor.p50_ms:.1f} ms | {floor.p99_ms:.0f} ms |"
        )
    return "\n".join(lines)


def add_catalog(url: str, workspace: Workspace, trials: int, seed: int) -> Path:
    """The generated catalog in the site's database; returns a file of ZIP codes (one a
    line) of the continental US that the site locates, for the flow's families."""
    import logging

    from microsite import create_app
    from microsite.extensions import db

    app = create_app(
        {
            "DATABASE_URL": url,
            "SECRET_KEY": workspace.secret_key,
            "INSTANCE_PATH": workspace.path / "catalog-instance",
        }
    )
    logging.getLogger("microsite").setLevel(logging.WARNING)
    rng = random.Random(seed)
    with app.app_context():
        started = time.perf_counter()
        n_trials, n_sites, n_recruiting = matching.fill(rng, trials)
        codes = matching.located_us_codes()
        db.engine.dispose()
    if not codes:
        raise ScenarioError("no US ZIP codes in the database (flask content load loads them)")
    chosen = rng.sample(codes, min(POSTAL_CODES, len(codes)))
    path = workspace.path / "postal_codes.txt"
    path.write_text("\n".join(chosen) + "\n")
    print(
        f"catalog: {n_trials:,} trials, {n_sites:,} sites ({n_recruiting:,} recruiting) in the "
        f"continental US, {len(codes):,} ZIP codes there; the flow sends {len(chosen):,} of "
        f"them; stored in {time.perf_counter() - started:.1f} s",
        flush=True,
    )
    return path


def flow_run(server: Server, args, codes: Path, problems: list[str], label: str) -> Run:
    """One apply-flow wrk run, checked: every POST answered 303 stored exactly once."""
    test = TESTS[2]
    before = server.stored()
    run = wrk(server.gunicorn.port, test, args.seconds, args.connections, codes)
    time.sleep(1)  # the requests wrk left in flight finish
    added = server.stored() - before
    print(
        f"    {label}: {run.posts} POSTs, {run.stored} answered 303 to /apply/thanks, "
        f"{added} applications stored",
        flush=True,
    )
    if run.stored == 0 or not run.stored <= added <= run.stored + args.connections:
        problems.append(
            f"apply flow on {server.name}: {run.stored} POSTs answered 303, {added} stored"
        )
    run.stored = added
    return run


def check(run: Run, what: str, problems: list[str]) -> None:
    if run.errors or run.bad:
        problems.append(
            f"{what}: {run.errors} errors (not 2xx/3xx or failed connections), "
            f"{run.bad} bad forms or answers"
        )


def ratios(servers: dict[str, Server], args, codes: Path, problems: list[str]) -> dict:
    """Every measure's rounds: the floor, then the site, ``--rounds`` times."""
    results: dict[str, Cell] = {}
    for test in TESTS:
        flow = test.script == "apply_flow.lua"
        pair = (("floor", servers[test.floor]), ("site", servers[test.site]))
        for _, server in pair:  # warm up: every worker has imported and rendered
            wrk(server.gunicorn.port, test, 2, args.connections, codes)
        runs: dict[str, list[Run]] = {"site": [], "floor": []}
        for _ in range(args.rounds):  # alternating, so drift in the machine hits both alike
            for side, server in pair:
                if flow:
                    run = flow_run(server, args, codes, problems, server.name)
                else:
                    run = wrk(server.gunicorn.port, test, args.seconds, args.connections, codes)
                runs[side].append(run)
                check(run, f"{test.name} on {server.name}", problems)
                print(
                    f"  {test.name:<10} {server.name:<8} {run.rps:8,.0f} req/s  "
                    f"p50 {run.p50_ms:7.1f} ms  p99 {run.p99_ms:7.0f} ms  errors {run.errors}",
                    flush=True,
                )
        results[test.name] = Cell(
            median_run(runs["site"]),
            median_run(runs["floor"]),
            [s.rps / f.rps for s, f in zip(runs["site"], runs["floor"], strict=True)],
        )
    return results


@dataclass
class Cpu:
    seconds: float
    applications: int

    @property
    def ms_each(self) -> float:
        return 1000 * self.seconds / self.applications


def cpu_per_application(server: Server, args, codes: Path, problems: list[str]) -> Cpu:
    """The gunicorn master's and workers' CPU over one apply-flow run, per application."""
    wrk(server.gunicorn.port, TESTS[2], 2, args.connections, codes)  # warm up
    time.sleep(0.5)
    before = server.gunicorn.cpu_seconds()
    run = flow_run(server, args, codes, problems, f"CPU run, {server.name}")
    check(run, f"CPU run on {server.name}", problems)
    cpu = Cpu(server.gunicorn.cpu_seconds() - before, run.stored)
    print(
        f"    {server.name}: {cpu.seconds:.2f} s of CPU (user + system, master and workers) "
        f"for {cpu.applications:,} applications: {cpu.ms_each:.2f} ms each",
        flush=True,
    )
    return cpu


def outbox(url_path: Path) -> dict[str, int]:
    with sqlite3.connect(url_path) as connection:
        return dict(connection.execute("SELECT status, count(*) FROM outbox_message GROUP BY 1"))


def flask_outbox_send(env: dict[str, str]) -> tuple[float, float, str]:
    """``flask outbox send``: (wall s, CPU s of the command, its output)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(
        [FLASK, "--app", "microsite", "outbox", "send"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise ScenarioError(f"flask outbox send failed: {done.stderr[-1000:]}")
    cpu = (after.ru_utime - usage.ru_utime) + (after.ru_stime - usage.ru_stime)
    return wall, cpu, done.stdout.strip()


def send_outbox(env: dict[str, str], database: Path) -> tuple[int, float, float]:
    """The queued messages delivered by ``flask outbox send``, less the command's own
    start-up (a second run with nothing to send): (sent, wall s, CPU s)."""
    before = outbox(database).get("sent", 0)
    wall, cpu, said = flask_outbox_send(env)
    sent = outbox(database).get("sent", 0) - before
    idle_wall, idle_cpu, _ = flask_outbox_send(env)
    print(
        f"    flask outbox send: {said} {wall:.2f} s, {cpu:.2f} s of CPU; with nothing to "
        f"send (its start-up) {idle_wall:.2f} s, {idle_cpu:.2f} s of CPU",
        flush=True,
    )
    return sent, wall - idle_wall, cpu - idle_cpu


def measure(args) -> tuple[dict[str, Cell], dict[str, Cpu], tuple, list[str]]:
    problems: list[str] = []
    with Workspace() as workspace:
        site_db = workspace.path / "bench.sqlite3"
        baseline_db = workspace.path / "baseline.sqlite3"
        url = f"sqlite:///{site_db}"
        app = Site(workspace, url, RATELIMIT_ENABLED="false")
        codes = add_catalog(url, workspace, args.trials, args.seed)
        subprocess.run(
            [sys.executable, "-m", "bench.baseline_app", f"sqlite:///{baseline_db}"],
            cwd=ROOT,
            env=app.env,
            check=True,
        )
        options = dict(threads=args.threads)
        servers = {
            "site": Server("site", app.serve("site", args.workers, **options), site_db, "lead"),
            "hello": Server(
                "hello",
                app.serve("hello", args.workers, app=HELLO_APP, ready_path="/", **options),
                site_db,
                "lead",
            ),
            "baseline": Server(
                "baseline",
                Gunicorn(
                    workspace,
                    "baseline",
                    {**app.env, "DATABASE_URL": f"sqlite:///{baseline_db}"},
                    args.workers,
                    app=BASELINE_APP,
                    ready_path="/",
                    **options,
                ),
                baseline_db,
                "application",
            ),
            # The same site on the same database, with MAIL_SEND_AFTER_RESPONSE=false:
            # requests only queue their mail (the application), and flask outbox
            # send delivers it after the runs, measured apart.
            "queuing": Server(
                "queuing",
                Gunicorn(
                    workspace,
                    "site-queue-only",
                    {**app.env, "MAIL_SEND_AFTER_RESPONSE": "false"},
                    args.workers,
                    **options,
                ),
                site_db,
                "lead",
            ),
        }
        print(
            f"gunicorn -c gunicorn.conf.py, {args.workers} workers x {args.threads} threads each: "
            + ", ".join(f"{s.name} on port {s.gunicorn.port}" for s in servers.values())
            + f"; wrk with {args.connections} connections, {args.rounds} rounds of "
            f"{args.seconds:g} s per measure",
            flush=True,
        )
        results = ratios(servers, args, codes, problems)

        print("CPU per application (apply flow):", flush=True)
        for name in ("site", "hello"):
            stop_process(servers[name].gunicorn.process)
        queuing = servers["queuing"]
        mail_before = outbox(site_db)
        cpus = {
            "site": cpu_per_application(queuing, args, codes, problems),
            "baseline": cpu_per_application(servers["baseline"], args, codes, problems),
        }
        stop_process(queuing.gunicorn.process)
        queued = outbox(site_db).get("queued", 0)
        print(
            f"  outbox before the CPU run: {mail_before}; after it: {outbox(site_db)} "
            f"({queued:,} queued to send)",
            flush=True,
        )
        mail = send_outbox(app.env, site_db)
        print(f"load average at the end: {os.getloadavg()[0]:.1f}")
    return results, cpus, (queued, *mail), problems


def report(args, results: dict[str, Cell], cpus: dict[str, Cpu], mail: tuple) -> None:
    print()
    print(
        f"HTTP: the site against hello-world and the baseline app, all under gunicorn -c "
        f"gunicorn.conf.py, {args.trials:,} trials (median of {args.rounds} wrk runs of "
        f"{args.seconds:g} s each; the ratio is the median of the rounds' ratios)"
    )
    print(table(results))
    print()
    for test in TESTS:
        cell = results[test.name]
        floor = FLOOR_NAMES[test.floor]
        passed = cell.ratio >= test.target
        print(
            f"{test.name}: at least {test.target:g} of the {floor}'s throughput: "
            f"{'met' if passed else 'MISSED'} ({cell.ratio:.2f}, rounds {cell.spread})"
        )
        record(
            f"HTTP {test.name}, site / {floor} (req/s)",
            f"{cell.site.rps:,.0f} req/s",
            f"{cell.floor.rps:,.0f} req/s ({floor})",
            cell.ratio,
            cell.spread,
            f">= {test.target:g}",
            passed,
        )
    site, baseline = cpus["site"], cpus["baseline"]
    passed = site.ms_each <= CPU_TARGET_MS
    print(
        f"CPU per application: site {site.ms_each:.2f} ms ({site.applications:,} applications), "
        f"baseline app {baseline.ms_each:.2f} ms ({baseline.applications:,}); at most "
        f"{CPU_TARGET_MS:g} ms: {'met' if passed else 'MISSED'}"
    )
    record(
        "CPU per application (gunicorn user + system)",
        f"{site.ms_each:.2f} ms",
        f"{baseline.ms_each:.2f} ms (baseline app)",
        site.ms_each / baseline.ms_each,
        "",
        f"<= {CPU_TARGET_MS:g} ms",
        passed,
    )
    queued, sent, wall, cpu = mail
    if sent:
        print(
            f"Mail, measured apart: flask outbox send delivered {sent:,} of {queued:,} queued "
            f"messages to the SMTP sink in {wall:.2f} s, {1000 * cpu / sent:.2f} ms of CPU each "
            "(the command's start-up left out)"
        )
        record(
            "mail: flask outbox send, CPU per message",
            f"{1000 * cpu / sent:.2f} ms ({sent:,} messages in {wall:.1f} s)",
        )
    else:
        print("Mail, measured apart: nothing was queued to send (see above)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--seconds", "--duration", type=float, default=5, help="length of each wrk run (5)"
    )
    parser.add_argument("--rounds", type=int, default=5, help="rounds per measure (5)")
    parser.add_argument(
        "--connections", type=int, default=8, help="wrk connections, one per wrk thread (8)"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 2,
        help="gunicorn workers of every app (WEB_CONCURRENCY; default: the cores)",
    )
    parser.add_argument("--threads", type=int, default=4, help="GUNICORN_THREADS of every app (4)")
    parser.add_argument(
        "--trials", type=int, default=matching.DEFAULT_TRIALS, help="trials in the catalog"
    )
    parser.add_argument("--seed", type=int, default=matching.SEED)
    args = parser.parse_args()
    if args.rounds < 1 or args.trials < 1:
        parser.error("--rounds and --trials must be positive")
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
        results, cpus, mail, problems = measure(args)
    except ScenarioError as error:
        print(f"FAILED: {error}")
        return 1
    report(args, results, cpus, mail)
    if problems:
        print("FAILED: " + "; ".join(problems))
        return 1
    print(
        "errors: none (every response 2xx or 3xx, every connection whole; every application "
        "the flow was answered for is stored, once)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
