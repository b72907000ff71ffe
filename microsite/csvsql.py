"""SQL that formats CSV cells inside the database, so an export of a million rows does
not pay for a million Python calls per column.

Three constructs, compiled for SQLite and for PostgreSQL (the default):
- ``utc_text(column)``: a stored UTC timestamp as ISO 8601 with ``Z``;
- ``csv_safe(column)``: text a spreadsheet would run as a formula (starting with =, +, -,
  @, tab or CR) with a leading single quote; plain numbers and E.164 numbers untouched;
- ``words_in_order(value, order_by, where)``: the values of related rows as one text.
"""

from __future__ import annotations

import re

from sqlalchemy import String, aggregate_order_by, func, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement

# Cells that start like a formula yet are only a number, or an E.164 phone number.
# \A and \Z are the very start and end of the text for Python (SQLite's REGEXP) and
# PostgreSQL alike; Python's $ would also match before a final line end ("+7\n").
SAFE_PATTERN = r"\A([+-]?([0-9]+([.][0-9]+)?|[.][0-9]+)|[+][1-9][0-9]{1,14})\Z"
_SAFE = re.compile(SAFE_PATTERN)


def sqlite_regexp(pattern: str, value) -> bool:
    """SQLite's REGEXP operator, which SQLite leaves to the application to provide."""
    if value is None:
        return False
    compiled = _SAFE if pattern == SAFE_PATTERN else re.compile(pattern)
    return compiled.search(value) is not None


class utc_text(FunctionElement):
    type = String()
    inherit_cache = True
    name = "utc_text"


class csv_safe(FunctionElement):
    type = String()
    inherit_cache = True
    name = "csv_safe"


def _argument(element, compiler, **kw) -> str:
    [column] = list(element.clauses)
    return compiler.process(column, **kw)


@compiles(utc_text, "sqlite")
def _utc_text_sqlite(element, compiler, **kw):
    return f"strftime('%Y-%m-%dT%H:%M:%SZ', {_argument(element, compiler, **kw)})"


@compiles(utc_text)
def _utc_text_postgresql(element, compiler, **kw):
    return f"""to_char({_argument(element, compiler, **kw)}, 'YYYY-MM-DD"T"HH24:MI:SS"Z"')"""


@compiles(csv_safe, "sqlite")
def _csv_safe_sqlite(element, compiler, **kw):
    cell = _argument(element, compiler, **kw)
    # Nested, so the pattern (a Python function here) runs only for the rare cells that
    # start like a formula.
    return (
        f"CASE WHEN substr({cell}, 1, 1) IN ('=', '+', '-', '@', char(9), char(13)) "
        f"THEN CASE WHEN {cell} REGEXP '{SAFE_PATTERN}' THEN {cell} ELSE '''' || {cell} END "
        f"ELSE {cell} END"
    )


@compiles(csv_safe)
def _csv_safe_postgresql(element, compiler, **kw):
    cell = _argument(element, compiler, **kw)
    return (
        f"CASE WHEN {cell} ~ '^[=+@\\t\\r-]' AND {cell} !~ '{SAFE_PATTERN}' "
        f"THEN '''' || {cell} ELSE {cell} END"
    )


class words_in_order(ColumnElement):
    """``words_in_order(value, order_by, where)``: ``value`` of every row ``where`` picks
    (a condition on one table, correlated to the enclosing query), in ``order_by`` order,
    as one text separated by spaces; NULL when there is none.

    PostgreSQL orders inside the aggregate (string_agg ... ORDER BY); SQLite before 3.44
    cannot, so it concatenates the rows of an ordered subquery.
    """

    type = String()
    inherit_cache = False

    def __init__(self, value, order_by, where):
        self.value, self.order_by, self.where = value, order_by, where


@compiles(words_in_order, "sqlite")
def _words_in_order_sqlite(element, compiler, **kw):
    rows = (
        select(element.value.label("word"))
        .where(element.where)
        .order_by(element.order_by)
        .correlate_except(element.value.table)  # through the subquery to the outer query
        .subquery()
    )
    query = select(func.group_concat(rows.c.word, " ")).scalar_subquery()
    return compiler.process(query, **kw)


@compiles(words_in_order)
def _words_in_order_postgresql(element, compiler, **kw):
    words = aggregate_order_by(func.string_agg(element.value, " "), element.order_by)
    query = select(words).where(element.where).scalar_subquery()
    return compiler.process(query, **kw)
