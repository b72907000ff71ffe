"""The trial catalog: read ClinicalTrials.gov API v2 studies and upsert them by NCT id.

Reading (``read_studies``) accepts, per file:

- ``.zip``: the bulk download; every member named ``*.json``, ``*.ndjson`` or ``*.jsonl``
  is read in turn, one at a time, and may be any of the shapes below;
- ``.ndjson`` / ``.jsonl``: one study (or search page) per line, read line by line;
- ``.json``: a list of studies (streamed element by element, so a huge list is never
  held whole), a search page ``{"studies": [...], "nextPageToken": ...}`` or one study
  (read whole: the API serves at most 1,000 studies a page), or, when its first line is a
  complete JSON object on its own, newline-delimited JSON.

Each study comes with its position ("studies.ndjson line 17", "ctg.zip NCT99990001.json",
"page.json studies[3]") so a malformed record can be reported and skipped. A file that
cannot be read at all (missing, not JSON nor zip, a corrupt zip, JSON broken part-way
through a list) raises ``UnreadableFile``.

Ages: "<number> <unit>", the unit Year, Month, Week, Day, Hour or Minute, singular or
plural, any case; the number may have decimals ("2.5 Years" is 30 months). They become
whole months, a year being 12 months and a month 365.25 / 12 = 30.4375 days (a week is
7 / 30.4375 months, a day 1 / 30.4375, an hour and a minute in proportion). A minimum
rounds down and a maximum rounds up, so a boundary never excludes a child: "6 Weeks" is
1 month as a minimum and 2 as a maximum. A missing age, an empty one or "N/A" (the old
ClinicalTrials.gov spelling) means no limit; anything else makes the record malformed.
"""

from __future__ import annotations

import io
import itertools
import json
import math
import re
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import pycountry
from sqlalchemy import delete, insert, select

from ..extensions import db
from ..models import Trial, TrialContact, TrialImport, TrialSite, utcnow
from ..text import fold_accents
from .synonyms import diagnoses_key

NCT_ID = re.compile(r"NCT\d{8}")
BATCH_SIZE = 500  # studies per transaction
CHUNK = 1 << 20  # characters read at a time from a streamed JSON list
WHOLE_MEMBER = 8 << 20  # bytes: a zip member up to this size is read and parsed at once
LINE_SUFFIXES = (".ndjson", ".jsonl")
JSON_SUFFIXES = (".json", *LINE_SUFFIXES)

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


class UnreadableFile(Exception):
    """A file that cannot be read at all; the message names it and says why, on one line."""


class Malformed(ValueError):
    """A study that cannot be imported; the message says which field and why."""


class BadRecord(NamedTuple):
    """What ``read_studies`` yields in place of a study it could not parse (a bad line of
    newline-delimited JSON, a zip member that is not JSON)."""

    reason: str


# Reading ---------------------------------------------------------------------------------


def check_readable(paths: Iterable[str | Path]) -> None:
    """Fail before anything is imported if a file is missing, not a zip, or not JSON."""
    for path in map(Path, paths):
        try:
            with path.open("rb") as handle:
                start = handle.read(4096)
        except OSError as error:
            raise UnreadableFile(f"{path}: cannot be read ({error.strerror or error})") from None
        if _is_zip(path, start):
            try:
                with zipfile.ZipFile(path):
                    pass
            except (zipfile.BadZipFile, OSError) as error:
                raise UnreadableFile(f"{path}: not a readable zip file ({error})") from None
        elif start.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] not in (b"{", b"["):
            raise UnreadableFile(
                f"{path}: not JSON (a study, a list, a search page or one per line)"
            )


def _is_zip(path: Path, start: bytes) -> bool:
    return path.suffix.lower() == ".zip" or start.startswith(b"PK\x03\x04")


def read_studies(paths: Iterable[str | Path]) -> Iterator[tuple[str, object]]:
    """Yield ``(position, raw)`` for every study in every file, one at a time.

    ``raw`` is the parsed JSON of one study, or a ``BadRecord`` for a line or zip member
    that is not JSON. Raises ``UnreadableFile`` for a file that cannot be read at all.
    """
    for path in map(Path, paths):
        try:
            with path.open("rb") as handle:
                start = handle.read(4)
                handle.seek(0)
                if _is_zip(path, start):
                    yield from _read_zip(path, handle)
                else:
                    yield from _read_json(handle, path.name, path.name, whole_file=True)
        except OSError as error:
            raise UnreadableFile(f"{path}: cannot be read ({error.strerror or error})") from None


def _read_zip(path: Path, handle) -> Iterator[tuple[str, object]]:
    try:
        archive = zipfile.ZipFile(handle)
    except zipfile.BadZipFile as error:
        raise UnreadableFile(f"{path}: not a readable zip file ({error})") from None
    with archive:
        for member in archive.infolist():
            name = member.filename
            base = name.rsplit("/", 1)[-1]
            if member.is_dir() or name.startswith("__MACOSX/") or base.startswith("._"):
                continue
            if not base.lower().endswith(JSON_SUFFIXES):
                continue
            label = f"{path.name} {name}"
            try:
                if member.file_size <= WHOLE_MEMBER:  # the usual case: one study a member
                    data = archive.read(member)
                    try:
                        document = json.loads(data)
                    except ValueError:  # not JSON, not UTF-8, or several lines: look closer
                        yield from _read_json(io.BytesIO(data), label, name, whole_file=False)
                    else:
                        yield from _expand(document, label)
                    continue
                with archive.open(member) as stream:
                    yield from _read_json(stream, label, name, whole_file=False)
            except (zipfile.BadZipFile, EOFError, OSError) as error:
                raise UnreadableFile(f"{label}: corrupt zip member ({error})") from None


def _read_json(stream, label: str, name: str, whole_file: bool) -> Iterator[tuple[str, object]]:
    """One file's studies, whatever its shape. ``whole_file``: the file is everything we
    were given, so JSON that cannot be parsed makes it unreadable; a zip member that cannot
    be parsed is a bad record and the others are read."""
    with io.TextIOWrapper(stream, encoding="utf-8-sig", errors="strict", newline="") as text:
        yield from _read_text(text, label, name, whole_file)


def _read_text(text, label: str, name: str, whole_file: bool) -> Iterator[tuple[str, object]]:
    try:
        if name.lower().endswith(LINE_SUFFIXES):
            yield from _read_lines(text, label, first=None)
            return
        head = text.read(CHUNK)
        if head.lstrip().startswith("["):
            yield from _read_list(text, head, label)
            return
        text.seek(0)
        first = _first_line_object(text)
        if first is not None:
            yield from _read_lines(text, label, first=first)
            return
        text.seek(0)
        document = json.loads(text.read())
    except UnicodeDecodeError as error:
        problem = f"not UTF-8 text ({error.reason})"
    except json.JSONDecodeError as error:
        problem = f"not valid JSON ({error.msg}, line {error.lineno} column {error.colno})"
    else:
        yield from _expand(document, label)
        return
    if whole_file:
        raise UnreadableFile(f"{label}: {problem}")
    yield label, BadRecord(problem)


def _first_line_object(text) -> object | None:
    """The first line as JSON when it is a whole object by itself (newline-delimited JSON),
    else None (the file is one JSON document)."""
    line = text.readline()
    if not line.strip().startswith("{"):
        return None
    try:
        value = json.loads(line)
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def _read_lines(text, label: str, first: object | None) -> Iterator[tuple[str, object]]:
    """Newline-delimited JSON. ``first``: the first line, already parsed. A file of one
    line is named without "line 1"."""

    def numbered():
        number = 0
        if first is not None:
            number = 1
            yield number, first
        for line in text:
            number += 1
            if not line.strip():
                continue
            line = line.rstrip("\r\n")
            try:
                value = json.loads(line)
            except json.JSONDecodeError as error:
                value = BadRecord(f"not valid JSON ({error.msg} at character {error.pos + 1})")
            yield (
                number,
                value if isinstance(value, (dict, BadRecord)) else BadRecord("not a study object"),
            )

    lines = numbered()
    first_line = next(lines, None)
    if first_line is None:
        return
    second_line = next(lines, None)
    if second_line is None:
        yield from _expand(first_line[1], label)
        return
    for number, value in itertools.chain((first_line, second_line), lines):
        yield from _expand(value, f"{label} line {number}")


def _read_list(text, buffer: str, label: str) -> Iterator[tuple[str, object]]:
    """A top-level JSON list, decoded one element at a time from ``CHUNK``-sized reads."""
    decoder = json.JSONDecoder()
    position = buffer.index("[") + 1
    index = 0
    ended = False

    def fill(position: int) -> tuple[str, int, bool]:
        more = text.read(CHUNK)
        return buffer[position:] + more, 0, not more

    def broken(what: str) -> UnreadableFile:
        return UnreadableFile(f"{label}: not valid JSON after element [{index}] ({what})")

    expect_value = True  # after "[" or ","
    while True:
        while position < len(buffer) and buffer[position] in " \t\r\n":
            position += 1
        if position >= len(buffer):
            if ended:
                raise broken("the list never ends")
            buffer, position, ended = fill(position)
            continue
        character = buffer[position]
        if character == "]" and (not expect_value or index == 0):
            return
        if not expect_value:
            if character != ",":
                raise broken(f"unexpected {character!r}")
            position += 1
            expect_value = True
            continue
        try:
            value, end = decoder.raw_decode(buffer, position)
        except json.JSONDecodeError as error:
            if ended:
                raise broken(error.msg) from None
            buffer, position, ended = fill(position)
            continue
        if end == len(buffer) and not ended:  # a number or literal may go on in the next read
            buffer, position, ended = fill(position)
            continue
        yield f"{label} [{index}]", value
        index += 1
        position = end
        expect_value = False


def _expand(value: object, label: str) -> Iterator[tuple[str, object]]:
    """A parsed document: a list of studies, a search page, or one study."""
    if isinstance(value, list):
        for index, item in enumerate(value):
            yield f"{label} [{index}]", item
    elif isinstance(value, dict) and isinstance(value.get("studies"), list):
        for index, item in enumerate(value["studies"]):
            yield f"{label} studies[{index}]", item
    else:
        yield label, value


# Parsing ---------------------------------------------------------------------------------


@dataclass
class Study:
    trial: dict
    sites: list[dict]
    contacts: list[dict]


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
    identification = _module(protocol, "identificationModule")
    nct_id = identification.get("nctId")
    if not isinstance(nct_id, str) or not NCT_ID.fullmatch(nct_id.strip()):
        shown = "missing" if nct_id is None else f"{nct_id!r} is not NCT and 8 digits"
        raise Malformed(f"identificationModule.nctId {shown}")
    nct_id = nct_id.strip()
    title = _text(identification.get("briefTitle"), "identificationModule.briefTitle", 500)
    if title is None:
        raise Malformed("identificationModule.briefTitle missing")
    status = _module(protocol, "statusModule")
    description = _module(protocol, "descriptionModule")
    conditions_module = _module(protocol, "conditionsModule")
    design = _module(protocol, "designModule")
    eligibility = _module(protocol, "eligibilityModule")
    places = _module(protocol, "contactsLocationsModule")
    update = status.get("lastUpdatePostDateStruct") or {}
    if not isinstance(update, dict):
        raise Malformed("statusModule.lastUpdatePostDateStruct is not an object")

    conditions = _texts(conditions_module.get("conditions"), "conditionsModule.conditions")
    keywords = _texts(conditions_module.get("keywords"), "conditionsModule.keywords")
    minimum = age_in_months(
        eligibility.get("minimumAge"), "eligibilityModule.minimumAge", maximum=False
    )
    maximum = age_in_months(
        eligibility.get("maximumAge"), "eligibilityModule.maximumAge", maximum=True
    )
    if minimum is not None and maximum is not None and minimum > maximum:
        raise Malformed("eligibilityModule.minimumAge is above maximumAge")
    sex = _text(eligibility.get("sex"), "eligibilityModule.sex", 10)
    trial = {
        "nct_id": nct_id,
        "brief_title": title,
        "brief_summary": _text(description.get("briefSummary"), "descriptionModule.briefSummary"),
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

    sites = []
    for path, location in _objects_in(places, "locations"):
        values = {
            key: _text(location.get(source), f"{path}.{source}", SITE_LENGTHS[key])
            for key, source in (
                ("facility", "facility"),
                ("city", "city"),
                ("state", "state"),
                ("postal_code", "zip"),
                ("country", "country"),
                ("status", "status"),
            )
        }
        point = location.get("geoPoint")
        point = point if isinstance(point, dict) else {}
        latitude, longitude = (
            _number(point.get("lat"), -90, 90),
            _number(point.get("lon"), -180, 180),
        )
        if latitude is None or longitude is None:
            latitude = longitude = None
        values["country_code"] = country_code(values["country"]) if values["country"] else None
        values["latitude"], values["longitude"] = latitude, longitude
        sites.append(values)

    contacts = []
    for path, contact in _objects_in(places, "centralContacts"):
        values = {
            key: _text(contact.get(key), f"{path}.{key}", length)
            for key, length in CONTACT_LENGTHS.items()
        }
        extension = _text(contact.get("phoneExt"), f"{path}.phoneExt")
        if values["phone"] and extension:
            values["phone"] = f"{values['phone']} ext. {extension}"[:60]
        contacts.append(values)
    return Study(trial, sites, contacts)


def _objects_in(places: dict, key: str) -> Iterator[tuple[str, dict]]:
    """The objects of the list ``contactsLocationsModule.<key>``, each with its path; a list
    that is not one, or an item that is not an object, makes the record malformed."""
    items = places.get(key) or []
    if not isinstance(items, list):
        raise Malformed(f"contactsLocationsModule.{key} is not a list")
    for index, item in enumerate(items):
        path = f"contactsLocationsModule.{key}[{index}]"
        if not isinstance(item, dict):
            raise Malformed(f"{path} is not an object")
        yield path, item


# Upserting -------------------------------------------------------------------------------


@dataclass
class ImportReport:
    new: int = 0
    updated: int = 0
    skipped: int = 0
    unknown_countries: Counter = field(default_factory=Counter)  # name as given: sites
    seen: set[str] = field(default_factory=set)  # NCT ids imported in this run

    @property
    def unknown_country_sites(self) -> int:
        return sum(self.unknown_countries.values())


class Importer:
    """Upserts studies by NCT id, ``batch_size`` at a time, one transaction per batch.

    A re-imported trial gets its fields updated and its sites and contacts replaced. Each
    malformed record is passed to ``on_problem(position, reason)`` and skipped. Use as a
    context manager: leaving it records a ``TrialImport`` with the counts; after an
    ``UnreadableFile`` (or another error the caller names in ``keep_on``) the batches
    already parsed are kept and the run is recorded without ``finished_at``.
    """

    def __init__(
        self,
        source: str,
        on_problem: Callable[[str, str], None] | None = None,
        batch_size: int | None = None,
        keep_on: tuple[type[BaseException], ...] = (),
    ):
        self.source = source
        self.on_problem = on_problem or (lambda position, reason: None)
        self.batch_size = batch_size or BATCH_SIZE
        self.keep_on = (UnreadableFile, *keep_on)
        self.report = ImportReport()
        self.started_at = utcnow()
        self._batch: dict[str, Study] = {}

    def __enter__(self) -> Importer:
        return self

    def __exit__(self, kind, error, traceback) -> None:
        if error is not None and not isinstance(error, self.keep_on):
            db.session.rollback()
            return
        self.flush()
        db.session.add(
            TrialImport(
                source=self.source,
                started_at=self.started_at,
                finished_at=utcnow() if error is None else None,
                new=self.report.new,
                updated=self.report.updated,
                skipped=self.report.skipped,
            )
        )
        db.session.commit()

    def add(self, position: str, raw: object) -> bool:
        """Queue one study; False (and the problem reported) when it is malformed."""
        try:
            study = parse_study(raw)
        except Malformed as problem:
            self.report.skipped += 1
            self.on_problem(position, str(problem))
            return False
        nct_id = study.trial["nct_id"]
        if nct_id in self._batch:  # the same study twice in one batch: the later one counts
            self.flush()
        self._batch[nct_id] = study
        self.report.seen.add(nct_id)
        if len(self._batch) >= self.batch_size:
            self.flush()
        return True

    def flush(self) -> None:
        """Write the queued studies now, in one transaction."""
        if not self._batch:
            return
        batch, self._batch = self._batch, {}
        session = db.session
        existing = {
            trial.nct_id: trial
            for trial in session.scalars(select(Trial).where(Trial.nct_id.in_(list(batch))))
        }
        if existing:
            ids = [trial.id for trial in existing.values()]
            session.execute(
                delete(TrialSite).where(TrialSite.trial_id.in_(ids)),
                execution_options={"synchronize_session": False},
            )
            session.execute(
                delete(TrialContact).where(TrialContact.trial_id.in_(ids)),
                execution_options={"synchronize_session": False},
            )
        now = utcnow()
        trials = {}
        for nct_id, study in batch.items():
            trial = existing.get(nct_id)
            if trial is None:
                trial = Trial(**study.trial, imported_at=now)
                session.add(trial)
                self.report.new += 1
            else:
                for key, value in study.trial.items():
                    setattr(trial, key, value)
                trial.imported_at = now
                self.report.updated += 1
            trials[nct_id] = trial
            for site in study.sites:
                if site["country"] and site["country_code"] is None:
                    self.report.unknown_countries[site["country"]] += 1
        session.flush()  # the new trials get their ids
        sites = [
            {**site, "trial_id": trials[nct_id].id}
            for nct_id, study in batch.items()
            for site in study.sites
        ]
        contacts = [
            {**contact, "trial_id": trials[nct_id].id}
            for nct_id, study in batch.items()
            for contact in study.contacts
        ]
        if sites:
            session.execute(insert(TrialSite), sites)
        if contacts:
            session.execute(insert(TrialContact), contacts)
        session.commit()
        session.expunge_all()  # memory stays flat however many batches come


def import_files(
    paths: Iterable[str | Path],
    on_problem: Callable[[str, str], None] | None = None,
    batch_size: int | None = None,
) -> ImportReport:
    """Import every study in ``paths`` (``flask trials import``). Every file is checked
    first, so a missing or unreadable file stops the run before anything is imported."""
    paths = list(paths)
    check_readable(paths)
    with Importer("import", on_problem, batch_size) as importer:
        for position, raw in read_studies(paths):
            importer.add(position, raw)
    return importer.report
