"""SQL that formats CSV cells inside the database, so an export of a million rows does
not pay for a million Python calls per column.

Four constructs, compiled for SQLite and for PostgreSQL (the default):
- ``utc_text(column)``: a stored UTC timestamp as ISO 8601 with ``Z``;
- ``csv_safe(column)``: text a spreadsheet would run as a formula (starting with =, +, -,
  @, tab or CR) with a leading single quote; plain numbers and E.164 numbers untouched;
- ``words_in_order(value, order_by, where)``: the values of related rows as one text;
- ``joined_cells(*cells)`` (SQLite only): a row's cells as one text, separated by
  ``CELL_SEPARATOR`` (U+001F), NULL as empty: ``exports`` turns it into a CSV line.
"""

from __future__ import annotations

from sqlalchemy import String, aggregate_order_by, func, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement

# Cells that start like a formula yet are only a number, or an E.164 phone number, for
# PostgreSQL's regular expressions (SQLite checks the same with GLOBs: _csv_safe_sqlite).
# \A and \Z are the very start and end of the text; $ would also match before a final
# line end ("+7\n").
SAFE_PATTERN = r"\A([+-]?([0-9]+([.][0-9]+)?|[.][0-9]+)|[+][1-9][0-9]{1,14})\Z"


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
    # SAFE_PATTERN as GLOBs, with no call into Python: a cell that starts like a formula
    # is left alone only when it is a sign, then digits with at most one point, which is
    # not the last character (E.164 numbers are among them). Nested, so the GLOBs run only
    # for the cells that start like a formula (phone numbers, mostly).
    rest = f"substr({cell}, 2)"
    number = (
        f"{cell} GLOB '[+-][0-9.]*' AND {rest} NOT GLOB '*[^0-9.]*' "
        f"AND {rest} NOT GLOB '*.*.*' AND {rest} NOT GLOB '*.'"
    )
    return (
        f"CASE WHEN substr({cell}, 1, 1) IN ('=', '+', '-', '@', char(9), char(13)) "
        f"THEN CASE WHEN {number} THEN {cell} ELSE '''' || {cell} END "
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


# Between the cells of a joined row: a control character, which stored text does not hold
# (the forms refuse control characters); ``exports`` checks every row for it all the same.
CELL_SEPARATOR = "\x1f"


class joined_cells(FunctionElement):
    """``joined_cells(*cells)``: the cells as one text, CELL_SEPARATOR between them and
    NULL as an empty cell. For SQLite, where one printf() a row costs far less than handing
    every cell to Python. (printf() ends a text at a NUL character, which neither the
    forms nor PostgreSQL let in.)"""

    type = String()
    inherit_cache = True
    name = "joined_cells"


@compiles(joined_cells, "sqlite")
def _joined_cells_sqlite(element, compiler, **kw):
    cells = [compiler.process(cell, **kw) for cell in element.clauses]
    return f"printf('{CELL_SEPARATOR.join(['%s'] * len(cells))}', {', '.join(cells)})"
