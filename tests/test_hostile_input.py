"""Hostile strings in every field of every form: never a 5xx; either stored as typed (after
the documented normalization: trimming, email normalization, E.164 phones) or refused with
a message and the input kept; and always escaped where they are shown, on public and staff
pages alike."""

from __future__ import annotations

import pytest
from markupsafe import escape
from sqlalchemy import select

from microsite import models
from microsite.extensions import db
from microsite.models import Lead, LeadNote, OutboxMessage, Referral
from tests.helpers import (
    STAFF_EMAIL,
    VALID_APPLICATION,
    VALID_SHARE,
    csrf_token,
    form_filler,
    rendered_hidden_fields,
)

HOSTILE = [
    "<script>alert('x')</script>",
    '"><img src=x onerror=alert(1)>',
    "javascript:alert(1)",
    "{{ 7*7 }}{% raw %}",
    "'; DROP TABLE lead; --",
    "Robert'); DELETE FROM lead WHERE ('1'='1",
    "1 OR 1=1 /*",
    "header\r\nBcc: victim@example.com",
    "line\nbreak",
    "nul\x00byte",
    "bell\x07 escape\x1b[31m",
    "\u202eevil right-to-left override",
    "Z\u0337\u0322a\u0338l\u0334g\u0335o\u0337",
    "🦄🧬👨‍👩‍👧‍👦",
    "ＦＵＬＬ ｗｉｄｔｈ ﬁ ligature",
    "Ŝ" * 101,
    "x" * 5000,
    "   padded with spaces   ",
    '=HYPERLINK("http://evil.example")',
    "%s%n%x",
    "../../etc/passwd",
]


def page(response) -> str:
    return response.get_data(as_text=True)


def assert_refused_with_the_input_kept(response, value: str) -> None:
    html = page(response)
    assert response.status_code == 422, (response.status_code, value[:40])
    assert "There is a problem" in html or 'class="error-message"' in html, value[:40]
    if "<" in value:
        assert value not in html, "unescaped in the re-shown form"


def assert_shown_escaped(html: str, value: str) -> None:
    if any(c in value for c in "<>\"'&"):
        assert value not in html, f"unescaped: {value!r}"
    assert str(escape(value)) in html, f"not shown: {value[:40]!r}"


def stored(app, column, **where):
    with app.app_context():
        return db.session.scalars(
            select(column).filter_by(**where).order_by(column.class_.id.desc())
        ).first()


APPLY_TEXT_FIELDS = ["name", "email", "phone", "postal_code", "diagnosis_other", "patient_age"]
APPLY_CHOICE_FIELDS = [
    "role",
    "diagnosis",
    "treatment_stage",
    "country",
    "contact_method",
    "consent",
]


@pytest.mark.parametrize("field", APPLY_TEXT_FIELDS + APPLY_CHOICE_FIELDS)
def test_hostile_strings_in_the_application(app, client, staff_client, field):
    fill = form_filler(client, "/apply", VALID_APPLICATION)
    extra = (
        {"diagnosis": "other", "diagnosis_other": "Something rare"}
        if field == "diagnosis_other"
        else {}
    )
    extra |= {"contact_method": "phone", "phone": "+44 20 7946 0958"} if field == "phone" else {}
    accepted = 0
    for value in HOSTILE:
        response = client.post("/apply", data=fill(**{**extra, field: value}))
        assert response.status_code < 500, (field, value)
        if response.status_code != 303:
            assert_refused_with_the_input_kept(response, value)
            if field in APPLY_TEXT_FIELDS and len(value) < 200:
                assert f'value="{escape(value.strip())}"' in page(response) or str(
                    escape(value)
                ) in page(response)
            continue
        accepted += 1
        kept = stored(app, getattr(Lead, field))
        assert kept == value.strip(), (field, value, kept)  # trimmed, otherwise as typed
        lead_id = stored(app, Lead.id)
        assert_shown_escaped(page(staff_client.get(f"/staff/leads/{lead_id}")), kept)
        assert_shown_escaped(page(staff_client.get("/staff/")), stored(app, Lead.name))
        client.get("/apply")  # a new form, a new idempotency key
    if field in ("name", "diagnosis_other"):  # free text: markup and quotes are a name's right
        assert accepted >= 10, accepted


@pytest.mark.parametrize("field", ["sender_name", "friend_name", "friend_email", "consent"])
def test_hostile_strings_in_the_share_form(app, client, field):
    fill = form_filler(client, "/share", VALID_SHARE)
    for number, value in enumerate(HOSTILE):
        # A new friend each time: one message per address per 30 days is not what this tests.
        answers = {"friend_email": f"friend{number}@example.com", field: value}
        response = client.post("/share", data=fill(**answers))
        assert response.status_code < 500, (field, value)
        if response.status_code != 303:
            assert_refused_with_the_input_kept(response, value)
            continue
        kept = stored(app, getattr(Referral, field), kind="share")
        assert kept == value.strip(), (field, value, kept)
        assert client.get(response.headers["Location"]).status_code == 200
        if field == "sender_name":  # the friend's message quotes the sender's name
            message_html = stored(app, OutboxMessage.body_html, kind="referral")
            assert_shown_escaped(message_html, kept)


@pytest.mark.parametrize("field", ["email", "password"])
def test_hostile_strings_in_the_staff_sign_in(app, staff, field):
    client = app.test_client()
    fields = rendered_hidden_fields(page(client.get("/staff/login")))
    for value in HOSTILE:
        answers = {"email": STAFF_EMAIL, "password": "a wrong password", field: value}
        response = client.post("/staff/login", data={**fields, **answers})
        assert response.status_code in (401, 422), (field, value, response.status_code)
        assert "<script>alert" not in page(response)


def test_hostile_strings_in_call_notes(app, client, apply_form, staff_client):
    assert client.post("/apply", data=apply_form()).status_code == 303
    lead_id = stored(app, Lead.id)
    for value in HOSTILE:
        token = csrf_token(staff_client, f"/staff/leads/{lead_id}")
        response = staff_client.post(
            f"/staff/leads/{lead_id}/notes", data={"csrf_token": token, "body": value}
        )
        assert response.status_code < 500, value
        if response.status_code != 303:
            assert_refused_with_the_input_kept(response, value)
            continue
        kept = stored(app, LeadNote.body)
        assert kept == value.strip(), (value, kept)
        assert_shown_escaped(page(staff_client.get(f"/staff/leads/{lead_id}")), kept)
    for value in HOSTILE:
        token = csrf_token(staff_client, f"/staff/leads/{lead_id}")
        response = staff_client.post(
            f"/staff/leads/{lead_id}/status", data={"csrf_token": token, "status": value}
        )
        assert response.status_code in (303, 422), (value, response.status_code)


@pytest.mark.parametrize("field", ["q", "from", "to", "diagnosis", "country", "status"])
def test_hostile_strings_in_the_lead_filters(staff_client, field):
    for value in HOSTILE:
        for path in ("/staff/", "/staff/leads.csv"):
            response = staff_client.get(path, query_string={field: value})
            body = page(response)  # a CSV streams: read it to the end
            response.close()
            assert response.status_code in (200, 400), (path, field, value, response.status_code)
            if path == "/staff/":
                assert "<script>alert" not in body


@pytest.mark.parametrize("field", ["author", "quote", "consent_given_on"])
def test_hostile_strings_in_testimonials(app, client, staff_client, field):
    for value in HOSTILE:
        token = csrf_token(staff_client, "/staff/testimonials/new")
        answers = {
            "author": "Jo Parent",
            "quote": "They found us a trial.",
            "consent_given_on": "2026-01-31",
            "published": "y",
        }
        response = staff_client.post(
            "/staff/testimonials/new", data={"csrf_token": token, **answers, field: value}
        )
        assert response.status_code < 500, (field, value)
        if response.status_code != 303:
            assert_refused_with_the_input_kept(response, value)
            continue
        kept = stored(app, getattr(models.Testimonial, field))
        assert kept == value.strip(), (field, value, kept)
        assert_shown_escaped(page(client.get("/")), kept)
        if "<" in kept:
            assert kept not in page(
                staff_client.get("/staff/testimonials")
            )  # the list shortens quotes
