"""``flask trials sync``: fetch recruiting pediatric cancer studies from the ClinicalTrials.gov
API v2 and upsert them through the same code as ``flask trials import``.

It asks ``GET {CTGOV_API_URL}/studies`` for the conditions of our diagnosis list (the first
written-out name of each diagnosis in the synonym table, joined with OR) and the statuses
RECRUITING and NOT_YET_RECRUITING, ``pageSize`` studies a page, following
``nextPageToken`` until there is none. Then, so that a trial that stopped recruiting is not
shown to families any more, it asks again by NCT id (``filter.ids``, any status) for the
trials the catalog holds as recruiting that this run did not see, and stores their new
status.

Politeness and failures: at least ``interval`` seconds between the starts of two
requests; each request has a ``timeout``; a 429, a 5xx, a timeout, a refused or dropped
connection or a body that is not JSON is retried after ``backoff`` seconds, doubling each
time (at most 5 minutes), or after the server's ``Retry-After`` when that is longer, up to
``attempts`` tries in all; then the run stops with ``SyncError``. Any other 4xx stops at
once. Studies fetched before a failure are kept.
"""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.error import HTTPError, URLError
from urllib.parse import urlencode
from urllib.request import Request, urlopen

from sqlalchemy import select

from ..choices import OPEN_TRIAL_STATUSES
from ..extensions import db
from ..models import Trial
from .catalog import Importer, ImportReport
from .synonyms import SYNONYMS

PAGE_SIZE = 100
IDS_PER_REQUEST = 100
MAX_WAIT = 300.0  # seconds: the longest wait between two attempts, whatever Retry-After says
USER_AGENT = "TrialFinder-microsite/1 (trial catalog sync)"


class SyncError(Exception):
    """The API could not be read; the message says which request and why, on one line."""


def condition_query() -> str:
    """``query.cond``: the first written-out (not acronym) name of each diagnosis, quoted,
    joined with OR: '"acute lymphoblastic leukemia" OR "acute myeloid leukemia" OR ...'."""
    names = []
    for terms in SYNONYMS.values():
        written_out = [term for term in terms if term != term.upper()]
        if written_out:
            names.append(f'"{written_out[0]}"')
    return " OR ".join(names)


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header: a number of seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())


@dataclass
class Client:
    """GETs JSON from the API, politely, with retries (see the module's docstring)."""

    base_url: str
    timeout: float = 30.0
    attempts: int = 5
    backoff: float = 2.0
    interval: float = 1.5
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    requests: int = 0
    _last_start: float | None = field(default=None, repr=False)

    def _take_turn(self) -> None:
        if self._last_start is not None:
            wait = self._last_start + self.interval - self.clock()
            if wait > 0:
                self.sleep(wait)
        self._last_start = self.clock()

    def get_json(self, path: str, params: dict, what: str) -> object:
        url = f"{self.base_url.rstrip('/')}{path}?{urlencode(params)}"
        request = Request(url, headers={"Accept": "application/json", "User-Agent": USER_AGENT})
        for attempt in range(1, self.attempts + 1):
            self._take_turn()
            self.requests += 1
            retry_after = None
            try:
                with urlopen(request, timeout=self.timeout) as response:
                    return json.loads(response.read())
            except HTTPError as error:
                with error:
                    if error.code != 429 and error.code < 500:
                        raise SyncError(
                            f"GET {path} ({what}): HTTP {error.code} {error.reason}"
                        ) from None
                    problem = f"HTTP {error.code} {error.reason}"
                    retry_after = _retry_after(error.headers.get("Retry-After"))
            except (TimeoutError, URLError, ConnectionError, http.client.HTTPException) as error:
                reason = getattr(error, "reason", None) or error
                problem = (
                    "timed out"
                    if isinstance(reason, TimeoutError)
                    else f"{type(reason).__name__}: {reason}"
                )
            except (json.JSONDecodeError, UnicodeDecodeError):
                problem = "the answer is not JSON"
            if attempt == self.attempts:
                times = "once:" if self.attempts == 1 else f"{self.attempts} times, the last:"
                raise SyncError(f"GET {path} ({what}) failed {times} {problem}")
            wait = self.backoff * 2 ** (attempt - 1)
            if retry_after is not None:
                wait = max(wait, retry_after)
            self.sleep(min(wait, MAX_WAIT))
        raise AssertionError("unreachable")  # pragma: no cover


@dataclass
class SyncReport:
    imported: ImportReport
    pages: int = 0
    complete: bool = False  # every page was fetched (no --max-pages cut)
    rechecked: int = 0  # recruiting trials not in the listing, asked for by NCT id
    not_found: int = 0  # of those, how many the API no longer has


def _pages(client: Client, params: dict, what: str, max_pages: int | None = None):
    """Yield (page number, studies, next page token or None), following nextPageToken."""
    token = None
    page = 0
    while True:
        page += 1
        answer = client.get_json(
            "/studies", {**params, **({"pageToken": token} if token else {})}, f"{what} page {page}"
        )
        studies = answer.get("studies") if isinstance(answer, dict) else None
        if not isinstance(studies, list):
            raise SyncError(f"GET /studies ({what} page {page}): the answer has no list of studies")
        token = answer.get("nextPageToken") or None
        yield page, studies, token
        if token is None or (max_pages is not None and page >= max_pages):
            return


def sync(
    client: Client,
    on_problem: Callable[[str, str], None] | None = None,
    max_pages: int | None = None,
    page_size: int = PAGE_SIZE,
) -> SyncReport:
    """Fetch and upsert; recorded as a TrialImport with source "sync"."""
    params = {
        "format": "json",
        "query.cond": condition_query(),
        "filter.overallStatus": ",".join(OPEN_TRIAL_STATUSES),
        "pageSize": page_size,
    }
    with Importer("sync", on_problem, keep_on=(SyncError,)) as importer:
        report = SyncReport(importer.report)
        token = None
        for page, studies, next_token in _pages(client, params, "listing", max_pages):
            token = next_token
            report.pages = page
            for index, raw in enumerate(studies):
                importer.add(f"page {page} studies[{index}]", raw)
        report.complete = token is None
        if report.complete:
            _recheck(client, importer, report, page_size)
    return report


def _recheck(client: Client, importer: Importer, report: SyncReport, page_size: int) -> None:
    """Ask by NCT id for the trials we hold as recruiting that the listing left out."""
    importer.flush()
    stale = [
        nct_id
        for nct_id in db.session.scalars(
            select(Trial.nct_id)
            .where(Trial.overall_status.in_(OPEN_TRIAL_STATUSES))
            .order_by(Trial.nct_id)
        )
        if nct_id not in importer.report.seen
    ]
    report.rechecked = len(stale)
    for start in range(0, len(stale), IDS_PER_REQUEST):
        ids = stale[start : start + IDS_PER_REQUEST]
        params = {"format": "json", "filter.ids": ",".join(ids), "pageSize": page_size}
        what = f"recheck {start // IDS_PER_REQUEST + 1}"
        for page, studies, _token in _pages(client, params, what):
            for index, raw in enumerate(studies):
                importer.add(f"{what} page {page} studies[{index}]", raw)
        report.not_found += len(set(ids) - importer.report.seen)
