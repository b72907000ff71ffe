"""Unsubscribing: a signed link, a confirmation page, RFC 8058 one-click, and a
suppression list that outlives the secret key."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from microsite.extensions import db
from microsite.models import OutboxMessage, Referral, SuppressedAddress
from tests.conftest import share_form_for


def unsubscribe_path(app) -> str:
    with app.app_context():
        message = db.session.scalar(select(OutboxMessage))
        return message.headers["List-Unsubscribe"][1:-1].removeprefix(app.config["PUBLIC_URL"])


def share(app, **answers):
    client = app.test_client()
    with client.post("/share", data=share_form_for(client)(**answers)) as response:
        assert response.status_code == 303
    return client


def messages(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(OutboxMessage))


def test_the_link_shows_a_confirmation_page_with_a_button(app):
    share(app)
    path = unsubscribe_path(app)
    response = app.test_client().get(path)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert f'<form method="post" action="{path}">' in html
    assert "Stop all messages to me" in html
    with app.app_context():
        assert (
            db.session.scalar(select(func.count()).select_from(SuppressedAddress)) == 0
        )  # GET changes nothing


def test_pressing_the_button_suppresses_the_address_for_good(app):
    share(app)
    response = app.test_client().post(unsubscribe_path(app))
    assert response.status_code == 200
    assert "You will get no more messages" in response.get_data(as_text=True)
    client = share(app, friend_email="KIM@example.com", sender_name="Someone Else")
    assert messages(app) == 1  # no second message, whoever asks
    html = client.get("/share/sent").get_data(as_text=True)
    assert "unless they have asked us not to write to them" in html
    with app.app_context():
        [_, second] = db.session.scalars(select(Referral).order_by(Referral.id))
        assert (second.friend_email, second.friend_name) == (None, None)  # nothing kept of them


def test_rfc_8058_one_click_needs_no_csrf_token(app):
    share(app)
    response = app.test_client().post(
        unsubscribe_path(app),
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(SuppressedAddress)) == 1


def test_unsubscribing_twice_is_harmless(app):
    share(app)
    client = app.test_client()
    assert client.post(unsubscribe_path(app)).status_code == 200
    assert client.post(unsubscribe_path(app)).status_code == 200


def test_a_forged_or_cut_token_is_refused(app):
    share(app)
    path = unsubscribe_path(app)
    client = app.test_client()
    for bad in (path[:-3], "/unsubscribe/abc", "/unsubscribe/" + "A" * 40):
        assert client.get(bad).status_code == 404
        response = client.post(bad)
        assert response.status_code == 404
        assert "This link does not work" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(SuppressedAddress)) == 0


def test_the_suppression_list_holds_only_a_digest_and_survives_a_new_secret_key(make_app):
    app = make_app(SECRET_KEY="first-secret-key-0123456789-0123456789")
    share(app)
    app.test_client().post(unsubscribe_path(app))
    with app.app_context():
        [row] = db.session.scalars(select(SuppressedAddress))
        assert re.fullmatch(r"[0-9a-f]{64}", row.address_digest)
    rotated = make_app(SECRET_KEY="second-secret-key-0123456789-0123456789")
    share(rotated, friend_email="kim@example.com")
    assert messages(rotated) == 1  # still only the first one


def test_the_unsubscribe_url_carries_no_address(app):
    share(app, friend_email="kim@example.com")
    path = unsubscribe_path(app)
    import base64

    decoded = base64.urlsafe_b64decode(path.split("/")[-1].split(".")[0] + "==")
    assert b"kim" not in decoded and "kim" not in path
