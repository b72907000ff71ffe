"""Benchmark of ``flask alerts send``: time, memory and SQL statements per lead.

Run as ``.venv/bin/python -m bench.alerts`` (or ``make bench BENCH=alerts``; ``--quick``:
1,000 trials, 200 and 2,000 leads). It makes a throwaway SQLite database in a temporary
directory, creates the schema with ``flask db upgrade``, and fills it with the catalog of
``bench.matching`` (10,000 generated trials, about 6 sites each at random points of the
continental United States, with coordinates) and the US ZIP codes that come with the
install. For each size (1,000 and 10,000 leads) a copy of that database gets its leads:
in the United States, every one with confirmed alerts months from their end, ages and
diagnoses as the form sends them, a mix of travel distances (80 km to any), 85% with a ZIP
code that is located, 10% with one that is not (a code that exists nowhere) and 5% with
none; a fifth in Spanish. None was ever shown or mailed a trial, so every match is new:
the heaviest run there is, in which most leads get a mail.

Each run is the real command (``alerts send`` through the app's CLI runner), in a fresh
process of its own that does nothing else, so its figures are its own: wall time, CPU
time (``time.process_time``; SQLite runs in that process, and a busy machine inflates wall
time, not CPU time), memory as ru_maxrss (``resource.getrusage``, the high-water mark of
RSS): the process's peak, as ``os.wait4`` reports it to the launcher of
``tools.measure``, and its growth during the command (the mark is reset through
/proc/self/clear_refs once the app is imported and the database opened, then read again
at the end; "?" where it cannot be reset), and the SQL statements sent (a SQLAlchemy
"before_cursor_execute" listener on the engine). Then the command is run once more on the
same database: within ALERT_INTERVAL_DAYS nothing is mailed, but the leads are matched
again and trials beyond the first mail's are recorded for staff (the day-to-day run).

Targets (a measurement: it exits 0 whatever the figures; the verdict lines say met or
MISSED):
- SQL statements per lead constant: at the largest size at most 10% above the smallest;
- at most 50 ms (wall) per lead at the largest size.

Options: ``--sizes 1000,10000`` (leads), ``--trials N`` (10,000), ``--seed N``,
``--quick``, and ``--profile N``, which prints where the CPU time of a first run over N
leads goes (cProfile, by cumulative time).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import logging
import os
import pstats
import random
import resource
import shutil
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from bench.matching import (
    LEAD_AGE_WEIGHTS,
    LEAD_AGES,
    TRAVEL,
    StatementCounter,
    fill,
    load_zip_codes,
    machine,
    migrate,
    weighted,
)
from bench.results import record
from tools.app import ROOT
from tools.measure import measure, size_list

SECRET_KEY = "alerts-benchmark-key-not-a-secret"
SEED = 20261128
DEFAULT_TRIALS, DEFAULT_SIZES = 10_000, (1_000, 10_000)
QUICK_TRIALS, QUICK_SIZES = 1_000, (200, 2_000)
# Targets.
STATEMENTS_TOLERANCE = 0.10  # statements per lead, largest size against the smallest
MAX_MS_PER_LEAD = 50.0  # wall time, at the largest size

# The leads' postal codes: located, a code that exists nowhere, or none.
POSTAL_CODES = {"located": 85, "unknown": 10, "none": 5}
LANGUAGES = {"en": 80, "es": 20}
STATUSES = {"new": 60, "contacted": 30, "referred": 10}  # the open ones: all are checked
CONSENT_VERSION = "2026-01"
ALERTS_CONSENT = {"en": "alerts-2026-12-01", "es": "es-alerts-2026-12-01"}


def app_for(db_path: Path):
    from microsite import create_app

    app = create_app(
        {
            "DATABASE_URL": f"sqlite:///{db_path}",
            "SECRET_KEY": SECRET_KEY,
            "INSTANCE_PATH": db_path.parent / "instance",
        }
    )
    logging.getLogger("microsite").setLevel(logging.WARNING)  # no line per lead
    return app


def close(app) -> None:
    """Fold the WAL into the database file and close every connection: it may be copied."""
    from microsite.extensions import db

    with app.app_context():
        db.session.execute(db.text("PRAGMA wal_checkpoint(TRUNCATE)"))
        db.session.commit()
        db.engine.dispose()


# --- data ---------------------------------------------------------------------------------


def unknown_codes(rng: random.Random, located: set[str], count: int) -> list[str]:
    """Five-digit codes that no stored ZIP code has: ``places.locate`` finds none."""
    codes: set[str] = set()
    while len(codes) < count:
        code = f"{rng.randrange(100000):05d}"
        if code not in located:
            codes.add(code)
    return sorted(codes)


def lead_rows(rng: random.Random, count: int, zip_codes: list[str], unknown: list[str]):
    """(lead, trial alert) rows for leads 1..count, whose alerts are on."""
    from microsite import dates
    from microsite.choices import DIAGNOSES
    from microsite.models import utcnow

    diagnoses = list(DIAGNOSES)
    now, today = utcnow(), dates.today()
    for lead_id in range(1, count + 1):
        postal = weighted(rng, POSTAL_CODES)
        language = weighted(rng, LANGUAGES)
        confirmed = now - timedelta(days=rng.randrange(1, 150))
        yield (
            {
                "id": lead_id,
                "created_at": confirmed - timedelta(minutes=rng.randrange(1, 60)),
                "role": "parent",
                "patient_age": rng.choices(LEAD_AGES, weights=LEAD_AGE_WEIGHTS)[0],
                "patient_age_given_on": today - timedelta(days=rng.randrange(0, 150)),
                "diagnosis": rng.choice(diagnoses),
                "country": "US",
                "postal_code": {
                    "located": lambda: rng.choice(zip_codes),
                    "unknown": lambda: rng.choice(unknown),
                    "none": lambda: None,
                }[postal](),
                "travel_distance": weighted(rng, TRAVEL),
                "name": f"Family {lead_id}",
                "email": f"family{lead_id}@example.com",
                "contact_method": "email",
                "consent_version": CONSENT_VERSION,
                "consent_at": confirmed,
                "language": language,
                "status": weighted(rng, STATUSES),
            },
            {
                "lead_id": lead_id,
                "state": "active",
                "consent_version": ALERTS_CONSENT[language],
                "consent_at": confirmed,
                "confirmed_at": confirmed,
                # Six months from the confirmation: none ends within the renewal week.
                "active_until": confirmed + timedelta(days=182),
            },
        )


def add_leads(db_path: Path, rng: random.Random, count: int, zip_codes: list[str]) -> None:
    from microsite.extensions import db
    from microsite.models import Lead, TrialAlert

    app = app_for(db_path)
    unknown = unknown_codes(rng, set(zip_codes), 200)
    with app.app_context():
        leads, alerts = zip(*lead_rows(rng, count, zip_codes, unknown), strict=True)
        db.session.execute(Lead.__table__.insert(), list(leads))
        db.session.execute(TrialAlert.__table__.insert(), list(alerts))
        db.session.commit()
        db.session.execute(db.text("ANALYZE"))
        db.session.commit()
    close(app)


# --- measuring (in a process of its own) --------------------------------------------------


def reset_peak_memory() -> bool:
    """Start the process's high-water mark of RSS (ru_maxrss) again from its RSS now
    (Linux: /proc/self/clear_refs); False where that cannot be done."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
    except OSError:
        return False
    return True


def max_rss_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


def measure_run(db_path: Path, profile: bool) -> dict:
    """``alerts send`` once on ``db_path``, in this process (which has done nothing else)."""
    from microsite import runs
    from microsite.extensions import db

    app = app_for(db_path)
    with app.app_context():
        counter = StatementCounter(db.engine)
        db.session.execute(db.text("SELECT 1"))  # the connection opened, the pragmas run
        db.session.rollback()
    runner = app.test_cli_runner()
    profiler = cProfile.Profile(time.process_time) if profile else None
    reset = reset_peak_memory()
    rss_before = max_rss_kib()
    statements_before = counter.count
    begin, begin_cpu = time.perf_counter(), time.process_time()
    if profiler is not None:
        profiler.enable()
    result = runner.invoke(args=["alerts", "send"])
    if profiler is not None:
        profiler.disable()
    cpu, wall = time.process_time() - begin_cpu, time.perf_counter() - begin
    statements = counter.count - statements_before
    rss_after = max_rss_kib()
    if result.exit_code != 0:
        sys.exit(f"flask alerts send failed ({result.exit_code}):\n{result.output}")
    with app.app_context():
        counts = runs.last_run("alerts").counts
    measured = {
        "wall_s": wall,
        "cpu_s": cpu,
        "statements": statements,
        "growth_mib": (rss_after - rss_before) / 1024 if reset else None,
        "output": result.output.strip(),
        **counts,
    }
    if profiler is not None:
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        out.write("The app's own functions, by cumulative time:\n")
        stats.sort_stats("cumulative").print_stats(f"{ROOT}/microsite/", 25)
        out.write("Every function, by its own time:\n")
        stats.sort_stats("tottime").print_stats(20)
        measured["profile"] = out.getvalue().replace(f"{ROOT}/", "")
    return measured


def run_alone(db_path: Path, profile: bool = False) -> dict:
    """``measure_run`` in a fresh Python process, started by the small launcher of
    ``tools.measure`` (a child's ru_maxrss starts from its parent's size at the fork, and
    this process is big); returns its figures and the process's peak RSS."""
    out = db_path.with_suffix(".json")
    process = measure(
        [sys.executable, "-m", "bench.alerts", "--measure", str(db_path)]
        + (["--profile", "1"] if profile else []),
        out,
    )
    measured = json.loads(out.read_text().strip().splitlines()[-1])
    out.unlink()
    return {**measured, "peak_mib": process.peak_mib}


# --- report -------------------------------------------------------------------------------


def growth(mib: float | None) -> str:
    return "?" if mib is None else f"{mib:+.1f} MiB"


def row(label: str, leads: int, r: dict) -> str:
    return (
        f"| {leads:,} | {label} | {r['checked']:,} | {r['queued']:,} | {r['found']:,} | "
        f"{r['wall_s']:.1f} s | {r['cpu_s']:.1f} s | {1000 * r['wall_s'] / r['checked']:.1f} | "
        f"{1000 * r['cpu_s'] / r['checked']:.1f} | {r['peak_mib']:.0f} MiB | "
        f"{growth(r['growth_mib'])} | {r['statements']:,} | "
        f"{r['statements'] / r['checked']:.2f} |"
    )


def verdict(results: list[tuple[int, dict, dict]]) -> list[str]:
    def word(ok: bool) -> str:
        return "met" if ok else "MISSED"

    (small, *smallest), (large, *largest) = results[0], results[-1]
    lines = []
    for label, a, b in zip(("first run", "run again"), smallest, largest, strict=True):
        per_a, per_b = a["statements"] / a["checked"], b["statements"] / b["checked"]
        growth = per_b / per_a - 1
        lines.append(
            f"statements: per lead at {large:,} leads within {STATEMENTS_TOLERANCE:.0%} of "
            f"{small:,} leads ({label}): {word(growth <= STATEMENTS_TOLERANCE)} "
            f"({per_b:.2f} vs {per_a:.2f}, {growth:+.1%})"
        )
        record(
            f"alerts send ({label}): SQL statements per lead at {large:,} / at {small:,} leads",
            f"{per_b:.2f}",
            f"{per_a:.2f}",
            per_b / per_a,
            target=f"<= {1 + STATEMENTS_TOLERANCE:.2f}",
            passed=growth <= STATEMENTS_TOLERANCE,
        )
    first = largest[0]
    ms = 1000 * first["wall_s"] / first["checked"]
    lines.append(
        f"time:       at most {MAX_MS_PER_LEAD:.0f} ms (wall) per lead at {large:,} leads, "
        f"first run: {word(ms <= MAX_MS_PER_LEAD)} ({ms:.1f} ms)"
    )
    record(
        f"alerts send: wall time per lead at {large:,} leads, first run",
        f"{ms:.1f} ms",
        target=f"<= {MAX_MS_PER_LEAD:.0f} ms",
        passed=ms <= MAX_MS_PER_LEAD,
    )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes",
        type=size_list,
        help=f"comma-separated counts of leads (default {','.join(map(str, DEFAULT_SIZES))})",
    )
    parser.add_argument("--trials", type=int, help=f"trials generated ({DEFAULT_TRIALS:,})")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"{QUICK_TRIALS:,} trials, {' and '.join(f'{n:,}' for n in QUICK_SIZES)} leads",
    )
    parser.add_argument(
        "--profile", type=int, default=0, metavar="N", help="profile a first run over N leads"
    )
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)  # run_alone's child
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure_run(args.measure, bool(args.profile))))
        return
    sizes = args.sizes or list(QUICK_SIZES if args.quick else DEFAULT_SIZES)
    n_trials = args.trials or (QUICK_TRIALS if args.quick else DEFAULT_TRIALS)
    if n_trials < 1 or args.profile < 0:
        parser.error("--trials must be positive, --profile not negative")

    load_at_start = os.getloadavg()[0]
    print(f"machine: {machine()}; load average {load_at_start:.1f}", flush=True)
    work = Path(tempfile.mkdtemp(prefix="alerts-bench-"))
    try:
        catalog_path = work / "catalog.sqlite3"
        migrate(catalog_path)
        app = app_for(catalog_path)
        rng = random.Random(args.seed)
        with app.app_context():
            started = time.perf_counter()
            n_trials, n_sites, n_recruiting = fill(rng, n_trials)
            zip_codes = [place["postal_code"] for place in load_zip_codes()]
        close(app)
        print(
            f"catalog: {n_trials:,} trials, {n_sites:,} sites ({n_recruiting:,} recruiting) "
            f"in the continental US, and the US ZIP codes, stored in "
            f"{time.perf_counter() - started:.1f} s",
            flush=True,
        )
        results = []
        for size in [*sizes, *([args.profile] if args.profile else [])]:
            db_path = work / f"alerts-{size}.sqlite3"
            shutil.copyfile(catalog_path, db_path)
            # The same leads at every size: the smaller sizes are the first of the larger.
            add_leads(db_path, random.Random(args.seed + 1), size, zip_codes)
            if len(results) == len(sizes):  # the profile's copy
                profiled = run_alone(db_path, profile=True)["profile"]
                break
            print(f"{size:,} leads with alerts on; flask alerts send ...", flush=True)
            first = run_alone(db_path)
            print(f"  {first['output']}", flush=True)
            again = run_alone(db_path)
            print(f"  again: {again['output']}", flush=True)
            results.append((size, first, again))
            db_path.unlink()
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print()
    print(
        f"`flask alerts send` over leads in the US with alerts on, against {n_trials:,} trials "
        f"({n_sites:,} sites); each run in a fresh process; ms per lead checked; peak RSS "
        "(ru_maxrss) of the process and its growth during the command (the high-water mark "
        "reset before it); SQL statements by a before_cursor_execute listener:"
    )
    print(
        "| leads | run | checked | mails queued | matches found | wall | CPU | wall ms/lead | "
        "CPU ms/lead | peak RSS | RSS growth | SQL statements | statements/lead |"
    )
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for size, first, again in results:
        print(row("first (everything new)", size, first))
        print(row("again (within the interval)", size, again))
    print()
    for line in verdict(results):
        print(line)
    print()
    print(
        f"load average {os.getloadavg()[0]:.1f} at the end, {load_at_start:.1f} at the start: "
        "on a busy machine CPU times grow too (shared caches), if less than wall times"
    )
    if args.profile:
        print()
        print(f"cProfile of a first run over {args.profile:,} leads (CPU time):")
        print(profiled)


if __name__ == "__main__":
    main()
