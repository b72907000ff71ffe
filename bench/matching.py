"""Benchmark of trial matching: the latency of ``match_trials`` over a catalog of 10,000 trials.

Run as ``.venv/bin/python -m bench.matching``. It makes a throwaway SQLite database
in a temporary directory, creates the schema with ``flask db upgrade``, fills it with
generated trials (a realistic mix of statuses, conditions as ClinicalTrials.gov writes them,
whose diagnosis key comes from the synonym table as on import, age limits, 1 to 30 sites
in several countries), then times ``match_trials`` for generated leads, one call at a time,
and prints the latency percentiles. Each call is a fresh query (nothing is cached). It also
times ``store_matches`` (matching, the sites shown, writing the rows) for a sample of leads.
A measurement: it exits 0 whatever the figures.

Options: ``--trials N`` (10,000), ``--leads N`` (1,000), ``--seed N``.
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import shutil
import sqlite3
import statistics
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from tools.app import app_env, flask
from tools.machine import describe

SECRET_KEY = "matching-benchmark-key-not-a-secret"
SEED = 20261128
WARM_UP = 20
STORE_SAMPLE = 200

# Overall statuses, weighted roughly as a pediatric oncology download from
# ClinicalTrials.gov: most studies are closed, about 45% recruiting or about to.
STATUSES = {
    "RECRUITING": 35,
    "NOT_YET_RECRUITING": 10,
    "ACTIVE_NOT_RECRUITING": 14,
    "COMPLETED": 30,
    "ENROLLING_BY_INVITATION": 1,
    "TERMINATED": 4,
    "WITHDRAWN": 2,
    "SUSPENDED": 1,
    "UNKNOWN": 3,
}
# Conditions as studies write them, weighted by how often pediatric studies name them.
CONDITIONS = {
    "Acute Lymphoblastic Leukemia": 14,
    "B-ALL": 4,
    "T-ALL": 2,
    "Precursor B-Cell Lymphoblastic Leukemia-Lymphoma": 2,
    "Acute Myeloid Leukemia": 8,
    "AML": 2,
    "Chronic Myeloid Leukemia": 2,
    "Hodgkin Lymphoma": 3,
    "Non-Hodgkin Lymphoma": 4,
    "Burkitt Lymphoma": 1,
    "Anaplastic Large Cell Lymphoma": 1,
    "Neuroblastoma": 6,
    "Ganglioneuroblastoma": 1,
    "Wilms Tumor": 3,
    "Retinoblastoma": 2,
    "Medulloblastoma": 3,
    "Diffuse Intrinsic Pontine Glioma": 2,
    "High Grade Glioma": 3,
    "Low Grade Glioma": 2,
    "Ependymoma": 1,
    "Osteosarcoma": 3,
    "Ewing Sarcoma": 3,
    "Rhabdomyosarcoma": 3,
    "Non-Rhabdomyosarcoma Soft Tissue Sarcoma": 1,
    "Synovial Sarcoma": 1,
    "Hepatoblastoma": 1,
    "Germ Cell Tumor": 2,
    "Childhood Solid Tumor": 6,
    "All solid tumors": 2,
    "Pediatric Cancer": 6,
    "Cancer Survivor": 3,
    "Febrile Neutropenia": 2,
    "Sickle Cell Disease": 2,
}
MINIMUM_AGES = {None: 20, 0: 10, 1: 5, 12: 15, 24: 5, 36: 5, 72: 5, 144: 10, 180: 5, 216: 20}
MAXIMUM_AGES = {None: 20, 216: 15, 227: 10, 252: 20, 263: 5, 300: 5, 360: 10, 468: 10, 780: 5}
# Where sites are: (ISO code, weight). Many studies run in one country, some in many.
COUNTRIES = {
    "US": 40,
    "CA": 6,
    "GB": 6,
    "DE": 6,
    "FR": 6,
    "IT": 4,
    "ES": 4,
    "NL": 3,
    "SE": 2,
    "DK": 2,
    "AU": 4,
    "JP": 3,
    "CN": 5,
    "BR": 2,
    "IN": 2,
    "IL": 1,
    "CH": 2,
    "BE": 2,
    "PL": 1,
    "MX": 1,
}
SITE_STATUSES_OPEN = {
    "RECRUITING": 75,
    "NOT_YET_RECRUITING": 15,
    "ACTIVE_NOT_RECRUITING": 5,
    "COMPLETED": 5,
}
SITE_STATUSES_CLOSED = {"COMPLETED": 60, "ACTIVE_NOT_RECRUITING": 30, "WITHDRAWN": 10}
# Leads as the form sends them: mostly children, every diagnosis of the form.
LEAD_AGES = list(range(0, 40))
LEAD_AGE_WEIGHTS = [6, 6, 6, 6, 6, 5, 5, 5, 5, 4, 4, 4, 4, 4, 4, 4, 4, 4, 3, 3, 3, 2, 2, 2, 2] + [
    1
] * 15
LEAD_COUNTRIES = {**COUNTRIES, "NG": 1, "AR": 1, "ZA": 1, "NZ": 1}


def weighted(rng: random.Random, table: dict):
    return rng.choices(list(table), weights=list(table.values()))[0]


def migrate(db_path: Path) -> None:
    """The schema, exactly as the app makes it."""
    flask(app_env(f"sqlite:///{db_path}", SECRET_KEY), "db", "upgrade")


def trials(rng: random.Random, count: int):
    """(trial row, site rows) for ``count`` trials, with ids from 1."""
    from microsite.trials.synonyms import diagnoses_key

    site_id = 0
    for trial_id in range(1, count + 1):
        status = weighted(rng, STATUSES)
        conditions = list({weighted(rng, CONDITIONS) for _ in range(rng.choice((1, 1, 2, 2, 3)))})
        minimum, maximum = weighted(rng, MINIMUM_AGES), weighted(rng, MAXIMUM_AGES)
        if minimum is not None and maximum is not None and maximum < minimum:
            maximum = None
        phases = rng.choice((["PHASE1"], ["PHASE1", "PHASE2"], ["PHASE2"], ["PHASE3"], ["NA"], []))
        trial = {
            "id": trial_id,
            "nct_id": f"NCT9{trial_id:07d}",
            "brief_title": f"A study of treatment {trial_id} in {conditions[0]}",
            "overall_status": status,
            "phases": phases,
            "conditions": conditions,
            "keywords": [],
            "min_age_months": minimum,
            "max_age_months": maximum,
            "sex": "ALL",
            "last_update_on": date(2024, 1, 1) + timedelta(days=rng.randrange(3 * 365)),
            "diagnoses": diagnoses_key(conditions),
        }
        # 1 to 30 sites, most studies few; mostly one home country, sometimes several.
        n_sites = min(30, max(1, int(rng.paretovariate(1.2))))
        home = weighted(rng, COUNTRIES)
        statuses = (
            SITE_STATUSES_OPEN
            if status in ("RECRUITING", "NOT_YET_RECRUITING")
            else SITE_STATUSES_CLOSED
        )
        sites = []
        for number in range(n_sites):
            site_id += 1
            country = home if rng.random() < 0.7 else weighted(rng, COUNTRIES)
            sites.append(
                {
                    "id": site_id,
                    "trial_id": trial_id,
                    "facility": f"Hospital {site_id}",
                    "city": f"City {number}",
                    "country": country,
                    "country_code": country,
                    "status": weighted(rng, statuses),
                }
            )
        yield trial, sites


def fill(app, rng: random.Random, count: int) -> tuple[int, int]:
    from microsite.extensions import db
    from microsite.models import Trial, TrialSite

    trial_rows, site_rows = [], []
    for trial, sites in trials(rng, count):
        trial_rows.append(trial)
        site_rows.extend(sites)
    with app.app_context():
        db.session.execute(Trial.__table__.insert(), trial_rows)
        db.session.execute(TrialSite.__table__.insert(), site_rows)
        db.session.commit()
        db.session.execute(db.text("ANALYZE"))
        db.session.commit()
    return len(trial_rows), len(site_rows)


def leads(rng: random.Random, count: int):
    from microsite.choices import DIAGNOSES
    from microsite.models import Lead

    diagnoses = list(DIAGNOSES)
    for number in range(count):
        yield Lead(
            id=number + 1,
            patient_age=rng.choices(LEAD_AGES, weights=LEAD_AGE_WEIGHTS)[0],
            diagnosis=rng.choice(diagnoses),
            country=weighted(rng, LEAD_COUNTRIES),
        )


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


def machine() -> str:
    return f"{describe()}; SQLite {sqlite3.sqlite_version}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=10_000)
    parser.add_argument("--leads", type=int, default=1_000)
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args()
    if args.trials < 1 or args.leads < 1:
        parser.error("--trials and --leads must be positive")

    from microsite import create_app
    from microsite.extensions import db
    from microsite.models import Lead, utcnow
    from microsite.trials import matching

    print(f"machine: {machine()}; load average {os.getloadavg()[0]:.1f}", flush=True)
    work = Path(tempfile.mkdtemp(prefix="matching-bench-"))
    try:
        db_path = work / "bench.sqlite3"
        migrate(db_path)
        app = create_app(
            {
                "DATABASE_URL": f"sqlite:///{db_path}",
                "SECRET_KEY": SECRET_KEY,
                "INSTANCE_PATH": work / "instance",
            }
        )
        logging.getLogger("microsite").setLevel(logging.WARNING)  # no line per lead
        rng = random.Random(args.seed)
        started = time.perf_counter()
        n_trials, n_sites = fill(app, rng, args.trials)
        print(
            f"catalog: {n_trials:,} trials, {n_sites:,} sites, generated and stored in "
            f"{time.perf_counter() - started:.1f} s",
            flush=True,
        )

        sample = list(leads(rng, args.leads))
        latencies, cpu, found = [], [], []
        with app.app_context():
            for lead in sample[:WARM_UP]:
                matching.match_trials(lead)
            for lead in sample:
                begin, begin_cpu = time.perf_counter(), time.process_time()
                result = matching.match_trials(lead)
                latencies.append((time.perf_counter() - begin) * 1000)
                cpu.append((time.process_time() - begin_cpu) * 1000)
                found.append(len(result))
            plan = db.session.execute(
                db.text(
                    "EXPLAIN QUERY PLAN "
                    + str(
                        matching.match_statement("all", 5, "US").compile(
                            db.engine, compile_kwargs={"literal_binds": True}
                        )
                    )
                )
            ).all()

            # store_matches: matching, the sites shown and the rows written, committed.
            stored = []
            for lead in sample[:STORE_SAMPLE]:
                row = Lead(
                    role="parent",
                    patient_age=lead.patient_age,
                    diagnosis=lead.diagnosis,
                    country=lead.country,
                    name="Bench",
                    email="bench@example.com",
                    contact_method="email",
                    consent_version="bench",
                    consent_at=utcnow(),
                )
                db.session.add(row)
                db.session.flush()
                begin = time.perf_counter()
                matching.store_matches(row)
                db.session.commit()
                stored.append((time.perf_counter() - begin) * 1000)

        print(
            f"match_trials over {len(sample):,} leads "
            f"(each a fresh query, after {WARM_UP} warm-up calls):"
        )
        print(
            f"  p50 {percentile(latencies, 50):.2f} ms, p90 {percentile(latencies, 90):.2f} ms, "
            f"p99 {percentile(latencies, 99):.2f} ms, max {max(latencies):.2f} ms, "
            f"mean {statistics.fmean(latencies):.2f} ms (wall time)"
        )
        print(
            f"  p50 {percentile(cpu, 50):.2f} ms, p99 {percentile(cpu, 99):.2f} ms of CPU time "
            f"(SQLite runs in this process: what a busy machine does not inflate)"
        )
        print(
            f"  matches per lead: mean {statistics.fmean(found):.2f}; "
            f"{sum(1 for n in found if n == 0) / len(found):.0%} with none, "
            f"{sum(1 for n in found if n == matching.MAX_MATCHES) / len(found):.0%} with "
            f"{matching.MAX_MATCHES}"
        )
        print(f"store_matches (match, sites shown, rows written, commit) over {len(stored)} leads:")
        print(f"  p50 {percentile(stored, 50):.2f} ms, p99 {percentile(stored, 99):.2f} ms")
        print("query plan (SQLite):")
        for row in plan:
            print(f"  {row[-1]}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
