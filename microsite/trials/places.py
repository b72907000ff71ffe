"""Postal codes located on this server: a family's postal code is never sent to another
service.

The ``postal_place`` table holds each code's centre. The United States (and the
territories the US Postal Service serves, each under its own ISO code) come with the install
from the ``zipcodes`` package, loaded by ``flask content load``; other countries from
GeoNames postal-code dumps (``flask places import``: one country's ``XX.zip`` or ``XX.txt``,
or ``allCountries.zip``). GeoNames data is CC BY 4.0: the site credits it on every page.

Normalization, the same when stored and when looked up: upper case without spaces or
dashes. A look-up tries the whole code, then the part of it that the country's dump holds
(``PREFIX_RULES``), so "60637-1234" finds 60637 and "SW1A 1AA" finds SW1A. A code that is
not found is "not located", never an error for the family.

A dump may list a code more than once (one line per locality): its centre is the average
of their coordinates, and its place name the first one listed. Lines go through a
temporary table and the database groups them, so memory stays flat however big the dump.
"""

from __future__ import annotations

import io
import math
import re
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import (
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    func,
    insert,
    select,
    true,
)
from sqlalchemy.dialects import postgresql, sqlite

from ..extensions import db
from ..models import PostalPlace
from .files import UnreadableFile, file_start, zip_members

# ZIP codes the zipcodes package files under US that belong to a country of their own on
# the form (Puerto Rico, the US Virgin Islands, Guam, the Northern Mariana Islands,
# American Samoa, and the freely associated states the US Postal Service serves). Military
# codes (AA, AE, AP) are no place a family lives: skipped.
ZIP_STATES_WITH_OWN_COUNTRY = {"PR", "VI", "GU", "MP", "AS", "FM", "MH", "PW"}
MILITARY_STATES = {"AA", "AE", "AP"}
US_ZIP_COUNTRIES = ("US", *sorted(ZIP_STATES_WITH_OWN_COUNTRY))


def _first(length: int) -> Callable[[str], str]:
    return lambda code: code[:length]


def _outward_code(code: str) -> str:
    """A UK postcode's outward code: all but the three characters of the inward code."""
    return code[:-3] if len(code) > 4 else code


# The shorter code a country's dump holds, for a code typed in full.
PREFIX_RULES: dict[str, tuple[str, Callable[[str], str]]] = {
    **{country: ("the first 5 digits (ZIP+4)", _first(5)) for country in US_ZIP_COUNTRIES},
    "GB": ("the outward code", _outward_code),
    "CA": ("the first three characters", _first(3)),
    "IE": ("the first three characters", _first(3)),
    "NL": ("the four digits", _first(4)),
}

_SEPARATORS = re.compile(r"[\s\-‐‑‒–—]+")
GEONAMES_COLUMNS = 12
BATCH_ROWS = 5000
PLACE_NAME_LENGTH = 180
REGION_LENGTH = 100


def normalize(postal_code: str) -> str:
    """A postal code as stored and looked up: upper case, no spaces or dashes."""
    return _SEPARATORS.sub("", postal_code).upper()


def lookup_codes(country: str, postal_code: str) -> list[str]:
    """The codes to try for a postal code, whole first, then the country's prefix."""
    code = normalize(postal_code)
    if not code:
        return []
    codes = [code]
    rule = PREFIX_RULES.get(country)
    if rule is not None:
        shorter = rule[1](code)
        if shorter and shorter != code:
            codes.append(shorter)
    return codes


@dataclass(frozen=True)
class Place:
    country: str
    postal_code: str
    place_name: str | None
    region: str | None
    latitude: float
    longitude: float


_PLACE = select(
    PostalPlace.country,
    PostalPlace.postal_code,
    PostalPlace.place_name,
    PostalPlace.region,
    PostalPlace.latitude,
    PostalPlace.longitude,
)
# Built once with bound parameters: building a statement costs more than running it.
_PLACE_OF_CODE = _PLACE.where(
    PostalPlace.country == bindparam("country"), PostalPlace.postal_code == bindparam("code")
)


def locate(country: str | None, postal_code: str | None) -> Place | None:
    """The centre of a postal code in a country, or None when it is not known here."""
    if not country or not postal_code:
        return None
    for code in lookup_codes(country, postal_code):
        row = db.session.execute(_PLACE_OF_CODE, {"country": country, "code": code}).first()
        if row is not None:
            return Place(*row)
    return None


# Loading ---------------------------------------------------------------------------------

_staging = Table(
    "postal_place_staging",
    MetaData(),
    Column("line", Integer, nullable=False),
    Column("country", String(2), nullable=False),
    Column("postal_code", String(20), nullable=False),
    Column("place_name", String(PLACE_NAME_LENGTH)),
    Column("region", String(REGION_LENGTH)),
    Column("latitude", Float, nullable=False),
    Column("longitude", Float, nullable=False),
    # The merge reads each code's lines in order: first listed name, average position.
    Index("ix_postal_place_staging_code", "country", "postal_code", "line"),
    prefixes=["TEMPORARY"],
)


def store(rows: Iterable[dict]) -> int:
    """Upsert postal places from rows (line, country, postal_code, place_name, region,
    latitude, longitude), averaging a code given more than once. Returns the number of
    codes written. The caller commits."""
    connection = db.session.connection()
    _staging.drop(connection, checkfirst=True)
    _staging.create(connection)
    batch: list[dict] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= BATCH_ROWS:
            connection.execute(insert(_staging), batch)
            batch = []
    if batch:
        connection.execute(insert(_staging), batch)
    codes = select(_staging.c.country).group_by(_staging.c.country, _staging.c.postal_code)
    written = connection.scalar(select(func.count()).select_from(codes.subquery()))
    connection.execute(_merge_statement(connection.dialect.name))
    _staging.drop(connection)
    return written


def _merge_statement(dialect: str):
    staged = _staging.c
    first = _staging.alias("first_listed")

    def first_listed(column: str):
        """The code's value of ``column`` on the first line that lists it."""
        return (
            select(first.c[column])
            .where(first.c.country == staged.country, first.c.postal_code == staged.postal_code)
            .order_by(first.c.line)
            .limit(1)
            .scalar_subquery()
        )

    grouped = (
        select(
            staged.country,
            staged.postal_code,
            first_listed("place_name"),
            first_listed("region"),
            func.avg(staged.latitude),
            func.avg(staged.longitude),
        )
        .where(true())  # SQLite needs a WHERE before ON CONFLICT in INSERT ... SELECT
        .group_by(staged.country, staged.postal_code)
    )
    columns = ["country", "postal_code", "place_name", "region", "latitude", "longitude"]
    dialect_insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = dialect_insert(PostalPlace.__table__).from_select(columns, grouped)
    return statement.on_conflict_do_update(
        index_elements=["country", "postal_code"],
        set_={name: statement.excluded[name] for name in columns[2:]},
    )


def us_zip_rows() -> Iterator[dict]:
    """The zipcodes package's ZIP codes as rows, territories under their own ISO codes,
    military codes left out. Read a three-digit prefix at a time: the package's whole list
    would hold about 180 MB while loading."""
    from zipcodes import _zipcodes  # the compiled core; its similar_to returns small lists

    line = 0
    for prefix in range(1000):
        for entry in _zipcodes.similar_to(f"{prefix:03d}"):
            state = entry["state"]
            latitude, longitude = float(entry["lat"]), float(entry["long"])
            if state in MILITARY_STATES or (latitude == 0 and longitude == 0):
                continue
            line += 1
            yield {
                "line": line,
                "country": state if state in ZIP_STATES_WITH_OWN_COUNTRY else "US",
                "postal_code": normalize(entry["zip_code"]),
                "place_name": entry["city"][:PLACE_NAME_LENGTH] or None,
                "region": state,
                "latitude": latitude,
                "longitude": longitude,
            }


def load_us_zip_codes() -> int:
    """Store the US ZIP codes that come with the install (``flask content load``)."""
    written = store(us_zip_rows())
    db.session.commit()
    return written


# GeoNames dumps --------------------------------------------------------------------------


@dataclass
class GeoNamesReport:
    lines: int = 0
    skipped: int = 0
    codes: int = 0


def check_geonames_files(paths: Iterable[str | Path]) -> None:
    """Fail before anything is imported if a file is missing or a zip is corrupt."""
    for path in map(Path, paths):
        if file_start(path, 4).startswith(b"PK") and not _dump_members(zip_members(path)):
            raise UnreadableFile(f"{path}: the zip holds no .txt dump")


def _dump_members(names: list[str]) -> list[str]:
    return [
        name
        for name in names
        if name.lower().endswith(".txt") and Path(name).name.lower() != "readme.txt"
    ]


def _dump_texts(paths: Iterable[str | Path]) -> Iterator[tuple[str, Iterable[str]]]:
    for path in map(Path, paths):
        with path.open("rb") as handle:
            is_zip = handle.read(2) == b"PK"
        if is_zip:
            with zipfile.ZipFile(path) as archive:
                for name in _dump_members(archive.namelist()):
                    with archive.open(name) as member:
                        yield f"{path.name} {name}", io.TextIOWrapper(member, "utf-8", "replace")
        else:
            with path.open(encoding="utf-8", errors="replace") as text:
                yield path.name, text


def _coordinate(text: str, limit: float) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) and -limit <= value <= limit else None


def parse_geonames_line(line: str) -> dict | str:
    """One dump line as a row, or the reason it cannot be imported."""
    columns = line.rstrip("\r\n").split("\t")
    if len(columns) not in (GEONAMES_COLUMNS - 1, GEONAMES_COLUMNS):  # accuracy may be absent
        return f"expected {GEONAMES_COLUMNS} tab-separated columns, found {len(columns)}"
    country, code, place_name, region = (c.strip() for c in columns[:4])
    if not re.fullmatch(r"[A-Za-z]{2}", country):
        return f"country code {country!r} is not two letters"
    code = normalize(code)
    if not code or len(code) > 20:
        return "the postal code is empty" if not code else "the postal code is too long"
    latitude, longitude = _coordinate(columns[9], 90), _coordinate(columns[10], 180)
    if latitude is None or longitude is None:
        return f"latitude {columns[9]!r} and longitude {columns[10]!r} are not a place"
    return {
        "country": country.upper(),
        "postal_code": code,
        "place_name": place_name[:PLACE_NAME_LENGTH] or None,
        "region": region[:REGION_LENGTH] or None,
        "latitude": latitude,
        "longitude": longitude,
    }


def import_geonames(
    paths: Iterable[str | Path], on_problem: Callable[[str, str], None] | None = None
) -> GeoNamesReport:
    """Import GeoNames postal-code dumps (``flask places import``); each malformed line is
    passed to ``on_problem(position, reason)`` and skipped."""
    paths = list(paths)
    check_geonames_files(paths)
    report = GeoNamesReport()
    on_problem = on_problem or (lambda position, reason: None)

    def rows() -> Iterator[dict]:
        for label, text in _dump_texts(paths):
            for number, line in enumerate(text, start=1):
                if not line.strip():
                    continue
                report.lines += 1
                row = parse_geonames_line(line)
                if isinstance(row, str):
                    report.skipped += 1
                    on_problem(f"{label} line {number}", row)
                    continue
                yield {"line": report.lines, **row}

    report.codes = store(rows())
    db.session.commit()
    return report
