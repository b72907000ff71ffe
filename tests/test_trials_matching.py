"""Matching a lead to trials: status, ages, diagnoses through the synonym table, ranking,
at most five; matches kept with the lead when it is stored, and replaced when re-run."""

from __future__ import annotations

import logging
from datetime import date

import pytest
from sqlalchemy import select

from microsite.extensions import db
from microsite.models import Lead, LeadMatch, Trial
from microsite.trials import matching, synonyms
from tests.helpers import add_lead, add_trial, count, fetch, lead_values, rows

# The lead of these tests: a neuroblastoma patient of 6 in Sweden.
MAYA = {"patient_age": 6, "country": "SE", "name": "Maya", "email": "maya@example.com"}


def a_lead(**answers) -> Lead:
    """An unsaved lead, for matching alone."""
    return Lead(**lead_values(**{**MAYA, **answers}))


def matched(app, **answers) -> list[str]:
    with app.app_context():
        return [trial.nct_id for trial in matching.match_trials(a_lead(**answers))]


# --- ages ---------------------------------------------------------------------------------

AGES = [
    # age in years, trial minimum and maximum in months (None: no limit), matches
    (0, 3, None, True),  # an infant (months 0 to 11) fits a trial from 3 months
    (0, 11, 36, True),
    (0, 12, None, False),  # from 1 year: too old for an infant of age 0
    (0, None, 0, True),  # up to one month old
    (0, 0, 0, True),
    (1, None, 11, False),  # age 1 is months 12 to 23
    (1, None, 12, True),
    (1, 23, None, True),
    (1, 24, None, False),
    (5, 72, None, False),  # from 6 years
    (6, 72, None, True),
    (5, 71, None, True),
    (18, None, 216, True),  # "up to 18 years" includes an 18-year-old
    (19, None, 216, False),
    (21, 3, 263, True),
    (22, 3, 263, False),
    (39, None, None, True),  # no limit either way
    (39, 216, None, True),
    (0, None, None, True),
]


@pytest.mark.parametrize(("age", "minimum", "maximum", "fits"), AGES)
def test_ages_overlap_in_whole_months(app, age, minimum, maximum, fits):
    add_trial(app, "NCT99990001", min_age=minimum, max_age=maximum)
    assert matched(app, patient_age=age) == (["NCT99990001"] if fits else [])


# --- diagnoses ----------------------------------------------------------------------------

NAMED = [
    # conditions and keywords as ClinicalTrials.gov writes them -> the diagnosis values named
    (["B-ALL"], {"all"}),
    (["T-ALL"], {"all"}),
    (["Precursor B-Cell Lymphoblastic Leukemia-Lymphoma"], {"all"}),
    (["Acute Lymphoblastic Leukaemia"], {"all"}),
    (["acute lymphoblastic leukemia, pediatric"], {"all"}),
    (["All solid tumors"], set()),  # not leukemia: ALL counts only in capitals
    (["Childhood Solid Tumor", "All Relapsed Cancers"], set()),
    (["Ganglioneuroblastoma"], {"neuroblastoma"}),
    (["Neuroblastoma", "Ganglioneuroblastoma"], {"neuroblastoma"}),
    (["Non-Hodgkin Lymphoma"], {"nhl", "alcl"}),  # and not Hodgkin
    (["Hodgkin Lymphoma"], {"hodgkin"}),
    (["Classical Hodgkin's Disease"], {"hodgkin"}),
    (["AML", "Myeloid Leukemia Associated With Down Syndrome"], {"aml"}),
    (["Acute Myeloid Leukemia", "Acute Lymphoblastic Leukemia"], {"aml", "all"}),
    (["Chronic Myeloid Leukemia"], {"cml"}),
    (["Anaplastic Large Cell Lymphoma"], {"alcl"}),
    (["Wilms' Tumour"], {"wilms"}),
    (["Nephroblastoma"], {"wilms"}),
    (["Diffuse Intrinsic Pontine Glioma"], {"brain_other"}),
    (["DIPG"], {"brain_other"}),
    (["Medulloblastoma, Childhood"], {"medulloblastoma"}),
    (["Ewing Sarcoma of Bone"], {"ewing"}),
    (["Osteosarcoma"], {"osteosarcoma"}),
    (["Embryonal Rhabdomyosarcoma"], {"rhabdomyosarcoma"}),
    (["Non-Rhabdomyosarcoma Soft Tissue Sarcoma"], {"soft_tissue_other"}),
    (["Hepatoblastoma"], {"hepatoblastoma"}),
    (["Germ Cell Tumor"], {"germ_cell"}),
    (["Retinoblastoma"], {"retinoblastoma"}),
    (["Rétinoblastome"], set()),  # French: another word, not an accent
    (["NEUROBLASTOMA"], {"neuroblastoma"}),  # phrases ignore case
    (["Neuroblastomas"], {"neuroblastoma"}),
    (["Pediatric Cancer"], set()),
    (["Acute Leukemia"], {"all", "aml"}),  # either acute leukemia may fit
    (["Chronic Leukemia"], set()),
    ([""], set()),
    ([], set()),
]


@pytest.mark.parametrize(("texts", "named"), NAMED)
def test_the_synonym_table_names_diagnoses(texts, named):
    assert synonyms.diagnoses_named(texts) == named


MATCHES_BY_CONDITION = [
    (["B-ALL"], "all", True),
    (["T-ALL", "Lymphoblastic Lymphoma"], "all", True),
    (["Precursor B-Cell Lymphoblastic Leukemia-Lymphoma"], "all", True),
    (["All solid tumors"], "all", False),
    (["Ganglioneuroblastoma"], "neuroblastoma", True),
    (["Neuroblastoma"], "wilms", False),
    (["Non-Hodgkin Lymphoma"], "hodgkin", False),
    (["Non-Hodgkin Lymphoma"], "nhl", True),
    (["Diffuse Midline Glioma, H3 K27M-Mutant"], "brain_other", True),
    (["Synovial Sarcoma"], "soft_tissue_other", True),
]


@pytest.mark.parametrize(("conditions", "diagnosis", "fits"), MATCHES_BY_CONDITION)
def test_a_trial_matches_through_its_conditions(app, conditions, diagnosis, fits):
    add_trial(app, "NCT99990001", conditions=conditions)
    assert matched(app, diagnosis=diagnosis) == (["NCT99990001"] if fits else [])


def test_a_keyword_matches_as_well_as_a_condition(app):
    add_trial(
        app, "NCT99990001", conditions=["Pediatric Solid Tumor"], keywords=["ganglioneuroblastoma"]
    )
    assert matched(app, diagnosis="neuroblastoma") == ["NCT99990001"]


def test_other_matches_nothing(app):
    add_trial(app, "NCT99990001", conditions=["Pediatric Cancer"], diagnoses="|other|")
    add_trial(app, "NCT99990002", conditions=["Neuroblastoma"])
    assert matched(app, diagnosis="other") == []


def test_an_underscore_in_a_diagnosis_value_is_no_wildcard(app):
    # LIKE reads "_" as any character: "|brain_other|" must not match "|brainXother|".
    add_trial(app, "NCT99990001", diagnoses="|brainXother|")
    add_trial(app, "NCT99990002", conditions=["Ependymoma"])
    assert matched(app, diagnosis="brain_other") == ["NCT99990002"]


# --- status -------------------------------------------------------------------------------

STATUSES = [
    ("RECRUITING", True),
    ("NOT_YET_RECRUITING", True),
    ("ACTIVE_NOT_RECRUITING", False),
    ("ENROLLING_BY_INVITATION", False),
    ("COMPLETED", False),
    ("SUSPENDED", False),
    ("TERMINATED", False),
    ("WITHDRAWN", False),
    ("UNKNOWN", False),
]


@pytest.mark.parametrize(("status", "fits"), STATUSES)
def test_only_recruiting_and_not_yet_recruiting_trials(app, status, fits):
    add_trial(app, "NCT99990001", status=status, sites=[("SE", "RECRUITING")])
    assert matched(app) == (["NCT99990001"] if fits else [])


# --- ranking ------------------------------------------------------------------------------


def test_ranked_by_a_site_at_home_then_recruiting_sites_then_last_update(app):
    elsewhere = [("US", "RECRUITING")]
    add_trial(app, "NCT99990001", sites=elsewhere * 10)  # most sites, none in Sweden
    add_trial(app, "NCT99990002", sites=[("SE", "RECRUITING")])  # one site, in Sweden
    add_trial(app, "NCT99990003", sites=elsewhere * 3, updated=date(2025, 1, 1))
    add_trial(app, "NCT99990004", sites=elsewhere * 3, updated=date(2026, 6, 1))
    # Swedish sites that are not recruiting yet do not count, nor do they for the count.
    add_trial(app, "NCT99990005", sites=[("SE", "NOT_YET_RECRUITING")] * 20 + elsewhere * 2)
    add_trial(app, "NCT99990006", sites=[("SE", "RECRUITING"), ("NO", "RECRUITING")] + elsewhere)
    assert matched(app, country="SE") == [
        "NCT99990006",
        "NCT99990002",
        "NCT99990001",
        "NCT99990004",
        "NCT99990003",
    ]


def test_ties_come_by_nct_id_and_an_unknown_update_last(app):
    add_trial(app, "NCT99990003", sites=[("US", "RECRUITING")])
    add_trial(app, "NCT99990001", sites=[("US", "RECRUITING")])
    add_trial(app, "NCT99990002", sites=[("US", "RECRUITING")], updated=None)
    add_trial(app, "NCT99990004", sites=[("US", "RECRUITING")])
    assert matched(app) == ["NCT99990001", "NCT99990003", "NCT99990004", "NCT99990002"]


def test_a_trial_with_no_sites_yet_still_matches_after_the_others(app):
    add_trial(app, "NCT99990001", status="NOT_YET_RECRUITING")
    add_trial(app, "NCT99990002", sites=[("DE", "RECRUITING")])
    assert matched(app) == ["NCT99990002", "NCT99990001"]


def test_at_most_five_the_best_ranked(app):
    for number in range(1, 9):
        add_trial(app, f"NCT9999000{number}", sites=[("US", "RECRUITING")] * number)
    assert matched(app) == [f"NCT9999000{n}" for n in (8, 7, 6, 5, 4)]


# --- what is kept with the lead -------------------------------------------------------------


def stored(app, lead_id: int) -> list[LeadMatch]:
    with app.app_context():
        rows = db.session.scalars(
            select(LeadMatch).filter_by(lead_id=lead_id).order_by(LeadMatch.rank)
        )
        return list(rows)


def saved_lead(app, **answers) -> int:
    return add_lead(app, **{**MAYA, **answers})


def store(app, lead_id: int) -> None:
    with app.app_context():
        matching.store_matches(db.session.get(Lead, lead_id))
        db.session.commit()


def test_the_snapshot_holds_what_is_shown(app):
    add_trial(
        app,
        "NCT99990001",
        min_age=3,
        max_age=263,
        phases=["PHASE1", "PHASE2"],
        sites=[
            ("US", "RECRUITING", "Far Away Hospital", "Boston"),
            ("SE", "RECRUITING", "Karolinska University Hospital", "Stockholm"),
            ("SE", "NOT_YET_RECRUITING", "Not Yet Hospital", "Lund"),
            ("SE", "RECRUITING", "Sahlgrenska University Hospital", "Göteborg"),
            ("SE", "RECRUITING", "Uppsala University Hospital", "Uppsala"),
            ("SE", "RECRUITING", "Fourth Swedish Site", "Umeå"),
        ],
    )
    lead_id = saved_lead(app)
    store(app, lead_id)
    [match] = stored(app, lead_id)
    assert (match.rank, match.nct_id) == (1, "NCT99990001")
    assert match.shown == {
        "nct_id": "NCT99990001",
        "title": "Study NCT99990001",
        "status": "RECRUITING",
        "status_label": "Recruiting",
        "phases": ["PHASE1", "PHASE2"],
        "phase_label": "Phase 1/Phase 2",
        "min_age_months": 3,
        "max_age_months": 263,
        "ages": "3 months to 21 years 11 months",
        "ranked_by": "country",  # no postal code given
        "recruiting_sites": 5,
        "nearest_km": None,
        "within_travel": None,
        "sites": [
            swedish_site("Karolinska University Hospital", "Stockholm"),
            swedish_site("Sahlgrenska University Hospital", "Göteborg"),
            swedish_site("Uppsala University Hospital", "Uppsala"),
        ],
    }


def swedish_site(facility: str, city: str) -> dict:
    return {
        "facility": facility,
        "city": city,
        "state": "",
        "country_code": "SE",
        "distance_km": None,
        "contact": {"name": "", "phone": "", "email": ""},
    }


def test_matching_again_replaces_the_matches_and_keeps_them_apart_per_lead(app):
    add_trial(app, "NCT99990001")
    first, other = saved_lead(app), saved_lead(app, email="other@example.com")
    store(app, first)
    store(app, other)
    add_trial(app, "NCT99990002", sites=[("SE", "RECRUITING")])
    with app.app_context():
        db.session.execute(
            Trial.__table__.update()
            .where(Trial.nct_id == "NCT99990001")
            .values(overall_status="COMPLETED")
        )
        db.session.commit()
    store(app, first)
    assert [(m.rank, m.nct_id) for m in stored(app, first)] == [(1, "NCT99990002")]
    assert [(m.rank, m.nct_id) for m in stored(app, other)] == [(1, "NCT99990001")]


def test_a_snapshot_stays_as_shown_when_the_catalog_changes(app):
    add_trial(app, "NCT99990001")
    lead_id = saved_lead(app)
    store(app, lead_id)
    with app.app_context():
        db.session.execute(
            Trial.__table__.update().values(brief_title="Renamed", overall_status="COMPLETED")
        )
        db.session.commit()
    [match] = stored(app, lead_id)
    assert (match.shown["title"], match.shown["status"]) == ("Study NCT99990001", "RECRUITING")


AGE_TEXTS = [
    (None, None, "Any age"),
    (0, None, "Any age"),
    (None, 216, "Up to 18 years"),
    (0, 216, "Up to 18 years"),
    (3, 252, "3 months to 21 years"),
    (12, 60, "1 year to 5 years"),
    (1, 18, "1 month to 18 months"),
    (216, None, "18 years and older"),
    (30, None, "2 years 6 months and older"),
    (25, 37, "2 years 1 month to 3 years 1 month"),
]


@pytest.mark.parametrize(("minimum", "maximum", "text"), AGE_TEXTS)
def test_age_ranges_in_words(minimum, maximum, text):
    assert matching.age_range_text(minimum, maximum) == text


@pytest.mark.parametrize(
    ("phases", "label"),
    [
        (["PHASE1", "PHASE2"], "Phase 1/Phase 2"),
        (["EARLY_PHASE1"], "Early phase 1"),
        (["PHASE3"], "Phase 3"),
        (["NA"], "Not applicable"),
        ([], "Not given"),
        (["PHASE5"], "Phase5"),
    ],
)
def test_phases_in_words(phases, label):
    assert matching.phase_label(phases) == label


# --- matched when the lead is stored --------------------------------------------------------


def lead_ids(app) -> list[int]:
    return [lead.id for lead in rows(app, Lead)]


def test_an_application_is_matched_when_it_is_stored(app, client, apply_form):
    add_trial(
        app, "NCT99990001", sites=[("GB", "RECRUITING", "Great Ormond Street Hospital", "London")]
    )
    add_trial(app, "NCT99990002", conditions=["Wilms Tumor"])
    response = client.post("/apply", data=apply_form(patient_age="7", diagnosis="neuroblastoma"))
    assert response.status_code == 303
    [lead_id] = lead_ids(app)
    [match] = stored(app, lead_id)
    assert match.nct_id == "NCT99990001"
    [site] = match.shown["sites"]
    assert (site["facility"], site["city"]) == ("Great Ormond Street Hospital", "London")


def test_a_double_submission_is_matched_once(app, client, apply_form):
    add_trial(app, "NCT99990001")
    data = apply_form()
    client.post("/apply", data=data)
    client.post("/apply", data=data)
    [lead_id] = lead_ids(app)
    assert count(app, LeadMatch) == 1


def _finding_breaks(*arguments):
    raise RuntimeError("matching broke for Alex Example, neuroblastoma")


def _storing_breaks(lead_id, ranked, shown_rows):
    db.session.add(LeadMatch(lead_id=lead_id, rank=1, nct_id="NCT99990001", shown={}))
    db.session.flush()
    raise RuntimeError("matching broke for Alex Example, neuroblastoma")


@pytest.mark.parametrize(
    ("part", "breaks"), [("_ranked_trials", _finding_breaks), ("_insert_first", _storing_breaks)]
)
def test_a_matching_failure_keeps_the_lead_without_matches(
    app, client, apply_form, monkeypatch, caplog, part, breaks
):
    add_trial(app, "NCT99990001")
    monkeypatch.setattr(matching, part, breaks)
    caplog.set_level(logging.INFO)
    response = client.post("/apply", data=apply_form())
    assert response.status_code == 303
    [lead_id] = lead_ids(app)
    assert stored(app, lead_id) == []  # the half-done work was rolled back, not the lead
    assert fetch(app, Lead, lead_id).nearest_site_km is None
    failures = [r.getMessage() for r in caplog.records if "matching failed" in r.getMessage()]
    assert failures == [f"lead {lead_id}: trial matching failed (RuntimeError); no matches stored"]
    assert not any(
        "Alex" in r.getMessage() or "neuroblastoma" in r.getMessage() for r in caplog.records
    )
    assert client.get("/apply/thanks").status_code == 200


@pytest.mark.parametrize(
    ("status", "label"),
    [
        ("RECRUITING", "Recruiting"),
        ("NOT_YET_RECRUITING", "Not yet recruiting"),
        ("ACTIVE_NOT_RECRUITING", "Active, not recruiting"),
        ("SOMETHING_NEW", "Something new"),
        (None, "Unknown"),
    ],
)
def test_statuses_in_words(status, label):
    assert matching.status_label(status) == label
