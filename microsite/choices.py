"""The accepted values of the public contract (DESIGN.md), with the words people see.

Forms, models and exports all read their choices from here, so a value is added in one
place. Country names come from pycountry's ISO 3166-1 data, not a hand-typed list.
"""

import pycountry

from .text import fold_accents

ROLES = {
    "parent": "A parent or guardian of the patient",
    "patient": "The patient (18 or older)",
    "relative": "A relative or friend of the patient",
    "clinician": "A doctor, nurse or other clinician",
}

DIAGNOSES = {
    "all": "Acute lymphoblastic leukemia (ALL)",
    "aml": "Acute myeloid leukemia (AML)",
    "cml": "Chronic myeloid leukemia (CML)",
    "hodgkin": "Hodgkin lymphoma",
    "nhl": "Non-Hodgkin lymphoma",
    "alcl": "Anaplastic large cell lymphoma (ALCL)",
    "neuroblastoma": "Neuroblastoma",
    "wilms": "Wilms tumor (nephroblastoma)",
    "retinoblastoma": "Retinoblastoma",
    "medulloblastoma": "Medulloblastoma",
    "brain_other": "Other brain or spinal cord tumor",
    "osteosarcoma": "Osteosarcoma",
    "ewing": "Ewing sarcoma",
    "rhabdomyosarcoma": "Rhabdomyosarcoma",
    "soft_tissue_other": "Other soft tissue sarcoma",
    "hepatoblastoma": "Hepatoblastoma",
    "germ_cell": "Germ cell tumor",
    "other": "Another diagnosis",
}

TREATMENT_STAGES = {
    "new": "Newly diagnosed",
    "in_treatment": "In treatment",
    "relapsed": "Relapsed or not responding to treatment",
    "remission": "In remission",
}

# How far the family can travel for a trial: kilometres, or any distance. Each label
# shows both units, so the form is one page for everyone.
TRAVEL_DISTANCES = {
    "80": "Up to 50 miles (80 km)",
    "160": "Up to 100 miles (160 km)",
    "400": "Up to 250 miles (400 km)",
    "800": "Up to 500 miles (800 km)",
    "any": "Any distance",
}
# Countries whose families think in miles: their distances show miles first.
MILE_COUNTRIES = {"US", "GB", "LR", "MM", "PR", "VI", "GU", "MP", "AS", "UM"}

# The public site's languages (web/i18n.py): a lead and a referral keep theirs.
LANGUAGE_CODES = ("en", "es")

CONTACT_METHODS = {
    "email": "Email",
    "phone": "Phone",
}

LEAD_STATUSES = {
    "new": "New",
    "contacted": "Contacted",
    "referred": "Referred to a trial site",
    "enrolled": "Enrolled",
    "not_eligible": "Not eligible",
    "withdrew": "Withdrew",
}

# ClinicalTrials.gov's overall statuses. Trials open to families: the ones sync fetches,
# matching offers and pages call open.
RECRUITING = "RECRUITING"
OPEN_TRIAL_STATUSES = (RECRUITING, "NOT_YET_RECRUITING")
TRIAL_STATUS_LABELS = {
    "RECRUITING": "Recruiting",
    "NOT_YET_RECRUITING": "Not yet recruiting",
    "ENROLLING_BY_INVITATION": "Enrolling by invitation",
    "ACTIVE_NOT_RECRUITING": "Active, not recruiting",
    "COMPLETED": "Completed",
    "SUSPENDED": "Suspended",
    "TERMINATED": "Terminated",
    "WITHDRAWN": "Withdrawn",
    "AVAILABLE": "Available",
    "NO_LONGER_AVAILABLE": "No longer available",
    "TEMPORARILY_NOT_AVAILABLE": "Temporarily not available",
    "APPROVED_FOR_MARKETING": "Approved for marketing",
    "WITHHELD": "Withheld",
    "UNKNOWN": "Unknown",
}
TRIAL_PHASE_LABELS = {
    "EARLY_PHASE1": "Early phase 1",
    "PHASE1": "Phase 1",
    "PHASE2": "Phase 2",
    "PHASE3": "Phase 3",
    "PHASE4": "Phase 4",
    "NA": "Not applicable",
}

MIN_PATIENT_AGE = 0
MAX_PATIENT_AGE = 39
ADULT_AGE = 18


def _sort_key(name: str) -> str:
    """Sort "Åland Islands" with the A's, not after "Zimbabwe"."""
    return fold_accents(name).casefold()


def _country_names() -> dict[str, str]:
    names = {
        country.alpha_2: getattr(country, "common_name", country.name)
        for country in pycountry.countries
    }
    return dict(sorted(names.items(), key=lambda item: _sort_key(item[1])))


COUNTRIES = _country_names()
