"""``flask trials import``: every input shape, the upsert, malformed records, unreadable
files, ages and countries, checked through the CLI and the database."""

from __future__ import annotations

import copy
import json
import shutil
import zipfile
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from microsite.extensions import db
from microsite.models import Lead, Trial, TrialContact, TrialDiagnosis, TrialImport, TrialSite
from microsite.trials import catalog, files, matching
from tests.helpers import TRIAL_FIXTURES, count, lead_values

STUDY = json.loads((TRIAL_FIXTURES / "study.json").read_text())

NDJSON_PROBLEMS = [
    "studies.ndjson line 2: eligibilityModule.minimumAge '3 Fortnights' is not an age like "
    "'6 Months' or '18 Years'",
    "studies.ndjson line 4: not valid JSON (Expecting ',' delimiter at character 101)",
    "studies.ndjson line 5: eligibilityModule.minimumAge is above maximumAge",
    "studies.ndjson line 6: identificationModule.nctId missing",
    "studies.ndjson line 7: statusModule.lastUpdatePostDateStruct.date 'last Tuesday' is not a "
    "date like 2026-11-28 or 2026-11",
    "studies.ndjson line 9: not a study object",
    "studies.ndjson line 10: eligibilityModule.maximumAge 'twenty Years' is not an age like "
    "'6 Months' or '18 Years'",
]


def run_import(app, *files):
    return app.test_cli_runner().invoke(args=["trials", "import", *map(str, files)])


def trial(app, nct_id) -> Trial | None:
    """The trial with its sites and contacts loaded, detached from the session."""
    with app.app_context():
        query = select(Trial).filter_by(nct_id=nct_id)
        loaded = query.options(selectinload(Trial.sites), selectinload(Trial.contacts))
        found = db.session.scalar(loaded)
        if found is not None:
            db.session.expunge(found)
        return found


def nct_ids(app) -> list[str]:
    with app.app_context():
        return sorted(db.session.scalars(select(Trial.nct_id)))


def write_study(folder: Path, name: str, study: dict) -> Path:
    path = folder / name
    path.write_text(json.dumps(study))
    return path


def a_study(nct_id="NCT99990900", **eligibility) -> dict:
    study = copy.deepcopy(STUDY)
    study["protocolSection"]["identificationModule"]["nctId"] = nct_id
    ages = study["protocolSection"]["eligibilityModule"]
    ages.pop("minimumAge"), ages.pop("maximumAge")
    ages.update(eligibility)
    return study


# Input shapes ----------------------------------------------------------------------------


def test_one_study_object_is_stored_with_its_sites_contacts_and_diagnoses(make_app):
    app = make_app()
    result = run_import(app, TRIAL_FIXTURES / "study.json")
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "Studies: 1 new, 0 updated, 0 unchanged, 0 skipped.\n"
        "Unrecognized countries: 1 (Narnia (1 site)); kept as given, without an ISO code.\n"
    )
    assert result.stderr == ""
    stored = trial(app, "NCT99990001")
    assert stored.brief_title == "Fictional Study of Dinutuximab Beta in Relapsed Neuroblastoma"
    assert stored.brief_summary.startswith("A fictional study")
    assert stored.overall_status == "RECRUITING"
    assert stored.phases == ["PHASE2"]
    assert stored.conditions == ["Neuroblastoma", "Ganglioneuroblastoma"]
    assert stored.keywords == ["relapsed", "GD2"]
    assert (stored.min_age_months, stored.max_age_months) == (6, 252)
    assert stored.sex == "ALL"
    assert stored.last_update_on == date(2026, 11, 2)
    assert stored.diagnoses == "|neuroblastoma|"
    assert stored.imported_at is not None
    assert stored.eligibility_criteria.startswith("Inclusion Criteria:\n\n* Diagnosis of")
    assert stored.eligibility_criteria.endswith("* Prior treatment with the study drug")
    contacts = [(s.contact_name, s.contact_phone, s.contact_email) for s in stored.sites[:2]]
    assert contacts == [  # a site's first listed contact, the extension with the phone
        ("Site Desk (fictional)", "555-0142 ext. 7", "boston-site@example.org"),
        (None, None, None),
    ]
    sites = [(s.facility, s.city, s.country, s.country_code, s.status) for s in stored.sites]
    assert sites == [
        ("Fictional Children's Hospital", "Boston", "United States", "US", "RECRUITING"),
        ("Fictional Royal Infirmary", "Leeds", "United Kingdom", "GB", "RECRUITING"),
        (
            "Fictional University Hospital",
            "Seoul",
            "Korea, Republic of",
            "KR",
            "NOT_YET_RECRUITING",
        ),
        ("Fictional Hacettepe Clinic", "Ankara", "Turkey", "TR", "RECRUITING"),
        ("Fictional Ege Clinic", "Izmir", "Türkiye", "TR", "RECRUITING"),
        (None, "Brno", "Czechia", "CZ", "RECRUITING"),
        ("Fictional Taipei Centre", "Taipei", "Taiwan", "TW", "COMPLETED"),
        ("Fictional Cair Paravel Infirmary", "Cair Paravel", "Narnia", None, "RECRUITING"),
    ]
    boston, izmir = stored.sites[0], stored.sites[4]
    assert (boston.state, boston.postal_code, boston.latitude, boston.longitude) == (
        "Massachusetts",
        "02115",
        42.3601,
        -71.0589,
    )
    assert (izmir.latitude, izmir.longitude) == (None, None)
    contacts = [(c.name, c.role, c.phone, c.email) for c in stored.contacts]
    assert contacts == [
        ("Trial Desk (fictional)", "CONTACT", "555-0100 ext. 12", "trials@example.org"),
        ("Backup Desk (fictional)", "BACKUP", None, "backup@example.org"),
    ]
    with app.app_context():
        run = db.session.scalar(select(TrialImport))
        assert (run.source, run.new, run.updated, run.skipped) == ("import", 1, 0, 0)
        assert run.finished_at >= run.started_at


def test_a_list_of_studies(make_app):
    app = make_app()
    result = run_import(app, TRIAL_FIXTURES / "list.json")
    assert result.exit_code == 0
    assert result.stdout.startswith(
        "Studies: 3 new, 0 updated, 0 unchanged, 0 skipped.\nUnrecognized countries: 0.\n"
    )
    assert nct_ids(app) == ["NCT99990002", "NCT99990003", "NCT99990004"]
    infant = trial(app, "NCT99990002")
    assert (infant.min_age_months, infant.max_age_months) == (1, 18)  # 6 weeks down, 18 months
    assert infant.last_update_on == date(2026, 9, 1)  # "2026-09"
    assert infant.diagnoses == "|all|"
    no_limits = trial(app, "NCT99990003")
    assert (no_limits.min_age_months, no_limits.max_age_months) == (None, None)
    assert no_limits.overall_status == "AVAILABLE_SOMEDAY"  # unknown statuses kept as given
    assert no_limits.sites[0].status == "UNKNOWN_SITE_STATUS"
    assert no_limits.sites[0].country_code == "RU"
    newborn = trial(app, "NCT99990004")
    assert (newborn.min_age_months, newborn.max_age_months) == (0, 3)  # 30 days down
    assert [s.country_code for s in newborn.sites] == ["IR", "VN"]


def test_a_search_page_reports_its_malformed_record_and_imports_the_rest(make_app):
    app = make_app()
    result = run_import(app, TRIAL_FIXTURES / "page.json")
    assert result.exit_code == 0
    assert result.stderr == (
        "page.json studies[1]: identificationModule.nctId 'NCT9999006' is not NCT and 8 digits\n"
    )
    assert result.stdout == (
        "Studies: 2 new, 0 updated, 0 unchanged, 1 skipped.\n"
        "Unrecognized countries: 1 (Atlantis (1 site)); kept as given, without an ISO code.\n"
    )
    assert nct_ids(app) == ["NCT99990005", "NCT99990007"]
    hodgkin = trial(app, "NCT99990005")
    assert (hodgkin.min_age_months, hodgkin.max_age_months) == (0, 468)
    assert trial(app, "NCT99990007").max_age_months == 30  # 2.5 years
    with app.app_context():
        assert db.session.scalar(select(TrialImport.skipped)) == 1


def test_newline_delimited_json_lists_every_malformed_line_and_imports_the_rest(make_app):
    app = make_app()
    result = run_import(app, TRIAL_FIXTURES / "studies.ndjson")
    assert result.exit_code == 0
    assert result.stderr.splitlines() == NDJSON_PROBLEMS
    assert result.stdout.startswith("Studies: 2 new, 0 updated, 0 unchanged, 7 skipped.\n")
    assert nct_ids(app) == ["NCT99990008", "NCT99990013"]
    assert trial(app, "NCT99990008").phases == ["PHASE1", "PHASE2"]
    assert trial(app, "NCT99990013").max_age_months is None
    assert trial(app, "NCT99990013").sites[0].country_code == "CZ"  # "Czech Republic"


def test_newline_delimited_json_in_a_json_file_is_read_line_by_line(make_app, tmp_path):
    app = make_app()
    copy_ = tmp_path / "export.json"
    shutil.copy(TRIAL_FIXTURES / "studies.ndjson", copy_)
    result = run_import(app, copy_)
    assert result.exit_code == 0
    assert result.stderr.splitlines() == [
        p.replace("studies.ndjson", "export.json") for p in NDJSON_PROBLEMS
    ]
    assert nct_ids(app) == ["NCT99990008", "NCT99990013"]


@pytest.mark.parametrize("whole_member", [files.WHOLE_MEMBER, 0], ids=["read-whole", "streamed"])
def test_a_zip_of_json_files_like_the_bulk_download(make_app, tmp_path, monkeypatch, whole_member):
    monkeypatch.setattr(files, "WHOLE_MEMBER", whole_member)  # big members are streamed
    app = make_app()
    archive = tmp_path / "ctg.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        zipped.write(TRIAL_FIXTURES / "study.json", "ctg-studies/NCT99990001.json")
        zipped.write(TRIAL_FIXTURES / "list.json", "ctg-studies/list.json")
        zipped.write(TRIAL_FIXTURES / "page.json", "ctg-studies/page.json")
        zipped.write(TRIAL_FIXTURES / "studies.ndjson", "ctg-studies/studies.ndjson")
        zipped.writestr("ctg-studies/broken.json", '{"protocolSection": ')
        zipped.writestr("ctg-studies/README.txt", "not a study, not read")
        zipped.writestr("__MACOSX/ctg-studies/._NCT99990001.json", "resource fork, not read")
    result = run_import(app, archive)
    assert result.exit_code == 0, result.output
    problems = result.stderr.splitlines()
    assert problems == [
        "ctg.zip ctg-studies/page.json studies[1]: identificationModule.nctId 'NCT9999006' "
        "is not NCT and 8 digits",
        *[
            p.replace("studies.ndjson", "ctg.zip ctg-studies/studies.ndjson")
            for p in NDJSON_PROBLEMS
        ],
        "ctg.zip ctg-studies/broken.json: not valid JSON (Expecting value, line 1 column 21)",
    ]
    assert result.stdout.startswith("Studies: 8 new, 0 updated, 0 unchanged, 9 skipped.\n")
    assert len(nct_ids(app)) == 8
    assert count(app, TrialSite) == 8 + 5 + 3 + 2


@pytest.mark.parametrize("chunk", [7, 64, 1 << 20])
def test_a_json_list_is_streamed_element_by_element(make_app, tmp_path, monkeypatch, chunk):
    """Reads of a few characters split every element, number and separator of the list."""
    monkeypatch.setattr(files, "CHUNK", chunk)
    studies = json.loads((TRIAL_FIXTURES / "list.json").read_text())
    compact = tmp_path / "compact.json"
    compact.write_text(json.dumps(studies, separators=(",", ":")))
    app = make_app()
    for path in (TRIAL_FIXTURES / "list.json", compact):
        result = run_import(app, path)
        assert result.exit_code == 0, result.output
    assert nct_ids(app) == ["NCT99990002", "NCT99990003", "NCT99990004"]
    assert count(app, TrialSite) == 5
    empty = tmp_path / "empty.json"
    empty.write_text(" [ ] ")
    assert run_import(app, empty).stdout.startswith(
        "Studies: 0 new, 0 updated, 0 unchanged, 0 skipped."
    )


def test_several_files_in_one_run(make_app):
    app = make_app()
    result = run_import(
        app,
        TRIAL_FIXTURES / "study.json",
        TRIAL_FIXTURES / "list.json",
        TRIAL_FIXTURES / "page.json",
    )
    assert result.exit_code == 0
    assert result.stdout.startswith("Studies: 6 new, 0 updated, 0 unchanged, 1 skipped.\n")
    assert "Unrecognized countries: 2 (Atlantis (1 site), Narnia (1 site))" in result.stdout
    assert count(app, TrialImport) == 1


# The upsert ------------------------------------------------------------------------------


def stored_rows(app) -> list[tuple]:
    """Every trial, site and contact row as stored, ids and import times included."""
    with app.app_context():
        return [
            tuple(row)
            for model in (Trial, TrialSite, TrialContact)
            for row in db.session.execute(select(model.__table__).order_by(model.id))
        ]


def test_importing_unchanged_records_again_writes_nothing_and_never_duplicates(make_app):
    app = make_app()
    files = [
        TRIAL_FIXTURES / name for name in ("study.json", "list.json", "page.json", "studies.ndjson")
    ]
    first = run_import(app, *files)
    counts = [count(app, model) for model in (Trial, TrialSite, TrialContact)]
    assert first.stdout.startswith("Studies: 8 new, 0 updated, 0 unchanged, 8 skipped.\n")
    before = stored_rows(app)
    second = run_import(app, *files)
    assert second.exit_code == 0
    assert second.stdout.startswith("Studies: 0 new, 0 updated, 8 unchanged, 8 skipped.\n")
    assert [count(app, model) for model in (Trial, TrialSite, TrialContact)] == counts == [8, 18, 2]
    assert stored_rows(app) == before  # same ids, same import times: no row written
    with app.app_context():
        runs = db.session.execute(
            select(TrialImport.new, TrialImport.updated, TrialImport.unchanged).order_by(
                TrialImport.id
            )
        ).all()
        assert runs == [(8, 0, 0), (0, 0, 8)]


def test_a_changed_study_replaces_its_fields_sites_and_contacts(make_app, tmp_path):
    app = make_app()
    run_import(app, TRIAL_FIXTURES / "study.json")
    changed = copy.deepcopy(STUDY)
    protocol = changed["protocolSection"]
    protocol["identificationModule"]["briefTitle"] = "Fictional Study, Renamed"
    protocol["statusModule"]["overallStatus"] = "ACTIVE_NOT_RECRUITING"
    protocol["conditionsModule"] = {"conditions": ["Wilms Tumor"], "keywords": ["AML"]}
    protocol["eligibilityModule"]["maximumAge"] = "18 Years"
    protocol["contactsLocationsModule"] = {
        "locations": [{"facility": "Fictional New Site", "city": "Oslo", "country": "Norway"}]
    }
    result = run_import(app, write_study(tmp_path, "changed.json", changed))
    assert result.stdout.startswith("Studies: 0 new, 1 updated, 0 unchanged, 0 skipped.\n")
    stored = trial(app, "NCT99990001")
    assert stored.brief_title == "Fictional Study, Renamed"
    assert stored.overall_status == "ACTIVE_NOT_RECRUITING"
    assert stored.max_age_months == 216
    assert stored.diagnoses == "|aml|wilms|"  # recomputed on update
    assert [(s.facility, s.country_code) for s in stored.sites] == [("Fictional New Site", "NO")]
    assert stored.contacts == []
    assert (count(app, Trial), count(app, TrialSite), count(app, TrialContact)) == (1, 1, 0)


def test_the_same_study_twice_in_one_file_is_stored_once_the_later_winning(make_app, tmp_path):
    app = make_app()
    later = copy.deepcopy(STUDY)
    later["protocolSection"]["identificationModule"]["briefTitle"] = "The later copy"
    path = tmp_path / "twice.ndjson"
    path.write_text(json.dumps(STUDY) + "\n" + json.dumps(later) + "\n")
    result = run_import(app, path)
    assert result.stdout.startswith("Studies: 1 new, 1 updated, 0 unchanged, 0 skipped.\n")
    assert trial(app, "NCT99990001").brief_title == "The later copy"
    assert (count(app, Trial), count(app, TrialSite), count(app, TrialContact)) == (1, 8, 2)


def test_batches_commit_as_they_go_with_the_same_result(make_app, monkeypatch):
    monkeypatch.setattr(catalog, "BATCH_SIZE", 2)
    app = make_app()
    files = [
        TRIAL_FIXTURES / name for name in ("study.json", "list.json", "page.json", "studies.ndjson")
    ]
    assert run_import(app, *files).stdout.startswith(
        "Studies: 8 new, 0 updated, 0 unchanged, 8 skipped.\n"
    )
    assert run_import(app, *files).stdout.startswith(
        "Studies: 0 new, 0 updated, 8 unchanged, 8 skipped.\n"
    )
    assert (count(app, Trial), count(app, TrialSite), count(app, TrialContact)) == (8, 18, 2)


# Files that cannot be read ---------------------------------------------------------------


def corrupt_zip(folder: Path) -> Path:
    path = folder / "ctg.zip"
    path.write_bytes(b"PK\x03\x04 this is not really a zip file")
    return path


@pytest.mark.parametrize(
    "make_file, message",
    [
        (
            lambda folder: folder / "missing.json",
            "missing.json: cannot be read (No such file or directory)",
        ),
        (lambda folder: folder, "cannot be read (Is a directory)"),
        (lambda folder: write_text(folder / "notes.json", "hello"), "notes.json: not JSON"),
        (lambda folder: write_text(folder / "empty.json", ""), "empty.json: not JSON"),
        (corrupt_zip, "ctg.zip: not a readable zip file"),
    ],
    ids=["missing", "directory", "not-json", "empty", "corrupt-zip"],
)
def test_a_file_that_cannot_be_read_stops_the_run_before_anything_is_imported(
    make_app, tmp_path, make_file, message
):
    app = make_app()
    result = run_import(app, TRIAL_FIXTURES / "study.json", make_file(tmp_path))
    assert result.exit_code != 0
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert count(app, Trial) == 0
    assert count(app, TrialImport) == 0


def write_text(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_json_broken_part_way_keeps_what_was_read_and_exits_non_zero(make_app, tmp_path):
    app = make_app()
    broken = tmp_path / "broken.json"
    broken.write_text("[" + json.dumps(STUDY) + ', {"protocolSection": ')
    result = run_import(app, broken)
    assert result.exit_code == 1
    assert (
        result.stderr == "Error: broken.json: not valid JSON after element [1] (Expecting value)\n"
    )
    assert nct_ids(app) == ["NCT99990001"]
    with app.app_context():
        run = db.session.scalar(select(TrialImport))
        assert (run.new, run.finished_at) == (1, None)  # a run that did not finish


def test_one_json_object_that_does_not_parse_is_unreadable(make_app, tmp_path):
    app = make_app()
    broken = write_text(tmp_path / "study.json", '{"protocolSection": {"identificationModule": ')
    result = run_import(app, broken)
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: study.json: not valid JSON (Expecting value")
    assert count(app, Trial) == 0


def test_the_command_needs_a_file_and_says_what_it_does(make_app):
    runner = make_app().test_cli_runner()
    assert runner.invoke(args=["trials", "import"]).exit_code == 2
    help_ = runner.invoke(args=["trials", "import", "--help"])
    assert help_.exit_code == 0
    for words in ("search page", "newline-delimited JSON", ".zip", "Upserts by NCT id", "non-zero"):
        assert words in help_.output


# Ages and countries ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "minimum, maximum, months",
    [
        ("0 Years", "21 Years", (0, 252)),
        ("1 Year", "1 Year", (12, 12)),
        ("18 Months", "3 Months", None),  # minimum above maximum: malformed
        ("3 Months", "18 Months", (3, 18)),
        ("1 Month", "1 Months", (1, 1)),
        ("6 Weeks", "6 Weeks", (1, 2)),  # 1.38 months: down for a minimum, up for a maximum
        ("1 Week", "1 week", (0, 1)),
        ("30 Days", "30 Days", (0, 1)),  # 0.99 months
        ("31 Days", "61 Days", (1, 3)),  # 1.02 and 2.004 months
        ("24 Hours", "24 hours", (0, 1)),
        ("90 Minutes", "1 Minute", (0, 1)),
        ("2.5 Years", "2.5 Years", (30, 30)),
        ("1.5 Months", "1.5 Months", (1, 2)),
        ("  7 YEARS ", "8years", (84, 96)),
        (None, None, (None, None)),
        ("", "N/A", (None, None)),
        ("5 Years", None, (60, None)),
        (None, "39 Years", (None, 468)),
    ],
)
def test_ages_become_whole_months(make_app, tmp_path, minimum, maximum, months):
    eligibility = {
        key: value
        for key, value in (("minimumAge", minimum), ("maximumAge", maximum))
        if value is not None
    }
    app = make_app()
    result = run_import(app, write_study(tmp_path, "age.json", a_study(**eligibility)))
    assert result.exit_code == 0
    if months is None:
        assert result.stderr == "age.json: eligibilityModule.minimumAge is above maximumAge\n"
        assert count(app, Trial) == 0
    else:
        stored = trial(app, "NCT99990900")
        assert (stored.min_age_months, stored.max_age_months) == months


@pytest.mark.parametrize("field", ["minimumAge", "maximumAge"])
@pytest.mark.parametrize(
    "age",
    [
        "18",
        "Years",
        "18 Yrs",
        "eighteen Years",
        "-1 Years",
        "18 Years old",
        "1,5 Years",
        "1e3 Days",
        18,
        ["18 Years"],
    ],
)
def test_an_age_that_is_not_a_number_and_a_unit_makes_the_record_malformed(
    make_app, tmp_path, field, age
):
    app = make_app()
    result = run_import(app, write_study(tmp_path, "age.json", a_study(**{field: age})))
    assert result.exit_code == 0
    assert result.stderr == (
        f"age.json: eligibilityModule.{field} {age!r} is not an age like '6 Months' or '18 Years'\n"
    )
    assert result.stdout.startswith("Studies: 0 new, 0 updated, 0 unchanged, 1 skipped.\n")
    assert count(app, Trial) == 0


@pytest.mark.parametrize(
    "name, code",
    [
        ("United States", "US"),
        ("United Kingdom", "GB"),
        ("Korea, Republic of", "KR"),
        ("Turkey", "TR"),
        ("Türkiye", "TR"),
        ("Turkiye", "TR"),
        ("Russian Federation", "RU"),
        ("Iran, Islamic Republic of", "IR"),
        ("Czechia", "CZ"),
        ("Czech Republic", "CZ"),
        ("Taiwan", "TW"),
        ("Vietnam", "VN"),
        ("Bolivia", "BO"),
        ("Venezuela", "VE"),
        ("Moldova, Republic of", "MD"),
        ("Congo, The Democratic Republic of the", "CD"),
        ("Côte D'Ivoire", "CI"),
        ("Cote D'Ivoire", "CI"),
        ("Macedonia, The Former Yugoslav Republic of", "MK"),
        ("North Macedonia", "MK"),
        ("Palestinian Territory, occupied", "PS"),
        ("Libyan Arab Jamahiriya", "LY"),
        ("Hong Kong", "HK"),
        ("Puerto Rico", "PR"),
        ("Reunion", "RE"),
        ("germany", "DE"),
        ("Narnia", None),
        ("Kosovo", None),  # no ISO 3166-1 code (fuzzy matching would say Serbia)
        ("Former Serbia and Montenegro", None),
    ],
)
def test_countries_become_iso_codes_and_unknown_ones_are_kept_and_counted(
    make_app, tmp_path, name, code
):
    study = a_study()
    study["protocolSection"]["contactsLocationsModule"]["locations"] = [
        {"facility": "Fictional Site A", "city": "A", "country": name},
        {"facility": "Fictional Site B", "city": "B", "country": name},
    ]
    app = make_app()
    result = run_import(app, write_study(tmp_path, "countries.json", study))
    stored = trial(app, "NCT99990900")
    assert [(s.country, s.country_code) for s in stored.sites] == [(name, code)] * 2
    if code is None:
        assert f"Unrecognized countries: 1 ({name} (2 sites)); kept as given" in result.stdout
    else:
        assert "Unrecognized countries: 0." in result.stdout


@pytest.mark.parametrize(
    "change, reason",
    [
        (lambda s: s.pop("protocolSection"), "protocolSection missing"),
        (
            lambda s: s["protocolSection"]["identificationModule"].update(nctId="nct99990001"),
            "identificationModule.nctId 'nct99990001' is not NCT and 8 digits",
        ),
        (
            lambda s: s["protocolSection"]["identificationModule"].update(nctId="NCT999900011"),
            "identificationModule.nctId 'NCT999900011' is not NCT and 8 digits",
        ),
        (
            lambda s: s["protocolSection"]["identificationModule"].pop("briefTitle"),
            "identificationModule.briefTitle missing",
        ),
        (
            lambda s: s["protocolSection"]["conditionsModule"].update(conditions="Neuroblastoma"),
            "conditionsModule.conditions is not a list",
        ),
        (
            lambda s: s["protocolSection"]["contactsLocationsModule"]["locations"].append("Boston"),
            "contactsLocationsModule.locations[8] is not an object",
        ),
        (
            lambda s: s["protocolSection"]["statusModule"]["lastUpdatePostDateStruct"].update(
                date="2026-13-01"
            ),
            "statusModule.lastUpdatePostDateStruct.date '2026-13-01' is not a date like "
            "2026-11-28 or 2026-11",
        ),
    ],
)
def test_malformed_studies_say_which_field(make_app, tmp_path, change, reason):
    study = copy.deepcopy(STUDY)
    change(study)
    app = make_app()
    result = run_import(app, write_study(tmp_path, "bad.json", study), TRIAL_FIXTURES / "list.json")
    assert result.exit_code == 0
    assert result.stderr == f"bad.json: {reason}\n"
    assert result.stdout.startswith("Studies: 3 new, 0 updated, 0 unchanged, 1 skipped.\n")


def test_a_geo_point_out_of_range_is_left_out(make_app, tmp_path):
    study = a_study()
    study["protocolSection"]["contactsLocationsModule"]["locations"] = [
        {"city": "Nowhere", "country": "France", "geoPoint": {"lat": 123.0, "lon": 2.0}},
        {"city": "Half", "country": "France", "geoPoint": {"lat": 48.0}},
    ]
    app = make_app()
    run_import(app, write_study(tmp_path, "geo.json", study))
    assert [(s.latitude, s.longitude, s.facility) for s in trial(app, "NCT99990900").sites] == [
        (None, None, None),
        (None, None, None),
    ]


def test_text_encodings(make_app, tmp_path):
    """A byte-order mark is fine; a file that is not UTF-8 cannot be read; a zip member that
    is not UTF-8 is reported and the other members are imported."""
    app = make_app()
    with_bom = tmp_path / "bom.json"
    with_bom.write_bytes(b"\xef\xbb\xbf" + (TRIAL_FIXTURES / "study.json").read_bytes())
    assert run_import(app, with_bom).stdout.startswith(
        "Studies: 1 new, 0 updated, 0 unchanged, 0 skipped."
    )
    latin1 = tmp_path / "latin1.json"
    latin1.write_bytes(
        '{"protocolSection": {"identificationModule": {"briefTitle": "Hôpital"}}}'.encode("latin-1")
    )
    result = run_import(app, latin1)
    assert result.exit_code == 1
    assert result.stderr == "Error: latin1.json: not UTF-8 text (invalid continuation byte)\n"
    archive = tmp_path / "mixed.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("latin1.json", latin1.read_bytes())
        zipped.write(TRIAL_FIXTURES / "list.json", "list.json")
    result = run_import(app, archive)
    assert result.exit_code == 0
    assert result.stderr == "mixed.zip latin1.json: not UTF-8 text (invalid continuation byte)\n"
    assert result.stdout.startswith("Studies: 3 new, 0 updated, 0 unchanged, 1 skipped.")


def test_matching_follows_the_diagnoses_a_changed_study_gains_and_loses(make_app, tmp_path):
    app = make_app()
    run_import(app, TRIAL_FIXTURES / "study.json")  # neuroblastoma, recruiting, 6 months-21

    def matched(diagnosis: str) -> list[str]:
        with app.app_context():
            lead = Lead(**lead_values(diagnosis=diagnosis, patient_age=7, country="US"))
            return [trial.nct_id for trial in matching.match_trials(lead)]

    assert (matched("neuroblastoma"), matched("wilms")) == (["NCT99990001"], [])
    changed = copy.deepcopy(STUDY)
    changed["protocolSection"]["conditionsModule"] = {"conditions": ["Wilms Tumor"]}
    run_import(app, write_study(tmp_path, "changed.json", changed))
    assert (matched("neuroblastoma"), matched("wilms")) == ([], ["NCT99990001"])
    with app.app_context():
        db.session.delete(db.session.scalar(select(Trial)))
        db.session.commit()
    assert count(app, TrialDiagnosis) == 0  # removed with its trial
