"""The checks of a scenario: each verdict printed as it is made, and what they look at: the
answers the clients counted, and the database read directly.
"""

from __future__ import annotations

import re
from collections import Counter

from .client import Load, summarize
from .site import Gunicorn, Site
from .workspace import say, tally


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


# What database_counts reads: single counts, and counts by the first column.
TOTALS = {
    "leads": "SELECT count(*) FROM lead",
    "personal_links": "SELECT count(DISTINCT lead_id) FROM referral WHERE kind = 'personal'",
    "confirmations": "SELECT count(DISTINCT lead_id) FROM outbox_message"
    " WHERE kind = 'confirmation'",
}
GROUPED = {
    "by_email": "SELECT email, count(*) FROM lead GROUP BY email",
    "by_key": "SELECT idempotency_key, count(*) FROM lead"
    " WHERE idempotency_key IS NOT NULL GROUP BY idempotency_key",
    "mail": "SELECT status, count(*) FROM outbox_message GROUP BY status",
}


def database_counts(url: str) -> dict:
    """Leads by email and idempotency key, and the rows each lead writes with it."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            counts = {
                name: connection.execute(text(sql)).scalar_one() for name, sql in TOTALS.items()
            }
            for name, sql in GROUPED.items():
                counts[name] = dict(connection.execute(text(sql)).all())
    finally:
        engine.dispose()
    return counts


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
    checks.check(not fives, "zero 5xx responses", tally(fives.items()) or "none")


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
        tally(other.items()) or "no other answers",
    )


def check_database(checks: Checks, load: Load, site: Site) -> None:
    """What the outbox holds and the SMTP sink received, then check_stored_once."""
    counts = database_counts(site.database_url)
    outbox = ", ".join(f"{status} {n}" for status, n in sorted(counts["mail"].items()))
    say(f"  mail: outbox {outbox}; the SMTP sink received {site.smtp.received}")
    check_stored_once(checks, load, counts)


def check_steady_load(checks: Checks, load: Load, site: Site, servers: tuple[Gunicorn, ...]):
    """A load that nothing disturbs, once it is over: zero 5xx, no dropped connection, and
    every submission stored once."""
    load.join()
    events = summarize(load, servers)
    no_5xx(checks, events)
    no_dropped(checks, events)
    check_database(checks, load, site)
