"""A trial's eligibility criteria (the record's markdown) split into its inclusion and
exclusion parts, for the trial's page. Plain text in, plain text out: rendering is
``pages.py``.

The rules:
- a heading is a line that starts by naming "inclusion criteria" or "exclusion criteria",
  in any case, optionally after "key", "main", "major", "general", "principal",
  "additional", "other" or "specific", and optionally followed by a short qualifier that
  starts like one ("for Part A", "(cohort 1)", "- stage 2", "in arm B");
- it counts as a heading when a colon follows the name, or it is a markdown heading
  ("# ..."), bold or italic ("**Inclusion criteria**"), written in capitals, the name
  alone ("Inclusion criteria", a bare "Inclusion" too) or the name and a qualifier in
  brackets. Text after the colon starts the part ("Exclusion criteria: none");
- a sentence that merely starts with the words ("Inclusion criteria are listed below:")
  is not a heading, and neither is a list item;
- text before the first heading is the lead-in; each part runs to the next heading; a
  part's lines are dedented together, so nested lists keep their depth;
- with no heading at all, the criteria are shown whole.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass

INCLUSION, EXCLUSION = "inclusion", "exclusion"
_LONGEST_HEADING = 120  # characters before the colon: a longer line is a sentence
_ATX = re.compile(r"#{1,6}(?:\s+|$)")
_ATX_CLOSING = re.compile(r"\s+#+\s*$")
# Bold or italic around the start of the line: "**Inclusion criteria:**", "__Inclusion__:".
_EMPHASIS = re.compile(r"(\*\*|__|\*|_)(?!\s)(.+?)(?<!\s)\1")
_NAME = re.compile(
    r"""
    (?P<label>
      (?:(?:key|main|major|general|principal|additional|other|specific)\s+)?
      (?P<kind>inclusion|exclusion)\b
      (?P<criteria>\s+criteria\b)?
      (?P<qualifier>[^:]*?)
    )
    \s*(?P<colon>:\s*(?P<rest>.*))?
    """,
    re.IGNORECASE | re.VERBOSE,
)
_QUALIFIER = re.compile(
    r"\s*(?:[(\[\-–—]|\d|(?:for|in|of|to|part|cohort|arm|group|stage|phase|step)\b)",
    re.IGNORECASE,
)
_BRACKETED = re.compile(r"\s*\([^()]*\)")  # "(cohort 1)"
_UNDERLINE = re.compile(r"\s*(?:=+|-+)\s*")  # a setext heading's second line
_ESCAPED = re.compile(r"\\([!-/:-@\[-`{-~])")  # CommonMark backslash escapes


@dataclass(frozen=True)
class Heading:
    kind: str  # INCLUSION or EXCLUSION
    label: str  # the heading as written, without its markup and colon
    rest: str  # text after the colon on the same line


@dataclass
class Part:
    kind: str
    label: str | None  # shown when it says more than "Inclusion criteria"
    text: str


@dataclass
class SplitCriteria:
    lead_in: str  # text before the first heading ("" when none)
    parts: list[Part]  # in the record's order; empty: no heading, show the text whole

    def of_kind(self, kind: str) -> list[Part]:
        return [part for part in self.parts if part.kind == kind]


def heading(line: str) -> Heading | None:
    """The inclusion or exclusion heading that ``line`` is, or None."""
    text = line.strip()
    if not text or len(text.split(":", 1)[0]) > _LONGEST_HEADING:
        return None
    marked = False
    atx = _ATX.match(text)
    if atx:
        text, marked = _ATX_CLOSING.sub("", text[atx.end() :]), True
    emphasis = _EMPHASIS.match(text)
    if emphasis:
        text, marked = emphasis[2] + text[emphasis.end() :], True
    text = _ESCAPED.sub(r"\1", text.replace("**", "").replace("__", "")).strip()
    found = _NAME.fullmatch(text)
    if found is None:
        return None
    qualifier = found["qualifier"]
    if qualifier and (not found["criteria"] or not _QUALIFIER.match(qualifier)):
        return None
    label = found["label"].strip()
    bracketed = _BRACKETED.fullmatch(qualifier)
    if not (found["colon"] or marked or label.isupper() or bracketed or not qualifier):
        return None
    return Heading(found["kind"].lower(), label, found["rest"] or "")


def _plain_label(heading: Heading) -> str | None:
    """The heading's words when they say more than the section's own heading does."""
    if heading.label.casefold() in {heading.kind, f"{heading.kind} criteria"}:
        return None
    return heading.label


def split_criteria(text: str) -> SplitCriteria:
    """The lead-in and the inclusion and exclusion parts of ``text``."""
    lead_in: list[str] = []
    parts: list[tuple[Heading, list[str]]] = []
    after_heading = False
    for line in text.splitlines():
        if after_heading and _UNDERLINE.fullmatch(line):
            after_heading = False
            continue
        found = heading(line)
        after_heading = found is not None
        if found is not None:
            parts.append((found, [found.rest] if found.rest else []))
        elif parts:
            parts[-1][1].append(line)
        else:
            lead_in.append(line)
    return SplitCriteria(
        lead_in=_block(lead_in),
        parts=[Part(found.kind, _plain_label(found), _block(lines)) for found, lines in parts],
    )


def _block(lines: list[str]) -> str:
    return textwrap.dedent("\n".join(lines)).strip("\n")
