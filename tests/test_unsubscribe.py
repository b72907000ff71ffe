"""Unsubscribing: a signed link, a confirmation page, RFC 8058 one-click, and a
suppression list that outlives the secret key."""

from __future__ import annotations

import base64
import re

from sqlalchemy import select

from microsite.extensions import db
from microsite.models import OutboxMessage, Referral, SuppressedAddress
from microsite.suppression import address_digest
from tests.helpers import PUBLIC_URL, VALID_SHARE, count, rows, submit_share

FRIEND = VALID_SHARE["friend_email"]
DONE = "You will get no more messages"


def unsubscribe_path(app) -> str:
    [message] = rows(app, OutboxMessage)
    link = message.headers["List-Unsubscribe"][1:-1]
    assert link.startswith(PUBLIC_URL + "/unsubscribe/")
    return link.removeprefix(PUBLIC_URL)


def suppressed(app) -> list[str]:
    """The digests on the suppression list."""
    return [row.address_digest for row in rows(app, SuppressedAddress)]


def digest_of(app, address: str) -> str:
    with app.app_context():
        return address_digest(address)


def test_the_link_shows_a_confirmation_page_with_a_button(app):
    submit_share(app)
    path = unsubscribe_path(app)
    response = app.test_client().get(path)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert f'<form method="post" action="{path}">' in html
    assert "Stop all messages to me" in html
    assert suppressed(app) == []  # GET changes nothing


def test_pressing_the_button_suppresses_the_address_for_good(app):
    submit_share(app)
    response = app.test_client().post(unsubscribe_path(app))
    assert response.status_code == 200
    assert DONE in response.get_data(as_text=True)
    assert suppressed(app) == [digest_of(app, FRIEND)]
    client = submit_share(app, friend_email="KIM@example.com", sender_name="Someone Else")
    assert count(app, OutboxMessage) == 1  # no second message, whoever asks
    html = client.get("/share/sent").get_data(as_text=True)
    assert "unless they have asked us not to write to them" in html
    [_, second] = rows(app, Referral)
    assert (second.friend_email, second.friend_name) == (None, None)  # nothing kept of them


def test_rfc_8058_one_click_needs_no_csrf_token(app):
    submit_share(app)
    response = app.test_client().post(
        unsubscribe_path(app),
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200
    assert suppressed(app) == [digest_of(app, FRIEND)]
    submit_share(app, sender_name="Someone Else")
    assert count(app, OutboxMessage) == 1  # the mail program's click holds like the button


def test_unsubscribing_twice_is_harmless(app):
    submit_share(app)
    client = app.test_client()
    for _ in range(2):
        response = client.post(unsubscribe_path(app))
        assert response.status_code == 200
        assert DONE in response.get_data(as_text=True)
    assert suppressed(app) == [digest_of(app, FRIEND)]  # one row, not two


def test_a_forged_or_cut_token_is_refused(app):
    submit_share(app)
    path = unsubscribe_path(app)
    client = app.test_client()
    for bad in (path[:-3], "/unsubscribe/abc", "/unsubscribe/" + "A" * 40):
        for response in (client.get(bad), client.post(bad)):
            assert response.status_code == 404, bad
            html = response.get_data(as_text=True)
            assert "This link does not work" in html and "Stop all messages" not in html
    assert suppressed(app) == []


def test_the_suppression_list_holds_only_a_digest_and_survives_a_new_secret_key(make_app):
    app = make_app(SECRET_KEY="first-secret-key-0123456789-0123456789")
    submit_share(app)
    assert app.test_client().post(unsubscribe_path(app)).status_code == 200
    [digest] = suppressed(app)
    assert re.fullmatch(r"[0-9a-f]{64}", digest) and FRIEND not in digest
    rotated = make_app(SECRET_KEY="second-secret-key-0123456789-0123456789")
    submit_share(rotated, friend_email=FRIEND)
    assert count(rotated, OutboxMessage) == 1  # still only the first one
    with rotated.app_context():
        assert db.session.scalars(select(SuppressedAddress.address_digest)).all() == [digest]


def test_the_unsubscribe_url_carries_no_address(app):
    submit_share(app, friend_email="kim@example.com")
    path = unsubscribe_path(app)
    decoded = base64.urlsafe_b64decode(path.split("/")[-1].split(".")[0] + "==")
    assert b"kim" not in decoded and "kim" not in path
