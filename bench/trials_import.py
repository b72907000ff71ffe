"""Benchmark of ``flask trials import``: time and peak memory for generated studies.

Run as ``.venv/bin/python -m bench.trials_import`` (``--quick`` for 1,000 and 2,000
studies, ``--sizes 1000,10000,20000``). For each size it writes generated ClinicalTrials.gov
API v2 studies (fictional NCT ids from NCT90000000, several sites each, conditions from the
synonym table, ages in every unit, eligibility criteria and descriptions of a realistic
length, about 9 KB a study) as newline-delimited JSON and as a zip of one JSON file per
study (the bulk download's layout) in a temporary folder. Each file is imported by
``flask --app microsite trials import FILE`` into a fresh SQLite database made by
``flask db upgrade``, then imported again into the same database (every study updated,
its sites replaced). The table shows the wall time, the CPU time (user and system) and the
peak RSS of each command (from ``os.wait4``, through a small launcher so this script's own
memory never counts), and checks the rows the database holds. Memory is flat when the peak
at the largest size is within 20% of the smallest. A measurement: it exits 0 even when a
target is missed.

Standard library only (plus ``microsite.trials.synonyms`` for the condition names).
"""

from __future__ import annotations

import json
import random
import sqlite3
import sys
import tempfile
import zipfile
from pathlib import Path

from bench.results import record
from microsite.trials.synonyms import SYNONYMS
from tools.app import FLASK, app_env, flask
from tools.machine import describe
from tools.measure import measure, sizes_option

SECRET_KEY = "trials-benchmark-key-not-a-secret"
SEED = 20261128
DEFAULT_SIZES = (1_000, 10_000)
QUICK_SIZES = (1_000, 2_000)
FLAT_TOLERANCE = 0.20
MAX_PEAK_MB = 100.0

COUNTRIES = (
    ("United States", 0.45),
    ("Canada", 0.06),
    ("United Kingdom", 0.06),
    ("France", 0.05),
    ("Germany", 0.05),
    ("Italy", 0.04),
    ("Spain", 0.04),
    ("Australia", 0.03),
    ("Netherlands", 0.03),
    ("Korea, Republic of", 0.03),
    ("Japan", 0.03),
    ("China", 0.03),
    ("Türkiye", 0.02),
    ("Russian Federation", 0.02),
    ("Iran, Islamic Republic of", 0.02),
    ("Czechia", 0.02),
    ("Taiwan", 0.02),
    ("Brazil", 0.02),
    ("Narnia", 0.005),
)
STATUSES = (
    ("RECRUITING", 0.6),
    ("NOT_YET_RECRUITING", 0.15),
    ("ACTIVE_NOT_RECRUITING", 0.1),
    ("COMPLETED", 0.1),
    ("WITHDRAWN", 0.05),
)
SITE_STATUSES = ("RECRUITING", "NOT_YET_RECRUITING", "ACTIVE_NOT_RECRUITING", "COMPLETED")
PHASES = (["PHASE1"], ["PHASE1", "PHASE2"], ["PHASE2"], ["PHASE3"], ["NA"])
MINIMUM_AGES = (
    None,
    "0 Years",
    "1 Year",
    "6 Months",
    "12 Months",
    "28 Days",
    "2 Weeks",
    "24 Hours",
    "2 Years",
    "12 Years",
)
MAXIMUM_AGES = (
    None,
    "18 Years",
    "21 Years",
    "30 Years",
    "39 Years",
    "25 Years",
    "99 Years",
    "17 Years",
)
CITIES = (
    "Springfield",
    "Riverside",
    "Fairview",
    "Kingston",
    "Newport",
    "Ashland",
    "Lakewood",
    "Oxford",
)
WORDS = (
    "patients",
    "with",
    "relapsed",
    "refractory",
    "disease",
    "treatment",
    "randomized",
    "dose",
    "toxicity",
    "response",
    "survival",
    "children",
    "adolescents",
    "young",
    "adults",
    "chemotherapy",
    "radiation",
    "immunotherapy",
    "maintenance",
    "consolidation",
    "induction",
    "the",
    "of",
    "and",
    "in",
    "to",
    "a",
    "study",
    "evaluate",
    "safety",
    "efficacy",
)
CONDITIONS = [terms for diagnosis, terms in SYNONYMS.items() if terms]


def text(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words)).capitalize() + "."


def weighted(rng: random.Random, pairs):
    names, weights = zip(*pairs, strict=True)
    return rng.choices(names, weights)[0]


def study(rng: random.Random, number: int) -> dict:
    terms = rng.choice(CONDITIONS)
    conditions = [
        t.title() if t != t.upper() else t
        for t in rng.sample(terms, min(len(terms), rng.randint(1, 3)))
    ]
    eligibility = {
        "sex": "ALL",
        "stdAges": ["CHILD", "ADULT"],
        "eligibilityCriteria": text(rng, 300),
    }
    minimum, maximum = rng.choice(MINIMUM_AGES), rng.choice(MAXIMUM_AGES)
    if minimum:
        eligibility["minimumAge"] = minimum
    if maximum:
        eligibility["maximumAge"] = maximum
    sites = []
    for _ in range(max(1, int(rng.expovariate(1 / 6)))):  # 6 sites on average, some with 30+
        site = {
            "facility": f"{rng.choice(CITIES)} Children's Hospital {rng.randrange(100)}",
            "status": rng.choice(SITE_STATUSES),
            "city": rng.choice(CITIES),
            "zip": f"{rng.randrange(10000, 99999)}",
            "country": weighted(rng, COUNTRIES),
        }
        if rng.random() < 0.9:
            site["geoPoint"] = {
                "lat": round(rng.uniform(-60, 70), 4),
                "lon": round(rng.uniform(-170, 170), 4),
            }
        sites.append(site)
    return {
        "protocolSection": {
            "identificationModule": {
                "nctId": f"NCT{90000000 + number:08d}",
                "briefTitle": text(rng, 14),
                "officialTitle": text(rng, 30),
            },
            "statusModule": {
                "overallStatus": weighted(rng, STATUSES),
                "lastUpdatePostDateStruct": {
                    "date": f"2026-{rng.randint(1, 11):02d}-{rng.randint(1, 28):02d}",
                    "type": "ACTUAL",
                },
            },
            "descriptionModule": {
                "briefSummary": text(rng, 80),
                "detailedDescription": text(rng, 400),
            },
            "conditionsModule": {
                "conditions": conditions,
                "keywords": [rng.choice(WORDS) for _ in range(3)],
            },
            "designModule": {"studyType": "INTERVENTIONAL", "phases": rng.choice(PHASES)},
            "eligibilityModule": eligibility,
            "contactsLocationsModule": {
                "centralContacts": [
                    {
                        "name": "Study Desk",
                        "role": "CONTACT",
                        "phone": "555-0100",
                        "email": "desk@example.org",
                    }
                ],
                "locations": sites,
            },
        },
        "hasResults": False,
    }


def write_files(folder: Path, count: int) -> tuple[Path, Path, int]:
    """NDJSON and zip files of ``count`` studies; returns them and the number of sites."""
    rng = random.Random(SEED)
    ndjson, archive = folder / f"studies-{count}.ndjson", folder / f"ctg-{count}.zip"
    sites = 0
    with (
        ndjson.open("w") as lines,
        zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zipped,
    ):
        for number in range(count):
            one = study(rng, number)
            sites += len(one["protocolSection"]["contactsLocationsModule"]["locations"])
            data = json.dumps(one, ensure_ascii=False)
            lines.write(data + "\n")
            zipped.writestr(
                f"ctg-studies/{one['protocolSection']['identificationModule']['nctId']}.json", data
            )
    return ndjson, archive, sites


def import_into_fresh_database(work: Path, path: Path, count: int, sites: int) -> list[dict]:
    db_path = work / f"{path.stem}.sqlite3"
    env = app_env(f"sqlite:///{db_path}", SECRET_KEY)
    flask(env, "db", "upgrade")
    results = []
    for run in ("new", "again"):
        out = work / f"{path.stem}-{run}.out"
        measured = measure(
            [FLASK, "--app", "microsite", "trials", "import", str(path)],
            out,
            env,
            errors_to_out=True,
        )
        elapsed, cpu, peak = measured.seconds, measured.cpu_seconds, measured.peak_mib
        summary = next(line for line in out.read_text().splitlines() if line.startswith("Studies:"))
        with sqlite3.connect(db_path) as connection:
            trials, stored_sites = (
                connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                for table in ("trial", "trial_site")
            )
        if (trials, stored_sites) != (count, sites):
            sys.exit(
                f"{path.name}: expected {count} trials and {sites} sites, "
                f"found {trials} and {stored_sites}"
            )
        results.append(
            {
                "studies": count,
                "file": "zip" if path.suffix == ".zip" else "ndjson",
                "run": run,
                "seconds": elapsed,
                "cpu": cpu,
                "peak_mib": peak,
                "summary": summary,
                "sites": sites,
                "megabytes": path.stat().st_size / 1e6,
            }
        )
    return results


def main() -> None:
    sizes = sizes_option(__doc__, DEFAULT_SIZES, QUICK_SIZES, "studies")
    print(f"machine: {describe()}; SQLite {sqlite3.sqlite_version}")
    results = []
    with tempfile.TemporaryDirectory(prefix="trials-bench-") as folder:
        work = Path(folder)
        for count in sizes:
            ndjson, archive, sites = write_files(work, count)
            for path in (ndjson, archive):
                results.extend(import_into_fresh_database(work, path, count, sites))
                path.unlink()
    print()
    print(
        "| studies | sites | file | size | run | wall time | CPU time | CPU per 1,000 | peak RSS |"
    )
    print("|---:|---:|---|---:|---|---:|---:|---:|---:|")
    for r in results:
        print(
            f"| {r['studies']:,} | {r['sites']:,} | {r['file']} | {r['megabytes']:.0f} MB | "
            f"{r['run']} | {r['seconds']:.2f} s | {r['cpu']:.2f} s | "
            f"{r['cpu'] / r['studies'] * 1000:.2f} s | {r['peak_mib']:.1f} MiB |"
        )
    print()
    for r in results:
        print(f"{r['studies']:,} {r['file']} {r['run']}: {r['summary']}")
    peak = max(r["peak_mib"] for r in results)
    print(
        f"memory: peak under {MAX_PEAK_MB:.0f} MiB: "
        f"{'met' if peak < MAX_PEAK_MB else 'MISSED'} ({peak:.1f} MiB)"
    )
    record(
        f"trials import: peak RSS (up to {sizes[-1]:,} studies)",
        f"{peak:.1f} MiB",
        target=f"< {MAX_PEAK_MB:.0f} MiB",
        passed=peak < MAX_PEAK_MB,
    )

    def peak_of(studies: int, kind: str) -> float:
        return max(r["peak_mib"] for r in results if r["studies"] == studies and r["file"] == kind)

    if len(sizes) > 1:
        for kind in ("ndjson", "zip"):
            growth = peak_of(sizes[-1], kind) / peak_of(sizes[0], kind) - 1
            print(
                f"flat:   {kind} peak at {sizes[-1]:,} studies within {FLAT_TOLERANCE:.0%} of "
                f"{sizes[0]:,}: {'met' if growth <= FLAT_TOLERANCE else 'MISSED'} ({growth:+.0%})"
            )
            record(
                f"trials import ({kind}): peak RSS at {sizes[-1]:,} / at {sizes[0]:,} studies",
                f"{peak_of(sizes[-1], kind):.1f} MiB",
                f"{peak_of(sizes[0], kind):.1f} MiB",
                1 + growth,
                target=f"<= {1 + FLAT_TOLERANCE:.2f}",
                passed=growth <= FLAT_TOLERANCE,
            )


if __name__ == "__main__":
    main()
