"""Running one scenario: its command-line options, its workspace, its checks and exit code,
and the servers' logs kept when it fails.
"""

from __future__ import annotations

import argparse
import re
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from .checks import Checks
from .workspace import ScenarioError, Workspace, say


def arguments(
    doc: str,
    argv: list[str] | None,
    *,
    submissions: int,
    clients: int,
    workers: int,
    workers_help: str | None = None,
) -> argparse.Namespace:
    """The options every scenario takes, with its own defaults; the first paragraph of its
    docstring ``doc`` describes it."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--submissions", type=int, default=submissions)
    parser.add_argument("--clients", type=int, default=clients)
    parser.add_argument("--workers", type=int, default=workers, help=workers_help)
    return parser.parse_args(argv)


def run_scenario(title: str, body: Callable[[Workspace, Checks], None]) -> int:
    """Run one scenario in its own workspace; SIGTERM and Ctrl+C still clean up."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    say(f"== {title}")
    started = time.monotonic()
    checks = Checks()
    try:
        with Workspace() as workspace:
            try:
                body(workspace, checks)
            finally:
                if checks.failed or sys.exc_info()[0] is not None:
                    keep_logs(workspace)
    except ScenarioError as error:
        checks.check(False, "the scenario ran to its end", str(error))
    say(f"   ({time.monotonic() - started:.0f} s)")
    return checks.exit_code()


def keep_logs(workspace: Workspace) -> None:
    """Copy the servers' logs out of the workspace, which is deleted, and show the first
    error the app logged."""
    kept = Path(tempfile.mkdtemp(prefix="loadtest-logs-"))
    for log in [*workspace.path.glob("*.log"), *workspace.path.glob("*/*.log")]:
        shutil.copy(log, kept / log.name)
    say(f"  logs kept in {kept}")
    for log in sorted(kept.glob("gunicorn-*.log")):
        lines = log.read_text(errors="replace").splitlines()
        starts = [n for n, line in enumerate(lines) if line.startswith("Traceback")]
        # A request that failed (Flask's "Exception on /path") first, then any other.
        starts.sort(key=lambda n: "Exception on " not in lines[max(0, n - 1)])
        if not starts:
            continue
        end = starts[0] + 1  # a traceback ends at the next line that is not indented
        while (
            end < len(lines)
            and lines[end].startswith((" ", "\t", "The above", "During", ""))
            and not re.match(r"\d{4}-\d\d-\d\d|\[", lines[end])
        ):
            end += 1
        say(f"  a traceback in {log.name}, after: {lines[max(0, starts[0] - 1)]}")
        for shown in (
            lines[starts[0] : starts[0] + 3]
            + ["    ..."]
            + lines[max(starts[0] + 3, end - 12) : end + 1]
        ):
            say(f"    {shown}")
