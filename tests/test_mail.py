"""The mail outbox against a real SMTP server on loopback (aiosmtpd)."""

from __future__ import annotations

import re
from datetime import timedelta
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from sqlalchemy import select, update

from microsite import mail
from microsite.extensions import db
from microsite.models import OutboxMessage, Referral, utcnow
from tests.helpers import (
    BROWSER_UA,
    PUBLIC_URL,
    rows,
    share_form_for,
    submit_application,
    submit_share,
)


def cli(app, *args) -> str:
    result = app.test_cli_runner().invoke(args=list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_the_friend_receives_one_message_whose_link_resolves_to_the_referral(mail_app, smtp_server):
    submit_share(mail_app)
    assert len(smtp_server.messages) == 1
    mail_from, recipients, message = smtp_server.messages[0]
    assert recipients == ["kim@example.com"]
    assert mail_from == "no-reply@trialfinder.example"
    assert message["From"] == "Trial Finder <no-reply@trialfinder.example>"
    assert message["To"] == "kim@example.com"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsubscribe = rf"<{re.escape(PUBLIC_URL)}/unsubscribe/[^>]+>"
    assert re.fullmatch(unsubscribe, message["List-Unsubscribe"])
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "Robin Sender asked Trial Finder to tell you about us" in text
    [link] = re.findall(rf"{re.escape(PUBLIC_URL)}/r/[A-Za-z0-9_-]+", text)
    assert link in text.splitlines()  # on a line of its own, where mail programs find it
    # The HTML part links to the referral and the unsubscribe page, and nowhere else.
    assert set(re.findall(r'href="([^"]+)"', html)) == {link, message["List-Unsubscribe"][1:-1]}
    assert [m.status for m in rows(mail_app, OutboxMessage)] == ["sent"]

    client = mail_app.test_client()
    response = client.get(link.removeprefix(PUBLIC_URL), headers={"User-Agent": BROWSER_UA})
    assert response.headers["Location"] == "/"
    with mail_app.app_context():
        referral = db.session.scalar(select(Referral))
        assert link.endswith(referral.code) and referral.clicks == 1


def test_an_smtp_outage_queues_the_message_and_it_goes_out_once_later(mail_app, smtp_server):
    smtp_server.stop()
    submit_share(mail_app)  # the page still answers at once
    with mail_app.app_context():
        assert db.session.scalar(select(Referral)).friend_email == "kim@example.com"
    [queued] = rows(mail_app, OutboxMessage)
    assert (queued.status, queued.attempts, queued.last_error) == (
        "queued",
        1,
        "ConnectionRefusedError 111",
    )
    smtp_server.start()
    assert cli(mail_app, "outbox", "send").startswith("Outbox: 1 sent, 0 to retry later")
    assert cli(mail_app, "outbox", "send").startswith("Outbox: 0 sent")
    assert len(smtp_server.messages) == 1
    assert [m.status for m in rows(mail_app, OutboxMessage)] == ["sent"]


def test_failures_back_off_then_fail_and_can_be_retried(make_app, smtp_server):
    app = make_app(MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp_server.port, MAIL_MAX_ATTEMPTS=3)
    smtp_server.stop()
    submit_share(app)  # attempt 1, right after the page: no backoff
    assert "1 to retry later" in cli(app, "outbox", "send")  # attempt 2
    [message] = rows(app, OutboxMessage)
    assert message.attempts == 2
    assert timedelta(seconds=110) < message.next_attempt_at - utcnow() <= timedelta(minutes=2)
    assert cli(app, "outbox", "send").startswith(
        "Outbox: 0 sent, 0 to retry later, 0 failed"
    )  # not due
    with app.app_context():
        db.session.execute(update(OutboxMessage).values(next_attempt_at=utcnow()))
        db.session.commit()
    assert "1 failed" in cli(app, "outbox", "send")  # attempt 3 of 3
    status = cli(app, "outbox", "status")
    assert "failed: 1" in status
    assert f"failed: message {message.id} (referral {message.referral_id}), 3 attempts" in status
    assert "kim@example.com" not in status
    smtp_server.start()
    assert cli(app, "outbox", "send").startswith("Outbox: 0 sent")  # failed stays failed...
    assert cli(app, "outbox", "send", "--retry-failed").startswith(
        "Outbox: 1 sent"
    )  # ...until asked
    assert len(smtp_server.messages) == 1


@pytest.mark.parametrize(("attempts", "minutes"), [(1, 1), (2, 2), (3, 4), (6, 32), (12, 360)])
def test_the_backoff_doubles_up_to_six_hours(attempts, minutes):
    assert mail.retry_delay(attempts) == timedelta(minutes=minutes)


def test_a_leased_message_is_left_to_its_sender(mail_app, smtp_server):
    smtp_server.stop()
    submit_share(mail_app)
    smtp_server.start()
    with mail_app.app_context():
        db.session.execute(
            update(OutboxMessage).values(
                lease_until=utcnow() + timedelta(minutes=5), lease_token="x" * 32
            )
        )
        db.session.commit()
    assert cli(mail_app, "outbox", "send").startswith("Outbox: 0 sent")
    assert smtp_server.messages == []
    with mail_app.app_context():  # the other sender died: its lease runs out
        db.session.execute(
            update(OutboxMessage).values(lease_until=utcnow() - timedelta(seconds=1))
        )
        db.session.commit()
    assert cli(mail_app, "outbox", "send").startswith("Outbox: 1 sent")
    assert len(smtp_server.messages) == 1


def test_without_a_mail_server_messages_are_written_as_files(app):
    submit_share(app)
    files = list((Path(app.instance_path) / "mail").glob("*.eml"))
    assert len(files) == 1
    message = message_from_bytes(files[0].read_bytes(), policy=policy.default)
    assert message["To"] == "kim@example.com"
    assert "Robin Sender" in message.get_body(("plain",)).get_content()
    assert [m.status for m in rows(app, OutboxMessage)] == ["sent"]


def test_an_address_that_unsubscribes_before_sending_gets_nothing(mail_app, smtp_server):
    from microsite.suppression import address_digest, suppress

    smtp_server.stop()
    submit_share(mail_app)
    with mail_app.app_context():
        suppress(address_digest("kim@example.com"))
        db.session.commit()
    smtp_server.start()
    assert "1 cancelled" in cli(mail_app, "outbox", "send")
    assert smtp_server.messages == []


def test_an_internationalized_address_is_delivered(mail_app, smtp_server):
    submit_share(mail_app, friend_email="josé@例子.广告")
    [(_, recipients, message)] = smtp_server.messages
    assert recipients == ["josé@例子.广告"]


HOSTILE = "Robin\r\nBcc: victim@example.com\r\n"


@pytest.mark.parametrize("field", ["sender_name", "friend_name", "friend_email"])
def test_header_injection_never_reaches_the_smtp_conversation(mail_app, smtp_server, field):
    client = mail_app.test_client()
    value = "kim@example.com" + HOSTILE if field == "friend_email" else HOSTILE
    with client.post("/share", data=share_form_for(client)(**{field: value})) as response:
        assert response.status_code == 422
    assert smtp_server.messages == [] and rows(mail_app, OutboxMessage) == []


def test_visitor_text_that_looks_like_a_header_stays_in_the_body(mail_app, smtp_server):
    submit_share(
        mail_app, sender_name="Robin Bcc: victim@example.com", friend_name="To: other@example.com"
    )
    [raw] = smtp_server.conversations
    headers, _, body = raw.partition(b"\r\n\r\n")
    assert b"victim" not in headers and b"other@example.com" not in headers
    assert b"Bcc" not in headers
    [(_, recipients, _)] = smtp_server.messages
    assert recipients == ["kim@example.com"]
    assert b"other@example.com" not in raw  # the friend's name is not in the message at all


def test_an_application_sends_all_its_messages_after_the_response(make_app, smtp_server):
    app = make_app(
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=smtp_server.port,
        MAIL_TIMEOUT=5,
        STAFF_NOTIFY_EMAIL="staff@example.org",
    )
    submit_application(app, trial_alerts="y")
    recipients = sorted(recipient for _, [recipient], _ in smtp_server.messages)
    # The confirmation, the alerts' confirmation and the staff notice: one page, three mails.
    assert recipients == ["alex@example.com", "alex@example.com", "staff@example.org"]
    assert {m.status for m in rows(app, OutboxMessage)} == {"sent"}


def test_with_sending_after_the_response_off_only_the_outbox_sends(make_app, smtp_server):
    app = make_app(
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=smtp_server.port,
        MAIL_TIMEOUT=5,
        MAIL_SEND_AFTER_RESPONSE=False,
    )
    submit_share(app)
    submit_application(app)
    assert smtp_server.messages == []
    assert {m.status for m in rows(app, OutboxMessage)} == {"queued"}
    assert "2 sent" in cli(app, "outbox", "send")
    assert sorted(recipient for _, [recipient], _ in smtp_server.messages) == [
        "alex@example.com",
        "kim@example.com",
    ]


def test_a_message_rolled_back_with_its_page_is_never_sent(mail_app, smtp_server):
    with mail_app.test_request_context("/"):
        mail.queue_message(to="kim@example.com", subject="Never", text="t", html="<p>t</p>")
        db.session.rollback()
        response = mail_app.process_response(mail_app.response_class("ok"))
    response.close()
    assert smtp_server.messages == []
    assert rows(mail_app, OutboxMessage) == []
