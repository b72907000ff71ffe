"""The accepted values of the public contract (DESIGN.md), with the words people see.

Forms, models and exports all read their choices from here, so a value is added in one
place. Country names come from pycountry's ISO 3166-1 data, not a hand-typed list.
"""

import unicodedata

import pycountry

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

MIN_PATIENT_AGE = 0
MAX_PATIENT_AGE = 39
ADULT_AGE = 18


def _sort_key(name: str) -> str:
    """Sort "Åland Islands" with the A's, not after "Zimbabwe"."""
    decomposed = unicodedata.normalize("NFKD", name)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def _country_names() -> dict[str, str]:
    names = {
        country.alpha_2: getattr(country, "common_name", country.name)
        for country in pycountry.countries
    }
    return dict(sorted(names.items(), key=lambda item: _sort_key(item[1])))


COUNTRIES = _country_names()
