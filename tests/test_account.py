"""One's own account through HTTP: the open sessions with this one marked, ending another
session (the other browser's next request is sent to sign in) or all the others, and
changing one's password (the current one asked for; the other sessions end, this one goes
on), each change in the access record."""

from __future__ import annotations

import re

import pytest

from microsite.models import AccessRecord, StaffSession
from tests.helpers import (
    BROWSER_UA,
    STAFF_EMAIL,
    STAFF_PASSWORD,
    count,
    create_staff_user,
    csrf_token,
    fetch,
    log_in,
    rows,
)

OTHER = "other.member@example.com"
OTHER_PASSWORD = "the other member's password"
NEW_PASSWORD = "a brand new long password"
FIREFOX_UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:140.0) Gecko/20100101 Firefox/140.0"


def browser(app, user_agent=BROWSER_UA, email=STAFF_EMAIL, password=STAFF_PASSWORD):
    """A client signed in as the member, with its own session."""
    client = app.test_client()
    client.environ_base["HTTP_USER_AGENT"] = user_agent
    assert log_in(client, email, password).status_code == 303
    return client


def sessions_of(app, staff_id: int) -> list[StaffSession]:
    return rows(app, StaffSession, StaffSession.staff_id == staff_id)


def is_sign_in_redirect(response) -> bool:
    return response.status_code == 302 and response.headers["Location"].startswith("/staff/login")


def post(client, action: str, **data):
    return client.post(action, data={"csrf_token": csrf_token(client, "/staff/account"), **data})


def change_password(client, current=STAFF_PASSWORD, new=NEW_PASSWORD, confirm=None):
    return post(
        client,
        "/staff/account/password",
        current_password=current,
        new_password=new,
        confirm_password=new if confirm is None else confirm,
    )


def records(app) -> list[tuple[str, str, str | None]]:
    return [(r.actor, r.action, r.detail) for r in rows(app, AccessRecord)]


@pytest.fixture
def member(app) -> int:
    return create_staff_user(app, role="navigator")


# --- sessions ---------------------------------------------------------------------------


def test_the_account_page_lists_ones_open_sessions_and_marks_this_one(app, member):
    laptop = browser(app)
    browser(app, FIREFOX_UA)
    create_staff_user(app, OTHER, OTHER_PASSWORD)
    browser(app, email=OTHER, password=OTHER_PASSWORD)  # someone else's: not listed

    page = laptop.get("/staff/account")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    sessions, factors = html.split('id="factors-title"')
    devices = re.findall(r'<th scope="row">(.*?)</th>', sessions)
    assert devices == ["Chrome on Linux <strong>(this session)</strong>", "Firefox on Windows"]
    assert re.findall(r'<th scope="row">(.*?)</th>', factors) == ["Test app"]  # one's own
    assert html.count(">End this session</button>") == 1
    assert "End all other sessions" in html
    assert "Sign out to end it" in html


def test_one_session_alone_has_nothing_to_end(app, member):
    html = browser(app).get("/staff/account").get_data(as_text=True)
    assert "(this session)" in html
    assert "End this session" not in html and "End all other sessions" not in html


def test_ending_another_session_sends_that_browser_to_sign_in(app, member):
    phone, laptop = browser(app), browser(app, FIREFOX_UA)
    phone_session = sessions_of(app, member)[0]
    response = post(laptop, f"/staff/account/sessions/{phone_session.id}/end")
    assert response.status_code == 303 and response.headers["Location"] == "/staff/account"
    assert "That session has ended" in laptop.get("/staff/account").get_data(as_text=True)

    assert is_sign_in_redirect(phone.get("/staff/"))
    assert laptop.get("/staff/").status_code == 200
    ended = fetch(app, StaffSession, phone_session.id)
    assert ended.ended_at is not None and ended.end_reason == f"ended by {member}"
    assert records(app) == [(STAFF_EMAIL, "session ended", STAFF_EMAIL)]


def test_ending_all_other_sessions_keeps_this_one(app, member):
    others = [browser(app), browser(app, FIREFOX_UA)]
    mine = browser(app)
    assert post(mine, "/staff/account/sessions/end-others").status_code == 303
    assert "Your other sessions have ended." in mine.get("/staff/account").get_data(as_text=True)
    for other in others:
        assert is_sign_in_redirect(other.get("/staff/"))
    assert mine.get("/staff/").status_code == 200
    assert [s.ended_at is None for s in sessions_of(app, member)] == [False, False, True]
    assert records(app) == [(STAFF_EMAIL, "session ended", STAFF_EMAIL)]
    # Nothing left to end: said so, and nothing recorded.
    post(mine, "/staff/account/sessions/end-others")
    assert len(records(app)) == 1


def test_nobody_ends_someone_elses_session_nor_this_one_from_here(app, member):
    create_staff_user(app, OTHER, OTHER_PASSWORD)
    theirs = browser(app, email=OTHER, password=OTHER_PASSWORD)
    mine = browser(app)
    [their_session] = rows(app, StaffSession, StaffSession.staff_id != member)
    [my_session] = sessions_of(app, member)
    for target in (their_session, my_session):
        response = post(mine, f"/staff/account/sessions/{target.id}/end")
        assert response.status_code == 303
        assert "That session had ended already." in mine.get("/staff/account").get_data(
            as_text=True
        )
    assert theirs.get("/staff/").status_code == 200
    assert mine.get("/staff/").status_code == 200
    assert count(app, AccessRecord) == 0


def test_ending_a_session_needs_a_csrf_token(app, member):
    phone, laptop = browser(app), browser(app)
    target = sessions_of(app, member)[0]
    assert laptop.post(f"/staff/account/sessions/{target.id}/end").status_code == 400
    assert laptop.post("/staff/account/sessions/end-others").status_code == 400
    assert phone.get("/staff/").status_code == 200


def test_the_account_page_needs_sign_in(client, member):
    assert is_sign_in_redirect(client.get("/staff/account"))


# --- the password -----------------------------------------------------------------------


def test_changing_the_password_ends_the_other_sessions_but_not_this_one(app, member):
    other = browser(app, FIREFOX_UA)
    mine = browser(app)
    before = sessions_of(app, member)[1].reauthenticated_at
    response = change_password(mine)
    assert response.status_code == 303 and response.headers["Location"] == "/staff/account"
    assert "Your password is changed." in mine.get("/staff/account").get_data(as_text=True)
    assert mine.get("/staff/").status_code == 200
    assert is_sign_in_redirect(other.get("/staff/"))
    kept = sessions_of(app, member)[1]
    assert kept.ended_at is None and kept.reauthenticated_at > before
    assert sessions_of(app, member)[0].end_reason == "password changed"
    assert log_in(app.test_client(), STAFF_EMAIL, STAFF_PASSWORD).status_code == 401
    assert log_in(app.test_client(), STAFF_EMAIL, NEW_PASSWORD).status_code == 303
    assert records(app) == [(STAFF_EMAIL, "password changed", STAFF_EMAIL)]


def test_a_wrong_current_password_is_422_and_sends_no_password_back(app, member):
    other = browser(app, FIREFOX_UA)
    mine = browser(app)
    typed_current = "not my password at all"
    before = [s.reauthenticated_at for s in sessions_of(app, member)]
    response = change_password(mine, current=typed_current)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Your current password is not right." in html
    assert "There is a problem" in html and 'href="#current_password"' in html
    assert 'aria-invalid="true"' in html
    assert typed_current not in html and NEW_PASSWORD not in html
    fields = re.findall(r'<input[^>]*type="password"[^>]*>', html)
    assert len(fields) == 3
    assert all(re.search(r'value="[^"]', field) is None for field in fields)
    # Nothing changed: the other session goes on, the old password still works.
    assert other.get("/staff/").status_code == 200
    assert log_in(app.test_client(), STAFF_EMAIL, STAFF_PASSWORD).status_code == 303
    assert count(app, AccessRecord) == 0
    assert [s.reauthenticated_at for s in sessions_of(app, member)][:2] == before


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        ({"current": ""}, "Enter your current password."),
        ({"new": "too short"}, "Use at least 12 characters."),
        ({"new": ""}, "Enter a new password."),
        ({"confirm": "something else entirely"}, "The two new passwords are not the same."),
    ],
)
def test_a_new_password_must_be_long_enough_and_typed_twice(app, member, answers, message):
    mine = browser(app)
    response = change_password(mine, **answers)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert log_in(app.test_client(), STAFF_EMAIL, STAFF_PASSWORD).status_code == 303


def test_wrong_current_passwords_are_rate_limited(make_app):
    app = make_app(RATELIMIT_ENABLED=True, LOGIN_RATE_LIMIT="2 per minute")
    create_staff_user(app)
    mine = browser(app)
    for _ in range(2):
        assert change_password(mine, current="a wrong guess here").status_code == 422
    assert change_password(mine).status_code == 429
    assert log_in(app.test_client(), STAFF_EMAIL, STAFF_PASSWORD).status_code == 303
