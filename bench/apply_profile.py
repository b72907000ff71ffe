"""Profile of the application form: where the CPU time of a POST goes, measured the same
way before and after a change.

Run as ``.venv/bin/python -m bench.apply_profile`` (or ``make bench BENCH=profile``,
options in PROFILE_BENCH_ARGS). It makes a throwaway SQLite database in a temporary folder
(``flask db upgrade``, the US ZIP codes of the install as ``flask content load`` stores
them) with a generated catalog of ``--trials`` trials (10,000; bench/matching.py's
generator, sites at points of the continental US), and builds the app in this process in
production mode, rate limits off and MAIL_SEND_AFTER_RESPONSE false (the confirmation and
the staff notice are queued in the outbox, as in production; delivery is measured apart by
bench/http_pages.py).

Each application is a new visitor on the Flask test client: ``GET /apply``, then the form
posted back as a family in the US with a ZIP code the site locates (so matching ranks the
catalog by distance). After a warm-up, ``--applications`` applications (200) are timed
without the profiler (CPU time per GET and per POST, ``time.process_time``: SQLite runs in
this process), then as many again with cProfile on around the POSTs only. It prints the
top ``--top`` functions (25) by cumulative CPU time, and writes them to ``--out`` if given.
No server, no network: the figures leave out gunicorn and HTTP parsing.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import logging
import os
import pstats
import random
import re
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench import matching
from bench.results import record
from tools.machine import describe

WARM_UP = 20
# Production cookies are Secure, and Flask-WTF checks an HTTPS POST's Referer.
BASE_URL = "https://localhost"
_TOKEN = re.compile(r'name="csrf_token"[^>]*?value="([^"]*)"')
_KEY = re.compile(r'name="idempotency_key"[^>]*?value="([^"]*)"')
DIAGNOSES = ("all", "aml", "neuroblastoma", "medulloblastoma", "osteosarcoma", "wilms")
DISTANCES = ("80", "160", "400", "800", "any")


def build_app(work: Path, trials: int, seed: int):
    """The app on a fresh database with the catalog; returns (app, located ZIP codes)."""
    from microsite import create_app
    from microsite.extensions import db
    from microsite.trials import places

    db_path = work / "bench.sqlite3"
    matching.migrate(db_path)
    app = create_app(
        {
            "DATABASE_URL": f"sqlite:///{db_path}",
            "SECRET_KEY": secrets.token_hex(32),  # production refuses weak keys
            "MFA_ENCRYPTION_KEY": secrets.token_hex(32),
            "MICROSITE_ENV": "production",
            "INSTANCE_PATH": work / "instance",
            "RATELIMIT_ENABLED": False,
            "MAIL_SEND_AFTER_RESPONSE": False,
        }
    )
    logging.getLogger("microsite").setLevel(logging.WARNING)  # no line per lead
    rng = random.Random(seed)
    with app.app_context():
        places.load_us_zip_codes()
        n_trials, n_sites, _ = matching.fill(rng, trials)
        codes = matching.located_us_codes()
        db.session.remove()
    print(f"catalog: {n_trials:,} trials, {n_sites:,} sites, {len(codes):,} ZIP codes", flush=True)
    return app, codes


def answers(number: int, page: str, codes: list[str]) -> dict[str, str]:
    return {
        "csrf_token": _TOKEN.search(page).group(1),
        "idempotency_key": _KEY.search(page).group(1),
        "hp_extra_notes": "",
        "role": "parent",
        "patient_age": str(number % 18),
        "diagnosis": DIAGNOSES[number % len(DIAGNOSES)],
        "diagnosis_other": "",
        "treatment_stage": "in_treatment",
        "country": "US",
        "postal_code": codes[number % len(codes)],
        "travel_distance": DISTANCES[number % len(DISTANCES)],
        "name": "Bench Family",
        "email": f"bench-{number}@example.com",
        "phone": "",
        "contact_method": "email",
        "consent": "y",
    }


class Applications:
    """New visitors applying one after the other; counts what the site answered."""

    def __init__(self, app, codes: list[str]) -> None:
        self.app, self.codes, self.number = app, codes, 0
        self.get_cpu: list[float] = []
        self.post_cpu: list[float] = []

    def apply(self, profiler: cProfile.Profile | None = None) -> None:
        self.number += 1
        client = self.app.test_client()
        begin = time.process_time()
        got = client.get("/apply", base_url=BASE_URL)
        got_at = time.process_time()
        if got.status_code != 200:
            raise SystemExit(f"GET /apply answered {got.status_code}")
        data = answers(self.number, got.get_data(as_text=True), self.codes)
        middle = time.process_time()
        if profiler:
            profiler.enable()
        posted = client.post(
            "/apply", data=data, base_url=BASE_URL, headers={"Referer": BASE_URL + "/apply"}
        )
        if profiler:
            profiler.disable()
        end = time.process_time()
        if posted.status_code != 303 or not posted.location.endswith("/apply/thanks"):
            raise SystemExit(f"POST /apply answered {posted.status_code} {posted.location}")
        self.get_cpu.append((got_at - begin) * 1000)
        self.post_cpu.append((end - middle) * 1000)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--applications", type=int, default=200, help="POSTs timed (200)")
    parser.add_argument("--top", type=int, default=25, help="functions printed (25)")
    parser.add_argument("--out", type=Path, help="also write the profile to this file")
    parser.add_argument(
        "--trials", type=int, default=matching.DEFAULT_TRIALS, help="trials in the catalog"
    )
    parser.add_argument("--seed", type=int, default=matching.SEED)
    args = parser.parse_args()
    if args.applications < 1 or args.trials < 1 or args.top < 1:
        parser.error("--applications, --trials and --top must be positive")

    print(f"machine: {describe()}; load average {os.getloadavg()[0]:.1f}", flush=True)
    work = Path(tempfile.mkdtemp(prefix="apply-profile-"))
    try:
        app, codes = build_app(work, args.trials, args.seed)
        warm = Applications(app, codes)
        for _ in range(WARM_UP):
            warm.apply()
        timed = Applications(app, codes)
        timed.number = warm.number
        for _ in range(args.applications):
            timed.apply()
        profiler = cProfile.Profile(time.process_time)
        profiled = Applications(app, codes)
        profiled.number = timed.number
        for _ in range(args.applications):
            profiled.apply(profiler)
        with app.app_context():
            from microsite.extensions import db
            from microsite.models import Lead, OutboxMessage

            leads = db.session.scalar(db.select(db.func.count()).select_from(Lead))
            messages = db.session.scalar(db.select(db.func.count()).select_from(OutboxMessage))
            queued = db.session.scalar(
                db.select(db.func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.status == "queued")
            )
            db.session.remove()
    finally:
        shutil.rmtree(work, ignore_errors=True)

    expected = WARM_UP + 2 * args.applications
    if leads != expected:
        print(f"FAILED: {leads} leads stored for {expected} applications")
        return 1
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).strip_dirs().sort_stats("cumulative")
    stats.print_stats(args.top)
    get_ms, post_ms = statistics.fmean(timed.get_cpu), statistics.fmean(timed.post_cpu)
    head = (
        f"cProfile of {args.applications:,} POST /apply (CPU time, Flask test client in process, "
        f"{args.trials:,} trials, SQLite), top {args.top} by cumulative time.\n"
        f"Without the profiler: {post_ms:.2f} ms of CPU per POST (median "
        f"{statistics.median(timed.post_cpu):.2f}), {get_ms:.2f} ms per GET /apply (median "
        f"{statistics.median(timed.get_cpu):.2f}), over {args.applications:,} applications; "
        f"{leads:,} leads stored, {messages:,} messages in the outbox, {queued:,} of them "
        "still queued.\n"
    )
    print()
    print(head + out.getvalue())
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(head + out.getvalue(), encoding="utf-8")
        print(f"written to {args.out}")
    sample = f"{args.applications:,} applications, {args.trials:,} trials, test client"
    record(f"profile: CPU per POST /apply ({sample})", f"{post_ms:.2f} ms")
    record(f"profile: CPU per GET /apply ({sample})", f"{get_ms:.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
