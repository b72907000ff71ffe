"""The mail outbox: messages are queued in the caller's transaction and sent later.

Delivery is at least once. A sender takes a lease on a message before talking to the
SMTP server, so two senders never send the same message at once; the message is marked
sent as soon as the server accepts it. A failure is retried with backoff, up to
MAIL_MAX_ATTEMPTS, then the message is marked failed and stays for staff to see.
With no MAIL_SERVER, messages are written as .eml files under ``instance/mail/``.
"""

from __future__ import annotations

import logging
import os
import smtplib
import ssl
import tempfile
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from pathlib import Path

from flask import after_this_request, current_app, g, has_request_context, render_template
from sqlalchemy import func, inspect, or_, select, update

from .extensions import db
from .models import OutboxMessage, utcnow
from .suppression import is_suppressed

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)  # longer than any SMTP conversation, with its timeout
FIRST_RETRY = timedelta(minutes=1)
LONGEST_RETRY = timedelta(hours=6)
MAIL_FOLDER = "mail"


def queue_message(
    to: str, subject: str, text: str, html: str, headers: dict | None = None, **links
) -> OutboxMessage:
    """Add a message to the outbox in the current transaction. The caller commits.

    During a request, the message is also tried once after the response has been sent
    (unless MAIL_SEND_AFTER_RESPONSE is false). It is not flushed here: it gets its id
    when the caller's transaction is flushed or committed.
    """
    sender_domain = parseaddr(current_app.config["MAIL_FROM"])[1].rpartition("@")[2]
    message = OutboxMessage(
        to_address=to,
        subject=subject,
        body_text=text,
        body_html=html,
        headers=headers or {},
        message_id=make_msgid(domain=sender_domain or None),
        **links,
    )
    db.session.add(message)
    if has_request_context() and current_app.config["MAIL_SEND_AFTER_RESPONSE"]:
        _send_after_response(message)
    return message


def render_pair(name: str, **context) -> tuple[str, str]:
    """The plain-text and HTML bodies of ``mail/<name>.txt`` and ``mail/<name>.html``."""
    return (
        render_template(f"mail/{name}.txt", **context),
        render_template(f"mail/{name}.html", **context),
    )


def build_email(message) -> EmailMessage:
    """The MIME message of an outbox message (a row or an OutboxMessage)."""
    email = EmailMessage()
    email["From"] = current_app.config["MAIL_FROM"]
    email["To"] = message.to_address
    email["Subject"] = message.subject
    email["Date"] = format_datetime(message.created_at)
    email["Message-ID"] = message.message_id
    for name, value in message.headers.items():
        email[name] = value
    email.set_content(message.body_text)
    email.add_alternative(message.body_html, subtype="html")
    return email


def _send_over_smtp(email: EmailMessage) -> None:
    config = current_app.config
    host, port, timeout = config["MAIL_SERVER"], config["MAIL_PORT"], config["MAIL_TIMEOUT"]
    if config["MAIL_USE_SSL"]:
        smtp = smtplib.SMTP_SSL(host, port, timeout=timeout, context=ssl.create_default_context())
    else:
        smtp = smtplib.SMTP(host, port, timeout=timeout)
    with smtp:
        if config["MAIL_USE_TLS"]:
            smtp.starttls(context=ssl.create_default_context())
        if config["MAIL_USERNAME"]:
            smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"] or "")
        smtp.send_message(email)


def mail_folder() -> Path:
    """Where messages are written as files when there is no MAIL_SERVER."""
    return Path(current_app.instance_path) / MAIL_FOLDER


def eml_files(message_ids) -> list[Path]:
    """The files written for these outbox messages (named ``<time>-<message id>.eml``)."""
    folder = mail_folder()
    if not folder.is_dir():
        return []
    return [path for message_id in message_ids for path in folder.glob(f"*-{message_id}.eml")]


def _write_eml_file(email: EmailMessage, message_id: int) -> None:
    folder = mail_folder()
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{utcnow():%Y%m%dT%H%M%S}-{message_id}.eml"
    fd, temporary = tempfile.mkstemp(dir=folder, prefix=".", suffix=".eml")
    with os.fdopen(fd, "wb") as handle:
        handle.write(email.as_bytes())
    os.replace(temporary, folder / name)


def transmit(email: EmailMessage, message_id: int) -> None:
    """Hand one message to the SMTP server, or to a file when none is configured."""
    if current_app.config["MAIL_SERVER"]:
        _send_over_smtp(email)
    else:
        _write_eml_file(email, message_id)


def retry_delay(attempts: int) -> timedelta:
    """1, 2, 4, 8 ... minutes after each failed attempt, at most six hours."""
    return min(FIRST_RETRY * 2 ** (attempts - 1), LONGEST_RETRY)


_OUTBOX = OutboxMessage.__table__
# What sending reads of a message, returned by the UPDATE that takes its lease.
_TO_SEND = tuple(
    _OUTBOX.c[name]
    for name in (
        "kind",
        "to_address",
        "subject",
        "body_text",
        "body_html",
        "headers",
        "message_id",
        "created_at",
        "attempts",
        "next_attempt_at",
    )
)


def _claim(message_id: int, now: datetime):
    """Take the lease on a queued message that is due: (its lease token, what is sent of
    it), read by the same UPDATE; None if it is not ours to send."""
    token = uuid.uuid4().hex
    claimed = db.session.execute(
        update(_OUTBOX)
        .where(_OUTBOX.c.id == message_id)
        .where(_OUTBOX.c.status == "queued")
        .where(_OUTBOX.c.next_attempt_at <= now)
        .where(or_(_OUTBOX.c.lease_until.is_(None), _OUTBOX.c.lease_until < now))
        .values(lease_until=now + LEASE, lease_token=token)
        .returning(*_TO_SEND)
    ).first()
    db.session.commit()
    return None if claimed is None else (token, claimed)


def deliver(message_id: int, backoff: bool = True) -> str | None:
    """Try to send one message. Returns its status afterwards, or None if another sender
    holds it or it is not due. Without backoff a failure leaves it due at once (for the
    single attempt made right after a page was sent)."""
    claim = _claim(message_id, utcnow())
    if claim is None:
        return None
    token, message = claim
    mine = (_OUTBOX.c.id == message_id) & (_OUTBOX.c.lease_token == token)
    if message.kind == "referral" and is_suppressed(
        message.to_address
    ):  # they may have unsubscribed since
        outcome = {"status": "cancelled"}
        log.info("outbox: message %d cancelled, address suppressed", message_id)
    else:
        try:
            transmit(build_email(message), message_id)
        except (OSError, smtplib.SMTPException) as error:
            attempts = message.attempts + 1
            gave_up = attempts >= current_app.config["MAIL_MAX_ATTEMPTS"]
            due = utcnow() + retry_delay(attempts) if backoff else message.next_attempt_at
            outcome = {
                "attempts": attempts,
                "status": "failed" if gave_up else "queued",
                "next_attempt_at": due,
                "last_error": _describe(error),
            }
            log.warning(
                "outbox: message %d attempt %d failed (%s)%s",
                message_id,
                attempts,
                _describe(error),
                ", giving up" if gave_up else "",
            )
        else:
            outcome = {"status": "sent", "sent_at": utcnow(), "attempts": message.attempts + 1}
            log.info("outbox: message %d sent", message_id)
    db.session.execute(
        update(_OUTBOX).where(mine).values(lease_until=None, lease_token=None, **outcome)
    )
    db.session.commit()
    return outcome["status"]


def _describe(error: Exception) -> str:
    """The kind of failure and the SMTP code, never the addresses an SMTP error may carry."""
    code = getattr(error, "smtp_code", None) or getattr(error, "errno", None)
    return f"{type(error).__name__}" + (f" {code}" if code else "")


@dataclass(frozen=True)
class SendReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    cancelled: int = 0


def send_due(retry_failed: bool = False, batch: int = 100) -> SendReport:
    """Send every message that is due, oldest first. With ``retry_failed``, failed
    messages are queued again with a fresh count of attempts first."""
    if retry_failed:
        db.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.status == "failed")
            .values(status="queued", attempts=0, next_attempt_at=utcnow())
        )
        db.session.commit()
    counts = {"sent": 0, "queued": 0, "failed": 0, "cancelled": 0}
    started = utcnow()
    last_id = 0
    while True:
        due = list(
            db.session.scalars(
                select(OutboxMessage.id)
                .where(OutboxMessage.status == "queued")
                .where(OutboxMessage.next_attempt_at <= started)
                .where(OutboxMessage.id > last_id)
                .order_by(OutboxMessage.id)
                .limit(batch)
            )
        )
        if not due:
            break
        for message_id in due:
            status = deliver(message_id)
            if status is not None:
                counts[status] += 1
        last_id = due[-1]
    return SendReport(counts["sent"], counts["queued"], counts["failed"], counts["cancelled"])


def _send_after_response(message: OutboxMessage) -> None:
    """Try once to send ``message`` after the current response has gone to the visitor,
    with the other messages the request queued. A message whose transaction was rolled
    back has no identity then, and is not sent."""
    pending = g.get("mail_to_send")
    if pending is not None:
        pending.append(message)
        return
    pending = g.mail_to_send = [message]
    app = current_app._get_current_object()

    @after_this_request
    def register(response):
        def send() -> None:
            with app.app_context():
                for queued in pending:
                    identity = inspect(queued).identity
                    if identity is None:
                        continue
                    try:
                        deliver(identity[0], backoff=False)
                    except Exception:  # never let mail trouble reach the visitor
                        log.exception("outbox: message %d could not be tried", identity[0])

        response.call_on_close(send)
        return response


def status_counts() -> dict[str, int]:
    rows = db.session.execute(
        select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
    )
    return dict(rows.all())


def failed_messages(limit: int = 50) -> list[OutboxMessage]:
    return list(
        db.session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.status == "failed")
            .order_by(OutboxMessage.id.desc())
            .limit(limit)
        )
    )
