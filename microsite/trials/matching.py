"""Which trials of the catalog may fit a lead, and what the family and staff are shown.

The rules (the README's "Trial matching" section says the same):
- the trial is RECRUITING or NOT_YET_RECRUITING;
- its age range overlaps the patient's: an age of N whole years means months 12N to
  12N+11, a trial's range is [min_age_months, max_age_months] with None for no limit;
- its conditions or keywords name the lead's diagnosis, through the synonym table
  (synonyms.py), precomputed on import into ``Trial.diagnoses`` ("|all|aml|"); the
  diagnosis "other" matches nothing: the navigator searches by hand;
- ranked: a recruiting site in the patient's country first, then more recruiting sites,
  then the most recent update (then the NCT id, so ties always come in the same order);
- at most ``MAX_MATCHES``.

One query does the filtering and the ranking in the database, on SQLite and PostgreSQL.
The matches are stored with the lead (``LeadMatch``) as they were shown, so what staff see
later is what the family saw, whatever happens to the catalog since.
"""

from __future__ import annotations

import logging
from collections import defaultdict

from sqlalchemy import and_, case, delete, exists, func, or_, select

from ..choices import OPEN_TRIAL_STATUSES, RECRUITING, TRIAL_PHASE_LABELS, TRIAL_STATUS_LABELS
from ..extensions import db
from ..models import Lead, LeadMatch, Trial, TrialSite

log = logging.getLogger(__name__)

MAX_MATCHES = 5
SITES_SHOWN = 3
NO_MATCH = ("other",)


def status_label(status: str | None) -> str:
    if not status:
        return "Unknown"
    return TRIAL_STATUS_LABELS.get(status, status.replace("_", " ").capitalize())


def phase_label(phases: list[str] | None) -> str:
    """["PHASE1", "PHASE2"] -> "Phase 1/Phase 2"; nothing given -> "Not given"."""
    if not phases:
        return "Not given"
    return "/".join(TRIAL_PHASE_LABELS.get(p, p.replace("_", " ").capitalize()) for p in phases)


def _months_text(months: int) -> str:
    years, rest = divmod(months, 12)
    if rest == 0:
        return f"{years} year{'s' if years != 1 else ''}"
    if years < 2:
        return f"{months} month{'s' if months != 1 else ''}"
    return f"{years} years {rest} month{'s' if rest != 1 else ''}"


def age_range_text(min_months: int | None, max_months: int | None) -> str:
    """ "3 months to 21 years", "Up to 18 years", "12 years and older", "Any age"."""
    low = min_months if min_months else None  # from birth is no lower limit
    if low is None and max_months is None:
        return "Any age"
    if low is None:
        return f"Up to {_months_text(max_months)}"
    if max_months is None:
        return f"{_months_text(low)} and older"
    return f"{_months_text(low)} to {_months_text(max_months)}"


def _recruiting_site(country: str | None = None):
    conditions = [TrialSite.trial_id == Trial.id, TrialSite.status == RECRUITING]
    if country is not None:
        conditions.append(TrialSite.country_code == country)
    return and_(*conditions)


def match_statement(diagnosis: str, age_years: int, country: str):
    """The ranked query of at most MAX_MATCHES trials for these answers."""
    first_month, last_month = 12 * age_years, 12 * age_years + 11
    sites = (
        select(func.count(TrialSite.id))
        .where(_recruiting_site())
        .correlate(Trial)
        .scalar_subquery()
    )
    in_country = exists().where(_recruiting_site(country)).correlate(Trial)
    return (
        select(Trial)
        .where(
            Trial.overall_status.in_(OPEN_TRIAL_STATUSES),
            Trial.diagnoses.contains(f"|{diagnosis}|", autoescape=True),
            or_(Trial.min_age_months.is_(None), Trial.min_age_months <= last_month),
            or_(Trial.max_age_months.is_(None), Trial.max_age_months >= first_month),
        )
        .order_by(
            case((in_country, 0), else_=1),
            sites.desc(),
            case((Trial.last_update_on.is_(None), 1), else_=0),
            Trial.last_update_on.desc(),
            Trial.nct_id,
        )
        .limit(MAX_MATCHES)
    )


def match_trials(lead: Lead) -> list[Trial]:
    """The trials that may fit ``lead``, best first, at most MAX_MATCHES."""
    if lead.diagnosis in NO_MATCH:
        return []
    return list(db.session.scalars(match_statement(lead.diagnosis, lead.patient_age, lead.country)))


def _sites_in_country(trials: list[Trial], country: str) -> dict[int, list[dict]]:
    """Up to SITES_SHOWN recruiting sites of each trial in ``country``: one query."""
    if not trials:
        return {}
    rows = db.session.execute(
        select(TrialSite.trial_id, TrialSite.facility, TrialSite.city)
        .where(
            TrialSite.trial_id.in_([t.id for t in trials]),
            TrialSite.status == RECRUITING,
            TrialSite.country_code == country,
        )
        .order_by(TrialSite.trial_id, TrialSite.id)
    )
    found: dict[int, list[dict]] = defaultdict(list)
    for trial_id, facility, city in rows:
        if len(found[trial_id]) < SITES_SHOWN:
            found[trial_id].append({"facility": facility or "", "city": city or ""})
    return found


def shown(trial: Trial, sites: list[dict]) -> dict:
    """What the family is shown of ``trial``: kept as it was, with its labels."""
    return {
        "nct_id": trial.nct_id,
        "title": trial.brief_title,
        "status": trial.overall_status,
        "status_label": status_label(trial.overall_status),
        "phases": list(trial.phases or []),
        "phase_label": phase_label(trial.phases),
        "min_age_months": trial.min_age_months,
        "max_age_months": trial.max_age_months,
        "ages": age_range_text(trial.min_age_months, trial.max_age_months),
        "sites": sites,
    }


def store_matches(lead: Lead) -> list[LeadMatch]:
    """Match ``lead`` now and keep the result with it, replacing earlier matches. The
    caller commits."""
    trials = match_trials(lead)
    sites = _sites_in_country(trials, lead.country)
    db.session.execute(delete(LeadMatch).where(LeadMatch.lead_id == lead.id))
    matches = [
        LeadMatch(
            lead_id=lead.id,
            rank=rank,
            nct_id=trial.nct_id,
            shown=shown(trial, sites.get(trial.id, [])),
        )
        for rank, trial in enumerate(trials, start=1)
    ]
    db.session.add_all(matches)
    db.session.flush()
    log.info("lead %d: %d trials matched", lead.id, len(matches))
    return matches


def store_matches_safely(lead: Lead) -> bool:
    """``store_matches`` in a savepoint of the caller's transaction: if matching fails,
    nothing of it is kept, the failure is logged by lead id, and the lead is not lost.
    Returns whether matching worked."""
    try:
        with db.session.begin_nested():
            store_matches(lead)
    except Exception as error:  # noqa: BLE001 - whatever it is, the lead must be kept
        # The type only: a message could quote what the family typed.
        log.error(
            "lead %d: trial matching failed (%s); no matches stored", lead.id, type(error).__name__
        )
        return False
    return True


def stored_matches(lead_id: int) -> list[dict]:
    """What was shown for a lead, in rank order."""
    rows = db.session.scalars(
        select(LeadMatch.shown).where(LeadMatch.lead_id == lead_id).order_by(LeadMatch.rank)
    )
    return list(rows)


def matched_at(lead_id: int):
    """When the stored matches were made, or None when there are none."""
    return db.session.scalar(
        select(func.max(LeadMatch.matched_at)).where(LeadMatch.lead_id == lead_id)
    )
