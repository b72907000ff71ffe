"""The Spanish catalog check (tools/catalog_check.py): it passes on the real tree and fails
on a message missing from the catalog, left untranslated or marked fuzzy."""

from __future__ import annotations

import shutil

import pytest
from babel.messages.pofile import read_po, write_po

from tools import catalog_check

ROOT = catalog_check.ROOT
CATALOG = ROOT / catalog_check.CATALOG
MESSAGE = "Find your trial"


def test_the_catalog_translates_every_message():
    assert catalog_check.problems() == []


def _catalog_copy(tmp_path, change):
    with CATALOG.open("rb") as file:
        catalog = read_po(file)
    change(catalog)
    copy = tmp_path / "messages.po"
    with copy.open("wb") as file:
        write_po(file, catalog)
    return copy


def _remove(catalog):
    catalog.delete(MESSAGE)


def _empty(catalog):
    catalog[MESSAGE].string = ""


def _fuzzy(catalog):
    catalog[MESSAGE].flags.add("fuzzy")


@pytest.mark.parametrize(
    ("change", "problem"), [(_remove, "missing"), (_empty, "untranslated"), (_fuzzy, "fuzzy")]
)
def test_a_message_missing_untranslated_or_fuzzy_fails_the_check(tmp_path, capsys, change, problem):
    po = _catalog_copy(tmp_path, change)
    assert catalog_check.main(["--po", str(po)]) == 1
    out = capsys.readouterr().out
    assert f"{problem}: {MESSAGE!r}" in out
    assert "1 message(s) to translate" in out


def test_a_new_string_in_a_template_fails_the_check(tmp_path):
    """A template with a string nobody has translated yet: the check names it."""
    shutil.copy(ROOT / "babel.cfg", tmp_path / "babel.cfg")
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "new.html").write_text(
        "<p>{% trans %}A sentence nobody has translated{% endtrans %}</p>\n"
        "<p>{% trans %}Find your trial{% endtrans %}</p>\n"
    )
    found = catalog_check.problems(tmp_path, CATALOG)
    assert found == [
        "missing: 'A sentence nobody has translated' (templates/new.html:1)",
    ]
