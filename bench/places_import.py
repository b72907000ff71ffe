"""Benchmark of ``flask places import``: time and peak memory for generated GeoNames dumps.

Run as ``.venv/bin/python -m bench.places_import`` (``--quick`` for 10,000 and 100,000
lines, ``--sizes 100000,1000000``). For each size it writes a generated GeoNames
postal-code dump (tab-separated, 12 columns: country code, postal code, place name, admin
name1, admin code1, admin name2, admin code2, admin name3, admin code3, latitude,
longitude, accuracy) in a temporary folder: codes of a dozen countries in their own
formats ("01067", "100-0001", "SW1A 1AA"), place names with accents and other scripts,
some accuracies empty, about 8% of the lines a code listed again with other coordinates
(another locality, as GeoNames does), and about 1 line in 2,000 malformed (too few
columns, a latitude that is no number, a country code that is not two letters, an empty
postal code). Each dump is imported by ``flask --app microsite places import FILE`` into a
fresh SQLite database made by ``flask db upgrade``, then imported again into the same
database. The table shows the wall time, the CPU time (user and system) and the peak RSS
of each command (``tools.measure``: from ``os.wait4``, through a small launcher so this
script's own memory never counts), and checks the command's summary and the rows the
database holds against what was generated.

Targets (a measurement: it exits 0 even when one is missed, and prints PASS or MISS):
- each import stores exactly the distinct codes of the valid lines, and the second one
  leaves the same number of rows (it is idempotent);
- memory is flat: the peak at the largest size within 20% of the peak at the smallest.

Standard library only.
"""

from __future__ import annotations

import random
import re
import sqlite3
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bench.results import record
from tools.app import FLASK, app_env, flask
from tools.machine import describe
from tools.measure import measure, sizes_option

SECRET_KEY = "places-benchmark-key-not-a-secret"
SEED = 20261128
DEFAULT_SIZES = (100_000, 1_000_000)
QUICK_SIZES = (10_000, 100_000)
FLAT_TOLERANCE = 0.20
REPEATED_SHARE = 0.08  # lines that list a code again, with other coordinates
MALFORMED_SHARE = 0.0005
RECENT_CODES = 2_000  # a code listed again is one of the last ones written
MULTIPLIER = 1_000_003  # a prime: n -> n * MULTIPLIER mod capacity visits every code once

# Country: (weight, code format: N a digit, L a letter, anything else as written,
# south, north, west, east).
COUNTRIES = {
    "DE": (10, "NNNNN", 47.3, 55.0, 5.9, 15.0),
    "FR": (10, "NNNNN", 42.3, 51.1, -4.8, 8.2),
    "ES": (6, "NNNNN", 36.0, 43.8, -9.3, 3.3),
    "IT": (6, "NNNNN", 36.6, 47.1, 6.6, 18.5),
    "GB": (10, "LLN NLL", 50.0, 58.6, -6.4, 1.8),
    "CA": (6, "LNL NLN", 42.0, 60.0, -135.0, -53.0),
    "JP": (12, "NNN-NNNN", 31.0, 45.5, 129.5, 145.8),
    "BR": (10, "NNNNN-NNN", -33.7, 5.3, -73.9, -34.8),
    "IN": (8, "NNNNNN", 8.1, 35.0, 68.1, 97.4),
    "PL": (6, "NN-NNN", 49.0, 54.8, 14.1, 24.1),
    "PT": (6, "NNNN-NNN", 37.0, 42.1, -9.5, -6.2),
    "NL": (2, "NNNN", 50.8, 53.5, 3.4, 7.2),
    "AU": (2, "NNNN", -43.6, -10.7, 113.3, 153.6),
}
PLACES = (
    "Springfield",
    "Neustadt",
    "München",
    "Saint-Étienne",
    "A Coruña",
    "Città di Castello",
    "Kraków",
    "São José dos Campos",
    "Llanfairpwllgwyngyll",
    "東京",
    "Ōsaka",
    "Mumbai",
    "Thiruvananthapuram",
    "Coimbra",
    "'s-Hertogenbosch",
    "Wagga Wagga",
    "Trois-Rivières",
)
REGIONS = ("North", "South", "East", "West", "Central", "Île-de-France", "Baden-Württemberg")
MALFORMED = ("columns", "latitude", "country", "postal code")


def capacity(pattern: str) -> int:
    total = 1
    for symbol in pattern:
        total *= {"N": 10, "L": 26}.get(symbol, 1)
    return total


def code_text(pattern: str, number: int) -> str:
    """The ``number``-th code of a format, the digits and letters in a scrambled order."""
    number = number * MULTIPLIER % capacity(pattern)
    out = []
    for symbol in reversed(pattern):
        if symbol == "N":
            number, digit = divmod(number, 10)
            out.append(str(digit))
        elif symbol == "L":
            number, letter = divmod(number, 26)
            out.append(chr(ord("A") + letter))
        else:
            out.append(symbol)
    return "".join(reversed(out))


@dataclass
class Dump:
    path: Path
    lines: int
    malformed: int
    codes: int  # distinct codes on the lines that can be imported


def write_dump(folder: Path, size: int) -> Dump:
    rng = random.Random(SEED + size)
    path = folder / f"postal-codes-{size}.txt"
    used = dict.fromkeys(COUNTRIES, 0)
    room = {country: capacity(spec[1]) for country, spec in COUNTRIES.items()}
    recent: list[tuple[str, str]] = []
    malformed = codes = 0
    with path.open("w", encoding="utf-8", newline="\n") as out:
        for _ in range(size):
            open_countries = [c for c in COUNTRIES if used[c] < room[c]]
            country = rng.choices(open_countries, [COUNTRIES[c][0] for c in open_countries])[0]
            _, pattern, south, north, west, east = COUNTRIES[country]
            if recent and rng.random() < REPEATED_SHARE:
                country, code = rng.choice(recent)
                _, pattern, south, north, west, east = COUNTRIES[country]
                new = False
            else:
                code = code_text(pattern, used[country])
                used[country] += 1
                new = True
            name, region = rng.choice(PLACES), rng.choice(REGIONS)
            columns = [
                country,
                code,
                f"{name} {rng.randrange(1000)}",
                region,
                f"{rng.randrange(1, 20):02d}",
                f"{region} District {rng.randrange(50)}",
                f"{rng.randrange(100, 999)}",
                "" if rng.random() < 0.5 else f"Borough {rng.randrange(20)}",
                "" if rng.random() < 0.5 else f"{rng.randrange(10_000, 99_999)}",
                f"{rng.uniform(south, north):.4f}",
                f"{rng.uniform(west, east):.4f}",
                rng.choice(("1", "4", "4", "6", "")),
            ]
            if rng.random() < MALFORMED_SHARE:
                malformed += 1
                fault = rng.choice(MALFORMED)
                if fault == "columns":
                    columns = columns[:5]
                elif fault == "latitude":
                    columns[9] = "n/a"
                elif fault == "country":
                    columns[0] = "X1"
                else:
                    columns[1] = " - "
            else:
                codes += new
                if new:
                    recent.append((country, code))
                    if len(recent) > RECENT_CODES:
                        recent.pop(0)
            out.write("\t".join(columns) + "\n")
    return Dump(path, size, malformed, codes)


SUMMARY = re.compile(r"Postal codes: (\d+) lines read, (\d+) skipped, (\d+) codes stored\.")
PROBLEM = re.compile(r"^\S+ line \d+: ", re.MULTILINE)


def import_into_fresh_database(work: Path, dump: Dump) -> list[dict]:
    db_path = work / f"{dump.path.stem}.sqlite3"
    env = app_env(f"sqlite:///{db_path}", SECRET_KEY)
    flask(env, "db", "upgrade")
    results = []
    for run in ("new", "again"):
        out = work / f"{dump.path.stem}-{run}.out"
        measured = measure(
            [FLASK, "--app", "microsite", "places", "import", str(dump.path)],
            out,
            env,
            errors_to_out=True,
        )
        text = out.read_text(errors="replace")
        found = SUMMARY.search(text)
        summary = found.group(0) if found else "(no summary line)"
        reported = tuple(map(int, found.groups())) if found else None
        with sqlite3.connect(db_path) as connection:
            rows = connection.execute("SELECT count(*) FROM postal_place").fetchone()[0]
        results.append(
            {
                "lines": dump.lines,
                "megabytes": dump.path.stat().st_size / 1e6,
                "codes": dump.codes,
                "run": run,
                "seconds": measured.seconds,
                "cpu": measured.cpu_seconds,
                "peak_mib": measured.peak_mib,
                "rows": rows,
                "summary": summary,
                "as_generated": reported == (dump.lines, dump.malformed, dump.codes)
                and rows == dump.codes,
                "problems": len(PROBLEM.findall(text)),
                "malformed": dump.malformed,
            }
        )
    return results


def start_up(work: Path) -> dict:
    """The app's start-up alone: ``places import --help`` (wall, CPU, peak RSS)."""
    measured = measure(
        [FLASK, "--app", "microsite", "places", "import", "--help"],
        work / "start-up.out",
        app_env(f"sqlite:///{work / 'start-up.sqlite3'}", SECRET_KEY),
    )
    return {"seconds": measured.seconds, "cpu": measured.cpu_seconds, "mib": measured.peak_mib}


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def main() -> None:
    sizes = sizes_option(__doc__, DEFAULT_SIZES, QUICK_SIZES, "lines")
    print(f"machine: {describe()}; SQLite {sqlite3.sqlite_version}", flush=True)
    results = []
    with tempfile.TemporaryDirectory(prefix="places-bench-") as folder:
        work = Path(folder)
        base = start_up(work)
        for size in sizes:
            dump = write_dump(work, size)
            print(
                f"{size:,} lines written ({dump.codes:,} codes, {dump.malformed} malformed); "
                "importing twice",
                flush=True,
            )
            results.extend(import_into_fresh_database(work, dump))
            dump.path.unlink()
    print()
    print(
        "| lines | file | codes | run | wall time | CPU time | CPU per 100,000 lines | "
        "peak RSS | rows stored | as generated |"
    )
    print("|---:|---:|---:|---|---:|---:|---:|---:|---:|---|")
    for r in results:
        print(
            f"| {r['lines']:,} | {r['megabytes']:.0f} MB | {r['codes']:,} | {r['run']} | "
            f"{r['seconds']:.2f} s | {r['cpu']:.2f} s | {r['cpu'] / r['lines'] * 1e5:.2f} s | "
            f"{r['peak_mib']:.1f} MiB | {r['rows']:,} | {verdict(r['as_generated'])} |"
        )
    print(
        f"| start-up only (`places import --help`) | | | | {base['seconds']:.2f} s | "
        f"{base['cpu']:.2f} s | | {base['mib']:.1f} MiB | | |"
    )
    print()
    for r in results:
        print(
            f"{r['lines']:,} lines, {r['run']}: {r['summary']} "
            f"({r['problems']} problem lines listed; {r['malformed']} generated malformed)"
        )
    print()
    print("| target | measured | limit | result |")
    print("|---|---|---|---|")
    for size in sizes:
        new, again = (r for r in results if r["lines"] == size)
        print(
            f"| {size:,} lines: codes stored as generated, the same again | "
            f"{new['rows']:,} then {again['rows']:,} rows ({new['codes']:,} generated) | "
            f"equal | {verdict(new['as_generated'] and again['as_generated'])} |"
        )
        record(
            f"places import, {size:,} lines: rows as generated, twice",
            f"{new['rows']:,} then {again['rows']:,} rows",
            f"{new['codes']:,} generated",
            target="equal",
            passed=new["as_generated"] and again["as_generated"],
        )
    if len(sizes) > 1:

        def peak_of(size: int) -> float:
            return max(r["peak_mib"] for r in results if r["lines"] == size)

        growth = peak_of(sizes[-1]) / peak_of(sizes[0]) - 1
        print(
            f"| flat memory: peak at {sizes[-1]:,} lines vs {sizes[0]:,} | "
            f"{peak_of(sizes[-1]):.1f} / {peak_of(sizes[0]):.1f} MiB ({growth:+.0%}) | "
            f"+{FLAT_TOLERANCE:.0%} | {verdict(growth <= FLAT_TOLERANCE)} |"
        )
        record(
            f"places import: peak RSS at {sizes[-1]:,} / at {sizes[0]:,} lines",
            f"{peak_of(sizes[-1]):.1f} MiB",
            f"{peak_of(sizes[0]):.1f} MiB",
            1 + growth,
            target=f"<= {1 + FLAT_TOLERANCE:.2f}",
            passed=growth <= FLAT_TOLERANCE,
        )


if __name__ == "__main__":
    main()
