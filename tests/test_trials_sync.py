"""``flask trials sync`` against a local HTTP server (127.0.0.1, a free port) that serves
recorded pages in the API v2 shape and can fail on cue. No test reaches the internet, and
every wait is a few milliseconds."""

from __future__ import annotations

import copy
import json
import sys
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from microsite.extensions import db
from microsite.models import Trial, TrialImport, TrialSite
from microsite.trials import sync
from tests.helpers import TRIAL_FIXTURES, count

PAGES = {
    None: json.loads((TRIAL_FIXTURES / "sync" / "page1.json").read_text()),
    "FICTIONALPAGE2": json.loads((TRIAL_FIXTURES / "sync" / "page2.json").read_text()),
}
STUDY = json.loads((TRIAL_FIXTURES / "study.json").read_text())  # NCT99990001
# No waits between pages or before retries; a timeout no answer of the fake API reaches
# even on a busy machine (the timeout test sets a short one of its own).
FAST = ["--interval", "0", "--backoff", "0.01", "--timeout", "10"]


class FakeApi(ThreadingHTTPServer):
    """GET /api/v2/studies: the recorded pages by pageToken, studies by filter.ids. Before
    answering, it plays the next of ``failures``: an HTTP status (with headers), or
    ("sleep", seconds) to answer too late once."""

    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), Handler)
        self.failures: deque = deque()
        self.requests: list[dict] = []
        self.by_id: dict[str, dict] = {}
        self.always_fail: int | None = None
        self.errors: list[str] = []

    def handle_error(self, request, client_address):
        # A client that gave up (a timeout) leaves the answer nowhere to go. Kept here
        # rather than printed, for the printing would land in the CLI's captured stderr.
        self.errors.append(repr(sys.exc_info()[1]))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/api/v2"


class Handler(BaseHTTPRequestHandler):
    server: FakeApi

    def log_message(self, format, *args):  # keep the test output clean
        pass

    def send_json(self, status: int, body: object, headers: dict | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        url = urlsplit(self.path)
        query = {key: values[0] for key, values in parse_qs(url.query).items()}
        self.server.requests.append({"path": url.path, **query})
        if self.server.always_fail:
            return self.send_json(self.server.always_fail, {"error": "down"})
        if self.server.failures:
            failure = self.server.failures.popleft()
            if failure[0] == "sleep":
                time.sleep(failure[1])
            else:
                status, headers = failure
                return self.send_json(status, {"error": "try later"}, headers)
        if url.path != "/api/v2/studies":
            return self.send_json(404, {"error": "no such path"})
        if "filter.ids" in query:
            ids = query["filter.ids"].split(",")
            return self.send_json(
                200, {"studies": [self.server.by_id[i] for i in ids if i in self.server.by_id]}
            )
        page = PAGES.get(query.get("pageToken"))
        if page is None:
            return self.send_json(400, {"error": "bad pageToken"})
        self.send_json(200, page)


@pytest.fixture
def api():
    server = FakeApi()
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
    )
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def sync_app(make_app, api):
    return make_app(CTGOV_API_URL=api.url)


def run_sync(app, *args):
    return app.test_cli_runner().invoke(args=["trials", "sync", *FAST, *args])


def statuses(app) -> dict[str, str]:
    with app.app_context():
        return dict(db.session.execute(select(Trial.nct_id, Trial.overall_status)).all())


def listing_requests(api) -> list[dict]:
    return [r for r in api.requests if "filter.ids" not in r]


def test_follows_every_page_and_imports_through_the_catalog(sync_app, api):
    result = run_sync(sync_app)
    assert result.exit_code == 0, result.output
    assert result.stderr == (
        "page 2 studies[1]: identificationModule.nctId 'NCT9999010X' is not NCT and 8 digits\n"
    )
    assert result.stdout == (
        "Pages: 2; requests: 2.\n"
        "Studies: 3 new, 0 updated, 0 unchanged, 1 skipped.\n"
        "Unrecognized countries: 0.\n"
        "Rechecked by NCT id: 0 held as recruiting but not listed; 0 not found.\n"
    )
    first, second = api.requests
    assert first == {
        "path": "/api/v2/studies",
        "format": "json",
        "query.cond": sync.condition_query(),
        "filter.overallStatus": "RECRUITING,NOT_YET_RECRUITING",
        "pageSize": "100",
    }
    assert second == {**first, "pageToken": "FICTIONALPAGE2"}
    assert '"acute lymphoblastic leukemia" OR "acute myeloid leukemia"' in first["query.cond"]
    assert '"neuroblastoma"' in first["query.cond"] and '"germ cell tumor"' in first["query.cond"]
    assert statuses(sync_app) == {
        "NCT99990101": "RECRUITING",
        "NCT99990102": "NOT_YET_RECRUITING",
        "NCT99990103": "RECRUITING",
    }
    with sync_app.app_context():
        wilms = db.session.scalar(select(Trial).filter_by(nct_id="NCT99990103"))
        assert (wilms.min_age_months, wilms.max_age_months, wilms.diagnoses) == (6, 192, "|wilms|")
        assert [(s.city, s.country_code) for s in wilms.sites] == [("Lisbon", "PT")]
        run = db.session.scalar(select(TrialImport))
        assert (run.source, run.new, run.updated, run.skipped) == ("sync", 3, 0, 1)
        assert run.finished_at is not None


def test_a_second_sync_of_unchanged_records_writes_nothing_and_never_duplicates(sync_app, api):
    run_sync(sync_app)
    result = run_sync(sync_app, "--page-size", "50")
    assert result.exit_code == 0
    assert "Studies: 0 new, 0 updated, 3 unchanged, 1 skipped." in result.stdout
    assert (count(sync_app, Trial), count(sync_app, TrialSite), count(sync_app, TrialImport)) == (
        3,
        2,
        2,
    )
    assert api.requests[-1]["pageSize"] == "50"


def test_max_pages_stops_early_and_skips_the_recheck(sync_app, api):
    result = run_sync(sync_app, "--max-pages", "1")
    assert result.exit_code == 0
    assert result.stdout.startswith(
        "Pages: 1 (stopped by --max-pages 1; more are listed); requests: 1.\n"
    )
    assert "Rechecked" not in result.stdout
    assert sorted(statuses(sync_app)) == ["NCT99990101", "NCT99990102"]


def test_a_trial_that_stopped_recruiting_is_rechecked_by_nct_id(sync_app, api):
    assert (
        sync_app.test_cli_runner()
        .invoke(args=["trials", "import", str(TRIAL_FIXTURES / "list.json")])
        .exit_code
        == 0
    )
    closed = copy.deepcopy(STUDY)
    closed["protocolSection"]["identificationModule"]["nctId"] = "NCT99990002"
    closed["protocolSection"]["statusModule"]["overallStatus"] = "COMPLETED"
    api.by_id["NCT99990002"] = closed  # NCT99990004 (also recruiting) is gone from the API
    result = run_sync(sync_app)
    assert result.exit_code == 0, result.output
    assert "Studies: 3 new, 1 updated, 0 unchanged, 1 skipped." in result.stdout
    assert "Rechecked by NCT id: 2 held as recruiting but not listed; 1 not found." in result.stdout
    rechecks = [r for r in api.requests if "filter.ids" in r]
    assert rechecks == [
        {
            "path": "/api/v2/studies",
            "format": "json",
            "filter.ids": "NCT99990002,NCT99990004",
            "pageSize": "100",
        }
    ]
    found = statuses(sync_app)
    assert found["NCT99990002"] == "COMPLETED"
    assert found["NCT99990003"] == "AVAILABLE_SOMEDAY"  # not recruiting: not asked for
    assert found["NCT99990004"] == "RECRUITING"  # not found: left as it was


@pytest.mark.parametrize("status", [429, 500, 502, 503])
def test_retries_after_a_rate_limit_or_a_server_error(sync_app, api, status):
    api.failures.extend([(status, {}), (status, {"Retry-After": "0"})])
    result = run_sync(sync_app)
    assert result.exit_code == 0, result.output
    assert "Pages: 2; requests: 4." in result.stdout
    assert len(listing_requests(api)) == 4
    assert count(sync_app, Trial) == 3


def test_retries_after_a_timeout(sync_app, api):
    api.failures.append(("sleep", 0.6))  # the client waits 0.3 s, then tries again
    result = run_sync(sync_app, "--timeout", "0.3")
    assert result.exit_code == 0, result.output
    assert "Pages: 2; requests: 3." in result.stdout
    assert api.requests[0] == api.requests[1]  # the same page asked for again
    assert count(sync_app, Trial) == 3


def test_gives_up_after_the_attempts_keeping_the_pages_already_fetched(sync_app, api):
    run_sync(sync_app)  # a first, complete run

    api.always_fail = 503
    result = run_sync(sync_app, "--attempts", "3")
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: sync stopped: GET /studies (listing page 1) failed 3 times, the last: "
        "HTTP 503 Service Unavailable; studies fetched before were kept\n"
    )
    assert len(listing_requests(api)) == 2 + 3
    with sync_app.app_context():
        last = db.session.scalar(select(TrialImport).order_by(TrialImport.id.desc()))
        assert (last.source, last.finished_at, last.new, last.updated) == ("sync", None, 0, 0)


def test_a_failure_on_a_later_page_keeps_the_first_page(sync_app, api):
    api.failures.extend([("sleep", 0), (503, {}), (503, {})])
    result = run_sync(sync_app, "--attempts", "2")
    assert result.exit_code == 1
    assert "GET /studies (listing page 2) failed 2 times" in result.stderr
    assert sorted(statuses(sync_app)) == ["NCT99990101", "NCT99990102"]
    with sync_app.app_context():
        run = db.session.scalar(select(TrialImport))
        assert (run.new, run.finished_at) == (2, None)


def test_a_client_error_is_not_retried(make_app, api):
    app = make_app(CTGOV_API_URL=api.url + "/wrong")
    result = run_sync(app)
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: sync stopped: GET /studies (listing page 1): HTTP 404 Not Found; "
        "studies fetched before were kept\n"
    )
    assert len(api.requests) == 1


def test_an_unreachable_server_is_retried_then_given_up(make_app, api):
    port = api.server_address[1]
    api.shutdown()
    api.server_close()  # nothing listens on the port any more
    app = make_app(CTGOV_API_URL=f"http://127.0.0.1:{port}/api/v2")
    result = run_sync(app, "--attempts", "2")
    assert result.exit_code == 1
    assert (
        "GET /studies (listing page 1) failed 2 times, the last: ConnectionRefusedError"
        in result.stderr
    )
    assert count(app, Trial) == 0


def test_an_answer_without_studies_stops_the_sync(sync_app, api, monkeypatch):
    monkeypatch.setitem(PAGES, None, {"unexpected": True})
    result = run_sync(sync_app)
    assert result.exit_code == 1
    assert "GET /studies (listing page 1): the answer has no list of studies" in result.stderr


# The client's waits, with a fake clock: what it would sleep ---------------------------


class FakeTime:
    def __init__(self):
        self.now = 100.0
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 3))
        self.now += seconds

    def clock(self) -> float:
        return self.now


def fake_client(api, **settings) -> tuple[sync.Client, FakeTime]:
    fake = FakeTime()
    return sync.Client(api.url, sleep=fake.sleep, clock=fake.clock, timeout=2, **settings), fake


def test_the_backoff_doubles_and_honours_a_longer_retry_after(api):
    client, fake = fake_client(api, backoff=1.0, interval=0, attempts=5)
    api.failures.extend(
        [(503, {}), (429, {}), (429, {"Retry-After": "7"}), (500, {"Retry-After": "1"})]
    )
    assert client.get_json("/studies", {}, "page 1")["nextPageToken"] == "FICTIONALPAGE2"
    assert fake.slept == [1.0, 2.0, 7.0, 8.0]
    assert client.requests == 5


def test_a_retry_after_date_is_honoured_and_long_waits_are_capped(api):
    client, fake = fake_client(api, backoff=1.0, interval=0)
    api.failures.extend(
        [(429, {"Retry-After": "Fri, 31 Dec 2100 23:59:59 GMT"}), (429, {"Retry-After": "soon"})]
    )
    client.get_json("/studies", {}, "page 1")
    assert fake.slept == [sync.MAX_WAIT, 2.0]


def test_requests_keep_a_minimum_interval(api):
    client, fake = fake_client(api, interval=1.5)
    client.get_json("/studies", {}, "page 1")
    fake.now += 0.5  # the caller took half a second with the first page
    client.get_json("/studies", {"pageToken": "FICTIONALPAGE2"}, "page 2")
    fake.now += 2.0
    client.get_json("/studies", {}, "page 1")
    assert fake.slept == [1.0]


def test_an_answer_that_is_not_json_is_tried_again(api, monkeypatch):
    client, fake = fake_client(api, backoff=0.5, interval=0, attempts=2)
    original = Handler.send_json

    def broken_once(self, status, body, headers=None):
        if len(self.server.requests) == 1:
            data = b"<html>gateway hiccup</html>"
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        else:
            original(self, status, body, headers)

    monkeypatch.setattr(Handler, "send_json", broken_once)
    assert client.get_json("/studies", {}, "page 1")["nextPageToken"] == "FICTIONALPAGE2"
    assert fake.slept == [0.5]
    assert client.requests == 2


def test_the_sync_help_says_what_it_does(make_app):
    result = make_app().test_cli_runner().invoke(args=["trials", "sync", "--help"])
    assert result.exit_code == 0
    for words in (
        "not-yet-recruiting",
        "following every",
        "Retry-After",
        "--max-pages",
        "--interval",
    ):
        assert words in result.output
