"""The team page through HTTP: who may open it, the members it lists, invitations and
password-reset links (single use, 72 hours, mailed through the outbox), roles, languages,
disabling, ending sessions, the last admin kept, and every change in the access record."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
from itsdangerous.timed import TimestampSigner
from sqlalchemy import select, update

from microsite import team
from microsite.extensions import db
from microsite.models import AccessRecord, OutboxMessage, StaffFactor, StaffSession, StaffUser
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
    fetch,
    log_in,
    log_in_with_password,
    rendered_hidden_fields,
    rows,
)

NAVIGATOR = "sam.navigator@example.com"
NAVIGATOR_PASSWORD = "sam's long password"
NEWCOMER = "new.member@example.com"
NEW_PASSWORD = "a brand new long password"
LINK = re.compile(re.escape(PUBLIC_URL) + r"(/staff/set-password/[A-Za-z0-9_.-]+)")


# --- helpers ---------------------------------------------------------------------------


@pytest.fixture
def admin(app) -> int:
    """The team's first member, so its admin; signs in as STAFF_EMAIL."""
    return create_staff_user(app)


@pytest.fixture
def admin_client(app, admin):
    client = app.test_client()
    assert log_in(client).status_code == 303
    return client


@pytest.fixture
def navigator(app, admin) -> int:
    return create_staff_user(app, NAVIGATOR, NAVIGATOR_PASSWORD, role="navigator")


def signed_in(app, email=NAVIGATOR, password=NAVIGATOR_PASSWORD):
    client = app.test_client()
    assert log_in(client, email, password).status_code == 303
    return client


def post(client, page: str, action: str, **data):
    """POST ``action`` with the CSRF token of ``page``, as the page's form does."""
    return client.post(action, data={"csrf_token": csrf_token(client, page), **data})


def invite(client, email=NEWCOMER, role="navigator", languages=("en",)):
    return post(
        client, "/staff/team", "/staff/team/invite", email=email, role=role,
        languages=list(languages),
    )  # fmt: skip


def member_action(client, member_id: int, action: str, **data):
    return post(client, f"/staff/team/{member_id}", f"/staff/team/{member_id}/{action}", **data)


def member_id(app, email: str) -> int:
    [user] = rows(app, StaffUser, StaffUser.email == email)
    return user.id


def mails(app, kind: str) -> list[OutboxMessage]:
    return rows(app, OutboxMessage, OutboxMessage.kind == kind)


def link_in(message: OutboxMessage) -> str:
    """The path of the set-password link, found in both parts of the mail."""
    found = LINK.search(message.body_text)
    assert found, message.body_text
    assert found[0] in message.body_html
    return found[1]


def records(app, action: str | None = None) -> list[tuple[str, str, str | None]]:
    where = [AccessRecord.action == action] if action else []
    return [(r.actor, r.action, r.detail) for r in rows(app, AccessRecord, *where)]


def is_sign_in_redirect(response) -> bool:
    return response.status_code == 302 and response.headers["Location"].startswith("/staff/login")


def set_password_with(client, path: str, password=NEW_PASSWORD, confirm=None):
    """Send the set-password form of ``path`` (with the session's CSRF token, which a page
    showing a link's problem has no form to give)."""
    return post(
        client, "/staff/login", path, password=password,
        confirm_password=password if confirm is None else confirm,
    )  # fmt: skip


def assert_password_opens_the_challenge(app, email: str, password: str) -> None:
    """The password is right: it leads to the second factor (whose codes only the
    member's app knows)."""
    client = app.test_client()
    response = log_in_with_password(client, email, password)
    assert (response.status_code, response.headers["Location"]) == (303, "/staff/mfa")
    assert "Use your authenticator app" in client.get("/staff/mfa").get_data(as_text=True)


def old_link(app, monkeypatch, user_id: int, purpose: str, age: timedelta) -> str:
    """A link made ``age`` ago: the signer's clock turned back while it signs."""
    then = int(time.time() - age.total_seconds())
    with monkeypatch.context() as patch:
        patch.setattr(TimestampSigner, "get_timestamp", lambda self: then)
        with app.test_request_context():
            user = db.session.get(StaffUser, user_id)
            return "/staff/set-password/" + team.link_token(user, purpose)


# --- who may open it --------------------------------------------------------------------


def test_navigators_get_the_403_page_and_no_change(app, navigator):
    client = signed_in(app)
    assert client.get("/staff/team").status_code == 403
    assert client.get(f"/staff/team/{navigator}").status_code == 403
    token = csrf_token(client, "/staff/account")
    for action in ("invite", f"{navigator}/role", f"{navigator}/disable"):
        response = client.post(f"/staff/team/{action}", data={"csrf_token": token, "role": "admin"})
        assert response.status_code == 403
    assert fetch(app, StaffUser, navigator).role == "navigator"
    assert count(app, AccessRecord) == 0


def test_the_team_link_is_in_the_nav_for_admins_only(app, admin_client, navigator):
    assert 'href="/staff/team"' in admin_client.get("/staff/").get_data(as_text=True)
    page = signed_in(app).get("/staff/").get_data(as_text=True)
    assert 'href="/staff/team"' not in page
    assert 'href="/staff/account"' in page


# --- the list ---------------------------------------------------------------------------


def test_the_list_shows_role_languages_status_sign_in_and_open_leads(app, admin_client, navigator):
    with app.app_context():
        db.session.get(StaffUser, navigator).languages = "en,es"
        db.session.commit()
    for status in ("new", "contacted", "referred", "enrolled", "not_eligible", "withdrew"):
        add_lead(app, status=status, assigned_to_id=navigator)
    add_lead(app, status="new")  # nobody's
    signed_in(app)
    invite(admin_client)

    with app.test_request_context():
        found = {m.user.email: m for m in team.members()}
        assert [m.state for m in found.values()] == ["active", "active", "invited"]
        assert (found[NAVIGATOR].open_leads, found[NAVIGATOR].open_sessions) == (3, 1)
        assert found[NAVIGATOR].languages == ["English", "Spanish"]
        assert (found[STAFF_EMAIL].open_leads, found[STAFF_EMAIL].open_sessions) == (0, 1)
        assert found[NEWCOMER].user.last_login_at is None

    page = admin_client.get("/staff/team").get_data(as_text=True)
    row = re.search(rf'<th scope="row"><a [^>]*>{re.escape(NAVIGATOR)}</a>.*?</tr>', page, re.S)
    cells = re.findall(r"<td>(.*?)</td>", row[0], re.S)
    assert cells[:3] == ["Navigator", "English, Spanish", "Active"]
    assert cells[4:] == ["3", "1"]
    assert "Invited" in page and "Never" in page


# --- invitations --------------------------------------------------------------------------


def test_an_invitation_makes_an_invited_member_and_a_mail_whose_link_works_once(app, admin_client):
    response = invite(admin_client, email="New.Member@Example.com", languages=("en", "es"))
    assert response.status_code == 303 and response.headers["Location"] == "/staff/team"
    page = admin_client.get("/staff/team").get_data(as_text=True)
    assert f"Invitation sent to {NEWCOMER}" in page

    [user] = rows(app, StaffUser, StaffUser.email == NEWCOMER)
    assert (user.role, user.languages, user.password_hash, user.active) == (
        "navigator", "en,es", "", True,
    )  # fmt: skip
    [message] = mails(app, "staff_invite")
    assert message.to_address == NEWCOMER
    assert f"{STAFF_EMAIL} has invited you" in message.body_text
    assert "works once, for 72 hours" in message.body_text
    assert "If you did not expect this invitation" in message.body_text
    assert records(app) == [(STAFF_EMAIL, "invite", NEWCOMER)]
    path = link_in(message)

    # Nobody can sign in as the invited member meanwhile.
    assert log_in(app.test_client(), NEWCOMER, "any password at all").status_code == 401

    newcomer = app.test_client()
    form = newcomer.get(path)
    assert form.status_code == 200
    html = form.get_data(as_text=True)
    assert "Set your password" in html and f'<strong id="member-email">{NEWCOMER}<' in html

    response = set_password_with(newcomer, path)
    assert response.status_code == 303 and response.headers["Location"] == "/staff/"
    # A password alone opens nothing: the newcomer sets up a second factor first.
    asked = newcomer.get("/staff/")
    assert (asked.status_code, asked.headers["Location"]) == (303, "/staff/mfa/setup")
    challenge = newcomer.get("/staff/mfa")
    assert (challenge.status_code, challenge.headers["Location"]) == (303, "/staff/mfa/setup")
    enrolled, _ = enrol_app(newcomer)
    assert enrolled.status_code == 303
    assert enrolled.headers["Location"] == "/staff/mfa/recovery-codes"
    dashboard = newcomer.get("/staff/")
    assert dashboard.status_code == 200
    assert 'href="/staff/team"' not in dashboard.get_data(as_text=True)  # a navigator
    assert fetch(app, StaffUser, user.id).password_hash
    assert records(app, "password changed") == [(NEWCOMER, "password changed", NEWCOMER)]
    assert [action for _, action, _ in records(app)][-1] == "factor added"
    assert_password_opens_the_challenge(app, NEWCOMER, NEW_PASSWORD)

    # Once: the link is used now, on a GET and on a POST alike.
    again = app.test_client()
    used = again.get(path)
    assert used.status_code == 410
    assert "This link has been used already" in used.get_data(as_text=True)
    token = csrf_token(again, "/staff/login")
    replay = again.post(
        path, data={"csrf_token": token, "password": "x" * 20, "confirm_password": "x" * 20}
    )
    assert replay.status_code == 410
    assert_password_opens_the_challenge(app, NEWCOMER, NEW_PASSWORD)


def test_an_admin_can_be_invited(app, admin_client):
    assert invite(admin_client, role="admin").status_code == 303
    assert fetch(app, StaffUser, member_id(app, NEWCOMER)).role == "admin"
    assert "as an admin" in mails(app, "staff_invite")[0].body_text


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        ({"email": STAFF_EMAIL}, f"{STAFF_EMAIL} is on the team already"),
        ({"email": STAFF_EMAIL.upper()}, f"{STAFF_EMAIL} is on the team already"),
        ({"email": "not an address"}, "Enter an email address like name@example.com."),
        ({"email": ""}, "Enter the new member’s email address."),
        ({"languages": ()}, "Choose at least one language."),
        ({"languages": ("fr",)}, "Choose languages from the list."),
        ({"role": "owner"}, "Choose one of the listed roles."),
    ],
)
def test_a_refused_invitation_is_422_with_its_reason_and_keeps_the_input(
    app, admin_client, answers, message
):
    typed = {"email": "  Someone@Example.com ", "role": "admin", "languages": ("es",), **answers}
    response = invite(admin_client, **typed)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert message in html.replace("&#39;", "'")
    assert "There is a problem" in html
    if typed["email"]:
        assert f'value="{typed["email"]}"' in html  # as typed, spaces and all
    if typed["role"] == "admin":
        assert '<option selected value="admin">' in html
    if typed["languages"] == ("es",):
        assert '<input checked id="languages-1" name="languages"' in html
        assert 'checked id="languages-0"' not in html
    assert count(app, StaffUser) == 1
    assert count(app, OutboxMessage) == 0
    assert count(app, AccessRecord) == 0


def test_an_invitation_without_a_csrf_token_is_refused(app, admin_client):
    data = {"email": NEWCOMER, "role": "navigator", "languages": "en"}
    response = admin_client.post("/staff/team/invite", data=data)
    assert response.status_code == 400
    assert count(app, StaffUser) == 1


def test_an_expired_link_is_refused_and_says_what_to_do(app, admin_client, monkeypatch):
    invite(admin_client)
    user = member_id(app, NEWCOMER)
    path = old_link(app, monkeypatch, user, "invite", timedelta(hours=72, minutes=1))
    client = app.test_client()
    page = client.get(path)
    assert page.status_code == 410
    html = page.get_data(as_text=True)
    assert "This link has expired" in html and "Ask an admin of your team" in html
    assert "password" not in rendered_hidden_fields(html)
    assert set_password_with(client, path).status_code == 410
    assert fetch(app, StaffUser, user).password_hash == ""


def test_a_link_younger_than_72_hours_still_works(app, admin_client, monkeypatch):
    invite(admin_client)
    path = old_link(app, monkeypatch, member_id(app, NEWCOMER), "invite", timedelta(hours=71))
    assert app.test_client().get(path).status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/staff/set-password/not-a-token",
        "/staff/set-password/" + "A" * 300,
        "/staff/set-password/eyJtIjoxfQ.ZZZZZZ.ZZZZZZZZZZZZZZZZZZZZZZZZZZZ",
    ],
)
def test_a_link_that_is_not_ours_is_400_never_500(app, admin, path):
    response = app.test_client().get(path)
    assert response.status_code == 400
    assert "This link does not work" in response.get_data(as_text=True)


def test_a_link_signed_for_something_else_does_not_work(app, admin):
    from itsdangerous import URLSafeTimedSerializer

    with app.app_context():
        wrong_salt = URLSafeTimedSerializer(app.secret_key, salt="withdraw").dumps(
            {"m": admin, "p": "reset", "f": team.fingerprint(db.session.get(StaffUser, admin))}
        )
        not_a_member = team._serializer().dumps({"m": 999, "p": "reset", "f": "x"})
        odd_purpose = team._serializer().dumps({"m": admin, "p": "admin", "f": "x"})
    for token in (wrong_salt, not_a_member, odd_purpose):
        assert app.test_client().get(f"/staff/set-password/{token}").status_code == 400


def test_a_disabled_members_link_no_longer_works(app, admin_client):
    invite(admin_client)
    user = member_id(app, NEWCOMER)
    path = link_in(mails(app, "staff_invite")[0])
    assert member_action(admin_client, user, "disable").status_code == 303
    assert app.test_client().get(path).status_code == 410


def test_of_two_uses_of_a_link_at_once_the_second_is_refused(app, admin_client, monkeypatch):
    invite(admin_client)
    user = member_id(app, NEWCOMER)
    path = link_in(mails(app, "staff_invite")[0])
    checked = team.member_for_token

    def check_then_lose_the_race(token, purpose=None):
        found = checked(token, purpose)
        monkeypatch.setattr(team, "member_for_token", checked)
        with db.engine.begin() as other_request:  # sets a password meanwhile
            other_request.execute(
                update(StaffUser).where(StaffUser.id == user).values(password_hash="set")
            )
        return found

    monkeypatch.setattr(team, "member_for_token", check_then_lose_the_race)
    response = set_password_with(app.test_client(), path)
    assert response.status_code == 410
    assert "This link has been used already" in response.get_data(as_text=True)
    assert fetch(app, StaffUser, user).password_hash == "set"
    assert records(app, "password changed") == []


def test_the_set_password_form_refuses_short_and_different_passwords(app, admin_client):
    invite(admin_client)
    path = link_in(mails(app, "staff_invite")[0])
    client = app.test_client()
    short = set_password_with(client, path, password="too short")
    assert short.status_code == 422
    assert "Use at least 12 characters." in short.get_data(as_text=True)
    different = set_password_with(client, path, confirm="another long password")
    assert different.status_code == 422
    html = different.get_data(as_text=True)
    assert "The two new passwords are not the same" in html
    assert NEW_PASSWORD not in html  # passwords are never sent back
    assert client.get(path).status_code == 200  # still unused


def test_setting_a_password_is_rate_limited_like_sign_in(make_app):
    app = make_app(RATELIMIT_ENABLED=True, LOGIN_RATE_LIMIT="2 per minute")
    create_staff_user(app)
    client = app.test_client()
    for _ in range(2):
        response = set_password_with(client, "/staff/set-password/nope")
        assert response.status_code == 400
    assert set_password_with(client, "/staff/set-password/nope").status_code == 429


# --- password-reset links -----------------------------------------------------------------


def test_a_reset_link_sets_a_new_password_once_and_ends_the_old_sessions(
    app, admin_client, navigator
):
    member = signed_in(app)
    response = member_action(admin_client, navigator, "password-reset")
    assert response.status_code == 303
    assert "Sent a password-reset link to" in admin_client.get(f"/staff/team/{navigator}").get_data(
        as_text=True
    )
    [message] = mails(app, "password_reset")
    assert message.to_address == NAVIGATOR
    assert f"{STAFF_EMAIL} has sent you a link" in message.body_text
    assert "works once, for 72 hours" in message.body_text
    assert records(app) == [(STAFF_EMAIL, "password reset", NAVIGATOR)]
    # Until the link is used, the password works and the session goes on.
    assert member.get("/staff/").status_code == 200
    assert log_in(app.test_client(), NAVIGATOR, NAVIGATOR_PASSWORD).status_code == 303

    path = link_in(message)
    client = app.test_client()
    page = client.get(path).get_data(as_text=True)
    assert "Choose a new password" in page and NAVIGATOR in page
    assert set_password_with(client, path).status_code == 303
    # The link is no second factor, and removed none: the member's app answers.
    asked = client.get("/staff/")
    assert (asked.status_code, asked.headers["Location"]) == (303, "/staff/mfa")
    assert count(app, StaffFactor, StaffFactor.staff_id == navigator) == 1
    assert answer_challenge(client, NAVIGATOR).headers["Location"] == "/staff/"
    assert client.get("/staff/").status_code == 200
    assert is_sign_in_redirect(member.get("/staff/"))  # the old session has ended
    assert log_in(app.test_client(), NAVIGATOR, NAVIGATOR_PASSWORD).status_code == 401
    assert log_in(app.test_client(), NAVIGATOR, NEW_PASSWORD).status_code == 303
    assert app.test_client().get(path).status_code == 410


def test_a_reset_asked_for_an_invited_member_sends_the_invitation_again(app, admin_client):
    invite(admin_client)
    user = member_id(app, NEWCOMER)
    page = admin_client.get(f"/staff/team/{user}").get_data(as_text=True)
    assert "Send the invitation again" in page
    assert member_action(admin_client, user, "password-reset").status_code == 303
    assert len(mails(app, "staff_invite")) == 2 and mails(app, "password_reset") == []
    assert [action for _, action, _ in records(app)] == ["invite", "invite"]


def test_no_reset_link_for_a_disabled_member(app, admin_client, navigator):
    member_action(admin_client, navigator, "disable")
    response = member_action(admin_client, navigator, "password-reset")
    assert response.status_code == 422
    assert f"{NAVIGATOR} is disabled: enable them first." in response.get_data(as_text=True)
    assert mails(app, "password_reset") == []


# --- roles and languages ----------------------------------------------------------------


def test_an_admin_changes_a_role_and_it_is_recorded(app, admin_client, navigator):
    response = member_action(admin_client, navigator, "role", role="admin")
    assert response.status_code == 303
    assert response.headers["Location"] == f"/staff/team/{navigator}"
    assert fetch(app, StaffUser, navigator).role == "admin"
    assert records(app) == [(STAFF_EMAIL, "role", NAVIGATOR)]
    assert signed_in(app).get("/staff/team").status_code == 200
    # The same role again changes nothing and records nothing.
    member_action(admin_client, navigator, "role", role="admin")
    assert len(records(app)) == 1


def test_the_last_admin_cannot_be_made_a_navigator(app, admin_client, admin, navigator):
    response = member_action(admin_client, admin, "role", role="navigator")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert f"{STAFF_EMAIL} is the last active admin: make another member an admin first." in html
    assert '<option selected value="navigator">' in html  # what was chosen is kept
    assert fetch(app, StaffUser, admin).role == "admin"
    assert count(app, AccessRecord) == 0


def test_an_invited_admin_does_not_count_as_one_who_can_sign_in(app, admin_client, admin):
    invite(admin_client, role="admin")
    response = member_action(admin_client, admin, "role", role="navigator")
    assert response.status_code == 422
    assert "the only admin who can sign in" in response.get_data(as_text=True)
    assert fetch(app, StaffUser, admin).role == "admin"


def test_an_admin_who_demotes_themselves_goes_to_the_dashboard(app, admin_client, admin, navigator):
    member_action(admin_client, navigator, "role", role="admin")
    response = member_action(admin_client, admin, "role", role="navigator")
    assert response.status_code == 303 and response.headers["Location"] == "/staff/"
    assert admin_client.get("/staff/team").status_code == 403


def test_nobody_disables_themselves(app, admin_client, admin, navigator):
    member_action(admin_client, navigator, "role", role="admin")
    response = member_action(admin_client, admin, "disable")
    assert response.status_code == 422
    assert "You cannot disable your own account" in response.get_data(as_text=True)
    assert fetch(app, StaffUser, admin).active


def test_languages_are_changed_and_recorded(app, admin_client, navigator):
    response = member_action(admin_client, navigator, "languages", languages=["en", "es"])
    assert response.status_code == 303
    assert fetch(app, StaffUser, navigator).languages == "en,es"
    assert records(app) == [(STAFF_EMAIL, "languages", NAVIGATOR)]
    refused = member_action(admin_client, navigator, "languages")
    assert refused.status_code == 422
    assert "Choose at least one language." in refused.get_data(as_text=True)
    assert fetch(app, StaffUser, navigator).languages == "en,es"


def test_an_unknown_member_is_404(admin_client):
    assert admin_client.get("/staff/team/999").status_code == 404
    token = csrf_token(admin_client, "/staff/team")
    response = admin_client.post("/staff/team/999/disable", data={"csrf_token": token})
    assert response.status_code == 404


# --- disabling and sessions ---------------------------------------------------------------


def test_disabling_ends_the_members_sessions_and_enabling_lets_them_back(
    app, admin_client, navigator
):
    member = signed_in(app)
    assert member.get("/staff/").status_code == 200
    response = member_action(admin_client, navigator, "disable")
    assert response.status_code == 303
    assert "is disabled" in admin_client.get(f"/staff/team/{navigator}").get_data(as_text=True)
    assert is_sign_in_redirect(member.get("/staff/"))
    assert log_in(app.test_client(), NAVIGATOR, NAVIGATOR_PASSWORD).status_code == 401
    [ended] = rows(app, StaffSession, StaffSession.staff_id == navigator)
    assert ended.end_reason == "disabled"

    assert member_action(admin_client, navigator, "enable").status_code == 303
    assert log_in(app.test_client(), NAVIGATOR, NAVIGATOR_PASSWORD).status_code == 303
    assert records(app) == [
        (STAFF_EMAIL, "disable", NAVIGATOR),
        (STAFF_EMAIL, "enable", NAVIGATOR),
    ]


def test_an_admin_ends_a_members_sessions(app, admin_client, admin, navigator):
    phone, laptop = signed_in(app), signed_in(app)
    response = member_action(admin_client, navigator, "end-sessions")
    assert response.status_code == 303
    page = admin_client.get(f"/staff/team/{navigator}").get_data(as_text=True)
    assert f"2 sessions of {NAVIGATOR} ended." in page
    assert is_sign_in_redirect(phone.get("/staff/"))
    assert is_sign_in_redirect(laptop.get("/staff/"))
    reasons = {s.end_reason for s in rows(app, StaffSession, StaffSession.staff_id == navigator)}
    assert reasons == {f"ended by {admin}"}
    assert records(app) == [(STAFF_EMAIL, "session ended", NAVIGATOR)]
    assert log_in(app.test_client(), NAVIGATOR, NAVIGATOR_PASSWORD).status_code == 303


def test_ending_ones_own_sessions_from_the_team_page_keeps_this_one(app, admin_client, admin):
    other = signed_in(app, STAFF_EMAIL, STAFF_PASSWORD)
    assert member_action(admin_client, admin, "end-sessions").status_code == 303
    assert admin_client.get("/staff/team").status_code == 200
    assert is_sign_in_redirect(other.get("/staff/"))


def test_every_team_change_is_in_the_access_record_with_its_session(
    app, admin_client, admin, navigator
):
    invite(admin_client)
    member_action(admin_client, navigator, "role", role="admin")
    member_action(admin_client, navigator, "languages", languages=["es"])
    member_action(admin_client, navigator, "password-reset")
    member_action(admin_client, navigator, "end-sessions")
    signed_in(app)
    member_action(admin_client, navigator, "end-sessions")
    member_action(admin_client, navigator, "disable")
    member_action(admin_client, navigator, "enable")
    assert [(action, detail) for _, action, detail in records(app)] == [
        ("invite", NEWCOMER),
        ("role", NAVIGATOR),
        ("languages", NAVIGATOR),
        ("password reset", NAVIGATOR),
        ("session ended", NAVIGATOR),  # the second end-sessions: the first had none to end
        ("disable", NAVIGATOR),
        ("enable", NAVIGATOR),
    ]
    with app.app_context():
        sessions = set(db.session.scalars(select(AccessRecord.session_id)))
        [mine] = db.session.scalars(select(StaffSession.id).filter_by(staff_id=admin)).all()
    assert sessions == {mine}
    assert all(actor == STAFF_EMAIL for actor, _, _ in records(app))


def test_a_link_token_names_no_email(app, admin):
    with app.app_context():
        token = team.link_token(db.session.get(StaffUser, admin), "reset")
    assert "example" not in token and "@" not in token


def test_a_role_not_listed_is_422_and_changes_nothing(app, admin_client, navigator):
    response = member_action(admin_client, navigator, "role", role="owner")
    assert response.status_code == 422
    assert "Choose one of the listed roles." in response.get_data(as_text=True)
    assert fetch(app, StaffUser, navigator).role == "navigator"


def test_a_change_to_what_is_already_so_records_nothing(app, admin_client, navigator):
    assert member_action(admin_client, navigator, "languages", languages=["en"]).status_code == 303
    assert member_action(admin_client, navigator, "enable").status_code == 303
    member_action(admin_client, navigator, "disable")
    assert member_action(admin_client, navigator, "disable").status_code == 303
    assert [action for _, action, _ in records(app)] == ["disable"]
