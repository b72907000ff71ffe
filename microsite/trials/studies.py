"""One ClinicalTrials.gov API v2 study turned into the rows of the catalog: the trial, its
sites and its central contacts. A study that cannot be imported raises ``Malformed``
saying which field is wrong.

Ages: "<number> <unit>", the unit Year, Month, Week, Day, Hour or Minute, singular or
plural, any case; the number may have decimals ("2.5 Years" is 30 months). They become
whole months, a year being 12 months and a month 365.25 / 12 = 30.4375 days (a week is
7 / 30.4375 months, a day 1 / 30.4375, an hour and a minute in proportion). A minimum
rounds down and a maximum rounds up, so a boundary never excludes a child: "6 Weeks" is
1 month as a minimum and 2 as a maximum. A missing age, an empty one or "N/A" (the old
ClinicalTrials.gov spelling) means no limit; anything else makes the record malformed.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from fractions import Fraction
from functools import lru_cache

import pycountry

from ..text import fold_accents
from .files import BadRecord
from .synonyms import diagnoses_key

NCT_ID = re.compile(r"NCT\d{8}")
DAYS_PER_MONTH = Fraction(36525, 1200)  # 365.25 / 12
MONTHS_PER_UNIT = {
    "year": Fraction(12),
    "month": Fraction(1),
    "week": 7 / DAYS_PER_MONTH,
    "day": 1 / DAYS_PER_MONTH,
    "hour": 1 / (24 * DAYS_PER_MONTH),
    "minute": 1 / (24 * 60 * DAYS_PER_MONTH),
}
AGE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(year|month|week|day|hour|minute)s?\s*", re.IGNORECASE)
NO_LIMIT = {"", "n/a"}

# ClinicalTrials.gov spellings that pycountry's lookup does not resolve (it does resolve
# "Korea, Republic of", "Russian Federation", "Iran, Islamic Republic of", "Czechia",
# "Taiwan", "Vietnam", "Bolivia", "Venezuela", "Türkiye" and the like by itself).
COUNTRY_SPELLINGS = {
    "turkey": "TR",
    "macedonia, the former yugoslav republic of": "MK",
    "libyan arab jamahiriya": "LY",
    "palestinian territory, occupied": "PS",
    "palestinian territories": "PS",
    "cape verde": "CV",
    "swaziland": "SZ",
    "virgin islands (u.s.)": "VI",
    "burma": "MM",
}

# Column lengths (models.py): longer text is cut, so PostgreSQL never refuses a row.
SITE_LENGTHS = {
    "facility": 300,
    "city": 120,
    "state": 120,
    "postal_code": 40,
    "country": 120,
    "status": 40,
}
CONTACT_LENGTHS = {"name": 200, "role": 40, "phone": 60, "email": 320}
SITE_CONTACT_LENGTHS = {"name": 200, "phone": 60, "email": 320}


class Malformed(ValueError):
    """A study that cannot be imported; the message says which field and why."""


@dataclass
class Study:
    trial: dict
    sites: list[dict]
    contacts: list[dict]

    def digest(self) -> str:
        """A fingerprint of every value imported: the same record gives the same digest."""
        content = json.dumps(
            [self.trial, self.sites, self.contacts], sort_keys=True, default=str
        ).encode()
        return hashlib.sha256(content).hexdigest()


def _module(protocol: dict, name: str) -> dict:
    module = protocol.get(name)
    if module is None:
        return {}
    if not isinstance(module, dict):
        raise Malformed(f"protocolSection.{name} is not an object")
    return module


def _text(value: object, path: str, length: int | None = None) -> str | None:
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise Malformed(f"{path} is not text")
    value = value.strip()
    if not value:
        return None
    return value[:length] if length else value


def _texts(value: object, path: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise Malformed(f"{path} is not a list")
    texts = [_text(item, f"{path}[{index}]") for index, item in enumerate(value)]
    return [text for text in texts if text]


def age_in_months(value: object, path: str, maximum: bool) -> int | None:
    """Whole months of an age "<number> <unit>"; a minimum rounds down, a maximum up."""
    if value is None or (isinstance(value, str) and value.strip().lower() in NO_LIMIT):
        return None
    found = AGE.fullmatch(value) if isinstance(value, str) else None
    if found is None:
        raise Malformed(f"{path} {value!r} is not an age like '6 Months' or '18 Years'")
    months = Fraction(found[1]) * MONTHS_PER_UNIT[found[2].lower()]
    return math.ceil(months) if maximum else math.floor(months)


def _last_update(value: object, path: str) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        for pattern, parts in ((r"(\d{4})-(\d{2})-(\d{2})", 3), (r"(\d{4})-(\d{2})", 2)):
            found = re.fullmatch(pattern, value.strip())
            if found:
                numbers = [int(part) for part in found.groups()] + [1] * (3 - parts)
                try:
                    return date(*numbers)
                except ValueError:
                    break
    raise Malformed(f"{path} {value!r} is not a date like 2026-11-28 or 2026-11")


def _number(value: object, low: float, high: float) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and low <= value <= high:
        return float(value)
    return None


def _plain(text: str) -> str:
    return fold_accents(text).strip().casefold()


@lru_cache(maxsize=1)
def _countries_without_accents() -> dict[str, str]:
    """pycountry's names without accents ("turkiye", "cote d'ivoire", "reunion")."""
    names = {}
    for country in pycountry.countries:
        for attribute in ("name", "official_name", "common_name"):
            if hasattr(country, attribute):
                names.setdefault(_plain(getattr(country, attribute)), country.alpha_2)
    return names


@lru_cache(maxsize=4096)
def country_code(name: str) -> str | None:
    """The ISO 3166-1 alpha-2 code of a country as ClinicalTrials.gov spells it, or None:
    our table of its own spellings, then pycountry's lookup (names and codes, any case),
    then pycountry's names without accents. No fuzzy matching: it guesses wrong (it reads
    "Kosovo" as Serbia)."""
    plain = _plain(name)
    if plain in COUNTRY_SPELLINGS:
        return COUNTRY_SPELLINGS[plain]
    try:
        return pycountry.countries.lookup(name.strip()).alpha_2
    except LookupError:
        return _countries_without_accents().get(plain)


def parse_study(raw: object) -> Study:
    """The rows of one study, or ``Malformed`` saying which field is wrong."""
    if isinstance(raw, BadRecord):
        raise Malformed(raw.reason)
    if not isinstance(raw, dict):
        raise Malformed("not a study object")
    protocol = raw.get("protocolSection")
    if not isinstance(protocol, dict):
        raise Malformed("protocolSection missing")
    places = _module(protocol, "contactsLocationsModule")
    return Study(_trial(protocol), _sites(places), _central_contacts(places))


def _nct_id_and_title(protocol: dict) -> tuple[str, str]:
    identification = _module(protocol, "identificationModule")
    nct_id = identification.get("nctId")
    if not isinstance(nct_id, str) or not NCT_ID.fullmatch(nct_id.strip()):
        shown = "missing" if nct_id is None else f"{nct_id!r} is not NCT and 8 digits"
        raise Malformed(f"identificationModule.nctId {shown}")
    title = _text(identification.get("briefTitle"), "identificationModule.briefTitle", 500)
    if title is None:
        raise Malformed("identificationModule.briefTitle missing")
    return nct_id.strip(), title


def _age_range(eligibility: dict) -> tuple[int | None, int | None]:
    """The minimum and maximum ages in whole months (None: no limit)."""
    minimum = age_in_months(
        eligibility.get("minimumAge"), "eligibilityModule.minimumAge", maximum=False
    )
    maximum = age_in_months(
        eligibility.get("maximumAge"), "eligibilityModule.maximumAge", maximum=True
    )
    if minimum is not None and maximum is not None and minimum > maximum:
        raise Malformed("eligibilityModule.minimumAge is above maximumAge")
    return minimum, maximum


def _trial(protocol: dict) -> dict:
    """The trial row: identity, status, phases, conditions, ages and the diagnosis key."""
    nct_id, title = _nct_id_and_title(protocol)
    status = _module(protocol, "statusModule")
    description = _module(protocol, "descriptionModule")
    conditions_module = _module(protocol, "conditionsModule")
    design = _module(protocol, "designModule")
    eligibility = _module(protocol, "eligibilityModule")
    update = status.get("lastUpdatePostDateStruct") or {}
    if not isinstance(update, dict):
        raise Malformed("statusModule.lastUpdatePostDateStruct is not an object")
    conditions = _texts(conditions_module.get("conditions"), "conditionsModule.conditions")
    keywords = _texts(conditions_module.get("keywords"), "conditionsModule.keywords")
    minimum, maximum = _age_range(eligibility)
    sex = _text(eligibility.get("sex"), "eligibilityModule.sex", 10)
    return {
        "nct_id": nct_id,
        "brief_title": title,
        "brief_summary": _text(description.get("briefSummary"), "descriptionModule.briefSummary"),
        "eligibility_criteria": _text(
            eligibility.get("eligibilityCriteria"), "eligibilityModule.eligibilityCriteria"
        ),
        "overall_status": _text(status.get("overallStatus"), "statusModule.overallStatus", 40)
        or "UNKNOWN",
        "phases": _texts(design.get("phases"), "designModule.phases"),
        "conditions": conditions,
        "keywords": keywords,
        "min_age_months": minimum,
        "max_age_months": maximum,
        "sex": sex.upper() if sex else None,
        "last_update_on": _last_update(
            update.get("date"), "statusModule.lastUpdatePostDateStruct.date"
        ),
        "diagnoses": diagnoses_key(conditions + keywords),
    }


_SITE_FIELDS = (
    ("facility", "facility"),
    ("city", "city"),
    ("state", "state"),
    ("postal_code", "zip"),
    ("country", "country"),
    ("status", "status"),
)


def _sites(places: dict) -> list[dict]:
    """The site rows: place, status, the country's ISO code and the coordinates (both or
    neither)."""
    sites = []
    for path, location in _objects_in(places, "locations"):
        values = {
            key: _text(location.get(source), f"{path}.{source}", SITE_LENGTHS[key])
            for key, source in _SITE_FIELDS
        }
        point = location.get("geoPoint")
        point = point if isinstance(point, dict) else {}
        latitude = _number(point.get("lat"), -90, 90)
        longitude = _number(point.get("lon"), -180, 180)
        if latitude is None or longitude is None:
            latitude = longitude = None
        values["country_code"] = country_code(values["country"]) if values["country"] else None
        values["latitude"], values["longitude"] = latitude, longitude
        values.update(_site_contact(location, path))
        sites.append(values)
    return sites


def _site_contact(location: dict, path: str) -> dict:
    """The site's first listed contact, as contact_name, contact_phone, contact_email."""
    contact = {f"contact_{key}": None for key in SITE_CONTACT_LENGTHS}
    for contact_path, first in _objects_in(location, "contacts", path):
        for key, length in SITE_CONTACT_LENGTHS.items():
            contact[f"contact_{key}"] = _text(first.get(key), f"{contact_path}.{key}", length)
        contact["contact_phone"] = _with_extension(contact["contact_phone"], first, contact_path)
        break
    return contact


def _with_extension(phone: str | None, contact: dict, path: str) -> str | None:
    extension = _text(contact.get("phoneExt"), f"{path}.phoneExt")
    if phone and extension:
        return f"{phone} ext. {extension}"[:60]
    return phone


def _central_contacts(places: dict) -> list[dict]:
    contacts = []
    for path, contact in _objects_in(places, "centralContacts"):
        values = {
            key: _text(contact.get(key), f"{path}.{key}", length)
            for key, length in CONTACT_LENGTHS.items()
        }
        values["phone"] = _with_extension(values["phone"], contact, path)
        contacts.append(values)
    return contacts


def _objects_in(
    places: dict, key: str, within: str = "contactsLocationsModule"
) -> Iterator[tuple[str, dict]]:
    """The objects of the list ``<within>.<key>``, each with its path; a list that is not
    one, or an item that is not an object, makes the record malformed."""
    items = places.get(key) or []
    if not isinstance(items, list):
        raise Malformed(f"{within}.{key} is not a list")
    for index, item in enumerate(items):
        path = f"{within}.{key}[{index}]"
        if not isinstance(item, dict):
            raise Malformed(f"{path} is not an object")
        yield path, item
