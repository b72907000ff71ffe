"""The one table ``make bench`` prints: each measure, this run's figure, its baseline, the
ratio, the spread of the rounds and the target, with PASS or MISS.

Each benchmark calls ``record()`` for its rows. When ``BENCH_RESULTS`` names a file (the
Makefile sets it), the rows are appended to it as JSON lines, and ``python -m bench.results
FILE`` prints them all as one table at the end of the run; without it, a row is printed as
it is recorded. A row with no target says neither PASS nor MISS.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

COLUMNS = ("measure", "figure", "baseline", "ratio", "spread", "target", "result")


@dataclass(frozen=True)
class Result:
    measure: str
    figure: str
    baseline: str = ""
    ratio: str = ""
    spread: str = ""
    target: str = ""
    passed: bool | None = None

    @property
    def result(self) -> str:
        return {True: "PASS", False: "MISS", None: ""}[self.passed]

    def cells(self) -> list[str]:
        return [str(getattr(self, column)) for column in COLUMNS]


def record(
    measure: str,
    figure: str,
    baseline: str = "",
    ratio: float | None = None,
    spread: str = "",
    target: str = "",
    passed: bool | None = None,
) -> Result:
    """Add a row to this run's table (``ratio`` is printed with two decimals)."""
    result = Result(
        measure, figure, baseline, "" if ratio is None else f"{ratio:.2f}", spread, target, passed
    )
    path = os.environ.get("BENCH_RESULTS")
    if path:
        with open(path, "a", encoding="utf-8") as results:
            results.write(json.dumps(asdict(result)) + "\n")
    else:
        print(table([result]))
    return result


def table(results: list[Result]) -> str:
    """The rows as a Markdown table, the shape the README shows."""
    rows = [list(COLUMNS), *(result.cells() for result in results)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]

    def line(cells):
        return (
            "| "
            + " | ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True))
            + " |"
        )

    return "\n".join(
        [line(rows[0]), "|" + "|".join("-" * (width + 2) for width in widths) + "|"]
        + [line(row) for row in rows[1:]]
    )


def read(path: Path) -> list[Result]:
    if not path.exists():
        return []
    return [Result(**json.loads(line)) for line in path.read_text("utf-8").splitlines() if line]


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m bench.results FILE", file=sys.stderr)
        return 2
    results = read(Path(argv[0]))
    if not results:
        print("no benchmark recorded a result")
        return 1
    print(table(results))
    missed = sum(result.passed is False for result in results)
    targeted = sum(result.passed is not None for result in results)
    if missed:
        print(f"\n{len(results)} measures, {missed} of the {targeted} with a target below it")
    else:
        print("\nevery target met" if targeted else "\nno measure here has a target")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
