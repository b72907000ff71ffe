"""Lighthouse scores of the public pages, for ``make audit``.

Run as ``.venv/bin/python -m audit.run_audit`` after ``npm ci --prefix audit`` (``make
audit`` does both). It makes a throwaway folder with a SQLite database (``DATABASE_URL``)
and a fixed ``SECRET_KEY``, creates the schema with ``flask db upgrade``, loads the sample
testimonials with ``flask content load`` and a fictional trial with ``flask trials import``
(so that a trial's page is audited too), serves the app on a free 127.0.0.1 port with
``flask run`` (debugger and reloader off, ``MICROSITE_ENV=production``), waits for
``/healthz`` and runs Lighthouse (audit/node_modules, driving headless Chromium) on each
page of ``PAGES`` (the indexable pages in English and at /es/ in Spanish, each with SEO
100 as its target): mobile, Lighthouse's default form factor and the main figure, and with
``--desktop`` also the desktop preset. It prints the four category scores per page and, for every
category under its target, the audits that cost points.

Scores are measurements, not tests: the script exits 0 whatever they are, and non-zero
only when it could not measure (no Chromium, no Lighthouse, the app did not start, a
Lighthouse run failed). Standard library only.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from datetime import datetime
from pathlib import Path

from tools.app import FLASK, ROOT, FlaskFailed, app_env, flask
from tools.machine import describe, version

AUDIT = Path(__file__).resolve().parent
LIGHTHOUSE = AUDIT / "node_modules" / ".bin" / "lighthouse"
SECRET_KEY = "lighthouse-audit-key-not-a-secret"
DEFAULT_CHROME = "/usr/bin/chromium"
CHROME_FLAGS = (
    "--headless=new --no-sandbox --disable-gpu --disable-background-networking "
    "--disable-component-update --disable-sync --no-first-run"
)
# A fictional recruiting study (the test suite's recorded ClinicalTrials.gov record),
# imported into the throwaway database so that a trial page can be audited.
SAMPLE_TRIALS = ROOT / "tests" / "fixtures" / "trials" / "study.json"
SAMPLE_TRIAL = "NCT99990001"
# The indexable pages in English and in Spanish (/es/...), a trial's page in both.
PAGES = (
    "/",
    "/apply",
    "/share",
    "/privacy",
    f"/trials/{SAMPLE_TRIAL}",
    "/es/",
    "/es/apply",
    "/es/share",
    "/es/privacy",
    f"/es/trials/{SAMPLE_TRIAL}",
)
CATEGORIES = (  # Lighthouse's id, the column title, the target score
    ("performance", "performance", 95),
    ("accessibility", "accessibility", 100),
    ("best-practices", "best practices", 100),
    ("seo", "SEO", 100),
)
STARTUP_SECONDS = 30
LIGHTHOUSE_SECONDS = 300


class AuditError(RuntimeError):
    """The measurement itself could not be made."""


# --- the app ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def audit_env(work: Path, port: int) -> dict[str, str]:
    return app_env(
        f"sqlite:///{work / 'audit.sqlite3'}",
        SECRET_KEY,
        MICROSITE_ENV="production",
        PUBLIC_URL=f"http://127.0.0.1:{port}",
        FLASK_DEBUG="0",
        PYTHONUNBUFFERED="1",
    )


def start_server(work: Path, port: int, env: dict[str, str]) -> tuple[subprocess.Popen, Path]:
    log_path = work / "server.log"
    log = open(log_path, "w")
    server = subprocess.Popen(
        [
            FLASK,
            "--app",
            "microsite",
            "run",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-debugger",
            "--no-reload",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    log.close()
    deadline = time.monotonic() + STARTUP_SECONDS
    url = f"http://127.0.0.1:{port}/healthz"
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AuditError(f"the app exited ({server.returncode}):\n{log_path.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return server, log_path
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    stop_server(server)
    raise AuditError(
        f"{url} did not answer 200 within {STARTUP_SECONDS} s:\n{log_path.read_text()}"
    )


def stop_server(server: subprocess.Popen) -> None:
    if server.poll() is not None:
        return
    try:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()
    except ProcessLookupError:
        pass


# --- Lighthouse ---------------------------------------------------------------------------


def lighthouse(url: str, out: Path, chrome: str, desktop: bool, profile: Path) -> dict:
    argv = [
        str(LIGHTHOUSE),
        url,
        "--output=json",
        f"--output-path={out}",
        "--quiet",
        f"--chrome-flags={CHROME_FLAGS} --user-data-dir={profile}",
        "--only-categories=" + ",".join(c for c, _, _ in CATEGORIES),
    ]
    if desktop:
        argv.append("--preset=desktop")
    env = dict(os.environ, CHROME_PATH=chrome)
    try:
        done = subprocess.run(
            argv, cwd=AUDIT, env=env, capture_output=True, text=True, timeout=LIGHTHOUSE_SECONDS
        )
    except subprocess.TimeoutExpired:
        raise AuditError(f"Lighthouse on {url} took over {LIGHTHOUSE_SECONDS} s") from None
    if done.returncode != 0 or not out.exists():
        raise AuditError(
            f"Lighthouse on {url} failed ({done.returncode}):\n"
            f"{(done.stderr or done.stdout).strip()[-3000:]}"
        )
    report = json.loads(out.read_text())
    if report.get("runtimeError"):
        error = report["runtimeError"]
        raise AuditError(f"Lighthouse on {url}: {error.get('code')}: {error.get('message')}")
    return report


def score(report: dict, category: str) -> int | None:
    value = report["categories"].get(category, {}).get("score")
    return None if value is None else round(value * 100)


def losing_audits(report: dict, category: str) -> list[dict]:
    """The audits of a category that cost points (weight > 0 and score < 1, or an error),
    heaviest first."""
    audits = report["audits"]
    found = []
    for ref in report["categories"][category]["auditRefs"]:
        audit = audits.get(ref["id"], {})
        mode, value, weight = (
            audit.get("scoreDisplayMode"),
            audit.get("score"),
            ref.get("weight", 0),
        )
        if mode != "error" and (weight == 0 or value is None or value >= 1):
            continue
        found.append(audit_summary(ref["id"], audit, weight))
    found.sort(key=lambda a: (-a["weight"], a["score"] if a["score"] is not None else 0))
    return found


def hints(report: dict) -> list[dict]:
    """Performance audits that fail but weigh nothing (Lighthouse's "opportunities",
    "diagnostics" and "insights"): no points lost, yet what to look at first if the
    performance score drops."""
    audits = report["audits"]
    found = []
    for ref in report["categories"]["performance"]["auditRefs"]:
        audit = audits.get(ref["id"], {})
        if ref.get("weight", 0) or audit.get("scoreDisplayMode") in (
            "notApplicable",
            "manual",
            "informative",
            "error",
        ):
            continue
        if audit.get("score") is not None and audit["score"] < 1:
            found.append(audit_summary(ref["id"], audit, 0))
    return found


def audit_summary(audit_id: str, audit: dict, weight: float) -> dict:
    error = audit.get("scoreDisplayMode") == "error"
    return {
        "id": audit_id,
        "title": audit.get("title", ""),
        "score": None if error else audit.get("score"),
        "weight": weight,
        "display": audit.get("displayValue", "") or audit.get("errorMessage", ""),
        "items": failing_items(audit),
    }


def failing_items(audit: dict, limit: int = 5) -> list[str]:
    """A few of the elements or URLs an audit names, so the fix can be found."""
    details = audit.get("details") or {}
    items = details.get("items") or []
    if isinstance(items, dict):  # a checklist: the checks that failed
        return [
            check.get("label", name)
            for name, check in items.items()
            if isinstance(check, dict) and check.get("value") is False
        ]
    lines = []
    for item in items[:limit]:
        if not isinstance(item, dict):
            continue
        node = item.get("node") or {}
        if node:
            label = node.get("snippet") or node.get("selector") or ""
            explanation = node.get("explanation", "")
            lines.append(f"{label}  {explanation}".strip().replace("\n", " "))
        elif item.get("url"):
            extra = [
                f"{k}={item[k]}"
                for k in ("statusCode", "wastedBytes", "wastedMs", "cacheLifetimeMs", "totalBytes")
                if item.get(k) not in (None, "")
            ]
            lines.append(f"{item['url']} {' '.join(extra)}".strip())
        elif item.get("description"):
            lines.append(str(item["description"]))
        elif item.get("source"):
            source = item["source"]
            lines.append(source.get("url", "") if isinstance(source, dict) else str(source))
        else:
            lines.append(json.dumps(item, default=str)[:200])
    return [line[:240] for line in lines]


# --- report -------------------------------------------------------------------------------


def machine(chrome: str) -> str:
    return (
        f"{describe(python=False)}; Node.js {version(['node', '--version'])}; "
        f"Lighthouse {version([str(LIGHTHOUSE), '--version'])}; {version([chrome, '--version'])}"
    )


def table(rows: list[tuple[str, dict]]) -> str:
    header = "| page | " + " | ".join(title for _, title, _ in CATEGORIES) + " |"
    lines = [header, "|---|" + "---:|" * len(CATEGORIES)]
    for page, report in rows:
        cells = []
        for category, _, target in CATEGORIES:
            value = score(report, category)
            cells.append(
                "n/a" if value is None else f"{value}" if value >= target else f"**{value}**"
            )
        lines.append(f"| `{page}` | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def shortfalls(label: str, rows: list[tuple[str, dict]], origin: str) -> list[str]:
    lines = []
    for page, report in rows:
        for category, title, target in CATEGORIES:
            value = score(report, category)
            if value is not None and value >= target:
                continue
            lines.append(f"{label} {page}: {title} {value} (target {target})")
            audits = losing_audits(report, category)
            if not audits:
                lines.append("  (no single audit below 1: the score is the weighted metrics)")
            for audit in audits:
                shown = "error" if audit["score"] is None else f"{audit['score']:.2f}"
                display = f" - {audit['display']}" if audit["display"] else ""
                lines.append(
                    f"  {audit['id']} (score {shown}, weight {audit['weight']}): "
                    f"{audit['title']}{display}"
                )
                lines.extend(f"      {item.replace(origin, '')}" for item in audit["items"])
    return lines


# Always "failing" (score 0) when the page loads anything at all: a picture, not a hint.
NOT_HINTS = {"network-dependency-tree-insight"}


def hint_report(rows: list[tuple[str, dict]], origin: str) -> list[str]:
    """Each failing zero-weight audit once, with the pages it fails on and what it found."""
    seen: dict[str, list[tuple[str, dict]]] = {}
    for page, report in rows:
        for hint in hints(report):
            if hint["id"] not in NOT_HINTS:
                seen.setdefault(hint["id"], []).append((page, hint))
    lines = []
    for audit_id, found in seen.items():
        lines.append(f"  {audit_id}: {found[0][1]['title']}")
        for page, hint in found:
            display = f": {hint['display']}" if hint["display"] else ""
            items = "; ".join(item.replace(origin, "") for item in hint["items"])
            lines.append(f"      {page}{display}" + (f" ({items})" if items else ""))
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--desktop",
        action="store_true",
        help="also run Lighthouse's desktop preset (mobile is always run)",
    )
    parser.add_argument(
        "--pages",
        default=",".join(PAGES),
        help=f"comma-separated paths (default {','.join(PAGES)})",
    )
    parser.add_argument(
        "--keep", metavar="DIR", help="copy the JSON reports and the server log into DIR"
    )
    args = parser.parse_args()
    pages = [p.strip() for p in args.pages.split(",") if p.strip()]

    chrome = os.environ.get("CHROME_PATH", DEFAULT_CHROME)
    if not (os.path.isfile(chrome) and os.access(chrome, os.X_OK)):
        print(
            f"audit: no Chromium at {chrome}: apt-get install -y chromium (or set CHROME_PATH)",
            file=sys.stderr,
        )
        return 2
    if not LIGHTHOUSE.exists():
        print(f"audit: {LIGHTHOUSE} is missing: run npm ci --prefix audit", file=sys.stderr)
        return 2

    print(f"machine: {machine(chrome)}", flush=True)
    work = Path(tempfile.mkdtemp(prefix="microsite-audit-"))
    server = None
    results: dict[str, list[tuple[str, dict]]] = {"mobile": [], "desktop": []}
    try:
        port = free_port()
        env = audit_env(work, port)
        flask(env, "db", "upgrade")
        flask(env, "content", "load")
        flask(env, "trials", "import", str(SAMPLE_TRIALS))
        origin = f"http://127.0.0.1:{port}"
        server, log_path = start_server(work, port, env)
        print(f"serving a throwaway copy on {origin} (flask run, debug off)", flush=True)
        forms = ["mobile", "desktop"] if args.desktop else ["mobile"]
        for form in forms:
            for page in pages:
                print(f"lighthouse {form} {page} ...", flush=True)
                slug = page.strip("/").replace("/", "-") or "home"
                out = work / f"{form}-{slug}.json"
                profile = work / f"chrome-{form}-{slug}"
                report = lighthouse(f"{origin}{page}", out, chrome, form == "desktop", profile)
                results[form].append((page, report))
        if args.keep:
            keep = Path(args.keep)
            keep.mkdir(parents=True, exist_ok=True)
            for path in work.glob("*.json"):
                shutil.copy(path, keep / path.name)
            shutil.copy(log_path, keep / "server.log")
        not_found = [line for line in log_path.read_text().splitlines() if '" 404 ' in line]
    except (AuditError, FlaskFailed) as error:
        print(f"audit: {error}", file=sys.stderr)
        return 1
    finally:
        if server is not None:
            stop_server(server)
        shutil.rmtree(work, ignore_errors=True)

    stamp = datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    targets = ", ".join(f"{title} {target}" for _, title, target in CATEGORIES)
    for form in ("mobile", "desktop"):
        if not results[form]:
            continue
        print()
        print(f"Lighthouse {form} scores, {stamp} (targets: {targets}; bold: under target)")
        print(table(results[form]))
    lines = []
    for form in ("mobile", "desktop"):
        lines += shortfalls(form, results[form], origin)
    print()
    if lines:
        print("Under target, and the audits that cost points:")
        print("\n".join(lines))
    else:
        print("Every page meets every target.")
    hint_lines = hint_report(results["mobile"] or results["desktop"], origin)
    if hint_lines:
        print()
        print("Performance hints that cost no points here (weight 0), mobile:")
        print("\n".join(hint_lines))
    if not_found:
        print()
        print("Requests the server answered with 404 during the run:")
        print("\n".join(f"  {line}" for line in not_found))
    return 0


if __name__ == "__main__":
    sys.exit(main())
