"""The end of a lead's life: confirmation and withdrawal, erasure, retention purges, and
the notices staff get."""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from sqlalchemy import select, update

from microsite.extensions import db
from microsite.mail import send_due
from microsite.models import (
    ErasureRecord,
    Lead,
    LeadNote,
    OutboxMessage,
    Referral,
    StaffUser,
    StatusChange,
    utcnow,
)
from tests.helpers import (
    PUBLIC_URL,
    count,
    create_staff_user,
    rendered_hidden_fields,
    rows,
    share_form_for,
    submit_application,
)


def messages(app, kind: str) -> list[OutboxMessage]:
    return rows(app, OutboxMessage, OutboxMessage.kind == kind)


def mail_files(app) -> list[Path]:
    return sorted((Path(app.instance_path) / "mail").glob("*.eml"))


def withdraw_path(app) -> str:
    [message] = messages(app, "confirmation")
    [url] = re.findall(rf"{re.escape(PUBLIC_URL)}(/withdraw/\S+)", message.body_text)
    return url


def test_the_applicant_gets_a_confirmation_without_health_data(app):
    submit_application(
        app, diagnosis="other", diagnosis_other="Very rare tumor", patient_age="37"
    )  # no day of a month
    [message] = messages(app, "confirmation")
    assert message.to_address == "alex@example.com"
    assert message.status == "sent"  # written as a file: no MAIL_SERVER in tests
    text = message.body_text + message.body_html
    assert "Hello Alex Example" in text and "will email you by " in text
    for health in ("rare tumor", "Very rare", "Neuroblastoma", "neuroblastoma", " 37 ", "diagnos"):
        assert health not in text
    [file] = mail_files(app)
    assert message_from_bytes(file.read_bytes(), policy=policy.default)["To"] == "alex@example.com"


def test_an_unsubscribe_from_referrals_does_not_stop_the_confirmation(app):
    from microsite.suppression import address_digest, suppress

    with app.app_context():
        suppress(address_digest("alex@example.com"))
        db.session.commit()
    submit_application(app)
    assert [m.status for m in messages(app, "confirmation")] == ["sent"]


def test_withdrawal_shows_a_confirmation_page_then_erases_everything(app):
    client = submit_application(app)
    client.post("/share", data=share_form_for(client)())  # a referral the applicant sent
    path = withdraw_path(app)
    page = app.test_client().get(path)
    assert page.status_code == 200
    assert "Withdraw and delete my data" in page.get_data(as_text=True)
    assert count(app, Lead) == 1  # GET changes nothing
    stranger = app.test_client()
    assert stranger.post(path).status_code == 400  # no CSRF token: refused
    assert count(app, Lead) == 1
    fields = rendered_hidden_fields(stranger.get(path).get_data(as_text=True))
    done = stranger.post(path, data=fields)
    assert done.status_code == 200
    assert "Your data has been deleted" in done.get_data(as_text=True)
    assert count(app, Lead) == 0 and count(app, Referral) == 0
    assert count(app, OutboxMessage) == 0 and mail_files(app) == []
    with app.app_context():
        [record] = db.session.scalars(select(ErasureRecord))
        assert record.reason == "withdrawal"
        assert record.counts["leads"] == 1 and record.counts["referrals"] == 2
        assert "alex" not in str(record.counts)
    again = app.test_client().get(path)
    assert again.status_code == 200 and "Nothing to withdraw" in again.get_data(as_text=True)


def test_a_forged_withdraw_link_is_refused(client):
    for path in ("/withdraw/abc", "/withdraw/MQ.forged"):
        response = client.get(path)
        assert response.status_code == 404
        assert "Nothing to withdraw" in response.get_data(as_text=True)


@pytest.fixture
def person_with_history(app):
    """Two leads of one person (different case), with a note, a status change, referrals
    sent and received, and mail; plus another person's lead that must survive."""
    from microsite.leads import add_note, change_status

    staff_id = create_staff_user(app)
    client = submit_application(app, email="Erin@Example.com")
    client.post("/share", data=share_form_for(client)(friend_email="friend@example.com"))
    submit_application(app, email="erin@example.com")
    sharer = app.test_client()
    sharer.post(
        "/share", data=share_form_for(sharer)(friend_email="erin@example.com", sender_name="Other")
    )
    submit_application(app, email="keep@example.com", name="Keep Me")
    with app.app_context():
        staff = db.session.get(StaffUser, staff_id)
        lead = db.session.scalar(select(Lead).filter_by(email="Erin@example.com"))
        add_note(lead, "Called, left a message", staff)
        change_status(lead, "contacted", staff)
        db.session.commit()
        send_due()  # every message written out as a file


def test_erase_deletes_everything_about_one_person(app, person_with_history, caplog):
    caplog.set_level(logging.INFO)
    result = app.test_cli_runner().invoke(args=["leads", "erase", "erin@example.com"])
    assert result.exit_code == 0, result.output
    assert result.output == "Deleted: 2 leads, 1 notes, 4 referrals, 4 messages, 4 mail files.\n"
    with app.app_context():
        assert [lead.email for lead in db.session.scalars(select(Lead))] == ["keep@example.com"]
        remaining = list(db.session.scalars(select(OutboxMessage.to_address)))
        assert remaining == ["keep@example.com"]
        [record] = db.session.scalars(select(ErasureRecord))
        assert record.reason == "cli erase"
    assert count(app, LeadNote) == count(app, StatusChange) == 0
    assert len(mail_files(app)) == 1
    assert "erin" not in caplog.text.lower()


def test_erasing_an_unknown_address_deletes_nothing(app, person_with_history):
    result = app.test_cli_runner().invoke(args=["leads", "erase", "nobody@example.com"])
    assert result.output == "Deleted: 0 leads, 0 notes, 0 referrals, 0 messages, 0 mail files.\n"
    assert count(app, Lead) == 3


def test_purge_is_a_dry_run_until_yes(app):
    submit_application(app, email="old@example.com")
    submit_application(app, email="new@example.com")
    with app.app_context():
        old = utcnow() - timedelta(days=800)
        db.session.execute(
            update(Lead).where(Lead.email == "old@example.com").values(created_at=old)
        )
        db.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.to_address == "old@example.com")
            .values(created_at=old)
        )
        db.session.execute(
            update(Referral)
            .where(Referral.sender_name == "Alex Example")
            .where(Referral.lead_id == 1)
            .values(created_at=old)
        )
        db.session.commit()
    runner = app.test_cli_runner()
    dry = runner.invoke(args=["leads", "purge"])
    assert dry.exit_code == 0
    assert dry.output.startswith(
        "Would delete (run again with --yes to delete): 1 leads, 0 notes, 1 referrals, "
        "1 messages, 1 mail files, 0 access records; older than 730 days."
    )
    assert count(app, Lead) == 2
    done = runner.invoke(args=["leads", "purge", "--yes"])
    assert done.output.startswith("Deleted: 1 leads")
    with app.app_context():
        assert list(db.session.scalars(select(Lead.email))) == ["new@example.com"]
        assert db.session.scalar(select(ErasureRecord.reason)) == "retention purge"
    assert len(mail_files(app)) == 1


def test_purge_takes_its_own_age(app):
    submit_application(app)
    with app.app_context():
        db.session.execute(update(Lead).values(created_at=utcnow() - timedelta(days=11)))
        db.session.commit()
    runner = app.test_cli_runner()
    assert "0 leads" in runner.invoke(args=["leads", "purge", "--older-than", "12"]).output
    assert "1 leads" in runner.invoke(args=["leads", "purge", "--older-than", "10"]).output
    assert runner.invoke(args=["leads", "purge", "--older-than", "0"]).exit_code == 2


def test_staff_are_told_of_new_leads_without_personal_data(make_app):
    app = make_app(STAFF_NOTIFY_EMAIL="team@example.org")
    submit_application(
        app, name="Private Person", email="private@example.com", phone="020 7946 0018"
    )
    [notice] = messages(app, "staff_notice")
    assert notice.to_address == "team@example.org"
    with app.app_context():
        lead_id = db.session.scalar(select(Lead.id))
    assert f"{PUBLIC_URL}/staff/leads/{lead_id}" in notice.body_text
    text = notice.subject + notice.body_text + notice.body_html
    for personal in ("Private", "private@", "7946", "neuroblastoma", "Neuroblastoma", "GB"):
        assert personal not in text


def test_no_notice_without_a_staff_address(app):
    submit_application(app)
    assert messages(app, "staff_notice") == []
