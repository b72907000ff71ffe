"""The clients: browser-like threads that load the form and post it back filled in, as
families would, retrying what a person would retry, and what they saw, summed up.
"""

from __future__ import annotations

import html
import http.client
import os
import random
import re
import statistics
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from .site import Gunicorn
from .workspace import ScenarioError, say, tally, wait_for


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


def one_server(port: int, patience: float = 60.0) -> Callable[[Browser, Submission], None]:
    """What each client sends when the form is loaded from and posted to the same server."""
    return lambda browser, submission: submit(browser, submission, port, port, patience)


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
    say(f"  responses and errors: {tally(sorted(events.items()))}")
    return events
