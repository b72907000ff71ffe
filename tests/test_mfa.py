"""The staff second factor through HTTP and the command line (the rules are in
``microsite/mfa.py``; passkey ceremonies themselves are driven in the browser suite):

- a password alone reaches nothing but the challenge and enrolment, over every staff
  route of the URL map, and shows no lead, family or other member;
- enrolling an authenticator app from the set-up page, ten recovery codes shown once, the
  app's key encrypted at rest;
- codes: one step of drift, each code once (a reused one logged), failures limited per
  account; recovery codes used once, each use mailed, a new set replacing the old;
- changes need the password from the last five minutes; each mails a notice (over a real
  SMTP server), goes into the access record and ends the member's other sessions; the
  last factor stays;
- resets by an admin on the team page and by ``flask staff reset-mfa``; password resets
  and changes keep every factor;
- check-config and the settings of a production start; what HTTP can check of passkeys.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest
from sqlalchemy import text, update

from microsite import mfa
from microsite.extensions import db
from microsite.models import (
    AccessRecord,
    OutboxMessage,
    RecoveryCode,
    StaffFactor,
    StaffSession,
    utcnow,
)
from microsite.staff.views import PASSWORD_ONLY_ENDPOINTS
from tests.helpers import (
    PUBLIC_URL,
    STAFF_EMAIL,
    STAFF_PASSWORD,
    add_lead,
    answer_challenge,
    count,
    create_staff_user,
    csrf_token,
    enrol_app,
    flask_command,
    log_in,
    log_in_with_password,
    rendered_hidden_fields,
    rows,
    staff_routes,
    totp_code,
    totp_secret,
)

OTHER = "other.member@example.com"
OTHER_PASSWORD = "the other member's password"
NEW_PASSWORD = "a brand new long password"
NOTICE_SUBJECT = "Security notice: your Trial Finder staff sign-in"
CODES_SHOWN = re.compile(r"<li><code>([0-9a-f]{4}(?:-[0-9a-f]{4}){3})</code></li>")
SET_PASSWORD_LINK = re.compile(re.escape(PUBLIC_URL) + r"(/staff/set-password/[A-Za-z0-9_.-]+)")

# A lead whose details must not show to a password-only session.
LEAD = {
    "name": "Quilla Zanzibar",
    "email": "quilla.zanzibar@example.org",
    "phone": "+44 7700 900123",
    "diagnosis": "other",
    "diagnosis_other": "Zygomorphic rhabdoid tumour",
}


# --- helpers ---------------------------------------------------------------------------


def post(client, page: str, action: str, **data):
    """POST ``action`` with the CSRF token of ``page``, as the page's form does."""
    return client.post(action, data={"csrf_token": csrf_token(client, page), **data})


def where(response) -> tuple[int, str | None]:
    return response.status_code, response.headers.get("Location")


def signed_in(app, email: str = STAFF_EMAIL, password: str = STAFF_PASSWORD):
    """A client past both steps: the password and the authenticator code."""
    client = app.test_client()
    assert where(log_in(client, email, password)) == (303, "/staff/")
    return client


def password_only(app, email: str = STAFF_EMAIL, password: str = STAFF_PASSWORD):
    """A client that typed the password and has not answered the challenge."""
    client = app.test_client()
    assert where(log_in_with_password(client, email, password)) == (303, "/staff/mfa")
    return client


def send_code(client, code: str):
    return post(client, "/staff/mfa", "/staff/mfa/code", code=code)


def send_recovery_code(client, code: str):
    return post(client, "/staff/mfa", "/staff/mfa/recovery", recovery_code=code)


def code_at(email: str, step: int) -> str:
    return pyotp.TOTP(totp_secret(email)).generate_otp(step)


def wrong_code(email: str) -> str:
    """Six digits that are none of the codes the member's app made around now."""
    near = {totp_code(email, offset) for offset in range(-3, 4)}
    return next(f"{n:06d}" for n in range(1_000_000) if f"{n:06d}" not in near)


def codes_on(page) -> list[str]:
    assert page.status_code == 200, page.headers.get("Location")
    return CODES_SHOWN.findall(page.get_data(as_text=True))


def new_recovery_codes(client) -> list[str]:
    """A new set from the account page, read off the page that shows it once."""
    made = post(client, "/staff/account", "/staff/account/recovery-codes")
    assert where(made) == (303, "/staff/mfa/recovery-codes")
    return codes_on(client.get("/staff/mfa/recovery-codes"))


def confirmed_long_ago(app, staff_id: int) -> None:
    """The member last typed the password (or proved a factor) six minutes ago."""
    with app.app_context():
        db.session.execute(
            update(StaffSession)
            .where(StaffSession.staff_id == staff_id)
            .values(reauthenticated_at=utcnow() - timedelta(minutes=6))
        )
        db.session.commit()


def is_confirm_redirect(response, next: str) -> bool:
    parts = urlsplit(response.headers.get("Location", ""))
    return (
        response.status_code == 303
        and parts.path == "/staff/account/confirm"
        and parse_qs(parts.query) == {"next": [next]}
    )


def is_sign_in_redirect(response) -> bool:
    return response.status_code == 302 and response.headers["Location"].startswith("/staff/login")


def factors_of(app, staff_id: int) -> list[StaffFactor]:
    return rows(app, StaffFactor, StaffFactor.staff_id == staff_id)


def records(app, action: str | None = None) -> list[tuple[str, str, str | None]]:
    found = [(r.actor, r.action, r.detail) for r in rows(app, AccessRecord)]
    return [entry for entry in found if action is None or entry[1] == action]


def notices(app, smtp_server, to: str) -> list[str]:
    """The text of every security notice the SMTP server has received for ``to``, once
    ``flask outbox send`` has delivered what is due."""
    sent = app.test_cli_runner().invoke(args=["outbox", "send"])
    assert sent.exit_code == 0, sent.output
    found = []
    for _, recipients, message in smtp_server.messages:
        if recipients == [to] and message["Subject"] == NOTICE_SUBJECT:
            found.append(message.get_body(preferencelist=("plain",)).get_content())
    return found


def open_session(app, staff_id: int) -> StaffSession:
    [row] = rows(
        app, StaffSession, StaffSession.staff_id == staff_id, StaffSession.ended_at.is_(None)
    )
    return row


# --- a password alone --------------------------------------------------------------------


@pytest.fixture
def team(app):
    """An admin holding an authenticator app (member 1), a navigator holding none yet,
    and a lead with id 1 whose details must not show."""
    create_staff_user(app)
    create_staff_user(app, OTHER, OTHER_PASSWORD, role="navigator", with_app=False)
    add_lead(app, **LEAD)
    return app


def test_the_password_only_endpoints_are_staff_routes(team):
    endpoints = {endpoint for _, _, endpoint in staff_routes(team, with_endpoints=True)}
    assert PASSWORD_ONLY_ENDPOINTS <= endpoints
    assert {"staff.dashboard", "staff.lead", "staff.account", "staff.team"}.isdisjoint(
        PASSWORD_ONLY_ENDPOINTS
    )


@pytest.mark.parametrize(
    ("email", "password", "other", "landing", "challenge"),
    [
        (STAFF_EMAIL, STAFF_PASSWORD, OTHER, "/staff/mfa", (200, None)),
        (OTHER, OTHER_PASSWORD, STAFF_EMAIL, "/staff/mfa/setup", (303, "/staff/mfa/setup")),
    ],
    ids=["holding-an-app", "holding-nothing-yet"],
)
def test_a_password_alone_reaches_no_staff_data(team, email, password, other, landing, challenge):
    """Over every staff route: pages send a password-only session to the challenge (to
    enrolment when the member holds no factor yet), CSVs answer 401, only the challenge
    and enrolment answer; no body shows the lead or the other member, and nothing is
    written to the access record."""
    secrets_shown = [LEAD["name"], LEAD["email"], LEAD["phone"], LEAD["diagnosis_other"], other]
    wrong = []
    for method, path, endpoint in staff_routes(team, with_endpoints=True):
        client = password_only(team, email, password)
        if method == "GET":
            response = client.get(path)
        else:
            page = "/staff/mfa" if challenge[0] == 200 else "/staff/mfa/setup"
            response = client.post(path, data={"csrf_token": csrf_token(client, page)})
        body = response.get_data(as_text=True)
        if endpoint in PASSWORD_ONLY_ENDPOINTS:
            ok = response.status_code < 500 and not is_sign_in_redirect(response)
        elif path.endswith(".csv"):
            ok = response.status_code == 401 and response.mimetype != "text/csv"
            ok = ok and "id,created_at" not in body
        else:
            ok = where(response) == (303, landing)
        shown = [value for value in secrets_shown if value.lower() in body.lower()]
        if not ok or shown:
            wrong.append(f"{method} {path}: {response.status_code} {shown}")
    assert wrong == []
    assert records(team) == []
    assert where(password_only(team, email, password).get("/staff/mfa")) == challenge


def test_a_password_only_session_of_a_member_holding_a_factor_cannot_add_one(app, staff):
    client = password_only(app)
    assert where(client.get("/staff/mfa/setup")) == (303, "/staff/mfa")
    token = csrf_token(client, "/staff/mfa")
    added = client.post(
        "/staff/mfa/setup/app", data={"csrf_token": token, "secret": "x", "code": "123456"}
    )
    assert where(added) == (303, "/staff/mfa")
    options = client.post("/staff/mfa/setup/passkey/options", data={"csrf_token": token})
    assert options.status_code == 400
    assert len(factors_of(app, staff)) == 1


# --- enrolling an authenticator app -------------------------------------------------------


def test_a_member_without_a_factor_enrols_an_app_and_sees_ten_recovery_codes_once(app):
    staff_id = create_staff_user(app, with_app=False)
    client = password_only(app)
    assert where(client.get("/staff/mfa")) == (303, "/staff/mfa/setup")
    page = client.get("/staff/mfa/setup")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Set up your second sign-in method" in html
    assert "<svg" in html  # the QR code, drawn on the server
    [secret] = re.findall(r'<code class="secret">([A-Z2-7]+)</code>', html)
    fields = rendered_hidden_fields(html)
    assert secret not in fields["secret"]  # the form carries it encrypted

    # A wrong code stores nothing, and the page keeps the key the app was given.
    wrong = client.post(
        "/staff/mfa/setup/app",
        data={**fields, "code": "12345", "name": "My phone"},
    )
    assert wrong.status_code == 422
    assert f'<code class="secret">{secret}</code>' in wrong.get_data(as_text=True)
    assert factors_of(app, staff_id) == []

    enrolled, secret = enrol_app(client, name="My phone")
    assert where(enrolled) == (303, "/staff/mfa/recovery-codes")
    codes = codes_on(client.get("/staff/mfa/recovery-codes"))
    assert len(set(codes)) == 10
    assert where(client.get("/staff/mfa/recovery-codes")) == (303, "/staff/account")  # once
    assert client.get("/staff/").status_code == 200  # the app's code proved this session

    [factor] = factors_of(app, staff_id)
    assert (factor.kind, factor.name) == ("totp", "My phone")
    with app.app_context():
        stored = db.session.execute(text("SELECT totp_secret FROM staff_factor")).scalar_one()
        assert secret not in stored and secret.lower() not in stored.lower()
        assert mfa.decrypt(stored) == secret  # encrypted with MFA_ENCRYPTION_KEY
        hashes = db.session.execute(text("SELECT code_hash FROM recovery_code")).scalars().all()
    assert len(hashes) == 10
    for code in codes:
        assert not any(code.replace("-", "") in value for value in hashes)
    assert records(app, "factor added") == [
        (STAFF_EMAIL, "factor added", "You added an authenticator app, “My phone”.")
    ]

    # The app signs in next time (its next code: the one of now was used).
    again = password_only(app)
    step = pyotp.TOTP(secret).timecode(utcnow())
    assert where(send_code(again, pyotp.TOTP(secret).generate_otp(step + 1))) == (303, "/staff/")


# --- authenticator codes ------------------------------------------------------------------


@pytest.fixture
def frozen_step(monkeypatch) -> int:
    """The second factor's clock held in the middle of the current 30-second step, so a
    code a step away stays a step away however long the request takes."""
    now = utcnow()
    middle = now.replace(microsecond=0) - timedelta(seconds=now.second % 30) + timedelta(seconds=15)
    monkeypatch.setattr(mfa, "utcnow", lambda: middle)
    return pyotp.TOTP(totp_secret(STAFF_EMAIL)).timecode(middle)


@pytest.mark.parametrize(
    ("offset", "status"), [(0, 303), (-1, 303), (1, 303), (-2, 401), (2, 401), (30, 401)]
)
def test_one_step_of_drift_either_way_is_accepted_two_are_not(
    app, staff, frozen_step, offset, status
):
    client = password_only(app)
    response = send_code(client, code_at(STAFF_EMAIL, frozen_step + offset))
    assert response.status_code == status
    expected = 200 if status == 303 else 303
    assert client.get("/staff/").status_code == expected


def test_a_code_works_once_and_a_reused_one_is_logged_without_personal_data(
    app, staff, frozen_step, caplog
):
    code = code_at(STAFF_EMAIL, frozen_step)
    assert where(send_code(password_only(app), code)) == (303, "/staff/")

    caplog.set_level(logging.INFO)
    client = password_only(app)
    for reused in (code, code_at(STAFF_EMAIL, frozen_step - 1)):  # that one, or an older one
        refused = send_code(client, reused)
        assert refused.status_code == 401
        assert "That code is not right, or was used already" in refused.get_data(as_text=True)
    assert where(client.get("/staff/")) == (303, "/staff/mfa")
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert warnings == [f"staff: user {staff} sent an authenticator code already used"] * 2
    assert STAFF_EMAIL not in caplog.text and code not in caplog.text
    # The next step's code is new, so it works.
    assert where(send_code(client, code_at(STAFF_EMAIL, frozen_step + 1))) == (303, "/staff/")


@pytest.mark.parametrize("kind", ["code", "recovery code"])
def test_failed_codes_are_limited_per_account(make_app, kind):
    app = make_app(RATELIMIT_ENABLED=True, LOGIN_RATE_LIMIT="3 per minute")
    create_staff_user(app)
    create_staff_user(app, OTHER, OTHER_PASSWORD)
    if kind == "code":
        send, guess, right = send_code, wrong_code(STAFF_EMAIL), totp_code(STAFF_EMAIL)
    else:
        send, guess = send_recovery_code, "0000-0000-0000-0000"
        right = new_recovery_codes(signed_in(app))[0]
    client = password_only(app)
    client.environ_base["REMOTE_ADDR"] = "192.0.2.1"
    for _ in range(3):
        assert send(client, guess).status_code == 401
    assert send(client, right).status_code == 429  # even the right one
    elsewhere = password_only(app)
    elsewhere.environ_base["REMOTE_ADDR"] = "198.51.100.7"
    assert send(elsewhere, right).status_code == 429  # the account's limit, from anywhere
    assert where(elsewhere.get("/staff/")) == (303, "/staff/mfa")
    # Another member is not held up.
    other = password_only(app, OTHER, OTHER_PASSWORD)
    other.environ_base["REMOTE_ADDR"] = "192.0.2.1"
    assert where(send_code(other, totp_code(OTHER))) == (303, "/staff/")


# --- recovery codes -----------------------------------------------------------------------


def test_a_recovery_code_signs_in_once_and_each_use_mails_a_notice(mail_app, smtp_server):
    app = mail_app
    create_staff_user(app)
    codes = new_recovery_codes(signed_in(app))

    client = password_only(app)
    typed = codes[0].upper().replace("-", " ")  # as someone may copy it
    assert where(send_recovery_code(client, typed)) == (303, "/staff/")
    account = client.get("/staff/account").get_data(as_text=True)
    assert "You signed in with a recovery code" in account
    assert "Recovery codes left: 9 of 10." in account

    again = password_only(app)
    refused = send_recovery_code(again, codes[0])
    assert refused.status_code == 401
    assert "That recovery code is not right, or was used already" in refused.get_data(as_text=True)
    assert where(again.get("/staff/")) == (303, "/staff/mfa")
    assert where(send_recovery_code(again, codes[1])) == (303, "/staff/")

    assert [action for _, action, _ in records(app)] == [
        "recovery codes",
        "recovery code used",
        "recovery code used",
    ]
    assert [detail for _, _, detail in records(app, "recovery code used")] == ["9 left", "8 left"]
    mailed = notices(app, smtp_server, STAFF_EMAIL)
    assert len(mailed) == 3
    assert "You made a new set of recovery codes" in mailed[0]
    assert "A recovery code was used to sign in. 9 unused codes are left." in mailed[1]
    assert "A recovery code was used to sign in. 8 unused codes are left." in mailed[2]


def test_a_new_set_of_recovery_codes_replaces_the_old(app, staff):
    member = signed_in(app)
    old = new_recovery_codes(member)
    new = new_recovery_codes(member)
    assert len(new) == 10 and set(old).isdisjoint(new)
    assert count(app, RecoveryCode) == 10
    client = password_only(app)
    assert send_recovery_code(client, old[1]).status_code == 401
    assert where(send_recovery_code(client, new[0])) == (303, "/staff/")


# --- changes need the password from the last five minutes ------------------------------------


def add_backup_app(app, client, staff_id: int) -> StaffFactor:
    """A second authenticator app, added from the set-up page of a signed-in member."""
    response, _ = enrol_app(client, name="Backup phone")
    assert where(response) == (303, "/staff/account")
    [_, backup] = factors_of(app, staff_id)
    return backup


@pytest.mark.parametrize(
    ("change", "next"),
    [
        ("remove a factor", "/staff/account"),
        ("new recovery codes", "/staff/account"),
        ("add a factor", "/staff/mfa/setup"),
    ],
)
def test_a_change_needs_the_password_from_the_last_five_minutes(app, staff, change, next):
    member = signed_in(app)
    backup = add_backup_app(app, member, staff)  # within five minutes of signing in: no question
    confirmed_long_ago(app, staff)

    def make_change():
        if change == "remove a factor":
            return post(member, "/staff/account", f"/staff/account/factors/{backup.id}/remove")
        if change == "new recovery codes":
            return post(member, "/staff/account", "/staff/account/recovery-codes")
        return member.get("/staff/mfa/setup")

    asked = make_change()
    assert is_confirm_redirect(asked, next), asked.headers.get("Location")
    assert (len(factors_of(app, staff)), count(app, RecoveryCode)) == (2, 0)  # nothing changed
    confirm_page = member.get(asked.headers["Location"])
    assert "Type your password again" in confirm_page.get_data(as_text=True)
    asked_for = {
        "remove a factor": "Type your password again to remove a sign-in method.",
        "new recovery codes": "Type your password again to make new recovery codes.",
    }
    if change in asked_for:  # said on the page it leads to
        assert asked_for[change] in confirm_page.get_data(as_text=True)

    token = rendered_hidden_fields(confirm_page.get_data(as_text=True))["csrf_token"]
    path = asked.headers["Location"]
    wrong = member.post(path, data={"csrf_token": token, "password": "not the password"})
    assert wrong.status_code == 401
    assert is_confirm_redirect(make_change(), next)
    right = member.post(path, data={"csrf_token": token, "password": STAFF_PASSWORD})
    assert where(right) == (303, next)

    done = make_change()
    if change == "remove a factor":
        assert where(done) == (303, "/staff/account")
        assert len(factors_of(app, staff)) == 1
    elif change == "new recovery codes":
        assert where(done) == (303, "/staff/mfa/recovery-codes")
        assert count(app, RecoveryCode) == 10
    else:
        assert done.status_code == 200 and "Add a sign-in method" in done.get_data(as_text=True)


def test_the_confirm_page_goes_only_to_pages_of_this_site(app, staff):
    member = signed_in(app)
    path = "/staff/account/confirm?next=https://evil.example/staff"
    token = csrf_token(member, path)
    answered = member.post(path, data={"csrf_token": token, "password": STAFF_PASSWORD})
    assert where(answered) == (303, "/staff/account")


@pytest.mark.parametrize(
    ("change", "action", "notice"),
    [
        ("add", "factor added", "You added an authenticator app, “Backup phone”."),
        ("remove", "factor removed", "You removed “Backup phone”."),
        (
            "codes",
            "recovery codes",
            "You made a new set of recovery codes; the old ones no longer work.",
        ),
    ],
)
def test_each_change_mails_a_notice_is_recorded_and_ends_the_other_sessions(
    mail_app, smtp_server, change, action, notice
):
    app = mail_app
    staff_id = create_staff_user(app)
    member = signed_in(app)
    if change == "remove":
        backup = add_backup_app(app, member, staff_id)
    before = len(notices(app, smtp_server, STAFF_EMAIL))
    other = signed_in(app)  # another browser of the same member

    if change == "add":
        add_backup_app(app, member, staff_id)
    elif change == "remove":
        removed = post(member, "/staff/account", f"/staff/account/factors/{backup.id}/remove")
        assert where(removed) == (303, "/staff/account")
        page = member.get("/staff/account").get_data(as_text=True)
        assert "“Backup phone” is removed. Your other sessions have ended." in page
    else:
        new_recovery_codes(member)

    [mailed] = notices(app, smtp_server, STAFF_EMAIL)[before:]
    assert f"A change to how {STAFF_EMAIL} signs in to the Trial Finder staff area" in mailed
    assert notice in mailed and "If this was not you, tell an admin at once" in mailed
    assert records(app)[-1] == (STAFF_EMAIL, action, notice)
    assert is_sign_in_redirect(other.get("/staff/"))
    assert member.get("/staff/").status_code == 200  # the session it was made in goes on
    assert open_session(app, staff_id).second_factor_at is not None


def test_the_last_factor_cannot_be_removed(app, staff):
    member = signed_in(app)
    [only] = factors_of(app, staff)
    page = member.get("/staff/account").get_data(as_text=True)
    assert "Your only one: add another to remove it" in page
    refused = post(member, "/staff/account", f"/staff/account/factors/{only.id}/remove")
    assert where(refused) == (303, "/staff/account")
    page = member.get("/staff/account").get_data(as_text=True)
    assert "you cannot remove your last one" in page
    assert [factor.id for factor in factors_of(app, staff)] == [only.id]
    assert records(app) == []


def test_a_member_removes_only_their_own_factors(app, staff):
    other_id = create_staff_user(app, OTHER, OTHER_PASSWORD)
    member = signed_in(app)
    add_backup_app(app, member, staff)
    [theirs] = factors_of(app, other_id)
    refused = post(member, "/staff/account", f"/staff/account/factors/{theirs.id}/remove")
    assert where(refused) == (303, "/staff/account")
    assert "That sign-in method is not yours" in member.get("/staff/account").get_data(as_text=True)
    assert len(factors_of(app, other_id)) == 1


# --- resets ---------------------------------------------------------------------------------


def test_an_admin_resets_a_members_factors_from_the_team_page(mail_app, smtp_server):
    app = mail_app
    create_staff_user(app)
    navigator = create_staff_user(app, OTHER, OTHER_PASSWORD, role="navigator")
    admin = signed_in(app)
    member = signed_in(app, OTHER, OTHER_PASSWORD)
    new_recovery_codes(member)

    page = f"/staff/team/{navigator}"
    assert "Reset their sign-in methods" in admin.get(page).get_data(as_text=True)
    reset = post(admin, page, f"{page}/reset-mfa")
    assert where(reset) == (303, page)
    assert (
        f"1 sign-in method of {OTHER} removed, with their recovery codes; their sessions have "
        "ended." in admin.get(page).get_data(as_text=True)
    )
    assert factors_of(app, navigator) == []
    assert count(app, RecoveryCode, RecoveryCode.staff_id == navigator) == 0
    assert is_sign_in_redirect(member.get("/staff/"))
    assert records(app)[-1] == (STAFF_EMAIL, "mfa reset", OTHER)
    assert (
        "Your passkeys, authenticator apps and recovery codes were removed."
        in (notices(app, smtp_server, OTHER)[-1])
    )

    # The member enrols again at the next sign-in.
    client = password_only(app, OTHER, OTHER_PASSWORD)
    assert where(client.get("/staff/mfa")) == (303, "/staff/mfa/setup")
    enrolled, _ = enrol_app(client)
    assert where(enrolled) == (303, "/staff/mfa/recovery-codes")
    assert len(codes_on(client.get("/staff/mfa/recovery-codes"))) == 10
    assert client.get("/staff/").status_code == 200


def test_a_navigator_cannot_reset_anyones_factors(app):
    admin_id = create_staff_user(app)
    create_staff_user(app, OTHER, OTHER_PASSWORD, role="navigator")
    navigator = signed_in(app, OTHER, OTHER_PASSWORD)
    refused = post(navigator, "/staff/", f"/staff/team/{admin_id}/reset-mfa")
    assert refused.status_code == 403
    assert len(factors_of(app, admin_id)) == 1
    assert records(app) == []


def test_flask_staff_reset_mfa_resets_the_last_admin(mail_app, smtp_server):
    app = mail_app
    admin_id = create_staff_user(app)
    admin = signed_in(app)
    new_recovery_codes(admin)

    result = app.test_cli_runner().invoke(args=["staff", "reset-mfa", STAFF_EMAIL.upper()])
    assert result.exit_code == 0, result.output
    assert f"Sign-in methods of {STAFF_EMAIL} removed" in result.output
    assert factors_of(app, admin_id) == []
    assert count(app, RecoveryCode) == 0
    assert is_sign_in_redirect(admin.get("/staff/"))
    [(actor, action, detail)] = records(app, "mfa reset")
    assert actor.startswith("cli:") and detail == STAFF_EMAIL
    assert (
        "Your passkeys, authenticator apps and recovery codes were removed."
        in (notices(app, smtp_server, STAFF_EMAIL)[-1])
    )
    client = password_only(app)
    assert where(client.get("/staff/mfa")) == (303, "/staff/mfa/setup")

    unknown = app.test_cli_runner().invoke(args=["staff", "reset-mfa", "nobody@example.com"])
    assert unknown.exit_code != 0 and "nobody@example.com" in unknown.output


def test_an_admin_cannot_reset_their_own_factors_from_the_team_page(app):
    """One's own are changed on the account page, after the password; the team page's
    reset is for members who lost theirs (like disabling, refused for oneself)."""
    admin_id = create_staff_user(app)
    admin = signed_in(app)
    page = f"/staff/team/{admin_id}"
    refused = post(admin, page, f"{page}/reset-mfa")
    assert refused.status_code == 422
    assert "You cannot reset your own sign-in methods here" in refused.get_data(as_text=True)
    assert len(factors_of(app, admin_id)) == 1
    assert records(app, "mfa reset") == []
    assert admin.get("/staff/").status_code == 200  # still signed in


def change_password(member):
    return post(
        member,
        "/staff/account",
        "/staff/account/password",
        current_password=STAFF_PASSWORD,
        new_password=NEW_PASSWORD,
        confirm_password=NEW_PASSWORD,
    )


def test_a_password_change_mails_a_security_notice(mail_app, smtp_server):
    app = mail_app
    create_staff_user(app)
    member = signed_in(app)
    change_password(member)
    [notice] = notices(app, smtp_server, STAFF_EMAIL)
    assert "Your password was changed on your account page." in notice


def test_a_password_change_keeps_every_factor(app, staff):
    member = signed_in(app)
    changed = change_password(member)
    assert where(changed) == (303, "/staff/account")
    assert len(factors_of(app, staff)) == 1
    client = password_only(app, password=NEW_PASSWORD)
    assert where(answer_challenge(client)) == (303, "/staff/")


def test_a_password_reset_link_keeps_every_factor_and_asks_for_it(app):
    create_staff_user(app)
    navigator = create_staff_user(app, OTHER, OTHER_PASSWORD, role="navigator")
    admin = signed_in(app)
    page = f"/staff/team/{navigator}"
    assert where(post(admin, page, f"{page}/password-reset")) == (303, page)
    [message] = rows(app, OutboxMessage, OutboxMessage.kind == "password_reset")
    link = SET_PASSWORD_LINK.search(message.body_text)[1]

    client = app.test_client()
    set_password = post(client, link, link, password=NEW_PASSWORD, confirm_password=NEW_PASSWORD)
    assert where(set_password) == (303, "/staff/")
    assert where(client.get("/staff/")) == (303, "/staff/mfa")  # a link is no second factor
    assert len(factors_of(app, navigator)) == 1
    assert where(answer_challenge(client, OTHER)) == (303, "/staff/")


# --- settings -------------------------------------------------------------------------------

STRONG_SECRET_KEY = "3f9c2a7b1e8d4f6a0c5b9e2d7a1f4c8b" * 2
STRONG_MFA_KEY = "7e1d9b3a5c8f2e4d6b0a9c7e5f3d1b2a" * 2
PRODUCTION = {
    "MICROSITE_ENV": "production",
    "SECRET_KEY": STRONG_SECRET_KEY,
    "MFA_ENCRYPTION_KEY": STRONG_MFA_KEY,
    "PUBLIC_URL": "https://trials.example.org",
    "WEBAUTHN_RP_ID": None,
    "PASSWORD_HASH_METHOD": None,
    "FLASK_DEBUG": None,
}
WEAK_MFA_KEY = "MFA_ENCRYPTION_KEY is missing or weak"


def test_check_config_accepts_a_production_setup_with_its_own_mfa_key(database_url):
    result = flask_command("check-config", url=database_url, env=PRODUCTION)
    assert result.returncode == 0, result.stderr
    assert "Configuration OK for production." in result.stdout


@pytest.mark.parametrize(
    ("changed", "problem"),
    [
        ({"MFA_ENCRYPTION_KEY": None}, WEAK_MFA_KEY),
        ({"MFA_ENCRYPTION_KEY": "short-but-random-8c1f"}, WEAK_MFA_KEY),
        ({"MFA_ENCRYPTION_KEY": "ab" * 32}, WEAK_MFA_KEY),
        ({"MFA_ENCRYPTION_KEY": STRONG_SECRET_KEY}, WEAK_MFA_KEY),  # SECRET_KEY again
        (
            {"WEBAUTHN_RP_ID": "trials.example.net"},
            "WEBAUTHN_RP_ID 'trials.example.net' does not match PUBLIC_URL's host "
            "'trials.example.org'",
        ),
    ],
    ids=["missing", "short", "repetitive", "secret-key", "rp-id"],
)
def test_check_config_refuses_production_without_a_safe_second_factor_setup(
    database_url, changed, problem
):
    result = flask_command("check-config", url=database_url, env={**PRODUCTION, **changed})
    assert result.returncode == 1
    [last] = result.stderr.strip().splitlines()[-1:]
    assert last.startswith("Error: refusing to start in production: ")
    assert problem in last
    assert "SECRET_KEY is missing" not in last  # that one problem, nothing else


def test_the_relying_party_is_public_urls_host_by_default(make_app):
    assert make_app().config["WEBAUTHN_RP_ID"] == "localhost"
    app = make_app(PUBLIC_URL="https://trials.example.org:8443/")
    assert app.config["WEBAUTHN_RP_ID"] == "trials.example.org"


def test_the_permissions_policy_lets_this_site_use_passkeys(client):
    policy = client.get("/staff/login").headers["Permissions-Policy"]
    assert "publickey-credentials-get=(self)" in policy.split(", ")
    assert "publickey-credentials-create=(self)" in policy.split(", ")


# --- passkeys, as far as HTTP goes ----------------------------------------------------------

PASSKEY_ID = "AAECAwQFBgcICQoLDA0ODw"  # base64url, 16 bytes


def add_passkey(app, staff_id: int) -> None:
    """A passkey row as enrolment stores one (the browser suite makes real ones)."""
    with app.app_context():
        db.session.add(
            StaffFactor(
                staff_id=staff_id,
                kind="passkey",
                name="Laptop",
                credential_id=PASSKEY_ID,
                public_key=b"\xa5\x01\x02\x03\x26",
                sign_count=0,
                transports="internal,hybrid",
            )
        )
        db.session.commit()


def test_the_sign_in_options_ask_this_site_and_user_verification(app, staff):
    add_passkey(app, staff)
    client = password_only(app)
    page = client.get("/staff/mfa").get_data(as_text=True)
    assert "Use my passkey" in page and "js/passkeys.js" in page
    assert client.post("/staff/mfa/passkey/options").status_code == 400  # no CSRF token
    answered = client.post(
        "/staff/mfa/passkey/options", data={"csrf_token": csrf_token(client, "/staff/mfa")}
    )
    assert answered.status_code == 200 and answered.mimetype == "application/json"
    options = answered.get_json()
    assert (options["rpId"], options["userVerification"]) == ("localhost", "required")
    assert options["allowCredentials"] == [
        {"id": PASSKEY_ID, "type": "public-key", "transports": ["internal", "hybrid"]}
    ]
    assert open_session(app, staff).webauthn_challenge == options["challenge"]


def test_the_enrolment_options_ask_this_site_and_user_verification(app):
    staff_id = create_staff_user(app, with_app=False)
    client = password_only(app)
    token = csrf_token(client, "/staff/mfa/setup")
    answered = client.post("/staff/mfa/setup/passkey/options", data={"csrf_token": token})
    assert answered.status_code == 200 and answered.mimetype == "application/json"
    options = answered.get_json()
    assert options["rp"] == {"id": "localhost", "name": "Trial Finder"}
    assert options["authenticatorSelection"]["userVerification"] == "required"
    assert options["user"]["name"] == STAFF_EMAIL
    assert options["excludeCredentials"] == []
    assert open_session(app, staff_id).webauthn_challenge == options["challenge"]


GARBAGE = [
    "x",
    "null",
    "[]",
    "{}",
    json.dumps({"rawId": 7}),
    json.dumps({"rawId": {"a": 1}}),
    json.dumps({"id": PASSKEY_ID, "rawId": PASSKEY_ID}),
    json.dumps({"id": PASSKEY_ID, "rawId": PASSKEY_ID, "type": "public-key", "response": {}}),
    json.dumps(
        {
            "id": PASSKEY_ID,
            "rawId": PASSKEY_ID,
            "type": "public-key",
            "response": {
                "clientDataJSON": "e30",
                "authenticatorData": "AAAA",
                "signature": "AAAA",
                "attestationObject": "oA",
            },
        }
    ),
    json.dumps({"id": "!!", "rawId": "!!", "type": "public-key", "response": {"x": "!!"}}),
]


@pytest.mark.parametrize("credential", GARBAGE)
def test_a_garbage_passkey_answer_at_sign_in_is_refused_and_its_challenge_spent(
    app, staff, credential
):
    add_passkey(app, staff)
    client = password_only(app)
    token = csrf_token(client, "/staff/mfa")
    client.post("/staff/mfa/passkey/options", data={"csrf_token": token})
    refused = client.post(
        "/staff/mfa/passkey", data={"csrf_token": token, "credential": credential}
    )
    assert refused.status_code == 401
    assert "There is a problem" in refused.get_data(as_text=True)
    assert open_session(app, staff).webauthn_challenge is None
    again = client.post("/staff/mfa/passkey", data={"csrf_token": token, "credential": credential})
    assert again.status_code == 401
    assert "The passkey request has expired. Try again." in again.get_data(as_text=True)
    assert where(client.get("/staff/")) == (303, "/staff/mfa")


@pytest.mark.parametrize("credential", GARBAGE)
def test_a_garbage_passkey_at_enrolment_is_refused_and_its_challenge_spent(app, credential):
    staff_id = create_staff_user(app, with_app=False)
    client = password_only(app)
    token = csrf_token(client, "/staff/mfa/setup")
    client.post("/staff/mfa/setup/passkey/options", data={"csrf_token": token})
    refused = client.post(
        "/staff/mfa/setup/passkey",
        data={"csrf_token": token, "credential": credential, "name": "Laptop"},
    )
    assert refused.status_code == 422
    assert "The passkey could not be checked. Try again." in refused.get_data(as_text=True)
    assert open_session(app, staff_id).webauthn_challenge is None
    assert factors_of(app, staff_id) == []


def test_a_passkey_form_sent_without_an_answer_says_so(app, staff):
    add_passkey(app, staff)
    client = password_only(app)
    token = csrf_token(client, "/staff/mfa")
    empty = client.post("/staff/mfa/passkey", data={"csrf_token": token, "credential": ""})
    assert empty.status_code == 422
    assert "The passkey did not answer. Try again." in empty.get_data(as_text=True)
