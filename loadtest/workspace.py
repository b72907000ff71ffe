"""The workspace of one scenario: a temporary folder, free loopback ports, and the processes
started for it, all removed on exit. Also what every other module here prints and raises.

Everything runs on 127.0.0.1 and lives in the one folder, deleted on exit together with
every process started here.
"""

from __future__ import annotations

import contextlib
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

# Ports for the services: below the kernel's ephemeral range (32768 and up), so that no
# outgoing connection can take a port between the moment it is found free and its use.
PORTS = range(20000, 32768)


def say(message: str = "") -> None:
    print(message, flush=True)


class ScenarioError(Exception):
    """Something the scenario needs did not work (a service that would not start...)."""


class Workspace(contextlib.ExitStack):
    """A temporary folder and the processes started for it, all removed on exit."""

    def __enter__(self) -> Workspace:
        super().__enter__()
        self.path = Path(tempfile.mkdtemp(prefix="loadtest-"))
        # The postgres user must be able to reach its data folder inside.
        self.path.chmod(0o711)
        self.callback(shutil.rmtree, self.path, ignore_errors=True)
        self.secret_key = secrets.token_hex(32)  # one key for every app instance
        self.mfa_key = secrets.token_hex(32)  # production refuses to start without one
        self._ports: set[int] = set()
        return self

    def port(self) -> int:
        """A free loopback port, not handed out before in this workspace."""
        for _ in range(500):
            port = random.choice(PORTS)
            if port in self._ports:
                continue
            with socket.socket() as probe:
                try:
                    probe.bind(("127.0.0.1", port))
                except OSError:
                    continue
            self._ports.add(port)
            return port
        raise ScenarioError("no free port found")

    def spawn(self, argv: list[str], log: Path, **kwargs) -> subprocess.Popen:
        """Start a process in a session of its own, stopped (with its children) on exit."""
        handle = open(log, "ab")
        process = subprocess.Popen(
            argv, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True, **kwargs
        )
        handle.close()
        self.callback(stop_process, process)
        return process


def stop_process(process: subprocess.Popen, grace: float = 10.0) -> None:
    """SIGTERM, then SIGKILL to the process group started for it if it lingers."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            process.terminate()
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            pass
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)  # its own session: only what it started
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(5)


def wait_for(
    condition: Callable[[], bool], timeout: float, what: str, interval: float = 0.1
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(interval)
    raise ScenarioError(f"timed out after {timeout:.0f} s waiting for {what}")


def tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def tally(counted) -> str:
    """``(what, how many)`` pairs as "what x3, other x1"."""
    return ", ".join(f"{what} x{count}" for what, count in counted)
