"""The accepted values of the public contract (DESIGN.md), with the words people see.

Forms, models and exports all read their choices from here, so a value is added in one
place. Country names come from pycountry's ISO 3166-1 data, not a hand-typed list.
"""

import gettext
from functools import cache

import pycountry
from flask_babel import lazy_gettext as _l

from .text import fold_accents

ROLES = {
    "parent": _l("A parent or guardian of the patient"),
    "patient": _l("The patient (18 or older)"),
    "relative": _l("A relative or friend of the patient"),
    "clinician": _l("A doctor, nurse or other clinician"),
}

DIAGNOSES = {
    "all": _l("Acute lymphoblastic leukemia (ALL)"),
    "aml": _l("Acute myeloid leukemia (AML)"),
    "cml": _l("Chronic myeloid leukemia (CML)"),
    "hodgkin": _l("Hodgkin lymphoma"),
    "nhl": _l("Non-Hodgkin lymphoma"),
    "alcl": _l("Anaplastic large cell lymphoma (ALCL)"),
    "neuroblastoma": _l("Neuroblastoma"),
    "wilms": _l("Wilms tumor (nephroblastoma)"),
    "retinoblastoma": _l("Retinoblastoma"),
    "medulloblastoma": _l("Medulloblastoma"),
    "brain_other": _l("Other brain or spinal cord tumor"),
    "osteosarcoma": _l("Osteosarcoma"),
    "ewing": _l("Ewing sarcoma"),
    "rhabdomyosarcoma": _l("Rhabdomyosarcoma"),
    "soft_tissue_other": _l("Other soft tissue sarcoma"),
    "hepatoblastoma": _l("Hepatoblastoma"),
    "germ_cell": _l("Germ cell tumor"),
    "other": _l("Another diagnosis"),
}

TREATMENT_STAGES = {
    "new": _l("Newly diagnosed"),
    "in_treatment": _l("In treatment"),
    "relapsed": _l("Relapsed or not responding to treatment"),
    "remission": _l("In remission"),
}

# How far the family can travel for a trial: kilometres, or any distance. Each label
# shows both units, so the form is one page for everyone.
TRAVEL_DISTANCES = {
    "80": _l("Up to 50 miles (80 km)"),
    "160": _l("Up to 100 miles (160 km)"),
    "400": _l("Up to 250 miles (400 km)"),
    "800": _l("Up to 500 miles (800 km)"),
    "any": _l("Any distance"),
}
# The same distances inside a sentence: "Trials with a site within 50 miles (80 km)".
TRAVEL_SPANS = {
    "80": _l("50 miles (80 km)"),
    "160": _l("100 miles (160 km)"),
    "400": _l("250 miles (400 km)"),
    "800": _l("500 miles (800 km)"),
}
# Countries whose families think in miles: their distances show miles first.
MILE_COUNTRIES = {"US", "GB", "LR", "MM", "PR", "VI", "GU", "MP", "AS", "UM"}

# The public site's languages (web/i18n.py): a lead and a referral keep theirs.
LANGUAGE_CODES = ("en", "es")
# The languages as the (English) staff pages name them: a lead's, and those a member speaks.
LANGUAGE_NAMES = {"en": "English", "es": "Spanish"}

# What a staff member may do: navigators work with leads; admins also run the team, the
# testimonials, the referrals export, the access record and the runs page.
STAFF_ROLES = {"navigator": "Navigator", "admin": "Admin"}

CONTACT_METHODS = {
    "email": _l("Email"),
    "phone": _l("Phone"),
}

LEAD_STATUSES = {
    "new": "New",
    "contacted": "Contacted",
    "referred": "Referred to a trial site",
    "enrolled": "Enrolled",
    "not_eligible": "Not eligible",
    "withdrew": "Withdrew",
}

# The statuses of a family still being helped: the work queue shows these.
OPEN_LEAD_STATUSES = ("new", "contacted", "referred")
# A lead moved to one of these stops its trial alerts.
CLOSED_LEAD_STATUSES = ("enrolled", "not_eligible", "withdrew")

# A family's trial alerts (alerts.py): leads.csv's trial_alerts is "none" or one of these.
TRIAL_ALERT_STATES = {
    "pending": "Waiting for the family to confirm",
    "active": "On",
    "paused": "Paused by the family",
    "expired": "Expired",
    "stopped": "Stopped",
}

# ClinicalTrials.gov's overall statuses. Trials open to families: the ones sync fetches,
# matching offers and pages call open.
RECRUITING = "RECRUITING"
OPEN_TRIAL_STATUSES = (RECRUITING, "NOT_YET_RECRUITING")
TRIAL_STATUS_LABELS = {
    "RECRUITING": _l("Recruiting"),
    "NOT_YET_RECRUITING": _l("Not yet recruiting"),
    "ENROLLING_BY_INVITATION": _l("Enrolling by invitation"),
    "ACTIVE_NOT_RECRUITING": _l("Active, not recruiting"),
    "COMPLETED": _l("Completed"),
    "SUSPENDED": _l("Suspended"),
    "TERMINATED": _l("Terminated"),
    "WITHDRAWN": _l("Withdrawn"),
    "AVAILABLE": _l("Available"),
    "NO_LONGER_AVAILABLE": _l("No longer available"),
    "TEMPORARILY_NOT_AVAILABLE": _l("Temporarily not available"),
    "APPROVED_FOR_MARKETING": _l("Approved for marketing"),
    "WITHHELD": _l("Withheld"),
    "UNKNOWN": _l("Unknown"),
}
TRIAL_PHASE_LABELS = {
    "EARLY_PHASE1": _l("Early phase 1"),
    "PHASE1": _l("Phase 1"),
    "PHASE2": _l("Phase 2"),
    "PHASE3": _l("Phase 3"),
    "PHASE4": _l("Phase 4"),
    "NA": _l("Not applicable"),
}

MIN_PATIENT_AGE = 0
MAX_PATIENT_AGE = 39
ADULT_AGE = 18


def _sort_key(name: str) -> str:
    """Sort "Åland Islands" with the A's, not after "Zimbabwe"."""
    return fold_accents(name).casefold()


def _spanish_sort_key(name: str) -> str:
    """Spanish order: accents ignored, but "ñ" a letter of its own after "n"."""
    return "".join(
        "n\uffff" if c == "ñ" else _sort_key(c) for c in name.casefold().replace("n\u0303", "ñ")
    )


def _country_names() -> dict[str, str]:
    names = {
        country.alpha_2: getattr(country, "common_name", country.name)
        for country in pycountry.countries
    }
    return dict(sorted(names.items(), key=lambda item: _sort_key(item[1])))


COUNTRIES = _country_names()


@cache
def _spanish_country_names() -> dict[str, str]:
    """pycountry's Spanish ISO 3166-1 names (the short name, when it has one in Spanish),
    sorted in Spanish order."""
    spanish = gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=["es"])
    names = {}
    for country in pycountry.countries:
        common = getattr(country, "common_name", None)
        official = spanish.gettext(country.name)
        # "Bolivia" is the Spanish short name too: "Bolivia, Estado plurinacional de".
        known = common and (spanish.gettext(common) != common or official.startswith(common))
        names[country.alpha_2] = spanish.gettext(common) if known else official
    return dict(sorted(names.items(), key=lambda item: _spanish_sort_key(item[1])))


def country_names(language: str | None = None) -> dict[str, str]:
    """The country names, code to name, sorted, in ``language`` (the page's by default)."""
    if language is None:
        from .web.i18n import current_language

        language = current_language()
    return _spanish_country_names() if language == "es" else COUNTRIES
