"""Reading ClinicalTrials.gov API v2 studies from files in every shape they come in.

``read_studies`` accepts, per file:

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
"""

from __future__ import annotations

import io
import itertools
import json
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import NamedTuple

CHUNK = 1 << 20  # characters read at a time from a streamed JSON list
WHOLE_MEMBER = 8 << 20  # bytes: a zip member up to this size is read and parsed at once
LINE_SUFFIXES = (".ndjson", ".jsonl")
JSON_SUFFIXES = (".json", *LINE_SUFFIXES)


class UnreadableFile(Exception):
    """A file that cannot be read at all; the message names it and says why, on one line."""


class BadRecord(NamedTuple):
    """What ``read_studies`` yields in place of a study it could not parse (a bad line of
    newline-delimited JSON, a zip member that is not JSON)."""

    reason: str


def file_start(path: Path, size: int = 4096) -> bytes:
    """The first bytes of a file to import, or ``UnreadableFile`` saying why there are none."""
    try:
        with path.open("rb") as handle:
            return handle.read(size)
    except OSError as error:
        raise UnreadableFile(f"{path}: cannot be read ({error.strerror or error})") from None


def zip_members(path: Path) -> list[str]:
    """The member names of a zip file to import, or ``UnreadableFile`` if it is corrupt."""
    try:
        with zipfile.ZipFile(path) as archive:
            return archive.namelist()
    except (zipfile.BadZipFile, OSError) as error:
        raise UnreadableFile(f"{path}: not a readable zip file ({error})") from None


def check_readable(paths: Iterable[str | Path]) -> None:
    """Fail before anything is imported if a file is missing, not a zip, or not JSON."""
    for path in map(Path, paths):
        start = file_start(path)
        if _is_zip(path, start):
            zip_members(path)
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
