"""No personal data in logs: every log line written during complete flows (apply, share,
mail, staff sign-in, lead work, exports, erasure) is captured and searched for what the
visitors and staff typed; the development server's and gunicorn's request lines carry no
client address, no query string and no token."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from microsite.extensions import db
from microsite.models import Lead, Referral
from tests.helpers import (
    ROOT,
    STAFF_EMAIL,
    STAFF_PASSWORD,
    enrol_app,
    form_filler,
    free_port,
    log_in,
    post_on_lead_page,
)

CLIENT_ADDRESS = "198.51.100.77"
APPLICANT = {
    "role": "parent",
    "patient_age": "9",
    "diagnosis": "other",
    "diagnosis_other": "Zygomorphic rhabdoid tumour",
    "treatment_stage": "relapsed",
    "country": "GB",
    "postal_code": "EC1A 1BB",
    "name": "Zebediah Quartermaine",
    "email": "zq.private@example.org",
    "phone": "+44 20 7946 0958",
    "contact_method": "phone",
    "consent": "y",
}
SHARER = {
    "sender_name": "Ottoline Prism",
    "friend_name": "Peregrine Lumb",
    "friend_email": "peregrine.lumb@example.net",
    "consent": "y",
}
WRONG_PASSWORD = "wrong horse battery staple 43"
NOTE = "Called Zebediah's mother about the Zygomorphic rhabdoid tumour"

PERSONAL_VALUES = [
    APPLICANT["name"],
    "Quartermaine",
    APPLICANT["email"],
    APPLICANT["diagnosis_other"],
    "Zygomorphic",
    APPLICANT["postal_code"],
    APPLICANT["phone"],
    "+442079460958",
    "7946 0958",
    SHARER["sender_name"],
    SHARER["friend_name"],
    SHARER["friend_email"],
    "Lumb",
    STAFF_EMAIL,
    STAFF_PASSWORD,
    WRONG_PASSWORD,
    NOTE,
    CLIENT_ADDRESS,
]


def assert_no_personal_data(text: str) -> None:
    found = [value for value in PERSONAL_VALUES if value.lower() in text.lower()]
    assert not found, f"personal data in the logs: {found}"


def test_complete_flows_log_ids_and_no_personal_data(make_app, smtp_server, caplog):
    caplog.set_level(logging.DEBUG)
    app = make_app(
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=smtp_server.port,
        MAIL_TIMEOUT=5,
        STAFF_NOTIFY_EMAIL="desk@example.com",
        RATELIMIT_ENABLED=True,
    )
    runner = app.test_cli_runner()
    visitor = app.test_client()
    visitor.environ_base["REMOTE_ADDR"] = CLIENT_ADDRESS

    fill = form_filler(visitor, "/apply", APPLICANT)
    assert (
        visitor.post("/apply", data=fill(email="not-an-email " + APPLICANT["name"])).status_code
        == 422
    )
    assert visitor.post("/apply", data=fill()).status_code == 303
    fill_share = form_filler(visitor, "/share", SHARER)
    assert visitor.post("/share", data=fill_share()).status_code == 303
    with app.app_context():
        lead_id = db.session.query(Lead.id).scalar()
        code = db.session.query(Referral.code).filter_by(kind="share").scalar()
    friend = app.test_client()
    friend.environ_base["REMOTE_ADDR"] = CLIENT_ADDRESS
    assert friend.get(f"/r/{code}?utm_source=newsletter").status_code == 302
    assert runner.invoke(args=["outbox", "send"]).exit_code == 0
    assert len(smtp_server.messages) == 3  # confirmation, staff notice, the friend's message

    created = runner.invoke(
        args=["staff", "create", STAFF_EMAIL, "--password-stdin"], input=STAFF_PASSWORD + "\n"
    )
    assert created.exit_code == 0, created.output
    staff = app.test_client()
    staff.environ_base["REMOTE_ADDR"] = CLIENT_ADDRESS
    assert log_in(staff, password=WRONG_PASSWORD).status_code == 401
    assert log_in(staff).status_code == 303  # the password: on to set up a second factor
    enrolled, secret = enrol_app(staff)
    assert enrolled.status_code == 303
    assert staff.get("/staff/?q=Quartermaine").status_code == 200
    assert post_on_lead_page(staff, lead_id, "status", status="contacted").status_code == 303
    assert post_on_lead_page(staff, lead_id, "notes", body=NOTE).status_code == 303
    assert APPLICANT["email"].encode() in staff.get("/staff/leads.csv?q=Quartermaine").data
    assert SHARER["friend_email"].encode() in staff.get("/staff/referrals.csv").data
    exported = runner.invoke(args=["leads", "export"])
    assert exported.exit_code == 0 and APPLICANT["name"] in exported.output
    erased = runner.invoke(args=["leads", "erase", APPLICANT["email"]])
    assert erased.exit_code == 0, erased.output

    # Everything logged but the test's own SMTP server (aiosmtpd logs what it receives).
    logged = "\n".join(
        f"{record.getMessage()} {record.exc_text or ''}"
        for record in caplog.records
        if not record.name.startswith("mail.log")
    )
    assert f"lead {lead_id}" in logged  # the logs do say what happened, by id
    assert_no_personal_data(logged)
    assert_no_personal_data(erased.output)
    assert secret not in logged  # nor the authenticator app's key


def test_a_database_error_never_copies_submitted_values_into_the_log(app):
    with app.app_context():
        assert db.engine.hide_parameters


@pytest.fixture
def server_environment(tmp_path):
    environment = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'server.sqlite3'}",
        "SECRET_KEY": "a-server-test-secret-key-that-is-long-enough-0123456789",
        "PYTHONUNBUFFERED": "1",
    }
    flask = [sys.executable, "-m", "flask", "--app", "microsite"]
    subprocess.run(
        [*flask, "db", "upgrade"], env=environment, cwd=ROOT, check=True, capture_output=True
    )
    subprocess.run(
        [*flask, "content", "load"], env=environment, cwd=ROOT, check=True, capture_output=True
    )
    return environment


def serve_and_request(command: list[str], environment: dict, port: int, log: Path) -> str:
    """Run a server, send it requests that carry personal data in the URL, return its log."""
    with log.open("wb") as output:
        server = subprocess.Popen(
            command, env=environment, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT
        )
        try:
            base = f"http://127.0.0.1:{port}"
            for _ in range(200):
                try:
                    urllib.request.urlopen(f"{base}/healthz", timeout=2)
                    break
                except OSError:
                    time.sleep(0.1)
            for path in [
                "/?utm_source=zq.private%40example.org",
                "/withdraw/SECRET-WITHDRAW-TOKEN",
                "/es/withdraw/SECRET-SPANISH-TOKEN",
                "/es/unsubscribe/SECRET-UNSUBSCRIBE-TOKEN",
                "/staff/set-password/SECRET-PASSWORD-LINK",
                "/r/SECRETCODE?x=1",
            ]:
                try:
                    urllib.request.urlopen(base + path, timeout=5)
                except OSError:
                    pass  # a 404 is fine: only the log line matters
        finally:
            server.terminate()
            server.wait(timeout=30)
    return log.read_text()


def request_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if '"GET ' in line]


def assert_request_lines_are_clean(text: str) -> None:
    lines = request_lines(text)
    assert any('"GET /withdraw/[token] HTTP/1.1" 404' in line for line in lines), text
    assert any('"GET /es/withdraw/[token] HTTP/1.1" 404' in line for line in lines), text
    assert any('"GET /staff/set-password/[token] HTTP/1.1" 400' in line for line in lines), text
    assert any('"GET / HTTP/1.1" 200' in line for line in lines), text
    for line in lines:
        assert not re.search(r"\b127\.0\.0\.1\b", line), line
        assert "?" not in line and "zq.private" not in line, line
        assert "SECRET" not in line, line


def test_the_development_server_logs_no_address_query_or_token(server_environment, tmp_path):
    port = free_port()
    command = [sys.executable, "-m", "flask", "--app", "microsite", "run", "--port", str(port)]
    text = serve_and_request(command, server_environment, port, tmp_path / "dev.log")
    assert_request_lines_are_clean(text)


def test_the_gunicorn_access_log_has_no_address_query_or_token(server_environment, tmp_path):
    port = free_port()
    command = [
        str(Path(sys.executable).parent / "gunicorn"),
        "-c",
        "gunicorn.conf.py",
        "--workers",
        "1",
    ]
    text = serve_and_request(
        command, {**server_environment, "PORT": str(port)}, port, tmp_path / "gunicorn.log"
    )
    assert_request_lines_are_clean(text)


def test_a_crash_on_a_token_url_logs_the_path_without_its_token(make_app, monkeypatch, caplog):
    from microsite import erasure

    def broken(token):
        raise RuntimeError("boom")

    monkeypatch.setattr(erasure, "lead_from_token", broken)
    app = make_app(PROPAGATE_EXCEPTIONS=False)
    caplog.set_level(logging.ERROR)
    assert app.test_client().get("/withdraw/SECRET-WITHDRAW-TOKEN").status_code == 500
    assert "Exception on /withdraw/[token] [GET]" in caplog.text
    assert "SECRET" not in caplog.text
