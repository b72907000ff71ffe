"""What machine a measurement ran on, for the tables in the README."""

from __future__ import annotations

import os
import platform
import subprocess
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


def describe(python: bool = True) -> str:
    """CPU, cores, memory and operating system (and this Python), for a benchmark's output."""
    cpu, ram = cpu_and_ram()
    line = f"{cpu}, {os.cpu_count()} cores, {ram} RAM; {platform.system()} {platform.release()}"
    return f"{line}; Python {platform.python_version()}" if python else line


def version(argv: list[str], word: int | None = None) -> str:
    """What ``argv`` (a command and its version option) prints: the first line, or only its
    word number ``word``; "?" when the command cannot tell."""
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    lines = done.stdout.strip().splitlines()
    if not lines:
        return "?"
    if word is None:
        return lines[0]
    words = lines[0].split()
    return words[word] if len(words) > word else "?"
