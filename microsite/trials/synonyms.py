"""Which words in a trial's conditions and keywords name each diagnosis of our form.

Rules (the README's "Trial matching" section says the same):
- a term matches as a whole word or phrase, ignoring case and accents; spaces and hyphens
  are interchangeable ("non hodgkin" = "Non-Hodgkin") and a plural "s" is allowed;
- a term written in capitals is an acronym (ALL, AML, B-ALL, DIPG): it matches only in
  capitals, so "All solid tumors" is not leukemia;
- a term preceded by "non-" or "non " does not match ("Non-Hodgkin Lymphoma" is not
  Hodgkin lymphoma; "non-rhabdomyosarcoma soft tissue sarcoma" is not rhabdomyosarcoma);
- "leukemia" also matches "leukaemia", "tumor" also "tumour".
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache

from ..text import fold_accents

SYNONYMS: dict[str, tuple[str, ...]] = {
    "all": (
        "ALL",
        "B-ALL",
        "T-ALL",
        "acute lymphoblastic leukemia",
        "acute lymphocytic leukemia",
        "acute lymphoid leukemia",
        "lymphoblastic leukemia",
        "precursor b-cell lymphoblastic leukemia-lymphoma",
        "precursor t-cell lymphoblastic leukemia-lymphoma",
        "b lymphoblastic leukemia",
        "t lymphoblastic leukemia",
        "precursor cell lymphoblastic leukemia-lymphoma",
        "leukemia, lymphoblastic, acute",
        "leukemia, lymphoid, acute",
        "acute leukemia",
        "childhood acute leukemia",
    ),
    "aml": (
        "AML",
        "acute myeloid leukemia",
        "acute myelogenous leukemia",
        "acute myeloblastic leukemia",
        "acute nonlymphocytic leukemia",
        "acute non lymphocytic leukemia",
        "acute promyelocytic leukemia",
        "acute megakaryoblastic leukemia",
        "myeloid leukemia associated with down syndrome",
        "leukemia, myeloid, acute",
        "acute leukemia",
        "childhood acute leukemia",
    ),
    "cml": (
        "CML",
        "chronic myeloid leukemia",
        "chronic myelogenous leukemia",
        "chronic myelocytic leukemia",
        "leukemia, myelogenous, chronic",
    ),
    "hodgkin": ("hodgkin lymphoma", "hodgkin's lymphoma", "hodgkin disease", "hodgkin's disease"),
    "nhl": (
        "NHL",
        "non-hodgkin lymphoma",
        "non-hodgkin's lymphoma",
        "burkitt lymphoma",
        "burkitt's lymphoma",
        "diffuse large b-cell lymphoma",
        "lymphoblastic lymphoma",
        "mature b-cell lymphoma",
        "primary mediastinal b-cell lymphoma",
    ),
    "alcl": (
        "ALCL",
        "anaplastic large cell lymphoma",
        "non-hodgkin lymphoma",
        "non-hodgkin's lymphoma",
    ),
    "neuroblastoma": ("neuroblastoma", "ganglioneuroblastoma"),
    "wilms": ("wilms tumor", "wilms' tumor", "wilms", "nephroblastoma"),
    "retinoblastoma": ("retinoblastoma",),
    "medulloblastoma": ("medulloblastoma",),
    "brain_other": (
        "brain tumor",
        "brain neoplasm",
        "central nervous system tumor",
        "central nervous system neoplasm",
        "CNS tumor",
        "spinal cord tumor",
        "glioma",
        "high grade glioma",
        "low grade glioma",
        "diffuse intrinsic pontine glioma",
        "DIPG",
        "diffuse midline glioma",
        "ependymoma",
        "astrocytoma",
        "glioblastoma",
        "atypical teratoid/rhabdoid tumor",
        "ATRT",
        "AT/RT",
        "craniopharyngioma",
        "embryonal tumor with multilayered rosettes",
        "choroid plexus carcinoma",
        "pineoblastoma",
    ),
    "osteosarcoma": ("osteosarcoma", "osteogenic sarcoma"),
    "ewing": ("ewing sarcoma", "ewing's sarcoma", "ewing", "ewing family of tumors"),
    "rhabdomyosarcoma": ("rhabdomyosarcoma", "RMS"),
    "soft_tissue_other": (
        "soft tissue sarcoma",
        "NRSTS",
        "synovial sarcoma",
        "infantile fibrosarcoma",
        "desmoplastic small round cell tumor",
        "malignant peripheral nerve sheath tumor",
        "malignant rhabdoid tumor",
    ),
    "hepatoblastoma": ("hepatoblastoma", "childhood liver cancer", "pediatric liver cancer"),
    "germ_cell": (
        "germ cell tumor",
        "germ cell neoplasm",
        "germinoma",
        "dysgerminoma",
        "yolk sac tumor",
        "teratoma",
        "nongerminomatous germ cell tumor",
    ),
    "other": (),  # a diagnosis we cannot name: the navigator searches by hand
}

_SPELLINGS = (("leukemia", "leuk(?:a)?emia"), ("tumor", "tumou?r"))
_SEPARATOR = r"[\s\-]+"


def strip_accents(text: str) -> str:
    return fold_accents(text).replace("’", "'")


def _is_acronym(term: str) -> bool:
    return term == term.upper()


def _term_pattern(term: str) -> str:
    words = [
        re.escape(word)
        for word in re.split(_SEPARATOR, term.casefold() if not _is_acronym(term) else term)
    ]
    pattern = _SEPARATOR.join(words)
    for plain, spelled in _SPELLINGS:
        pattern = pattern.replace(plain, spelled)
    return rf"(?<!\w)(?<!non[\s\-])(?:{pattern})s?(?!\w)"


@cache
def _patterns() -> dict[str, tuple[re.Pattern | None, re.Pattern | None]]:
    """Per diagnosis: one pattern for its phrases (on case-folded text) and one for its
    acronyms (on the text as written)."""
    patterns = {}
    for diagnosis, terms in SYNONYMS.items():
        phrases = [_term_pattern(t) for t in terms if not _is_acronym(t)]
        acronyms = [_term_pattern(t) for t in terms if _is_acronym(t)]
        patterns[diagnosis] = (
            re.compile("|".join(phrases)) if phrases else None,
            re.compile("|".join(acronyms)) if acronyms else None,
        )
    return patterns


def diagnoses_named(texts: Iterable[str]) -> set[str]:
    """The diagnosis values that any of ``texts`` (conditions, keywords) names."""
    written = [strip_accents(text) for text in texts if text]
    folded = [text.casefold() for text in written]
    found = set()
    for diagnosis, (phrases, acronyms) in _patterns().items():
        if (phrases and any(phrases.search(text) for text in folded)) or (
            acronyms and any(acronyms.search(text) for text in written)
        ):
            found.add(diagnosis)
    return found


def diagnoses_key(texts: Iterable[str]) -> str:
    """What Trial.diagnoses stores: "|all|aml|", so a match is a LIKE on "|all|"."""
    return "|" + "".join(f"{value}|" for value in sorted(diagnoses_named(texts)))
