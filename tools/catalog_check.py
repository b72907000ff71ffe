"""Check the Spanish catalog against the code and templates: every message they use must
be in ``microsite/translations/es/LC_MESSAGES/messages.po``, translated (every plural form)
and not fuzzy. ``make test`` runs it before the tests.

    .venv/bin/python -m tools.catalog_check [--root DIR] [--po FILE]

The messages are extracted with ``pybabel extract -F babel.cfg`` into a temporary .pot,
so the check sees exactly what ``pybabel update`` would. Exit status 1 and one line per
problem when the catalog is behind.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
CATALOG = Path("microsite/translations/es/LC_MESSAGES/messages.po")
KEYWORDS = ("_l",)  # lazy_gettext, imported as _l; gettext and ngettext are defaults


def extract(root: Path, pot: Path) -> None:
    """The messages of the code and templates under ``root``, as ``pot``."""
    pybabel = Path(sys.executable).with_name("pybabel")
    command = [str(pybabel), "-q", "extract", "-F", "babel.cfg", "-o", str(pot)]
    command += [f"-k{keyword}" for keyword in KEYWORDS]
    subprocess.run([*command, "."], cwd=root, check=True)


def _where(message) -> str:
    return ", ".join(f"{path}:{line}" for path, line in message.locations[:2]) or "?"


def problems(root: Path = ROOT, po: Path | None = None) -> list[str]:
    """What is wrong with the catalog ``po`` (the Spanish one by default) for the messages
    under ``root``: missing, untranslated or fuzzy messages."""
    po = po or root / CATALOG
    with tempfile.TemporaryDirectory() as tmp:
        pot = Path(tmp) / "messages.pot"
        extract(root, pot)
        with pot.open("rb") as file:
            template = read_po(file)
    with po.open("rb") as file:
        catalog = read_po(file)
    found = []
    for message in template:
        if not message.id:
            continue  # the header
        msgid = message.id[0] if isinstance(message.id, tuple) else message.id
        translated = catalog.get(message.id, message.context)
        if translated is None:
            found.append(f"missing: {msgid!r} ({_where(message)})")
        elif translated.fuzzy:
            found.append(f"fuzzy: {msgid!r} ({_where(message)})")
        elif (
            not all(translated.string)
            if isinstance(translated.string, tuple)
            else not (translated.string)
        ):
            found.append(f"untranslated: {msgid!r} ({_where(message)})")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=ROOT, help="the tree to extract from")
    parser.add_argument("--po", type=Path, help="the catalog to check (the Spanish one)")
    args = parser.parse_args(argv)
    found = problems(args.root, args.po)
    for problem in found:
        print(problem)
    po = args.po or CATALOG
    if found:
        print(f"{po}: {len(found)} message(s) to translate: update it with pybabel update")
        return 1
    print(f"{po}: every message is translated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
