"""Page states of the second factor of staff sign-in, registered in the catalogue of
``states.py`` (which imports this module at its end), so that ``test_page_states.py`` runs
every check on each of them: the challenge (an app only; a passkey and an app; a wrong
code; a passkey refused), the first set-up (QR code and key) and its wrong code, adding a
method, the recovery codes, typing the password again (and a wrong one), the account page
with its methods and the team member page after an admin reset theirs. Every name has
"mfa" in it (``pytest -k mfa``)."""

from __future__ import annotations

import re
from datetime import timedelta

from playwright.sync_api import Page, expect
from sqlalchemy import update

from microsite import auth
from microsite.extensions import db
from microsite.models import StaffFactor, StaffSession, utcnow
from tests.helpers import STAFF_EMAIL, create_staff_user, totp_code

from .pages import LiveServer, enter_password, expect_h1, expect_recovery_codes, sign_in_as_staff
from .states import page_state_driver

NAVIGATOR = "sam.navigator@example.com"
NAVIGATOR_PASSWORD = "sam's long password"


def _add_passkey(server: LiveServer, email: str = STAFF_EMAIL, name: str = "Work laptop") -> None:
    """A passkey row beside the member's authenticator app, as a registration stores it
    (the pages only show it: no browser signs with it here)."""
    with server.app.app_context():
        user = auth.find_staff(email)
        db.session.add(
            StaffFactor(
                staff_id=user.id,
                kind="passkey",
                name=name,
                credential_id="c3RhdGUtcGFzc2tleQ",
                public_key=b"\xa5\x01\x01\x03\x27",
                transports="internal",
                last_used_at=utcnow(),
            )
        )
        db.session.commit()


def _to_challenge(page: Page) -> None:
    page.goto("/staff/login")
    enter_password(page)
    expect_h1(page, "Confirm it is you")


def _password_typed_long_ago(server: LiveServer) -> None:
    """Every session's password and second factor six minutes old: a change to how the
    member signs in asks for the password again."""
    with server.app.app_context():
        db.session.execute(
            update(StaffSession).values(reauthenticated_at=utcnow() - timedelta(minutes=6))
        )
        db.session.commit()


# --- The challenge --------------------------------------------------------------------------


@page_state_driver("staff-mfa-challenge-app")
def _to_staff_mfa_challenge_app(page: Page, server, monkeypatch):
    create_staff_user(server.app)
    _to_challenge(page)
    expect(page.get_by_label("Code from your authenticator app")).to_be_visible()
    expect(page.get_by_role("button", name="Use my passkey")).to_have_count(0)


@page_state_driver("staff-mfa-challenge-passkey-and-app")
def _to_staff_mfa_challenge_passkey_and_app(page: Page, server, monkeypatch):
    create_staff_user(server.app)
    _add_passkey(server)
    _to_challenge(page)
    expect(page.get_by_role("button", name="Use my passkey")).to_be_visible()
    expect(page.get_by_label("Code from your authenticator app")).to_be_visible()


@page_state_driver("staff-mfa-challenge-wrong-code", 401)
def _to_staff_mfa_challenge_wrong_code(page: Page, server, monkeypatch):
    create_staff_user(server.app)
    _to_challenge(page)
    right = int(totp_code(STAFF_EMAIL))
    page.get_by_label("Code from your authenticator app").fill(f"{(right + 1) % 1_000_000:06d}")
    page.get_by_role("button", name="Confirm with the code").click()
    expect(page.locator("[data-error-summary]")).to_be_focused()
    expect(page).to_have_title(re.compile(r"^Error: "))


@page_state_driver("staff-mfa-challenge-passkey-refused", 401)
def _to_staff_mfa_challenge_passkey_refused(page: Page, server, monkeypatch):
    """An answer sent with no challenge asked for (as after a reload: filled in where
    passkeys.js puts the browser's answer, which it then lets go as it is)."""
    create_staff_user(server.app)
    _add_passkey(server)
    _to_challenge(page)
    form = page.locator("form", has=page.get_by_role("button", name="Use my passkey"))
    form.locator("input[name=credential]").evaluate(
        "field => { field.value = JSON.stringify({rawId: 'bm90LW91cnM', id: 'bm90LW91cnM'}); }"
    )
    form.get_by_role("button", name="Use my passkey").click()
    expect(page.get_by_role("region", name="There is a problem")).to_contain_text(
        "The passkey request has expired"
    )


# --- Setting up -------------------------------------------------------------------------------


@page_state_driver("staff-mfa-setup-first")
def _to_staff_mfa_setup_first(page: Page, server, monkeypatch):
    create_staff_user(server.app, with_app=False)
    page.goto("/staff/login")
    enter_password(page)
    expect_h1(page, "Set up your second sign-in method")
    expect(page.locator(".qr svg")).to_be_visible()
    expect(page.locator("code.secret")).to_have_text(re.compile(r"^[A-Z2-7]{32}$"))


@page_state_driver("staff-mfa-setup-wrong-code", 422)
def _to_staff_mfa_setup_wrong_code(page: Page, server, monkeypatch):
    create_staff_user(server.app, with_app=False)
    page.goto("/staff/login")
    enter_password(page)
    form = page.locator("form", has=page.get_by_role("button", name="Add the app"))
    form.get_by_label("Code from your authenticator app").fill("000000")
    form.get_by_role("button", name="Add the app").click()
    expect(page.locator("[data-error-summary]")).to_contain_text("That code is not right")


@page_state_driver("staff-mfa-setup-add")
def _to_staff_mfa_setup_add(page: Page, server, monkeypatch):
    sign_in_as_staff(page, server)
    page.goto("/staff/account")
    page.get_by_role("link", name="Add a passkey or an authenticator app").click()
    expect_h1(page, "Add a sign-in method")
    expect(page.get_by_role("link", name="Back to your account")).to_be_visible()


@page_state_driver("staff-mfa-recovery-codes")
def _to_staff_mfa_recovery_codes(page: Page, server, monkeypatch):
    sign_in_as_staff(page, server)
    page.goto("/staff/account")
    page.get_by_role("button", name="Make new recovery codes").click()
    expect_recovery_codes(page)


# --- Typing the password again ------------------------------------------------------------------


@page_state_driver("staff-mfa-confirm")
def _to_staff_mfa_confirm(page: Page, server, monkeypatch):
    sign_in_as_staff(page, server)
    _password_typed_long_ago(server)
    page.goto("/staff/account")
    page.get_by_role("button", name="Make new recovery codes").click()
    expect_h1(page, "Type your password again")
    expect(page.get_by_role("status")).to_contain_text("Type your password again")


@page_state_driver("staff-mfa-confirm-wrong-password", 401)
def _to_staff_mfa_confirm_wrong_password(page: Page, server, monkeypatch):
    sign_in_as_staff(page, server)
    _password_typed_long_ago(server)
    page.goto("/staff/account/confirm")
    page.get_by_label("Your password").fill("not my password at all")
    page.get_by_role("button", name="Continue").click()
    expect(page.locator("[data-error-summary]")).to_be_focused()


# --- The account and team pages ----------------------------------------------------------------


@page_state_driver("staff-mfa-account-factors")
def _to_staff_mfa_account_factors(page: Page, server, monkeypatch):
    """A passkey and an app, with ten recovery codes."""
    sign_in_as_staff(page, server)
    _add_passkey(server)
    page.goto("/staff/account")
    page.get_by_role("button", name="Make new recovery codes").click()
    expect_recovery_codes(page)
    page.goto("/staff/account")
    methods = page.get_by_role("region", name="Your sign-in methods").locator("tbody tr")
    expect(methods).to_have_count(2)
    expect(methods.get_by_role("button", name=re.compile(r"^Remove"))).to_have_count(2)
    expect(page.get_by_text("Recovery codes left: 10 of 10.")).to_be_visible()


@page_state_driver("staff-mfa-team-member-reset")
def _to_staff_mfa_team_member_reset(page: Page, server, monkeypatch):
    """An admin has just reset a navigator's sign-in methods."""
    sign_in_as_staff(page, server)
    navigator = create_staff_user(server.app, NAVIGATOR, NAVIGATOR_PASSWORD, role="navigator")
    page.goto(f"/staff/team/{navigator}")
    page.get_by_role("button", name="Reset their sign-in methods").click()
    expect(page.get_by_role("status")).to_contain_text(f"1 sign-in method of {NAVIGATOR} removed")
