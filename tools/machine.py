"""What machine a measurement ran on, for the tables in the README."""

from __future__ import annotations

from pathlib import Path


def _first(path: str, prefix: str) -> str | None:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(prefix):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def cpu_and_ram() -> tuple[str, str]:
    """The CPU model and the memory size, as /proc tells them."""
    cpu = _first("/proc/cpuinfo", "model name") or "unknown CPU"
    total = _first("/proc/meminfo", "MemTotal")
    ram = f"{int(total.split()[0]) / 1024 / 1024:.1f} GB" if total else "?"
    return cpu, ram
