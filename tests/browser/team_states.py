"""Page states of the team page, the account page and the set-password page, registered in
the catalogue of ``states.py`` (which imports this module at its end), so that
``test_page_states.py`` runs every check on each of them."""

from __future__ import annotations

import re
import time

from itsdangerous.timed import TimestampSigner
from playwright.sync_api import Page, expect

from microsite import auth, team
from microsite.extensions import db
from microsite.models import StaffUser
from tests.helpers import STAFF_EMAIL, create_staff_user, log_in

from .pages import LiveServer, expect_h1, send_unchecked, sign_in_as_staff
from .states import page_state_driver

NAVIGATOR = "sam.navigator@example.com"
NAVIGATOR_PASSWORD = "sam's long password"
INVITED = "robin.newcomer@example.com"
FIREFOX_UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:140.0) Gecko/20100101 Firefox/140.0"


def _team(server: LiveServer) -> dict[str, int]:
    """A navigator who speaks both languages and an invited member, beside the admin."""
    navigator = create_staff_user(
        server.app, NAVIGATOR, NAVIGATOR_PASSWORD, role="navigator", languages="en,es"
    )
    with server.app.app_context():
        invited = auth.create_staff(INVITED, None, role="navigator")
        db.session.commit()
        return {"navigator": navigator, "invited": invited.id}


def _link(server: LiveServer, monkeypatch, member_id: int, purpose: str, age: int = 0) -> str:
    """The path of a member's link, signed ``age`` seconds ago."""
    then = int(time.time()) - age
    with monkeypatch.context() as patch:
        patch.setattr(TimestampSigner, "get_timestamp", lambda self: then)
        with server.app.test_request_context():
            token = team.link_token(db.session.get(StaffUser, member_id), purpose)
    return f"/staff/set-password/{token}"


@page_state_driver("staff-team")
def _to_staff_team(page: Page, server, monkeypatch):
    sign_in_as_staff(page, server)
    _team(server)
    page.goto("/staff/team")
    expect_h1(page, "Team")
    expect(page.locator("tbody tr")).to_have_count(3)


@page_state_driver("staff-team-invite-errors", 422)
def _to_staff_team_invite_errors(page: Page, server, monkeypatch):
    sign_in_as_staff(page, server)
    page.goto("/staff/team")
    page.get_by_label("Email address").fill(STAFF_EMAIL)
    page.get_by_role("checkbox", name="English").uncheck()
    send_unchecked(page, "Send the invitation")
    expect(page).to_have_title(re.compile(r"^Error: "))


@page_state_driver("staff-team-member")
def _to_staff_team_member(page: Page, server, monkeypatch):
    sign_in_as_staff(page, server)
    ids = _team(server)
    page.goto(f"/staff/team/{ids['navigator']}")
    expect_h1(page, NAVIGATOR)


@page_state_driver("staff-team-member-refused", 422)
def _to_staff_team_member_refused(page: Page, server, monkeypatch):
    sign_in_as_staff(page, server)
    page.get_by_role("navigation", name="Staff").get_by_role("link", name="Team").click()
    page.get_by_role("link", name=STAFF_EMAIL).click()
    page.get_by_role("combobox", name="Role").select_option("navigator")
    page.get_by_role("button", name="Change the role").click()
    expect(page.get_by_role("region", name="There is a problem")).to_contain_text(
        "the last active admin"
    )


@page_state_driver("staff-account")
def _to_staff_account(page: Page, server, monkeypatch):
    sign_in_as_staff(page, server)
    other = server.app.test_client()
    other.environ_base["HTTP_USER_AGENT"] = FIREFOX_UA
    assert log_in(other).status_code == 303
    page.goto("/staff/account")
    expect(page.get_by_role("region", name="Your open sessions").locator("tbody tr")).to_have_count(
        2
    )


@page_state_driver("staff-account-errors", 422)
def _to_staff_account_errors(page: Page, server, monkeypatch):
    sign_in_as_staff(page, server)
    page.goto("/staff/account")
    page.get_by_label("Current password").fill("not my password at all")
    page.get_by_label("New password", exact=True).fill("a brand new long password")
    page.get_by_label("Type the new password again").fill("a brand new long password")
    page.get_by_role("button", name="Change the password").click()
    expect(page.locator("[data-error-summary]")).to_be_focused()


@page_state_driver("staff-set-password")
def _to_staff_set_password(page: Page, server, monkeypatch):
    create_staff_user(server.app)
    page.goto(_link(server, monkeypatch, _team(server)["invited"], "invite"))
    expect_h1(page, "Set your password")


@page_state_driver("staff-set-password-errors", 422)
def _to_staff_set_password_errors(page: Page, server, monkeypatch):
    create_staff_user(server.app)
    page.goto(_link(server, monkeypatch, _team(server)["invited"], "invite"))
    page.get_by_label("Password", exact=True).fill("short")
    page.get_by_label("Type the new password again").fill("different")
    send_unchecked(page, "Set my password")
    expect(page).to_have_title(re.compile(r"^Error: "))


@page_state_driver("staff-choose-new-password")
def _to_staff_choose_new_password(page: Page, server, monkeypatch):
    create_staff_user(server.app)
    page.goto(_link(server, monkeypatch, _team(server)["navigator"], "reset"))
    expect_h1(page, "Choose a new password")


@page_state_driver("staff-link-expired", 410)
def _to_staff_link_expired(page: Page, server, monkeypatch):
    create_staff_user(server.app)
    page.goto(_link(server, monkeypatch, _team(server)["invited"], "invite", age=73 * 3600))
    expect_h1(page, "This link has expired")


@page_state_driver("staff-link-invalid", 400)
def _to_staff_link_invalid(page: Page, server, monkeypatch):
    page.goto("/staff/set-password/not-a-link")
    expect_h1(page, "This link does not work")
