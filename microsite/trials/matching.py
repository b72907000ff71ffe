"""Which trials of the catalog may fit a lead, and what the family and staff are shown.

The rules (the README's "Trial matching" section says the same):
- the trial is RECRUITING or NOT_YET_RECRUITING;
- its age range overlaps the patient's: an age of N whole years means months 12N to
  12N+11, a trial's range is [min_age_months, max_age_months] with None for no limit;
- its conditions or keywords name the lead's diagnosis, through the synonym table
  (synonyms.py), precomputed on import into ``Trial.diagnoses`` ("|all|aml|") and indexed
  in ``TrialDiagnosis`` (a row per diagnosis, read through its primary key); the
  diagnosis "other" matches nothing: the navigator searches by hand;
- at most ``MAX_MATCHES``, ranked:
  - when the postal code is located (``places.py``), by distance: the great-circle
    distance (R = 6371 km) from the postal code's centre to each trial's nearest RECRUITING
    site with coordinates, in any country (a family near a border may cross it). Trials
    with a site within the travel distance come first, nearest first, then those farther
    away, nearest first, then trials whose recruiting sites have no coordinates and
    trials not yet recruiting, in the order below;
  - otherwise by country: a recruiting site in the patient's country first, then more
    recruiting sites, then the most recent update (then the NCT id, so ties always come
    in the same order).

Distances need no database extension: recruiting sites are found through an ordinary
index on (status, latitude, longitude), in a box around the family that widens (80, 160,
400, 800 km, then everything) until MAX_MATCHES trials have a site within it; exact
distances are computed for the sites in the box only. The matches are stored with the
lead (``LeadMatch``) as they were shown, distances included, so what staff see later is
what the family saw, whatever happens to the catalog since.
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from dataclasses import dataclass, field
from functools import lru_cache

from flask_babel import force_locale, gettext, ngettext
from sqlalchemy import and_, bindparam, case, delete, exists, func, or_, select
from sqlalchemy.orm import load_only

from ..choices import (
    MILE_COUNTRIES,
    OPEN_TRIAL_STATUSES,
    RECRUITING,
    TRIAL_PHASE_LABELS,
    TRIAL_STATUS_LABELS,
)
from ..extensions import db
from ..models import Lead, LeadMatch, LeadTrial, Trial, TrialDiagnosis, TrialSite, utcnow
from . import places
from .places import Place

log = logging.getLogger(__name__)

MAX_MATCHES = 5
SITES_SHOWN = 3
EARTH_RADIUS_KM = 6371.0
SEARCH_RADII_KM = (80, 160, 400, 800)  # the box around the family widens through these
NO_MATCH = ("other",)


# Labels are in the language of the page being rendered (flask_babel), English elsewhere.
def status_label(status: str | None) -> str:
    if not status:
        return gettext("Unknown")
    return str(TRIAL_STATUS_LABELS.get(status, status.replace("_", " ").capitalize()))


def phase_label(phases: list[str] | None) -> str:
    """["PHASE1", "PHASE2"] -> "Phase 1/Phase 2"; nothing given -> "Not given"."""
    if not phases:
        return gettext("Not given")
    return "/".join(
        str(TRIAL_PHASE_LABELS.get(p, p.replace("_", " ").capitalize())) for p in phases
    )


def _months_text(months: int) -> str:
    years, rest = divmod(months, 12)
    if rest == 0:
        return ngettext("%(num)d year", "%(num)d years", years)
    if years < 2:
        return ngettext("%(num)d month", "%(num)d months", months)
    return gettext(
        "%(years)s %(months)s",
        years=ngettext("%(num)d year", "%(num)d years", years),
        months=ngettext("%(num)d month", "%(num)d months", rest),
    )


def age_range_text(min_months: int | None, max_months: int | None) -> str:
    """ "3 months to 21 years", "Up to 18 years", "12 years and older", "Any age"."""
    low = min_months if min_months else None  # from birth is no lower limit
    if low is None and max_months is None:
        return gettext("Any age")
    if low is None:
        return gettext("Up to %(age)s", age=_months_text(max_months))
    if max_months is None:
        return gettext("%(age)s and older", age=_months_text(low))
    return gettext("%(low)s to %(high)s", low=_months_text(low), high=_months_text(max_months))


KM_PER_MILE = 1.609344


def distance_text(km: float, country: str | None) -> str:
    """ "about 12 mi (19 km)" for a family in a miles country, "about 19 km (12 mi)"
    elsewhere: sites are placed by their city's centre, so distances are approximate."""
    kilometres = max(1, whole_km(km))
    miles = max(1, whole_km(km / KM_PER_MILE))
    if country in MILE_COUNTRIES:
        return ngettext(
            "about %(num)d mi (%(km)d km)", "about %(num)d mi (%(km)d km)", miles, km=kilometres
        )
    return ngettext(
        "about %(km)d km (%(num)d mi)", "about %(km)d km (%(num)d mi)", miles, km=kilometres
    )


def _recruiting_site(country: str | None = None):
    conditions = [TrialSite.trial_id == Trial.id, TrialSite.status == RECRUITING]
    if country is not None:
        conditions.append(TrialSite.country_code == country)
    return and_(*conditions)


# The queries are built once, with bound parameters, and run with each lead's values:
# building a statement costs more CPU than SQLite spends running it.


def _fit_conditions(diagnosis) -> tuple:
    """What a trial meets to fit a lead's answers (status, diagnosis, ages): run with
    fit_parameters()."""
    return (
        Trial.overall_status.in_(OPEN_TRIAL_STATUSES),
        diagnosis,
        or_(Trial.min_age_months.is_(None), Trial.min_age_months <= bindparam("last_month")),
        or_(Trial.max_age_months.is_(None), Trial.max_age_months >= bindparam("first_month")),
    )


# A query that starts from the trials reads the diagnosis's trials through the index; one
# that starts from the sites in a box checks the key of each trial it joins, so the
# database starts from the position index rather than from the diagnosis.
_FITS = _fit_conditions(
    Trial.id.in_(
        select(TrialDiagnosis.trial_id).where(TrialDiagnosis.diagnosis == bindparam("diagnosis"))
    )
)
_FITS_JOINED = _fit_conditions(Trial.diagnoses.like(bindparam("diagnosis_pattern"), escape="/"))


def fit_parameters(diagnosis: str, age_years: int, months_since: int = 0) -> dict:
    """The values of the fit conditions for these answers, the age grown by ``months_since`` the
    day it was given: an age of N whole years is months 12N to 12N+11."""
    first_month = 12 * age_years + months_since
    key = f"|{diagnosis}|".replace("/", "//").replace("%", "/%").replace("_", "/_")
    return {
        "diagnosis": diagnosis,
        "diagnosis_pattern": f"%{key}%",  # Trial.diagnoses holds "|all|aml|"
        "first_month": first_month,
        "last_month": first_month + 11,
    }


def _country_order(country) -> list:
    sites = (
        select(func.count(TrialSite.id))
        .where(_recruiting_site())
        .correlate(Trial)
        .scalar_subquery()
    )
    in_country = exists().where(_recruiting_site(country)).correlate(Trial)
    return [
        case((in_country, 0), else_=1),
        sites.desc(),
        case((Trial.last_update_on.is_(None), 1), else_=0),
        Trial.last_update_on.desc(),
        Trial.nct_id,
    ]


_COUNTRY_ORDER = _country_order(bindparam("country"))
# What matching reads of a trial; anything else loads when it is asked for.
_SHOWN_COLUMNS = load_only(
    Trial.nct_id,
    Trial.brief_title,
    Trial.overall_status,
    Trial.phases,
    Trial.min_age_months,
    Trial.max_age_months,
)
_BY_COUNTRY = (
    select(Trial).options(_SHOWN_COLUMNS).where(*_FITS).order_by(*_COUNTRY_ORDER).limit(MAX_MATCHES)
)
_TRIALS = (
    select(Trial)
    .options(_SHOWN_COLUMNS)
    .where(Trial.id.in_(bindparam("trial_ids", expanding=True)))
)
_IN_COUNTRY_ORDER = (
    select(Trial.id)
    .where(Trial.id.in_(bindparam("trial_ids", expanding=True)))
    .order_by(*_COUNTRY_ORDER)
)
_UNPLACED = (
    select(Trial.id)
    .where(*_FITS, Trial.id.not_in(bindparam("placed", expanding=True)))
    .order_by(*_COUNTRY_ORDER)
    .limit(bindparam("room"))
)


def match_statement(diagnosis: str, age_years: int, country: str):
    """The country-ranked query of at most MAX_MATCHES trials for these answers."""
    return _BY_COUNTRY.params(fit_parameters(diagnosis, age_years), country=country)


# Distances -------------------------------------------------------------------------------


def distances_from(latitude: float, longitude: float):
    """The great-circle distance in kilometres (haversine, R = 6371 km) from one point to
    any other: call the result with the other's latitude and longitude. The point's part
    is computed once."""
    phi1 = math.radians(latitude)
    cos_phi1 = math.cos(phi1)
    radians, sin, cos, asin, sqrt = math.radians, math.sin, math.cos, math.asin, math.sqrt

    def to(to_latitude: float, to_longitude: float) -> float:
        phi2 = radians(to_latitude)
        h = (
            sin((phi2 - phi1) / 2) ** 2
            + cos_phi1 * cos(phi2) * sin(radians(to_longitude - longitude) / 2) ** 2
        )
        return 2 * EARTH_RADIUS_KM * asin(min(1.0, sqrt(h)))

    return to


def distance_km(latitude: float, longitude: float, to_latitude: float, to_longitude: float):
    """The great-circle distance in kilometres between two points."""
    return distances_from(latitude, longitude)(to_latitude, to_longitude)


def bounding_box(latitude: float, longitude: float, radius_km: float):
    """Latitude bounds and longitude ranges (two where the box crosses 180°) holding every
    point within ``radius_km``."""
    angle = radius_km / EARTH_RADIUS_KM
    south, north = latitude - math.degrees(angle), latitude + math.degrees(angle)
    if south <= -90 or north >= 90 or angle >= math.pi / 2:
        return max(south, -90.0), min(north, 90.0), [(-180.0, 180.0)]
    spread = math.degrees(math.asin(min(1.0, math.sin(angle) / math.cos(math.radians(latitude)))))
    west, east = longitude - spread, longitude + spread
    if west < -180:
        return south, north, [(west + 360, 180.0), (-180.0, east)]
    if east > 180:
        return south, north, [(west, 180.0), (-180.0, east - 360)]
    return south, north, [(west, east)]


def _sites_in_box(ranges: int | None):
    query = (
        select(TrialSite.trial_id, TrialSite.latitude, TrialSite.longitude)
        .join(Trial, Trial.id == TrialSite.trial_id)
        .where(TrialSite.status == RECRUITING, *_FITS_JOINED)
    )
    if ranges is None:
        return query.where(TrialSite.latitude.is_not(None), TrialSite.longitude.is_not(None))
    return query.where(
        TrialSite.latitude.between(bindparam("south"), bindparam("north")),
        or_(
            *(
                TrialSite.longitude.between(bindparam(f"west_{n}"), bindparam(f"east_{n}"))
                for n in range(ranges)
            )
        ),
    )


# By the number of longitude ranges of the box (two across 180°); None: no box.
_SITES_IN_BOX = {ranges: _sites_in_box(ranges) for ranges in (None, 1, 2)}


def sites_in_box_statement(box):
    """(trial id, latitude, longitude) of the recruiting sites in ``box`` (None: all with
    coordinates) of the trials that fit: run it with ``fit_parameters`` and
    ``box_parameters(box)``."""
    return _SITES_IN_BOX[None if box is None else len(box[2])]


def box_parameters(box) -> dict:
    if box is None:
        return {}
    south, north, ranges = box
    parameters = {"south": south, "north": north}
    for n, (west, east) in enumerate(ranges):
        parameters |= {f"west_{n}": west, f"east_{n}": east}
    return parameters


def nearest_distances(
    fits: dict, latitude: float, longitude: float, narrower: tuple = ()
) -> dict[int, float]:
    """Each fitting trial's distance to its nearest recruiting site, for at least the
    MAX_MATCHES nearest trials: the box widens until that many are within its radius.
    ``fits``: fit_parameters(); ``narrower``: more conditions on the trial."""
    distance = distances_from(latitude, longitude)
    for radius in (*SEARCH_RADII_KM, None):
        box = None if radius is None else bounding_box(latitude, longitude, radius)
        statement = sites_in_box_statement(box)
        nearest: dict[int, float] = {}
        for trial_id, site_latitude, site_longitude in db.session.execute(
            statement.where(*narrower) if narrower else statement, fits | box_parameters(box)
        ):
            km = distance(site_latitude, site_longitude)
            if km < nearest.get(trial_id, math.inf):
                nearest[trial_id] = km
        if radius is None or sum(km <= radius for km in nearest.values()) >= MAX_MATCHES:
            return nearest
    return {}  # not reached: the last pass takes every site


@dataclass
class Ranked:
    """A matched trial with the recruiting sites to show, nearest first when known."""

    trial: Trial
    nearest_km: float | None = None
    sites: list[dict] = field(default_factory=list)
    recruiting_sites: int = 0


def _ranked_trials(
    lead: Lead, place: Place | None, months_since: int = 0, narrower: tuple = ()
) -> list[Ranked]:
    """The thanks page's ranking; the alerts grow the age and add conditions
    (``narrower``: recruiting, not already known)."""
    fits = fit_parameters(lead.diagnosis, lead.patient_age, months_since)
    ordered = fits | {"country": lead.country}
    if place is None:
        ranked = _BY_COUNTRY.where(*narrower) if narrower else _BY_COUNTRY
        return [Ranked(trial) for trial in db.session.scalars(ranked, ordered)]
    nearest = nearest_distances(fits, place.latitude, place.longitude, narrower)
    chosen = _by_distance(nearest, lead.country)
    if len(chosen) < MAX_MATCHES:  # then the unplaced trials, in the country order
        unplaced = _UNPLACED.where(*narrower) if narrower else _UNPLACED
        chosen += list(
            db.session.scalars(
                unplaced, ordered | {"placed": list(nearest), "room": MAX_MATCHES - len(chosen)}
            )
        )
    trials = {t.id: t for t in db.session.scalars(_TRIALS, {"trial_ids": chosen})}
    return [Ranked(trials[trial_id], nearest.get(trial_id)) for trial_id in chosen]


def _by_distance(nearest: dict[int, float], country: str) -> list[int]:
    """The MAX_MATCHES nearest trials, ties (sites in one city share its coordinates) in the
    country order. Only the trials that can still make the list are ordered by country."""
    distances = sorted(nearest.values())
    if len(distances) > MAX_MATCHES:
        cutoff = distances[MAX_MATCHES - 1]
        contenders = [trial_id for trial_id, km in nearest.items() if km <= cutoff]
    else:
        contenders = list(nearest)
    if not contenders:
        return []
    in_order = db.session.scalars(_IN_COUNTRY_ORDER, {"trial_ids": contenders, "country": country})
    position = {trial_id: index for index, trial_id in enumerate(in_order)}
    ranked = sorted(contenders, key=lambda trial_id: (nearest[trial_id], position[trial_id]))
    return ranked[:MAX_MATCHES]


def match_trials(lead: Lead) -> list[Trial]:
    """The trials that may fit ``lead``, best first, at most MAX_MATCHES."""
    if lead.diagnosis in NO_MATCH:
        return []
    place = places.locate(lead.country, lead.postal_code)
    return [ranked.trial for ranked in _ranked_trials(lead, place)]


def _site_shown(site: TrialSite, km: float | None) -> dict:
    return {
        "facility": site.facility or "",
        "city": site.city or "",
        "state": site.state or "",
        "country_code": site.country_code or "",
        "distance_km": None if km is None else round(km, 1),
        "contact": {
            "name": site.contact_name or "",
            "phone": site.contact_phone or "",
            "email": site.contact_email or "",
        },
    }


# The recruiting sites of the matched trials: their places first, then the details of the
# few shown.
_SITE_PLACES = select(
    TrialSite.id,
    TrialSite.trial_id,
    TrialSite.country_code,
    TrialSite.latitude,
    TrialSite.longitude,
).where(
    TrialSite.trial_id.in_(bindparam("trial_ids", expanding=True)),
    TrialSite.status == RECRUITING,
)
_SITE_DETAILS = select(
    TrialSite.id,
    TrialSite.facility,
    TrialSite.city,
    TrialSite.state,
    TrialSite.country_code,
    TrialSite.contact_name,
    TrialSite.contact_phone,
    TrialSite.contact_email,
).where(TrialSite.id.in_(bindparam("site_ids", expanding=True)))


def _add_sites(ranked: list[Ranked], country: str, place: Place | None) -> None:
    """Up to SITES_SHOWN recruiting sites of each trial: nearest first when the family is
    located, else those in the family's country; and the count of recruiting sites. Two
    queries of plain rows: where the sites are, then the details of those shown."""
    by_trial = {item.trial.id: item for item in ranked}
    if not by_trial:
        return
    distance = distances_from(place.latitude, place.longitude) if place is not None else None
    candidates: dict[int, list[tuple]] = defaultdict(list)
    for site_id, trial_id, country_code, latitude, longitude in db.session.execute(
        _SITE_PLACES, {"trial_ids": list(by_trial)}
    ):
        by_trial[trial_id].recruiting_sites += 1
        if place is None:
            if country_code == country:
                candidates[trial_id].append((True, 0.0, False, site_id, None))
            continue
        km = None
        if latitude is not None and longitude is not None:
            km = distance(latitude, longitude)
        candidates[trial_id].append((km is None, km or 0.0, country_code != country, site_id, km))
    chosen = {trial_id: sorted(found)[:SITES_SHOWN] for trial_id, found in candidates.items()}
    site_ids = [entry[3] for found in chosen.values() for entry in found]
    if not site_ids:
        return
    details = {row.id: row for row in db.session.execute(_SITE_DETAILS, {"site_ids": site_ids})}
    for trial_id, found in chosen.items():
        by_trial[trial_id].sites = [_site_shown(details[entry[3]], entry[4]) for entry in found]


@lru_cache(maxsize=4096)
def _english_labels(status: str | None, phases: tuple, min_months, max_months) -> tuple:
    """A trial's status, phase and age labels in English, made once per combination: few
    combinations recur, and each label is several gettext calls."""
    with force_locale("en"):
        return (
            status_label(status),
            phase_label(list(phases)),
            age_range_text(min_months, max_months),
        )


def shown(item: Ranked, lead: Lead, place: Place | None) -> dict:
    """What the family is shown of a matched trial: kept as it was, with its labels in
    English (pages render the labels from the raw values, in the page's language)."""
    trial = item.trial
    travel = lead.travel_distance
    within = None
    if item.nearest_km is not None:
        within = travel in (None, "any") or item.nearest_km <= int(travel)
    phases = list(trial.phases or [])
    status, phase, ages = _english_labels(
        trial.overall_status, tuple(phases), trial.min_age_months, trial.max_age_months
    )
    return {
        "nct_id": trial.nct_id,
        "title": trial.brief_title,
        "status": trial.overall_status,
        "status_label": status,
        "phases": phases,
        "phase_label": phase,
        "min_age_months": trial.min_age_months,
        "max_age_months": trial.max_age_months,
        "ages": ages,
        "ranked_by": "country" if place is None else "distance",
        "recruiting_sites": item.recruiting_sites,
        "nearest_km": None if item.nearest_km is None else round(item.nearest_km, 1),
        "within_travel": within,
        "sites": item.sites,
    }


def whole_km(km: float | None) -> int | None:
    """Kilometres rounded half up, as leads.csv's nearest_site_km."""
    return None if km is None else int(math.floor(km + 0.5))


def _find(lead: Lead) -> tuple[list[Ranked], list[dict]]:
    """The trials for ``lead`` with their sites, and what is shown of each. Reads only."""
    ranked: list[Ranked] = []
    place = None
    if lead.diagnosis not in NO_MATCH:
        place = places.locate(lead.country, lead.postal_code)
        ranked = _ranked_trials(lead, place)
        _add_sites(ranked, lead.country, place)
    return ranked, [shown(item, lead, place) for item in ranked]


def _nearest_km(ranked: list[Ranked]) -> int | None:
    return whole_km(ranked[0].nearest_km) if ranked else None


def store_matches(lead: Lead) -> list[dict]:
    """Match a stored ``lead`` again and keep the result with it, replacing earlier
    matches (the staff's Match again); returns what was shown, in rank order. The caller
    commits."""
    ranked, shown_rows = _find(lead)
    db.session.execute(delete(LeadMatch).where(LeadMatch.lead_id == lead.id))
    record_shown(lead.id, [item.trial for item in ranked])
    db.session.add_all(
        LeadMatch(lead_id=lead.id, rank=rank, nct_id=row["nct_id"], shown=row)
        for rank, row in enumerate(shown_rows, start=1)
    )
    lead.nearest_site_km = _nearest_km(ranked)
    log.info("lead %d: %d trials matched", lead.id, len(shown_rows))
    return shown_rows


@dataclass
class NewMatches:
    """A new lead's matches, found before the lead is stored (``match_new_lead``) and
    stored after it (``store_new_matches``); ``failure``: the type of the error that
    stopped matching."""

    ranked: list[Ranked]
    shown: list[dict]
    failure: str | None = None


def match_new_lead(lead: Lead) -> NewMatches:
    """Match a lead not stored yet, and set its nearest_site_km. Matching only reads, so
    done before the lead's INSERT it keeps SQLite's write lock, which other workers wait
    for, as short as the writes. A failure is kept for ``store_new_matches`` to log (by
    the lead's id, which it has by then), never raised: the lead must be stored."""
    try:
        ranked, shown_rows = _find(lead)
    except Exception as error:  # noqa: BLE001 - whatever it is, the lead must be kept
        return NewMatches([], [], type(error).__name__)
    lead.nearest_site_km = _nearest_km(ranked)
    return NewMatches(ranked, shown_rows)


def store_new_matches(lead: Lead, found: NewMatches) -> bool:
    """Keep ``found`` with the lead just stored, in a savepoint of the caller's
    transaction: if that fails, nothing of it is kept and the lead is not lost. A failure
    is logged by lead id, with the error's type only (a message could quote what the
    family typed). Returns whether matching worked. The caller commits."""
    failure = found.failure
    if failure is None and found.ranked:
        try:
            with db.session.begin_nested():
                _insert_first(lead.id, found.ranked, found.shown)
        except Exception as error:  # noqa: BLE001 - whatever it is, the lead must be kept
            failure = type(error).__name__
    if failure is not None:
        lead.nearest_site_km = None
        log.error("lead %d: trial matching failed (%s); no matches stored", lead.id, failure)
        return False
    log.info("lead %d: %d trials matched", lead.id, len(found.shown))
    return True


def _insert_first(lead_id: int, ranked: list[Ranked], shown_rows: list[dict]) -> None:
    """A new lead's matches and its record of trials shown (see record_shown), as two
    INSERTs."""
    if not ranked:
        return
    now = utcnow()
    connection = db.session.connection()  # Core: no ORM objects, the same transaction
    connection.execute(
        LeadMatch.__table__.insert(),
        [
            {
                "lead_id": lead_id,
                "rank": rank,
                "nct_id": row["nct_id"],
                "shown": row,
                "matched_at": now,
            }
            for rank, row in enumerate(shown_rows, start=1)
        ],
    )
    connection.execute(
        LeadTrial.__table__.insert(),
        [
            {
                "lead_id": lead_id,
                "nct_id": item.trial.nct_id,
                "first_shown_at": now,
                "first_shown_status": item.trial.overall_status,
                "shown_recruiting_at": now if item.trial.overall_status == RECRUITING else None,
            }
            for item in ranked
        ],
    )


def record_shown(lead_id: int, trials: list[Trial]) -> None:
    """Keep, per trial, that the family has now been shown it and with which status: the
    record outlives Match again, so alerts never announce what the family has seen."""
    if not trials:
        return
    now = utcnow()
    known = {
        row.nct_id: row
        for row in db.session.scalars(
            select(LeadTrial).where(
                LeadTrial.lead_id == lead_id,
                LeadTrial.nct_id.in_([trial.nct_id for trial in trials]),
            )
        )
    }
    for trial in trials:
        row = known.get(trial.nct_id)
        if row is None:
            row = LeadTrial(lead_id=lead_id, nct_id=trial.nct_id)
            db.session.add(row)
        if row.first_shown_at is None:
            row.first_shown_at, row.first_shown_status = now, trial.overall_status
        if row.shown_recruiting_at is None and trial.overall_status == RECRUITING:
            row.shown_recruiting_at = now


def new_trials(lead: Lead, place: Place | None, months_since: int, known: set[str]) -> list[Ranked]:
    """The alerts' search: by the thanks page's rules with the age grown by
    ``months_since``, the RECRUITING trials not in ``known`` with a recruiting site within
    the travel distance (any distance when it is "any", not answered, or the postal code
    was not located), best first, at most MAX_MATCHES, with their sites."""
    if lead.diagnosis in NO_MATCH:
        return []
    narrower = [Trial.overall_status == RECRUITING]
    if known:
        narrower.append(Trial.nct_id.not_in(sorted(known)))
    ranked = _ranked_trials(lead, place, months_since, tuple(narrower))
    if place is not None and lead.travel_distance not in (None, "any"):
        limit = int(lead.travel_distance)
        ranked = [
            item for item in ranked if item.nearest_km is not None and item.nearest_km <= limit
        ]
    _add_sites(ranked, lead.country, place)
    return ranked


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
