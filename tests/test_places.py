"""Postal codes located offline: normalization, the US ZIP codes that come with the install,
GeoNames dumps, and the credit GeoNames' licence asks for."""

from __future__ import annotations

import zipfile

import pytest
from sqlalchemy import func, select

from microsite.extensions import db
from microsite.models import PostalPlace
from microsite.trials import places


@pytest.mark.parametrize(
    ("country", "typed", "tried"),
    [
        ("US", "60637", ["60637"]),
        ("US", "60637-1234", ["606371234", "60637"]),  # ZIP+4
        ("US", " 60637 1234 ", ["606371234", "60637"]),
        ("PR", "00901-2345", ["009012345", "00901"]),  # territories use ZIP codes too
        ("GB", "SW1A 1AA", ["SW1A1AA", "SW1A"]),  # the outward code
        ("GB", "m1 1ae", ["M11AE", "M1"]),
        ("GB", "EC1A", ["EC1A"]),  # an outward code alone
        ("CA", "K1A 0B1", ["K1A0B1", "K1A"]),  # the forward sortation area
        ("IE", "D02 X285", ["D02X285", "D02"]),  # the routing key
        ("NL", "1011 AB", ["1011AB", "1011"]),  # the four digits
        ("DE", "10115", ["10115"]),  # others as their dump holds them
        ("PT", "1000-001", ["1000001"]),
        ("JP", "100-0001", ["1000001"]),
        ("US", "", []),
        ("US", " - ", []),
    ],
)
def test_codes_are_normalized_the_same_way_when_stored_and_looked_up(country, typed, tried):
    assert places.lookup_codes(country, typed) == tried


def test_every_prefix_rule_says_what_it_keeps():
    assert set(places.PREFIX_RULES) >= {"US", "PR", "VI", "GU", "MP", "AS", "GB", "CA", "IE", "NL"}
    assert all(description for description, _ in places.PREFIX_RULES.values())


def count(app, **filters) -> int:
    with app.app_context():
        query = select(func.count()).select_from(PostalPlace).filter_by(**filters)
        return db.session.scalar(query)


def locate(app, country, code):
    with app.app_context():
        return places.locate(country, code)


def test_content_load_brings_the_us_zip_codes_and_territories_under_their_own_codes(app):
    result = app.test_cli_runner().invoke(args=["content", "load"])
    assert result.exit_code == 0, result.output
    stored = count(app)
    assert f"US ZIP codes: {stored} stored." in result.output
    assert count(app, country="US") > 40_000

    chicago = locate(app, "US", "60637-1234")
    assert (chicago.place_name, chicago.region) == ("Chicago", "IL")
    assert chicago.latitude == pytest.approx(41.78, abs=0.05)
    assert chicago.longitude == pytest.approx(-87.61, abs=0.05)
    san_juan = locate(app, "PR", "00901")
    assert (san_juan.country, san_juan.place_name) == ("PR", "San Juan")
    assert locate(app, "US", "00901") is None  # a family in Puerto Rico chooses PR
    assert locate(app, "GU", "96910").place_name == "Hagatna"
    assert locate(app, "VI", "00802") is not None
    assert count(app, postal_code="09001") == 0  # military codes are no place to live
    assert count(app, latitude=0, longitude=0) == 0

    again = app.test_cli_runner().invoke(args=["content", "load"])
    assert again.exit_code == 0, again.output
    assert count(app) == stored  # idempotent: nothing twice


def test_a_code_that_is_not_known_is_not_located(app):
    app.test_cli_runner().invoke(args=["content", "load"])
    assert locate(app, "US", "99999") is None
    assert locate(app, "US", "") is None
    assert locate(app, "US", None) is None
    assert locate(app, None, "60637") is None
    assert locate(app, "FR", "75001") is None  # no French dump loaded


def dump_line(country, code, place, region, latitude, longitude, accuracy="4") -> str:
    columns = [country, code, place, region, "R1", "", "", "", "", latitude, longitude, accuracy]
    return "\t".join(columns) + "\n"


GB_DUMP = (
    dump_line("GB", "SW1A", "London", "England", "51.5010", "-0.1416")
    + dump_line("GB", "M1", "Manchester", "England", "53.4800", "-2.2400")
    + dump_line("GB", "M1", "Manchester City Centre", "England", "53.4600", "-2.2200")
    + "GB\tEC1A\tonly four columns\n"
    + dump_line("GB", "EH1", "Edinburgh", "Scotland", "north", "-3.19")
    + dump_line("GB", "", "Nowhere", "England", "51", "0")
    + dump_line("GB", "AB10", "Aberdeen", "Scotland", "57.14", "-2.11", accuracy="")
)


def run_places_import(app, *paths):
    return app.test_cli_runner().invoke(args=["places", "import", *map(str, paths)])


def test_a_geonames_dump_is_imported_averaging_codes_listed_twice(app, tmp_path):
    dump = tmp_path / "GB.txt"
    dump.write_text(GB_DUMP, encoding="utf-8")
    result = run_places_import(app, dump)
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == [
        "GB.txt line 4: expected 12 tab-separated columns, found 3",
        "GB.txt line 5: latitude 'north' and longitude '-3.19' are not a place",
        "GB.txt line 6: the postal code is empty",
    ]
    assert "Postal codes: 7 lines read, 3 skipped, 3 codes stored." in result.stdout

    manchester = locate(app, "GB", "M1 1AE")
    assert manchester.place_name == "Manchester"  # the first listed
    assert manchester.latitude == pytest.approx(53.47)
    assert manchester.longitude == pytest.approx(-2.23)
    assert locate(app, "GB", "sw1a 1aa").place_name == "London"
    assert locate(app, "GB", "AB10 1XG").region == "Scotland"

    again = run_places_import(app, dump)
    assert again.exit_code == 0, again.output
    assert count(app, country="GB") == 3
    assert locate(app, "GB", "M1").latitude == pytest.approx(53.47)  # not averaged again


def test_a_zip_dump_is_read_without_its_readme(app, tmp_path):
    archive = tmp_path / "NL.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        zipped.writestr("readme.txt", "GeoNames postal codes\tnot\ta\tdump\n")
        zipped.writestr(
            "NL.txt", dump_line("NL", "1011", "Amsterdam", "Noord-Holland", "52.37", "4.90")
        )
    result = run_places_import(app, archive)
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert locate(app, "NL", "1011 AB").place_name == "Amsterdam"


@pytest.mark.parametrize(
    ("make_file", "message"),
    [
        (lambda folder: folder / "missing.txt", "missing.txt: cannot be read"),
        (
            lambda folder: _write(folder / "broken.zip", b"PK\x03\x04 not really"),
            "not a readable zip",
        ),
        (
            lambda folder: _zip_of(folder / "empty.zip", {"readme.txt": "no dump"}),
            "holds no .txt dump",
        ),
    ],
    ids=["missing", "corrupt-zip", "zip-without-dump"],
)
def test_a_file_that_cannot_be_read_stops_the_import_before_anything_is_stored(
    app, tmp_path, make_file, message
):
    good = tmp_path / "GB.txt"
    good.write_text(GB_DUMP, encoding="utf-8")
    result = run_places_import(app, good, make_file(tmp_path))
    assert result.exit_code == 1
    assert message in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert count(app) == 0


def _write(path, content: bytes):
    path.write_bytes(content)
    return path


def _zip_of(path, members: dict[str, str]):
    with zipfile.ZipFile(path, "w") as zipped:
        for name, text in members.items():
            zipped.writestr(name, text)
    return path


def test_places_import_has_help(app):
    result = app.test_cli_runner().invoke(args=["places", "import", "--help"])
    assert result.exit_code == 0
    assert "GeoNames" in result.output and "allCountries.zip" in result.output


@pytest.mark.parametrize("path", ["/", "/apply", "/privacy"])
def test_every_page_credits_geonames(client, path):
    page = client.get(path).get_data(as_text=True)
    assert 'href="https://www.geonames.org/"' in page
    assert "CC BY 4.0" in page
