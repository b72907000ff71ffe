"""Rate limits counted in Redis are shared by every process of the site.

Two gunicorn servers, each a process of its own, count GET /r/<code> in the Redis server
that TEST_REDIS_URL names, and keep their data in this run's database (SQLite or
PostgreSQL). Requests spread over both must meet the limit once, not once per process.
Without TEST_REDIS_URL the test is skipped, except in CI (CI=true), where it fails.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from microsite.extensions import db
from microsite.models import Referral
from microsite.referrals import new_code
from tests.helpers import BROWSER_UA, ROOT, free_port, missing_service

LIMIT = 4
STARTUP_DEADLINE = 120  # seconds for a server to answer /healthz; only a broken start reaches it


@pytest.fixture
def redis_url() -> str:
    url = os.environ.get("TEST_REDIS_URL")
    if not url:
        missing_service(
            "TEST_REDIS_URL is not set: point it at a Redis server the tests may use "
            "(e.g. redis://127.0.0.1:6380/0) to test rate limits shared between processes"
        )
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=5).ping()
    except redis.RedisError as error:
        pytest.fail(f"TEST_REDIS_URL={url} does not answer: {error}")
    return url


def get(port: int, path: str) -> int:
    """The status of GET ``path``, redirects not followed."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", path, headers={"User-Agent": BROWSER_UA})
        return connection.getresponse().status
    finally:
        connection.close()


class Server:
    """``gunicorn -c gunicorn.conf.py`` in a process of its own, on a free port."""

    def __init__(self, environment: dict[str, str], log: Path):
        self.port = free_port()
        self.log = log
        with log.open("wb") as output:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"],
                cwd=ROOT,
                env={**environment, "PORT": str(self.port)},
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
            )

    def wait_until_ready(self) -> None:
        deadline = time.monotonic() + STARTUP_DEADLINE
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(
                    f"gunicorn exited with {self.process.returncode}:\n{self.log.read_text()}"
                )
            try:
                if get(self.port, "/healthz") == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        pytest.fail(
            f"gunicorn did not answer /healthz on port {self.port}:\n{self.log.read_text()}"
        )

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def site(make_app, database_url, redis_url, tmp_path):
    """Two gunicorn processes of the site, sharing the database and the Redis counters.

    A secret key of their own makes their rate-limit keys new to Redis; they are deleted
    afterwards."""
    secret_key = secrets.token_hex(32)
    app = make_app(SECRET_KEY=secret_key)  # creates the tables
    environment = {
        **os.environ,
        "SECRET_KEY": secret_key,
        "DATABASE_URL": database_url,
        "RATELIMIT_ENABLED": "1",
        "RATELIMIT_STORAGE_URI": redis_url,
        "REFERRAL_RATE_LIMIT": f"{LIMIT} per day",
        "WEB_CONCURRENCY": "1",
        "GUNICORN_THREADS": "2",
        "PYTHONUNBUFFERED": "1",
    }
    servers = [Server(environment, tmp_path / f"gunicorn-{n}.log") for n in (1, 2)]
    try:
        for server in servers:
            server.wait_until_ready()
        yield app, servers
    finally:
        for server in servers:
            server.stop()
        import redis

        client_key = hmac.new(secret_key.encode(), b"127.0.0.1", hashlib.sha256).hexdigest()[:32]
        connection = redis.Redis.from_url(redis_url)
        for key in connection.scan_iter(match=f"*{client_key}*"):
            connection.delete(key)
        connection.close()


def test_two_processes_share_one_limit_through_redis(site, redis_url):
    app, (first, second) = site
    with app.app_context():
        referral = Referral(code=new_code(), sender_name="Robin Sender")
        db.session.add(referral)
        db.session.commit()
        code = referral.code

    # Alternately through each process: 2 x LIMIT requests, so each process alone sees
    # exactly LIMIT of them and would let them all through if it counted on its own.
    statuses = [
        (server.port, get(server.port, f"/r/{code}"))
        for _ in range(LIMIT)
        for server in (first, second)
    ]

    assert [status for _, status in statuses] == [302] * LIMIT + [429] * LIMIT
    for server in (first, second):
        answered = {status for port, status in statuses if port == server.port}
        assert answered == {302, 429}, f"port {server.port} answered {answered}"
    with app.app_context():
        clicks = db.session.scalar(select(Referral.clicks).filter_by(code=code))
    assert clicks == LIMIT  # both processes wrote to the same database, only when allowed
