"""Wall time, CPU time and peak memory of one command, for the benchmarks.

A fresh, small launcher forks the command, waits for it with wait4 and prints what the
kernel counted. Measuring from the benchmark script itself would be wrong: a child's
ru_maxrss starts from its parent's size at the fork, and a benchmark is big after it has
generated its data. The launcher's own start-up is not timed.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from .app import ROOT

LAUNCHER = """
import os, sys, time
out, with_errors, argv = sys.argv[1], sys.argv[2] == "1", sys.argv[3:]
fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
started = time.perf_counter()
pid = os.fork()
if pid == 0:
    try:
        os.dup2(fd, 1)
        if with_errors:
            os.dup2(fd, 2)
        os.execvp(argv[0], argv)
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
print(time.perf_counter() - started, usage.ru_utime + usage.ru_stime, usage.ru_maxrss,
      os.waitstatus_to_exitcode(status))
"""


@dataclass(frozen=True)
class Measured:
    seconds: float  # wall time
    cpu_seconds: float  # user + system: says more than wall time on a busy machine
    peak_mib: float  # ru_maxrss


def measure(
    argv: list[str], out: str | Path, env: dict[str, str] | None = None, errors_to_out: bool = False
) -> Measured:
    """One run of argv, its standard output (and with ``errors_to_out`` its standard error)
    written to ``out``; exits with the command's output when it fails."""
    launcher = subprocess.run(
        [
            sys.executable,
            "-I",
            "-S",
            "-c",
            LAUNCHER,
            str(out),
            "1" if errors_to_out else "0",
            *argv,
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    try:
        elapsed, cpu, maxrss_kib, code = launcher.stdout.split()
    except ValueError:
        code = "?"
    if launcher.returncode != 0 or code != "0":
        shown = Path(out).read_text(errors="replace")[-2000:] if errors_to_out else ""
        sys.exit(f"{argv[0]} failed ({code}): {launcher.stderr}{shown}")
    return Measured(float(elapsed), float(cpu), int(maxrss_kib) / 1024)  # KiB on Linux


def size_list(text: str) -> list[int]:
    """A ``--sizes`` option: comma-separated positive whole numbers ("1000,10_000"),
    smallest first, each once."""
    try:
        sizes = sorted({int(part.replace("_", "")) for part in text.split(",") if part.strip()})
    except ValueError:
        sizes = []
    if not sizes or sizes[0] < 1:
        raise argparse.ArgumentTypeError(f"not a list of positive whole numbers: {text!r}")
    return sizes


def sizes_option(
    doc: str, default: tuple[int, ...], quick: tuple[int, ...], unit: str
) -> list[int]:
    """The sizes a benchmark runs, from its command line: ``--sizes`` (see size_list),
    ``--quick`` for the ``quick`` ones, else ``default``. ``unit`` names what is counted
    ("rows"); the first paragraph of ``doc`` describes the benchmark in ``--help``."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument(
        "--sizes",
        type=size_list,
        help=f"comma-separated counts of {unit} (default {','.join(map(str, default))})",
    )
    parser.add_argument(
        "--quick", action="store_true", help=" and ".join(f"{n:,}" for n in quick) + f" {unit}"
    )
    args = parser.parse_args()
    return args.sizes or list(quick if args.quick else default)
