"""`make loadtest`: the four load and fault scenarios, one after the other, each in a
process of its own with its own throwaway services. Exits non-zero if any check failed.

    .venv/bin/python -m loadtest                  # all four
    .venv/bin/python -m loadtest faults           # some of them, by name
    .venv/bin/python -m loadtest --quick          # 200 submissions each, to try things out

Scenarios: sqlite_load (1), two_instances (2), faults (3), database_down (4).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

SCENARIOS = ("sqlite_load", "two_instances", "faults", "database_down")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "scenarios",
        nargs="*",
        metavar="SCENARIO",
        help=f"any of {', '.join(SCENARIOS)} (default: all)",
    )
    parser.add_argument("--quick", action="store_true", help="200 submissions per scenario")
    args = parser.parse_args()
    unknown = set(args.scenarios) - set(SCENARIOS)
    if unknown:
        parser.error(
            f"no scenario {', '.join(sorted(unknown))}: choose from {', '.join(SCENARIOS)}"
        )
    extra = ["--submissions", "200"] if args.quick else []
    results = []
    started = time.monotonic()
    print(
        f"load and fault tests: {os.cpu_count()} cores; load average "
        f"{os.getloadavg()[0]:.1f} at the start (other work on this machine slows every figure)",
        flush=True,
    )
    for name in args.scenarios or SCENARIOS:
        began = time.monotonic()
        code = subprocess.call([sys.executable, "-m", f"loadtest.{name}", *extra])
        results.append((name, code, time.monotonic() - began))
        print(flush=True)
    print("summary:")
    for name, code, seconds in results:
        print(f"  {'passed' if code == 0 else 'FAILED'}  {name}  ({seconds:.0f} s)")
    print(f"  total {time.monotonic() - started:.0f} s")
    return 0 if all(code == 0 for _, code, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main())
