"""Send this to a friend, through HTTP: the form, the referral stored, the message queued,
and the abuse limits that keep the site from becoming a spam relay."""

from __future__ import annotations

import logging
import re

import pytest
from sqlalchemy import select

from microsite.extensions import db
from microsite.models import OutboxMessage, Referral
from tests.helpers import VALID_APPLICATION, count, form_filler, rows, share_form_for


def test_the_form_has_the_contract_fields_and_no_free_text(client):
    html = client.get("/share").get_data(as_text=True)
    form = html[html.index("<form") : html.index("</form>")]
    names = set(re.findall(r'name="([a-z_]+)"', form)) - {
        "csrf_token",
        "idempotency_key",
        "hp_extra_notes",
    }
    assert names == {"sender_name", "friend_name", "friend_email", "consent"}
    assert "<textarea" not in html
    assert "I know this person and believe they would welcome this" in html


def test_the_article_and_thanks_page_link_to_share(client, apply_form):
    assert 'href="/share"' in client.get("/").get_data(as_text=True)
    client.post("/apply", data=apply_form())
    assert 'href="/share"' in client.get("/apply/thanks").get_data(as_text=True)


def test_a_referral_is_stored_with_its_message_queued(client, app, share_form):
    response = client.post("/share", data=share_form())
    assert response.status_code == 303
    assert response.headers["Location"] == "/share/sent"
    [referral] = rows(app, Referral)
    assert (referral.sender_name, referral.friend_name, referral.friend_email) == (
        "Robin Sender",
        "Kim Friend",
        "kim@example.com",
    )
    assert re.fullmatch(r"[A-Za-z0-9_-]{16}", referral.code)  # 96 random bits
    assert referral.lead_id is None and referral.clicks == 0
    [message] = rows(app, OutboxMessage)
    assert (message.to_address, message.referral_id, message.status) == (
        "kim@example.com",
        referral.id,
        "queued",
    )


def test_the_result_page_shows_the_personal_link_on_the_public_url(make_app):
    app = make_app(PUBLIC_URL="https://trials.example")
    client = app.test_client()
    client.environ_base["HTTP_HOST"] = "evil.example"  # a forged Host header on every request
    assert client.post("/share", data=share_form_for(client)()).status_code == 303
    response = client.get("/share/sent")
    html = response.get_data(as_text=True)
    [referral] = rows(app, Referral)
    assert f">https://trials.example/r/{referral.code}</textarea>" in html
    assert "evil.example" not in html
    assert "no-store" in response.headers["Cache-Control"]
    [message] = rows(app, OutboxMessage)
    assert f"https://trials.example/r/{referral.code}" in message.body_text
    assert "evil.example" not in message.body_text + message.body_html + str(message.headers)


def test_codes_are_unique_and_unguessable(client, app):
    fill = share_form_for(client)
    for n in range(20):
        client.post("/share", data=fill(friend_email=f"friend{n}@example.com"))
    codes = [r.code for r in rows(app, Referral)]
    assert len(set(codes)) == 20


VALID = [
    ({"friend_name": ""}, {"friend_name": None}),
    ({"friend_name": "x" * 80}, {"friend_name": "x" * 80}),
    ({"sender_name": "  Zoë  "}, {"sender_name": "Zoë"}),
    ({"sender_name": "s" * 80}, {"sender_name": "s" * 80}),
    ({"friend_email": " Kim@EXAMPLE.com "}, {"friend_email": "Kim@example.com"}),
    ({"friend_email": "josé@example.com"}, {"friend_email": "josé@example.com"}),
]


@pytest.mark.parametrize(("answers", "stored"), VALID)
def test_valid_answers_are_stored_as(client, app, share_form, answers, stored):
    assert client.post("/share", data=share_form(**answers)).status_code == 303
    [referral] = rows(app, Referral)
    for column, value in stored.items():
        assert getattr(referral, column) == value


INVALID = [
    ({"sender_name": ""}, "sender_name", "Enter your name"),
    ({"sender_name": "s" * 81}, "sender_name", "80 characters"),
    ({"sender_name": "Robin\r\nBcc: victim@example.com"}, "sender_name", "special characters"),
    ({"friend_name": "f" * 81}, "friend_name", "80 characters"),
    ({"friend_name": "Kim\nX-Header: 1"}, "friend_name", "special characters"),
    ({"friend_email": ""}, "friend_email", "Enter your friend’s email address"),
    ({"friend_email": "kim"}, "friend_email", "like name@example.com"),
    (
        {"friend_email": "kim@example.com\r\nBcc: victim@example.com"},
        "friend_email",
        "special characters",
    ),
    (
        {"friend_email": "kim@example.com, other@example.com"},
        "friend_email",
        "like name@example.com",
    ),
    ({"consent": None}, "consent", "Tick the box"),
    ({"consent": "yes"}, "consent", "Tick the box"),
]


@pytest.mark.parametrize(("answers", "field", "message"), INVALID)
def test_invalid_answers_are_refused_with_a_message(
    client, app, share_form, answers, field, message
):
    response = client.post("/share", data=share_form(**answers))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    error = re.search(rf'<p class="field__error" id="{field}-error">(.*?)</p>', html, re.S)
    assert error is not None and message in error.group(1)
    assert "<title>Error: Send this to a friend" in html
    assert count(app, Referral) == 0 and count(app, OutboxMessage) == 0


def test_input_is_kept_after_an_error(client, share_form):
    html = client.post(
        "/share", data=share_form(friend_email="kim@", friend_name="Kim <F>")
    ).get_data(as_text=True)
    assert (
        'value="Robin Sender"' in html
        and 'value="Kim &lt;F&gt;"' in html
        and 'value="kim@"' in html
    )


def sender_name_field(client) -> str:
    return re.search(
        r'<input[^>]*id="sender_name"[^>]*>', client.get("/share").get_data(as_text=True)
    ).group(0)


def test_after_applying_the_sender_name_comes_from_the_session(client, apply_form):
    assert 'value=""' in sender_name_field(client)
    client.post("/apply", data=apply_form(name="Alex Applicant"))
    assert 'value="Alex Applicant"' in sender_name_field(client)


def test_the_sender_name_is_never_taken_from_the_url(client):
    html = client.get("/share?sender_name=Mallory&friend_email=x@example.com").get_data(
        as_text=True
    )
    assert "Mallory" not in html and "x@example.com" not in html


def test_a_lead_who_shares_is_recorded_as_the_sender(client, app, apply_form):
    client.post("/apply", data=apply_form())
    client.post("/share", data=share_form_for(client)())
    sent = [r for r in rows(app, Referral) if r.friend_email]
    [lead_id] = {r.lead_id for r in sent}
    assert lead_id is not None


def test_a_resubmission_stores_one_referral_and_one_message(client, app, share_form):
    data = share_form()
    assert client.post("/share", data=data).status_code == 303
    assert client.post("/share", data=data).status_code == 303
    assert count(app, Referral) == 1 and count(app, OutboxMessage) == 1


@pytest.mark.parametrize("honeypot", ["spam", None])
def test_the_honeypot_drops_the_submission_quietly(client, app, share_form, caplog, honeypot):
    caplog.set_level(logging.INFO)
    response = client.post("/share", data=share_form(hp_extra_notes=honeypot))
    assert response.status_code == 303
    assert count(app, Referral) == 0 and count(app, OutboxMessage) == 0
    assert "honeypot" in caplog.text and "kim@example.com" not in caplog.text
    assert "Thank you for sharing" in client.get("/share/sent").get_data(as_text=True)


def test_an_expired_session_keeps_the_input(app, share_form):
    data = share_form(friend_name="Kept Friend")
    response = app.test_client().post("/share", data=data)  # a browser without its cookie
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "Please press “Send to my friend” again" in html
    assert 'value="Kept Friend"' in html
    assert count(app, Referral) == 0


def test_one_message_per_address_per_30_days_and_the_same_answer(client, app, share_form):
    first = client.post("/share", data=share_form())
    page_after_first = client.get("/share/sent").get_data(as_text=True)
    second = client.post(
        "/share", data=share_form(friend_email="KIM@example.com", sender_name="Other Sender")
    )
    page_after_second = client.get("/share/sent").get_data(as_text=True)
    assert first.status_code == second.status_code == 303
    assert count(app, Referral) == 2
    assert count(app, OutboxMessage) == 1  # the second referral queued nothing
    link = re.compile(r"/r/[A-Za-z0-9_-]{16}")
    assert link.sub("/r/CODE", page_after_first) == link.sub("/r/CODE", page_after_second)


def test_after_30_days_the_address_may_be_written_to_again(client, app, share_form):
    from datetime import timedelta

    from microsite.models import MailThrottle

    client.post("/share", data=share_form())
    with app.app_context():
        throttle = db.session.scalar(select(MailThrottle))
        throttle.last_queued_at -= timedelta(days=31)
        db.session.commit()
    client.post("/share", data=share_form())
    assert count(app, OutboxMessage) == 2


def test_the_share_rate_limit_keeps_the_input(make_app):
    app = make_app(RATELIMIT_ENABLED=True, SHARE_RATE_LIMIT="2 per hour")
    client = app.test_client()
    fill = share_form_for(client)
    for n in range(2):
        assert client.post("/share", data=fill(friend_email=f"f{n}@example.com")).status_code == 303
    limited = client.post(
        "/share", data=fill(friend_email="f3@example.com", friend_name="Still Here")
    )
    assert limited.status_code == 429
    html = limited.get_data(as_text=True)
    assert "Please wait a little before sending again" in html
    assert 'value="Still Here"' in html and 'value="f3@example.com"' in html
    assert count(app, Referral) == 2
    assert client.get("/share").status_code == 200  # reading the form is never limited


def test_the_default_share_limit_is_5_per_hour_and_20_per_day(app):
    assert app.config["SHARE_RATE_LIMIT"] == "5 per hour;20 per day"


def test_the_apply_rate_limit_keeps_the_input(make_app):
    app = make_app(RATELIMIT_ENABLED=True, APPLY_RATE_LIMIT="1 per hour")
    client = app.test_client()
    fill = form_filler(client, "/apply", VALID_APPLICATION)
    assert client.post("/apply", data=fill()).status_code == 303
    limited = client.post("/apply", data=fill(name="Second Try"))
    assert limited.status_code == 429
    assert 'value="Second Try"' in limited.get_data(as_text=True)


def test_the_limit_is_per_client(make_app):
    app = make_app(RATELIMIT_ENABLED=True, SHARE_RATE_LIMIT="1 per hour")
    first, second = app.test_client(), app.test_client()
    base = {"REMOTE_ADDR": "192.0.2.1"}
    other = {"REMOTE_ADDR": "192.0.2.2"}
    fill_first, fill_second = share_form_for(first), share_form_for(second)
    assert (
        first.post(
            "/share", data=fill_first(friend_email="a@example.com"), environ_base=base
        ).status_code
        == 303
    )
    assert (
        first.post(
            "/share", data=fill_first(friend_email="b@example.com"), environ_base=base
        ).status_code
        == 429
    )
    assert (
        second.post(
            "/share", data=fill_second(friend_email="c@example.com"), environ_base=other
        ).status_code
        == 303
    )
