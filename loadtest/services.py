"""The throwaway services a scenario runs against: a PostgreSQL cluster, a redis-server and
an SMTP server that only counts messages. Each on a loopback port of the workspace, with
a random password where it takes one (kept in a file, never on a command line), and gone
when the workspace is.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import socketserver
import subprocess
import threading
from pathlib import Path

from .workspace import ScenarioError, Workspace, tail, wait_for

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
                while self.rfile.readline() not in (b".\r\n", b".\n", b""):
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
