"""The site under test: its settings for a scenario, its database prepared as `make run`
does, and gunicorn masters (`gunicorn -c gunicorn.conf.py`) serving it.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
from pathlib import Path

from tools.app import GUNICORN, ROOT, FlaskFailed, app_env, flask

from .services import SmtpSink
from .workspace import ScenarioError, Workspace, tail, wait_for


def sqlite_url(workspace: Workspace) -> str:
    return f"sqlite:///{workspace.path / 'microsite.sqlite3'}"


class Site:
    """The settings every instance of a scenario shares, and its database ready: one
    SECRET_KEY and one MFA_ENCRYPTION_KEY, production mode, limits raised far above the load
    (every client is 127.0.0.1), mail to an SMTP sink of its own. ``settings`` add to them
    or replace them."""

    def __init__(self, workspace: Workspace, database_url: str, **settings: str) -> None:
        self.workspace = workspace
        self.database_url = database_url
        self.smtp = SmtpSink(workspace)
        defaults = {
            "MICROSITE_ENV": "production",
            "MFA_ENCRYPTION_KEY": workspace.mfa_key,
            "RATELIMIT_ENABLED": "true",
            "RATELIMIT_STORAGE_URI": "memory://",
            "APPLY_RATE_LIMIT": "1000000 per hour",
            "MAIL_SERVER": "127.0.0.1",
            "MAIL_PORT": str(self.smtp.port),
            "MAIL_TIMEOUT": "5",
            "PYTHONUNBUFFERED": "1",
        }
        self.env = app_env(database_url, workspace.secret_key, **{**defaults, **settings})
        try:  # migrations first, then the sample content, as `make run` does
            flask(self.env, "db", "upgrade")
            flask(self.env, "content", "load")
        except FlaskFailed as error:
            raise ScenarioError(str(error)) from None

    def serve(self, name: str, workers: int, **options) -> Gunicorn:
        """A gunicorn master with ``workers`` workers (see Gunicorn for the options)."""
        return Gunicorn(self.workspace, name, self.env, workers, **options)


def status_of(port: int, path: str, timeout: float = 10) -> int | str:
    """The status of GET ``path`` on a new connection, or the name of the error."""
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        connection.request("GET", path)
        status = connection.getresponse().status
        connection.close()
        return status
    except (OSError, http.client.HTTPException) as error:
        return type(error).__name__


class Gunicorn:
    """One gunicorn master (`gunicorn -c gunicorn.conf.py`) and its workers."""

    def __init__(
        self,
        workspace: Workspace,
        name: str,
        env: dict[str, str],
        workers: int,
        threads: int = 4,
        app: str | None = None,
        ready_path: str = "/healthz",
    ) -> None:
        self.name, self.workers_wanted, self.threads = name, workers, threads
        self.ready_path = ready_path
        self.port = workspace.port()
        self.log = workspace.path / f"gunicorn-{name}.log"
        env = {
            **env,
            "PORT": str(self.port),
            "WEB_CONCURRENCY": str(workers),
            "GUNICORN_THREADS": str(threads),
        }
        argv = [GUNICORN, "-c", "gunicorn.conf.py", *([app] if app else [])]
        self.process = workspace.spawn(argv, self.log, cwd=ROOT, env=env)
        self.wait_ready()

    def __str__(self) -> str:
        return (
            f"gunicorn -c gunicorn.conf.py on port {self.port}: "
            f"{self.workers_wanted} workers x {self.threads} threads"
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def workers(self) -> list[int]:
        """The worker processes: the master's children."""
        children = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat.rpartition(")")[2].split()
            if int(fields[1]) == self.pid and fields[0] not in ("Z", "X"):
                children.append(int(entry.name))
        return sorted(children)

    def healthy(self) -> bool:
        return status_of(self.port, self.ready_path, timeout=5) == 200

    def wait_ready(self, timeout: float = 90) -> None:
        def ready() -> bool:
            if self.process.poll() is not None:
                raise ScenarioError(
                    f"gunicorn {self.name} exited ({self.process.returncode}):\n{tail(self.log)}"
                )
            return len(self.workers()) == self.workers_wanted and self.healthy()

        try:
            wait_for(ready, timeout, f"gunicorn {self.name} on port {self.port}", 0.2)
        except ScenarioError as error:
            raise ScenarioError(f"{error}:\n{tail(self.log)}") from None

    def cpu_seconds(self) -> float:
        """CPU time used so far by the master and its running workers."""
        total = 0
        for pid in (self.pid, *self.workers()):
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
            except OSError:
                continue
            total += int(fields[11]) + int(fields[12])  # utime, stime
        return total / os.sysconf("SC_CLK_TCK")

    def client_connections(self) -> dict[int, int]:
        """Open client connections held by each worker (a kept-alive connection stays with
        the worker that accepted it, and they are seldom spread evenly)."""
        established = set()
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            with contextlib.suppress(OSError), open(table) as rows:
                for row in list(rows)[1:]:
                    fields = row.split()
                    if fields[3] == "01" and int(fields[1].rsplit(":", 1)[1], 16) == self.port:
                        established.add(f"socket:[{fields[9]}]")
        held = {}
        for pid in self.workers():
            count = 0
            with contextlib.suppress(OSError):
                for fd in Path(f"/proc/{pid}/fd").iterdir():
                    with contextlib.suppress(OSError):
                        count += os.readlink(fd) in established
            held[pid] = count
        return held

    def kill_busiest_worker(self) -> tuple[int, int]:
        """SIGKILL to the worker holding the most client connections: (its pid, how many)."""
        held = self.client_connections()
        victim = max(held, key=held.get)
        os.kill(victim, signal.SIGKILL)
        return victim, held[victim]

    def reload(self) -> None:
        os.kill(self.pid, signal.SIGHUP)
