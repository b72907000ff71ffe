"""Benchmark of the leads CSV export against the databases' own CSV writers.

Run as ``.venv/bin/python -m bench.export`` (or ``make bench BENCH=export``). It makes a
throwaway SQLite database in a temporary directory (the schema by ``flask db upgrade``),
fills it with generated leads, and for each size times ``flask --app microsite leads export
--out FILE`` against ``sqlite3 -csv -header DB "SELECT ..."`` in the same run. With a
PostgreSQL URL (``--postgresql-url URL`` or BENCH_DATABASE_URL, a SQLAlchemy URL of a
server where the benchmark may create and drop the database ``microsite_export_bench``),
it copies the same leads there and times the app's export against ``psql -c "\\copy (the
app's query) to stdout csv"``. Each command runs 3 times, interleaved: the median wall
time. Memory: the app's export runs once more in a process that reads its own RSS after
start-up (the app created, the command not yet run), resets its peak (``/proc/self/
clear_refs``) and reads the peak when the export is done; the growth is the difference.
It is a measurement, so it exits 0 when a target is missed; only a broken run (a command
failing, row counts or bytes that differ) exits 1.

The sqlite3 query does what the app's does on SQLite (microsite/exports.py, csvsql.py): the
same columns in the same order under the same names (the two headers are checked equal),
the same joins, timestamps and booleans formatted alike, ``matched_nct_ids`` by
group_concat over an ordered subquery, and ``trial_alerts``. It leaves out the formula
guard (the app's is a CASE of GLOBs over 12 columns; sqlite3's output is plain values).
psql runs the very query the app puts in its COPY. The app's files from SQLite and from
PostgreSQL are checked byte for byte equal.
"""

from __future__ import annotations

import argparse
import csv
import filecmp
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from microsite.choices import (
    ADULT_AGE,
    CONTACT_METHODS,
    COUNTRIES,
    DIAGNOSES,
    LEAD_STATUSES,
    MAX_PATIENT_AGE,
    MIN_PATIENT_AGE,
    ROLES,
    TREATMENT_STAGES,
)
from tools.app import FLASK, ROOT, app_env, flask
from tools.machine import describe, version
from tools.measure import measure, size_list

from .results import record

SECRET_KEY = "export-benchmark-key-not-a-secret"
SEED = 20261128
REPEATS = 3
DEFAULT_SIZES = (100_000, 1_000_000)
QUICK_SIZES = (10_000, 100_000)
REFERRALS = 2_000
BENCH_DATABASE = "microsite_export_bench"

# Targets from the issue.
MAX_SQLITE_RATIO = 2.0
MAX_POSTGRESQL_RATIO = 1.5
MAX_GROWTH_MB = 20.0  # MB of 10**6 bytes
MAX_FLAT_MB = 5.0  # growth at the largest size minus growth at the smallest

# The app's leads export as the sqlite3 command can run it: every column of leads.csv in
# order, formatted as the app does it on SQLite, but without the formula guard (csv_safe).
UTC_TEXT = "strftime('%Y-%m-%dT%H:%M:%SZ', {})"
CSV_SELECT = f"""SELECT lead.id, {UTC_TEXT.format("lead.created_at")} AS created_at, lead.role,
 lead.patient_age, lead.diagnosis, lead.diagnosis_other, lead.treatment_stage, lead.country,
 lead.postal_code, lead.name, lead.email, lead.phone, lead.contact_method,
 lead.consent_version, {UTC_TEXT.format("lead.consent_at")} AS consent_at,
 CASE WHEN lead.updates_opt_in THEN 'true' ELSE 'false' END AS updates_opt_in, lead.status,
 referral.code AS referral_code, lead.utm_source, lead.utm_medium, lead.utm_campaign,
 lead.utm_content, lead.utm_term,
 coalesce((SELECT group_concat(matched.word, ' ') FROM (SELECT lead_match.nct_id AS word
  FROM lead_match WHERE lead_match.lead_id = lead.id ORDER BY lead_match.rank) AS matched),
  '') AS matched_nct_ids,
 lead.travel_distance AS travel_distance_km, lead.nearest_site_km, lead.language,
 staff_user.email AS assigned_to, {UTC_TEXT.format("lead.callback_due_at")} AS callback_due_at,
 CASE WHEN trial_alert.id IS NULL THEN 'none'
  WHEN trial_alert.state = 'pending' AND trial_alert.confirm_by <= datetime('now')
   THEN 'expired'
  WHEN trial_alert.state IN ('active', 'paused') AND trial_alert.active_until <= datetime('now')
   THEN 'expired'
  ELSE trial_alert.state END AS trial_alerts
FROM lead LEFT OUTER JOIN referral ON lead.referral_id = referral.id
 LEFT OUTER JOIN staff_user ON lead.assigned_to_id = staff_user.id
 LEFT OUTER JOIN trial_alert ON trial_alert.lead_id = lead.id
ORDER BY lead.id"""
SQLITE_BASELINE = "sqlite3 -csv, the same columns and joins, plain values (no formula guard)"
POSTGRESQL_BASELINE = "psql \\copy of the app's COPY query"

# The columns of the lead table that fill() writes.
LEAD_COLUMNS = (
    "id",
    "created_at",
    "role",
    "patient_age",
    "diagnosis",
    "diagnosis_other",
    "treatment_stage",
    "country",
    "postal_code",
    "name",
    "email",
    "phone",
    "contact_method",
    "consent_version",
    "consent_at",
    "updates_opt_in",
    "status",
    "idempotency_key",
    "referral_id",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_content",
    "utm_term",
)
REFERRAL_COLUMNS = (
    "id",
    "kind",
    "code",
    "created_at",
    "sender_name",
    "friend_name",
    "friend_email",
    "lead_id",
    "clicks",
)


FIRST_NAMES = (
    "Olivia",
    "Liam",
    "Emma",
    "Noah",
    "Amelia",
    "Oliver",
    "Sophia",
    "Elijah",
    "Mia",
    "Lucas",
    "Zoë",
    "José",
    "Chloé",
    "Søren",
    "Aoife",
    "Mateo",
    "Fatima",
    "Yusuf",
    "Priya",
    "Arjun",
    "Hannah",
    "Jonas",
    "Léa",
    "Björn",
    "Małgorzata",
    "Nguyễn",
    "Sakura",
    "Kwame",
    "Amara",
    "Ana",
)
LAST_NAMES = (
    "Smith",
    "Johnson",
    "García",
    "Müller",
    "Rossi",
    "Dubois",
    "Kowalski",
    "O'Brien",
    "Nakamura",
    "Okafor",
    "Silva",
    "Hernández",
    "Andersson",
    "Novák",
    "Papadopoulos",
    "Kim",
    "Patel",
    "Cohen",
    "Jensen",
    "Van der Berg",
    "Martin",
    "Nguyen",
    "Ivanova",
    "Schmidt",
    "Lopez",
)
# Names a spreadsheet would run as a formula: the export must guard them.
FORMULA_NAMES = (
    '=HYPERLINK("http://x.example","Click")',
    "=1+2",
    "+Ana Silva",
    "-Jonas",
    "=cmd|' /C calc'!A0",
    "+44 Jensen",
    "-2+3",
)
MAIL_DOMAINS = ("example.com", "example.org", "mail.example", "example.net", "correo.example")
COMMON_COUNTRIES = ("US", "GB", "DE", "FR", "ES", "IT", "NL", "CA", "AU", "BR", "IN", "PL")
ALL_COUNTRIES = tuple(COUNTRIES)
PHONE_PREFIXES = {
    "US": "+1",
    "CA": "+1",
    "GB": "+44",
    "DE": "+49",
    "FR": "+33",
    "ES": "+34",
    "IT": "+39",
    "NL": "+31",
    "AU": "+61",
    "BR": "+55",
    "IN": "+91",
    "PL": "+48",
}
UTM = (
    ("newsletter", "email", "spring-2026", "header-link", None),
    ("facebook", "social", "awareness", "carousel-2", None),
    ("google", "cpc", "trial-finder", None, "pediatric cancer trials"),
    ("partner-hospital", "referral", None, None, None),
)
PHONE, EMAIL = "phone", "email"
assert {PHONE, EMAIL} == set(CONTACT_METHODS)
DIAGNOSIS_KEYS = tuple(DIAGNOSES)
NON_ADULT_ROLES = tuple(r for r in ROLES if r != "patient")
STAGES = tuple(TREATMENT_STAGES)
STATUSES = tuple(LEAD_STATUSES)
STATUS_WEIGHTS = (50, 25, 10, 5, 7, 3)[: len(STATUSES)]
START = datetime(2025, 1, 1, tzinfo=UTC)
SPAN_SECONDS = 2 * 365 * 24 * 3600
STAMP = "%Y-%m-%d %H:%M:%S.%f"  # SQLAlchemy's DateTime on SQLite, stored in UTC


# --- data ---------------------------------------------------------------------------------


def referrals(rng: random.Random):
    for i in range(1, REFERRALS + 1):
        created = (START + timedelta(seconds=rng.randrange(SPAN_SECONDS))).strftime(STAMP)
        yield (
            i,
            "share",
            f"r{rng.getrandbits(64):016x}",
            created,
            rng.choice(FIRST_NAMES),
            rng.choice(FIRST_NAMES),
            None,
            None,
            rng.randrange(40),
        )


def leads(rng: random.Random, first_id: int, last_id: int, total: int):
    """Leads first_id..last_id of ``total`` (created_at grows with id, as in life)."""
    step = SPAN_SECONDS / total
    for lead_id in range(first_id, last_id + 1):
        created = START + timedelta(seconds=lead_id * step + rng.random())
        consent = created - timedelta(
            seconds=rng.randrange(1, 30), microseconds=rng.randrange(10**6)
        )
        role = rng.choice(NON_ADULT_ROLES) if rng.random() < 0.85 else "patient"
        age = rng.randint(ADULT_AGE if role == "patient" else MIN_PATIENT_AGE, MAX_PATIENT_AGE)
        diagnosis = rng.choice(DIAGNOSIS_KEYS)
        other = "Desmoplastic small round cell tumour" if diagnosis == "other" else None
        country = rng.choice(COMMON_COUNTRIES) if rng.random() < 0.8 else rng.choice(ALL_COUNTRIES)
        postal = f"{rng.randrange(10000, 99999)}" if rng.random() < 0.7 else None
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        name = rng.choice(FORMULA_NAMES) if rng.random() < 0.01 else f"{first} {last}"
        local = f"{first}.{last}".lower().replace(" ", "").replace("'", "")
        email = f"{local}{rng.randrange(1000)}@{rng.choice(MAIL_DOMAINS)}"
        contact = PHONE if rng.random() < 0.35 else EMAIL
        phone = None
        if contact == PHONE or rng.random() < 0.3:
            prefix = PHONE_PREFIXES.get(country, "+1")
            phone = f"{prefix}{rng.randrange(10**8, 10**10)}"
        utm = rng.choice(UTM) if rng.random() < 0.3 else (None,) * 5
        yield (
            lead_id,
            created.strftime(STAMP),
            role,
            age,
            diagnosis,
            other,
            rng.choice(STAGES) if rng.random() < 0.8 else None,
            country,
            postal,
            name,
            email,
            phone,
            contact,
            "2026-01",
            consent.strftime(STAMP),
            int(rng.random() < 0.4),
            rng.choices(STATUSES, STATUS_WEIGHTS)[0],
            f"{lead_id:032x}",  # in order, as the unique index is cheapest to fill
            rng.randint(1, REFERRALS) if rng.random() < 0.05 else None,
            *utm,
        )


def fill(db_path: Path, rng: random.Random, have: int, want: int, total: int) -> None:
    """Add leads have+1..want in one transaction."""
    connection = sqlite3.connect(db_path, isolation_level=None)
    try:
        connection.execute("PRAGMA synchronous=OFF")
        connection.execute("PRAGMA cache_size=-262144")  # 256 MiB: the indexes stay cached
        connection.execute("BEGIN")
        if have == 0:
            connection.executemany(
                f"INSERT INTO referral ({', '.join(REFERRAL_COLUMNS)}) "
                f"VALUES ({', '.join('?' * len(REFERRAL_COLUMNS))})",
                referrals(rng),
            )
        connection.executemany(
            f"INSERT INTO lead ({', '.join(LEAD_COLUMNS)}) "
            f"VALUES ({', '.join('?' * len(LEAD_COLUMNS))})",
            leads(rng, have + 1, want, total),
        )
        connection.execute("COMMIT")
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        connection.close()


# --- PostgreSQL ---------------------------------------------------------------------------


APP_QUERY = """
from microsite import create_app, exports
from microsite.extensions import db

with create_app().app_context():
    print(exports.copy_sql(exports.statement("leads", None, None), db.session.connection()))
"""


class Postgres:
    """The benchmark's own database on the server of ``url`` (created anew, dropped at
    the end), filled with the SQLite database's rows."""

    def __init__(self, url: str):
        from sqlalchemy.engine import make_url

        server = make_url(url)
        self.app_url = server.set(database=BENCH_DATABASE).render_as_string(hide_password=False)
        self.libpq_url = server.set(drivername="postgresql", database=BENCH_DATABASE)
        self.libpq_url = self.libpq_url.render_as_string(hide_password=False)
        self.admin_url = server.set(drivername="postgresql", database="postgres")
        self.admin_url = self.admin_url.render_as_string(hide_password=False)
        self._admin("DROP DATABASE IF EXISTS {}", "CREATE DATABASE {} ENCODING 'UTF8'")
        flask(bench_env(self.app_url), "db", "upgrade")

    def _admin(self, *statements: str) -> None:
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True) as connection:
            for statement in statements:
                connection.execute(statement.format(BENCH_DATABASE))

    def copy_from(self, db_path: Path, have: int, want: int) -> None:
        """Copy leads have+1..want (and, the first time, the referrals) from SQLite."""
        import psycopg

        source = sqlite3.connect(db_path)
        tables = [("lead", LEAD_COLUMNS, f"WHERE id > {have} AND id <= {want}")]
        if have == 0:
            tables.insert(0, ("referral", REFERRAL_COLUMNS, ""))
        try:
            with psycopg.connect(self.libpq_url) as target, target.cursor() as cursor:
                for table, columns, where in tables:
                    names = ", ".join(columns)
                    rows = source.execute(f"SELECT {names} FROM {table} {where} ORDER BY id")
                    with cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                        for row in rows:
                            copy.write_row(row)
                for table in ("lead", "referral"):
                    cursor.execute(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT max(id) FROM {table}))"
                    )
            with psycopg.connect(self.libpq_url, autocommit=True) as target:
                target.execute("VACUUM ANALYZE")
        finally:
            source.close()

    def app_query(self) -> str:
        """The SELECT that the app's leads export puts in its COPY, on one line."""
        done = subprocess.run(
            [sys.executable, "-c", APP_QUERY],
            cwd=ROOT,
            env=bench_env(self.app_url),
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            sys.exit(f"the app's query could not be compiled:\n{done.stderr[-2000:]}")
        copy = done.stdout.strip()
        sql = copy.removeprefix("COPY (").removesuffix(") TO STDOUT WITH (FORMAT csv)")
        return " ".join(sql.split())

    def drop(self) -> None:
        self._admin("DROP DATABASE IF EXISTS {}")


# --- measuring ----------------------------------------------------------------------------

# The app's export in a process that knows its own memory: RSS once the app is created
# (start-up), the peak reset, then the peak once `leads export` has run. Printed in KiB.
MEMORY_PROBE = """
import sys
from flask.cli import ScriptInfo
from microsite import create_app

def status():
    fields = dict(line.split(":", 1) for line in open("/proc/self/status"))
    return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])

app = create_app()
with open("/proc/self/clear_refs", "w") as clear:
    clear.write("5")  # the peak starts again from the RSS of now
start, _ = status()
app.cli.main(
    args=["leads", "export", "--out", sys.argv[1]],
    obj=ScriptInfo(create_app=lambda: app),
    standalone_mode=False,
)
_, peak = status()
print(start, peak)
"""


def memory_growth(env: dict[str, str], out: Path) -> tuple[float, float]:
    """(RSS after start-up, peak growth over it) of one export, in MB."""
    done = subprocess.run(
        [sys.executable, "-c", MEMORY_PROBE, str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        sys.exit(f"the memory probe failed:\n{done.stderr[-2000:]}")
    start_kib, peak_kib = map(int, done.stdout.split()[-2:])
    return start_kib * 1024 / 1e6, (peak_kib - start_kib) * 1024 / 1e6


def data_rows(path: Path) -> int:
    """Data rows in a CSV file without line ends in cells (the generated data has none)."""
    lines = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            lines += chunk.count(b"\n")
    return lines


def header(path: Path) -> list[str]:
    """The column names: the first row of a CSV file (the app's starts with a BOM)."""
    with open(path, newline="", encoding="utf-8-sig") as handle:
        return next(csv.reader(handle))


def timed(app: list[str], env: dict, app_out: Path, base: list[str], base_out: Path):
    """Median-ready wall times of the app (writing ``app_out``) and of the baseline
    (its standard output to ``base_out``), interleaved so drift hits both alike."""
    app_runs, base_runs = [], []
    for _ in range(REPEATS):
        app_runs.append(measure([*app, "--out", str(app_out)], os.devnull, env=env).seconds)
        base_runs.append(measure(base, str(base_out)).seconds)
    return app_runs, base_runs


def bench_sqlite(db_path: Path, work: Path, rows: int) -> dict:
    env = bench_env(f"sqlite:///{db_path}")
    app_out, base_out = work / "app-sqlite.csv", work / "sqlite3.csv"
    app = [FLASK, "--app", "microsite", "leads", "export"]
    cli = ["sqlite3", "-csv", "-header", str(db_path), CSV_SELECT]
    app_runs, base_runs = timed(app, env, app_out, cli, base_out)
    if header(app_out) != header(base_out):
        sys.exit(f"the columns differ:\n  app     {header(app_out)}\n  sqlite3 {header(base_out)}")
    if not data_rows(app_out) - 1 == data_rows(base_out) - 1 == rows:
        sys.exit(f"row counts differ: expected {rows}, app {data_rows(app_out) - 1}")
    start, growth = memory_growth(env, work / "probe.csv")
    base_out.unlink()
    return {"app": app_runs, "base": base_runs, "start_mb": start, "growth_mb": growth}


def bench_postgres(postgres: Postgres, work: Path, rows: int) -> dict:
    env = bench_env(postgres.app_url)
    app_out, base_out = work / "app-postgresql.csv", work / "psql.csv"
    app = [FLASK, "--app", "microsite", "leads", "export"]
    query = postgres.app_query()
    psql = ["psql", "-X", "-q", "-d", postgres.libpq_url, "-c", f"\\copy ({query}) to stdout csv"]
    app_runs, base_runs = timed(app, env, app_out, psql, base_out)
    if data_rows(base_out) != rows:
        sys.exit(f"psql wrote {data_rows(base_out)} rows, expected {rows}")
    if not filecmp.cmp(app_out, work / "app-sqlite.csv", shallow=False):
        sys.exit("the app's exports from SQLite and PostgreSQL differ")
    start, growth = memory_growth(env, work / "probe.csv")
    base_out.unlink()
    return {"app": app_runs, "base": base_runs, "start_mb": start, "growth_mb": growth}


def bench_env(url: str) -> dict[str, str]:
    return app_env(url, SECRET_KEY)


# --- report -------------------------------------------------------------------------------


def machine() -> str:
    return (
        f"{describe()}; SQLite {sqlite3.sqlite_version} (Python module), "
        f"sqlite3 CLI {version(['sqlite3', '--version'], word=0)}"
    )


def seconds(runs: list[float]) -> str:
    return f"{statistics.median(runs):.2f} s"


def report(backend: str, results: list[dict], baseline: str, max_ratio: float) -> None:
    print(f"\n{backend}: leads export (median of {REPEATS}) against {baseline}")
    print("| rows | app | baseline | ratio | app RSS after start-up | growth over it |")
    print("|---:|---:|---:|---:|---:|---:|")
    for r in results:
        ratio = statistics.median(r["app"]) / statistics.median(r["base"])
        print(
            f"| {r['rows']:,} | {seconds(r['app'])} | {seconds(r['base'])} | {ratio:.2f}x | "
            f"{r['start_mb']:.1f} MB | {r['growth_mb']:+.1f} MB |"
        )
    largest = results[-1]
    ratio = statistics.median(largest["app"]) / statistics.median(largest["base"])
    record(
        f"leads export, {backend}, {largest['rows']:,} rows: time",
        seconds(largest["app"]),
        f"{seconds(largest['base'])} ({baseline})",
        ratio,
        f"{min(largest['app']):.2f}-{max(largest['app']):.2f} s",
        f"<= {max_ratio}x",
        ratio <= max_ratio,
    )
    growth = largest["growth_mb"]
    record(
        f"leads export, {backend}, {largest['rows']:,} rows: memory growth over start-up",
        f"{growth:.1f} MB",
        f"{largest['start_mb']:.0f} MB after start-up",
        target=f"< {MAX_GROWTH_MB:.0f} MB",
        passed=growth < MAX_GROWTH_MB,
    )
    if len(results) > 1:
        smallest = results[0]
        flat = growth - smallest["growth_mb"]
        record(
            f"leads export, {backend}: memory growth {smallest['rows']:,} -> "
            f"{largest['rows']:,} rows",
            f"{flat:+.1f} MB",
            f"{smallest['growth_mb']:.1f} MB at {smallest['rows']:,}",
            target=f"< {MAX_FLAT_MB:.0f} MB",
            passed=flat < MAX_FLAT_MB,
        )


def options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes",
        type=size_list,
        help=f"comma-separated counts of leads (default {','.join(map(str, DEFAULT_SIZES))})",
    )
    parser.add_argument(
        "--quick", action="store_true", help=" and ".join(f"{n:,}" for n in QUICK_SIZES) + " leads"
    )
    parser.add_argument(
        "--postgresql-url",
        default=os.environ.get("BENCH_DATABASE_URL"),
        help="a SQLAlchemy URL of a PostgreSQL server (default BENCH_DATABASE_URL); the "
        f"benchmark creates and drops the database {BENCH_DATABASE} there",
    )
    args = parser.parse_args()
    args.sizes = args.sizes or list(QUICK_SIZES if args.quick else DEFAULT_SIZES)
    return args


def main() -> None:
    args = options()
    sizes = args.sizes
    if shutil.which("sqlite3") is None:
        sys.exit("the sqlite3 command is missing: install it with: apt-get install -y sqlite3")
    if args.postgresql_url and shutil.which("psql") is None:
        sys.exit(
            "the psql command is missing: install it with: apt-get install -y postgresql-client"
        )

    print(f"machine: {machine()}", flush=True)
    work = Path(tempfile.mkdtemp(prefix="export-bench-"))
    postgres = None
    try:
        db_path = work / "bench.sqlite3"
        flask(bench_env(f"sqlite:///{db_path}"), "db", "upgrade")
        if args.postgresql_url:
            postgres = Postgres(args.postgresql_url)
        rng = random.Random(SEED)
        # One database grows through the sizes (the smaller sizes are its first rows);
        # the values depend only on the seed. created_at spreads over two years at the
        # largest size.
        on_sqlite, on_postgres, have = [], [], 0
        for size in sizes:
            started = time.perf_counter()
            fill(db_path, rng, have, size, sizes[-1])
            filled = time.perf_counter() - started
            if postgres is not None:
                postgres.copy_from(db_path, have, size)
            print(
                f"{size:,} leads generated in {filled:.1f} s"
                + (
                    f", copied to PostgreSQL in {time.perf_counter() - started - filled:.1f} s"
                    if postgres is not None
                    else ""
                )
                + f"; measuring {REPEATS} runs of each ...",
                flush=True,
            )
            have = size
            on_sqlite.append({"rows": size, **bench_sqlite(db_path, work, size)})
            if postgres is not None:
                on_postgres.append({"rows": size, **bench_postgres(postgres, work, size)})
    finally:
        if postgres is not None:
            postgres.drop()
        shutil.rmtree(work, ignore_errors=True)

    report("SQLite", on_sqlite, SQLITE_BASELINE, MAX_SQLITE_RATIO)
    if on_postgres:
        report("PostgreSQL", on_postgres, POSTGRESQL_BASELINE, MAX_POSTGRESQL_RATIO)
    else:
        print("\nPostgreSQL: not measured (give --postgresql-url or BENCH_DATABASE_URL)")


if __name__ == "__main__":
    main()
