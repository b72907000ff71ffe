"""What the load and fault tests share: throwaway services, gunicorn, a browser-like client.

Everything runs on 127.0.0.1 and lives in one temporary folder (``Workspace``), deleted on
exit together with every process started here. Standard library only, plus what the app
already needs (SQLAlchemy, psycopg, redis).
"""

from __future__ import annotations

import contextlib
import html
import http.client
import os
import random
import re
import secrets
import shutil
import signal
import socket
import socketserver
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
# Ports for the services: below the kernel's ephemeral range (32768 and up), so that no
# outgoing connection can take a port between the moment it is found free and its use.
PORTS = range(20000, 32768)


# --- output and checks ----------------------------------------------------------------------


def say(message: str = "") -> None:
    print(message, flush=True)


class Checks:
    """The verdicts of one scenario: each printed as it is made, all counted at the end."""

    def __init__(self) -> None:
        self.failed: list[str] = []

    def check(self, ok: bool, what: str, detail: str = "") -> bool:
        say(f"  {'PASS' if ok else 'FAIL'}  {what}" + (f" ({detail})" if detail else ""))
        if not ok:
            self.failed.append(what)
        return ok

    def exit_code(self) -> int:
        if self.failed:
            say(f"FAILED: {len(self.failed)} check(s): " + "; ".join(self.failed))
            return 1
        say("all checks passed")
        return 0


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


class ScenarioError(Exception):
    """Something the scenario needs did not work (a service that would not start...)."""


# --- the workspace and its processes --------------------------------------------------------


class Workspace(contextlib.ExitStack):
    """A temporary folder and the processes started for it, all removed on exit."""

    def __enter__(self) -> Workspace:
        super().__enter__()
        self.path = Path(tempfile.mkdtemp(prefix="loadtest-"))
        # The postgres user must be able to reach its data folder inside.
        self.path.chmod(0o711)
        self.callback(shutil.rmtree, self.path, ignore_errors=True)
        self.secret_key = secrets.token_hex(32)  # one key for every app instance
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


# --- PostgreSQL -----------------------------------------------------------------------------


def postgres_bin() -> Path:
    """PG_BIN, or else the newest PostgreSQL in Debian's /usr/lib/postgresql/VERSION/bin."""
    if os.environ.get("PG_BIN"):
        return Path(os.environ["PG_BIN"])
    found = [
        path.parent
        for path in Path("/usr/lib/postgresql").glob("*/bin/initdb")
        if path.parent.parent.name.isdigit()
    ]
    return max(
        found, key=lambda path: int(path.parent.name), default=Path("/usr/lib/postgresql/15/bin")
    )


class Postgres:
    """A throwaway PostgreSQL cluster on a loopback port with a random password (initdb
    refuses root: when run as root, the server runs as the postgres user)."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.bin = postgres_bin()
        self.password = secrets.token_hex(16)
        self.home = workspace.path / "postgresql"
        self.data = self.home / "data"
        self.log = self.home / "server.log"
        self.port = workspace.port()
        self.as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def _run(self, program: str, *args: str) -> None:
        done = subprocess.run(
            [*self.as_postgres, str(self.bin / program), *args],
            cwd=self.home,
            env={**os.environ, "PGPASSWORD": self.password},
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise ScenarioError(f"{program} failed: {done.stderr.strip()[-500:]}\n{tail(self.log)}")

    def create(self, database: str = "loadtest") -> str:
        """initdb, start, create the database; returns its SQLAlchemy URL."""
        if not (self.bin / "initdb").exists():
            raise ScenarioError(
                f"PostgreSQL is not installed in {self.bin} (apt-get install -y "
                "postgresql, or set PG_BIN)"
            )
        self.home.mkdir(mode=0o700)
        password_file = self.home / "password"
        password_file.write_text(self.password + "\n")  # never on a command line
        password_file.chmod(0o600)
        if self.as_postgres:
            shutil.chown(self.home, "postgres", "postgres")
            shutil.chown(password_file, "postgres", "postgres")
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            "postgres",
            f"--pwfile={password_file}",
            "--auth=scram-sha-256",
            "-E",
            "UTF8",
            "--no-sync",
            "--no-instructions",
        )
        password_file.unlink()
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(
                f"\nlisten_addresses = '127.0.0.1'\nport = {self.port}\n"
                f"unix_socket_directories = '{self.home}'\nmax_connections = 200\n"
            )
        self.workspace.callback(self.stop, "immediate", check=False)
        self.start()
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", database)
        return f"postgresql+psycopg://postgres:{self.password}@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast", check: bool = True) -> None:
        if not (self.data / "postmaster.pid").exists():
            return
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")
        except ScenarioError:
            if check:
                raise


# --- Redis ----------------------------------------------------------------------------------


class Redis:
    """A throwaway redis-server on a loopback port with a random password, nothing saved."""

    def __init__(self, workspace: Workspace) -> None:
        self.port = workspace.port()
        password = secrets.token_hex(16)
        self.url = f"redis://:{password}@127.0.0.1:{self.port}/0"
        server = shutil.which("redis-server")
        if server is None:
            raise ScenarioError("redis-server is not installed (apt-get install -y redis-server)")
        log = workspace.path / "redis.log"
        conf = workspace.path / "redis.conf"  # the password in a file, not on a command line
        conf.touch(mode=0o600)
        conf.write_text(
            f'bind 127.0.0.1\nport {self.port}\nrequirepass {password}\nsave ""\n'
            f"appendonly no\ndir {workspace.path}\n"
        )
        workspace.spawn([server, str(conf)], log)
        import redis

        self.client = redis.Redis(port=self.port, password=password, socket_timeout=5)
        workspace.callback(self.client.close)

        def answers() -> bool:
            try:
                return bool(self.client.ping())
            except redis.RedisError:
                return False

        wait_for(answers, 30, f"redis-server on port {self.port}\n{tail(log)}")


# --- a mail server that keeps nothing -------------------------------------------------------


class _SmtpSession(socketserver.StreamRequestHandler):
    def reply(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")

    def handle(self) -> None:
        with contextlib.suppress(OSError):  # a worker killed in the middle of a message
            self.converse()

    def converse(self) -> None:
        self.reply("220 loadtest sink")
        while line := self.rfile.readline():
            verb = line[:4].upper()
            if verb in (b"EHLO", b"HELO"):
                self.reply("250 loadtest sink")
            elif verb == b"DATA":
                self.reply("354 end with .")
                while (data := self.rfile.readline()) not in (b".\r\n", b".\n", b""):
                    pass
                self.server.received += 1
                self.reply("250 accepted")
            elif verb == b"QUIT":
                self.reply("221 bye")
                return
            else:  # MAIL, RCPT, RSET, NOOP
                self.reply("250 ok")


class SmtpSink(socketserver.ThreadingTCPServer):
    """An SMTP server on loopback that accepts every message and only counts them, so the
    app sends its confirmations as in production and writes no files."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, workspace: Workspace) -> None:
        self.received = 0
        super().__init__(("127.0.0.1", workspace.port()), _SmtpSession)
        self.port = self.server_address[1]
        thread = threading.Thread(target=self.serve_forever, name="smtp-sink", daemon=True)
        thread.start()
        workspace.callback(self.server_close)
        workspace.callback(self.shutdown)


# --- the app --------------------------------------------------------------------------------


def app_environment(
    workspace: Workspace,
    database_url: str,
    smtp: SmtpSink,
    limiter_storage: str = "memory://",
    **settings: str,
) -> dict[str, str]:
    """The settings every instance of a scenario shares: one SECRET_KEY, production mode,
    limits raised far above the load (every client is 127.0.0.1), mail to the sink."""
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in {"BIND", "PORT", "FLASK_DEBUG", "FLASK_APP"}
    }
    env.update(
        MICROSITE_ENV="production",
        SECRET_KEY=workspace.secret_key,
        DATABASE_URL=database_url,
        RATELIMIT_ENABLED="true",
        RATELIMIT_STORAGE_URI=limiter_storage,
        APPLY_RATE_LIMIT="1000000 per hour",
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=str(smtp.port),
        MAIL_TIMEOUT="5",
        PYTHONUNBUFFERED="1",
    )
    env.update(settings)
    return env


def flask(env: dict[str, str], *args: str) -> None:
    """Run ``flask --app microsite ARGS`` with the scenario's settings."""
    done = subprocess.run(
        [str(BIN / "flask"), "--app", "microsite", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise ScenarioError(f"flask {' '.join(args)} failed: {done.stderr.strip()[-800:]}")


def prepare_database(env: dict[str, str]) -> None:
    """Migrations first, then the sample content, as `make run` does."""
    flask(env, "db", "upgrade")
    flask(env, "content", "load")


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
        self.name, self.workers_wanted, self.ready_path = name, workers, ready_path
        self.port = workspace.port()
        self.log = workspace.path / f"gunicorn-{name}.log"
        env = {
            **env,
            "PORT": str(self.port),
            "WEB_CONCURRENCY": str(workers),
            "GUNICORN_THREADS": str(threads),
        }
        argv = [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", *([app] if app else [])]
        self.process = workspace.spawn(argv, self.log, cwd=ROOT, env=env)
        self.wait_ready()

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
        try:
            connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
            connection.request("GET", self.ready_path)
            status = connection.getresponse().status
            connection.close()
            return status == 200
        except (OSError, http.client.HTTPException):
            return False

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


# --- the client -----------------------------------------------------------------------------


class Dropped(Exception):
    """The connection failed before a whole response came: reset, refused, closed, timed out."""


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: str
    seconds: float


class Browser:
    """A browser as far as the form needs one: a cookie jar and a kept-alive connection per
    server. A connection idle longer than gunicorn's keep-alive (5 s) is not reused."""

    IDLE_LIMIT = 4.0

    def __init__(self, timeout: float = 30.0) -> None:
        self.timeout = timeout
        self.cookies: dict[str, str] = {}
        self._connections: dict[int, tuple[http.client.HTTPConnection, float]] = {}

    def _connection(self, port: int) -> http.client.HTTPConnection:
        connection, last_used = self._connections.pop(port, (None, 0.0))
        if connection is not None and time.monotonic() - last_used < self.IDLE_LIMIT:
            return connection
        if connection is not None:
            connection.close()
        return http.client.HTTPConnection("127.0.0.1", port, timeout=self.timeout)

    def request(
        self, port: int, method: str, path: str, fields: dict[str, str] | None = None
    ) -> Reply:
        connection = self._connection(port)
        headers = {"Accept": "text/html"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if fields is not None:
            body = urllib.parse.urlencode(fields)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        started = time.monotonic()
        try:
            connection.request(method, path, body, headers)
            response = connection.getresponse()
            content = response.read().decode("utf-8", "replace")
        except (OSError, http.client.HTTPException) as error:
            connection.close()
            raise Dropped(type(error).__name__) from None
        seconds = time.monotonic() - started
        if response.will_close:
            connection.close()
        else:
            self._connections[port] = (connection, time.monotonic())
        for cookie in response.headers.get_all("Set-Cookie") or ():
            name, _, rest = cookie.partition("=")
            value = rest.split(";", 1)[0]
            if value and "max-age=0" not in cookie.lower():
                self.cookies[name.strip()] = value
            else:
                self.cookies.pop(name.strip(), None)
        return Reply(response.status, response.headers, content, seconds)

    def close(self) -> None:
        for connection, _ in self._connections.values():
            connection.close()
        self._connections.clear()


_INPUT = re.compile(r"<input\b[^>]*>")
_ATTRIBUTE = re.compile(r'\b(name|value|type)="([^"]*)"')


def hidden_fields(page: str) -> dict[str, str]:
    """The fields a browser sends back without anyone typing: the hidden inputs (CSRF
    token, idempotency key) and the honeypot, empty."""
    fields = {}
    for tag in _INPUT.findall(page):
        attributes = dict(_ATTRIBUTE.findall(tag))
        if attributes.get("type") == "hidden" or attributes.get("name") == "hp_extra_notes":
            fields[attributes["name"]] = html.unescape(attributes.get("value", ""))
    return fields


def answers(number: int) -> dict[str, str]:
    """A valid application (the public contract's field names), its email unique to it."""
    return {
        "role": "parent",
        "patient_age": str(number % 18),
        "diagnosis": "neuroblastoma",
        "diagnosis_other": "",
        "treatment_stage": "in_treatment",
        "country": "GB",
        "postal_code": "SW1A 1AA",
        "name": f"Loadtest Family {number}",
        "email": f"family{number}@example.com",
        "phone": "",
        "contact_method": "email",
        "consent": "y",
    }


@dataclass
class Submission:
    """One family sending the form, and everything that happened on the way."""

    number: int
    key: str = ""
    events: list[str] = field(default_factory=list)  # what each attempt got, in order
    stored: bool = False  # a 303 to the thanks page came back
    post_statuses: list[int] = field(default_factory=list)
    post_seconds: list[float] = field(default_factory=list)
    echoed_503s: int = 0  # 503 answers that showed the form with the input kept
    bare_503s: int = 0  # 503 answers that did not
    fields: dict[str, str] = field(default_factory=dict)  # what was posted, to post it again
    cookies: dict[str, str] = field(default_factory=dict)  # the session it was posted in

    @property
    def email(self) -> str:
        return answers(self.number)["email"]


class Patience:
    """Retries with backoff, for at most ``seconds`` in all."""

    def __init__(self, seconds: float) -> None:
        self.deadline = time.monotonic() + seconds
        self.delay = 0.05

    def wait(self) -> bool:
        if time.monotonic() >= self.deadline:
            return False
        time.sleep(
            min(self.delay, max(0.0, self.deadline - time.monotonic())) * random.uniform(0.5, 1.0)
        )
        self.delay = min(self.delay * 2, 1.0)
        return True


def submit(
    browser: Browser, submission: Submission, form_port: int, post_port: int, patience: float = 60.0
) -> None:
    """Like a family: load the form (a new visit: no cookie yet), send it back filled in.
    A dropped connection or a 5xx is retried with the very same form (same CSRF token,
    same idempotency key), as a person pressing the button again would."""
    browser.cookies.clear()
    wait = Patience(patience)
    while True:
        try:
            page = browser.request(form_port, "GET", "/apply")
        except Dropped as error:
            submission.events.append(f"GET dropped ({error})")
        else:
            if page.status == 200:
                break
            submission.events.append(f"GET {page.status}")
        if not wait.wait():
            return
    fields = {**hidden_fields(page.body), **answers(submission.number)}
    submission.key = fields.get("idempotency_key", "")
    submission.fields, submission.cookies = fields, dict(browser.cookies)
    wait = Patience(patience)
    while True:
        try:
            reply = browser.request(post_port, "POST", "/apply", fields)
        except Dropped as error:
            submission.events.append(f"POST dropped ({error})")
        else:
            submission.post_statuses.append(reply.status)
            submission.post_seconds.append(reply.seconds)
            submission.events.append(f"POST {reply.status}")
            if reply.status == 303 and reply.headers.get("Location", "").endswith("/apply/thanks"):
                submission.stored = True
                return
            if reply.status < 500:
                return  # a 4xx or a 200: not something to retry; the checks report it
            if reply.status == 503:
                if input_kept(reply.body, fields):
                    submission.echoed_503s += 1
                else:
                    submission.bare_503s += 1
        if not wait.wait():
            return


def input_kept(page: str, fields: dict[str, str]) -> bool:
    """The page shows the form again with what was typed in it."""
    return all(
        f'value="{html.escape(fields[name])}"' in page for name in ("name", "email", "postal_code")
    )


class Load:
    """``count`` submissions sent by ``clients`` concurrent browsers, in the background."""

    def __init__(
        self, count: int, clients: int, send: Callable[[Browser, Submission], None]
    ) -> None:
        self.submissions = [Submission(number) for number in range(1, count + 1)]
        self._next = iter(self.submissions)
        self._lock = threading.Lock()
        self.done = 0
        self._send = send
        self.started = time.monotonic()
        self.finished = 0.0
        self._cpu_at_start = time.process_time()
        self.client_cpu = 0.0
        self._threads = [
            threading.Thread(target=self._client, name=f"client-{i}", daemon=True)
            for i in range(clients)
        ]
        for thread in self._threads:
            thread.start()

    def _client(self) -> None:
        browser = Browser()
        try:
            while True:
                with self._lock:
                    submission = next(self._next, None)
                if submission is None:
                    return
                try:
                    self._send(browser, submission)
                except Exception as error:  # a bug here must show, not stall the load
                    submission.events.append(f"client error ({type(error).__name__}: {error})")
                with self._lock:
                    self.done += 1
        finally:
            browser.close()

    def wait_until_done(self, count: int, timeout: float = 600) -> None:
        wait_for(lambda: self.done >= count, timeout, f"{count} submissions", 0.02)

    def join(self, timeout: float = 900) -> None:
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        if any(thread.is_alive() for thread in self._threads):
            raise ScenarioError("the clients did not finish")
        self.finished = time.monotonic()
        self.client_cpu = time.process_time() - self._cpu_at_start

    @property
    def seconds(self) -> float:
        return (self.finished or time.monotonic()) - self.started


def summarize(load: Load, servers: tuple[Gunicorn, ...] = ()) -> Counter:
    """Print what the clients saw; returns the count of each kind of event."""
    events = Counter(event for s in load.submissions for event in s.events)
    stored = sum(s.stored for s in load.submissions)
    posts = [seconds for s in load.submissions for seconds in s.post_seconds]
    say(
        f"  {len(load.submissions)} submissions in {load.seconds:.1f} s "
        f"({len(load.submissions) / load.seconds:.0f} per second, each a GET and a POST): "
        f"{stored} answered 303 to /apply/thanks"
    )
    if posts:
        q = statistics.quantiles(posts, n=100)
        say(
            f"  POST /apply latency: p50 {q[49] * 1000:.0f} ms, p99 {q[98] * 1000:.0f} ms, "
            f"max {max(posts) * 1000:.0f} ms"
        )
    if servers:
        say(
            f"  CPU: gunicorn {sum(s.cpu_seconds() for s in servers):.0f} s, this client "
            f"{load.client_cpu:.0f} s (with the SMTP sink), on {os.cpu_count()} cores shared with "
            f"whatever else runs; load average now {os.getloadavg()[0]:.1f}"
        )
    say(
        "  responses and errors: " + ", ".join(f"{name} x{n}" for name, n in sorted(events.items()))
    )
    return events


# --- the database, read directly ------------------------------------------------------------


def database_counts(url: str) -> dict:
    """Leads by email and idempotency key, and the rows each lead writes with it."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            by_email = dict(
                connection.execute(text("SELECT email, count(*) FROM lead GROUP BY email")).all()
            )
            by_key = dict(
                connection.execute(
                    text(
                        "SELECT idempotency_key, count(*) FROM lead WHERE idempotency_key IS NOT NULL"
                        " GROUP BY idempotency_key"
                    )
                ).all()
            )
            leads = connection.execute(text("SELECT count(*) FROM lead")).scalar_one()
            personal_links = connection.execute(
                text("SELECT count(DISTINCT lead_id) FROM referral WHERE kind = 'personal'")
            ).scalar_one()
            confirmations = connection.execute(
                text(
                    "SELECT count(DISTINCT lead_id) FROM outbox_message WHERE kind = 'confirmation'"
                )
            ).scalar_one()
            mail = dict(
                connection.execute(
                    text("SELECT status, count(*) FROM outbox_message GROUP BY status")
                ).all()
            )
    finally:
        engine.dispose()
    return {
        "leads": leads,
        "by_email": by_email,
        "by_key": by_key,
        "personal_links": personal_links,
        "confirmations": confirmations,
        "mail": mail,
    }


def check_stored_once(checks: Checks, load: Load, counts: dict, expect_all: bool = True) -> None:
    """Every 303 is in the database, nothing is stored twice, no lead is half written."""
    subs = load.submissions
    by_email, by_key = counts["by_email"], counts["by_key"]
    stored = [s for s in subs if s.stored]
    missing = [s.email for s in stored if by_email.get(s.email, 0) == 0]
    checks.check(
        not missing,
        "every submission answered 303 is in the database",
        f"{len(stored)} answered 303, {len(missing)} missing"
        + (f": {missing[:5]}" if missing else ""),
    )
    twice = {email: n for email, n in by_email.items() if n > 1}
    checks.check(
        not twice,
        "no email is stored twice",
        f"{len(by_email)} emails, {len(twice)} more than once",
    )
    twice_keys = {key: n for key, n in by_key.items() if n > 1}
    keys_known = {s.key for s in subs if s.key}
    checks.check(
        not twice_keys and set(by_key) <= keys_known,
        "one lead per idempotency key, each key one the clients sent",
        f"{len(by_key)} keys, {len(twice_keys)} repeated, {len(set(by_key) - keys_known)} unknown",
    )
    if expect_all:
        checks.check(
            len(stored) == len(subs),
            "every submission ended in a 303",
            f"{len(stored)} of {len(subs)}",
        )
        checks.check(
            counts["leads"] == len(subs),
            f"exactly {len(subs):,} leads in the database",
            f"{counts['leads']:,}",
        )
    checks.check(
        counts["personal_links"] == counts["confirmations"] == counts["leads"],
        "no partial writes: each lead has its personal link and its confirmation message",
        f"{counts['leads']} leads, {counts['personal_links']} with a link, "
        f"{counts['confirmations']} with a confirmation",
    )


def no_5xx(checks: Checks, events: Counter) -> None:
    fives = {name: n for name, n in events.items() if re.search(r" 5\d\d$", name)}
    checks.check(
        not fives, "zero 5xx responses", ", ".join(f"{k} x{v}" for k, v in fives.items()) or "none"
    )


def no_dropped(checks: Checks, events: Counter) -> None:
    dropped = sum(n for name, n in events.items() if "dropped" in name)
    checks.check(dropped == 0, "no dropped connections", f"{dropped}")


def only_retryable_failures(checks: Checks, events: Counter) -> None:
    """Every failure is one a client can retry: a dropped connection or a 5xx."""
    other = {
        name: n
        for name, n in events.items()
        if name not in ("GET 200", "POST 303")
        and "dropped" not in name
        and not re.search(r" 5\d\d$", name)
    }
    checks.check(
        not other,
        "every failure was a dropped connection or a 5xx (retryable)",
        ", ".join(f"{k} x{v}" for k, v in other.items()) or "no other answers",
    )


def mail_summary(counts: dict, smtp: SmtpSink) -> None:
    outbox = ", ".join(f"{status} {n}" for status, n in sorted(counts["mail"].items()))
    say(f"  mail: outbox {outbox}; the SMTP sink received {smtp.received}")
