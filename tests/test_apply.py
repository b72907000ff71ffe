"""The "Find your trial" form, through HTTP: every rule of the contract."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from microsite.extensions import db
from microsite.leads import CONSENT_VERSION
from microsite.models import Lead
from tests.helpers import (
    APPLICATION_FIELDS,
    VALID_APPLICATION,
    count,
    rendered_hidden_fields,
    rows,
)


def test_form_renders_with_every_contract_field(client):
    page = client.get("/apply")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for name in APPLICATION_FIELDS:
        assert f'name="{name}"' in html, name
    # Both checkboxes start unticked.
    assert not re.search(r'<input[^>]*checked[^>]*name="(consent|updates_opt_in)"', html)
    assert not re.search(r'<input[^>]*name="(consent|updates_opt_in)"[^>]*checked', html)


def test_diagnoses_are_shown_with_their_full_names(client):
    html = client.get("/apply").get_data(as_text=True)
    assert '<option value="all">Acute lymphoblastic leukemia (ALL)</option>' in html
    assert '<option value="alcl">Anaplastic large cell lymphoma (ALCL)</option>' in html
    assert '<option value="nhl">Non-Hodgkin lymphoma</option>' in html


def test_countries_come_from_the_iso_list(client):
    html = client.get("/apply").get_data(as_text=True)
    options = re.findall(r'<option value="([A-Z]{2})">', html)
    assert len(options) == 249
    assert {"GB", "US", "DE", "IN", "BR", "NG", "AX"} <= set(options)
    assert '<option value="AX">Åland Islands</option>' in html


def test_a_valid_application_is_stored_and_redirects_to_thanks(client, app, apply_form):
    before = datetime.now(UTC)
    response = client.post("/apply", data=apply_form(updates_opt_in="y"))
    assert response.status_code == 303
    assert response.headers["Location"] == "/apply/thanks"
    [lead] = rows(app, Lead)
    assert (lead.role, lead.patient_age, lead.diagnosis, lead.diagnosis_other) == (
        "parent",
        7,
        "neuroblastoma",
        None,
    )
    assert (lead.treatment_stage, lead.country, lead.postal_code) == (
        "in_treatment",
        "GB",
        "SW1A 1AA",
    )
    assert (lead.name, lead.email, lead.phone, lead.contact_method) == (
        "Alex Example",
        "alex@example.com",
        None,
        "email",
    )
    assert lead.consent_version == CONSENT_VERSION
    assert before <= lead.consent_at <= datetime.now(UTC)
    assert lead.created_at.tzinfo is UTC
    assert lead.updates_opt_in is True
    assert lead.status == "new"


# Each row: answers that differ from a valid application, and what is stored.
VALID = [
    ({"patient_age": "0"}, {"patient_age": 0}),
    ({"patient_age": "39"}, {"patient_age": 39}),
    ({"patient_age": " 12 "}, {"patient_age": 12}),
    ({"role": "patient", "patient_age": "18"}, {"role": "patient", "patient_age": 18}),
    ({"role": "clinician", "patient_age": "3"}, {"role": "clinician"}),
    ({"role": "relative"}, {"role": "relative"}),
    (
        {"diagnosis": "other", "diagnosis_other": "  DIPG  "},
        {"diagnosis": "other", "diagnosis_other": "DIPG"},
    ),
    ({"diagnosis": "wilms", "diagnosis_other": "ignored"}, {"diagnosis_other": None}),
    ({"treatment_stage": ""}, {"treatment_stage": None}),
    ({"treatment_stage": None}, {"treatment_stage": None}),
    ({"postal_code": ""}, {"postal_code": None}),
    ({"postal_code": "123456789012"}, {"postal_code": "123456789012"}),
    ({"name": "  Zoë O’Brien-Nguyễn  "}, {"name": "Zoë O’Brien-Nguyễn"}),
    ({"name": "x" * 100}, {"name": "x" * 100}),
    ({"email": "  Alex@EXAMPLE.com "}, {"email": "Alex@example.com"}),
    ({"email": "josé@example.com"}, {"email": "josé@example.com"}),
    ({"email": "用户@例子.广告"}, {"email": "用户@例子.广告"}),
    ({"phone": "020 7946 0018", "country": "GB"}, {"phone": "+442079460018"}),
    (
        {"phone": "(201) 555-0123", "country": "US", "contact_method": "phone"},
        {"phone": "+12015550123", "contact_method": "phone"},
    ),
    ({"phone": "+49 30 901820", "country": "GB"}, {"phone": "+4930901820"}),
    ({"updates_opt_in": "y"}, {"updates_opt_in": True}),
    ({"updates_opt_in": "yes"}, {"updates_opt_in": False}),
    ({"updates_opt_in": "on"}, {"updates_opt_in": False}),
]


@pytest.mark.parametrize(("answers", "stored"), VALID)
def test_valid_answers_are_stored_as(client, app, apply_form, answers, stored):
    response = client.post("/apply", data=apply_form(**answers))
    assert response.status_code == 303, response.get_data(as_text=True)
    [lead] = rows(app, Lead)
    for column, value in stored.items():
        assert getattr(lead, column) == value, column


# Each row: answers that make the application invalid, the field that reports it and
# (part of) the message shown there.
INVALID = [
    ({"role": None}, "role", "Choose who is filling in this form"),
    ({"role": "grandparent"}, "role", "Choose who is filling in this form"),
    ({"patient_age": ""}, "patient_age", "Enter the patient's age"),
    ({"patient_age": None}, "patient_age", "Enter the patient's age"),
    ({"patient_age": "40"}, "patient_age", "from 0 to 39"),
    ({"patient_age": "-1"}, "patient_age", "whole number"),
    ({"patient_age": "7.5"}, "patient_age", "whole number"),
    ({"patient_age": "1_0"}, "patient_age", "whole number"),
    ({"patient_age": "١٢"}, "patient_age", "whole number"),
    ({"patient_age": "seven"}, "patient_age", "whole number"),
    ({"role": "patient", "patient_age": "17"}, "patient_age", "ask a parent or guardian"),
    ({"role": "patient", "patient_age": "0"}, "patient_age", "ask a parent or guardian"),
    ({"diagnosis": ""}, "diagnosis", "Choose the diagnosis"),
    ({"diagnosis": "flu"}, "diagnosis", "Choose the diagnosis"),
    ({"diagnosis": "other", "diagnosis_other": "  "}, "diagnosis_other", "Tell us the diagnosis"),
    ({"diagnosis": "other", "diagnosis_other": "x" * 201}, "diagnosis_other", "200 characters"),
    ({"treatment_stage": "cured"}, "treatment_stage", "Choose one of the listed stages"),
    ({"country": ""}, "country", "Choose the country"),
    ({"country": "XX"}, "country", "Choose the country"),
    ({"country": "gb"}, "country", "Choose the country"),
    ({"postal_code": "1234567890123"}, "postal_code", "12 characters"),
    ({"name": ""}, "name", "Enter your name"),
    ({"name": "   "}, "name", "Enter your name"),
    ({"name": "x" * 101}, "name", "100 characters"),
    ({"name": "Alex\x00Example"}, "name", "special characters"),
    ({"name": "Alex\nExample"}, "name", "special characters"),
    ({"name": "Alex\u2028Example"}, "name", "special characters"),
    ({"postal_code": "SW1\x07"}, "postal_code", "special characters"),
    ({"diagnosis": "other", "diagnosis_other": "a\x1bb"}, "diagnosis_other", "special characters"),
    ({"email": ""}, "email", "Enter your email address"),
    ({"email": "alex"}, "email", "like name@example.com"),
    ({"email": "alex@"}, "email", "like name@example.com"),
    ({"email": "alex@example"}, "email", "like name@example.com"),
    ({"email": "a b@example.com"}, "email", "like name@example.com"),
    ({"email": "x" * 250 + "@example.com"}, "email", "254 characters"),
    ({"phone": "12"}, "phone", "valid in the country you chose"),
    ({"phone": "not a number"}, "phone", "valid in the country you chose"),
    ({"phone": "020 7946 0018", "country": "US"}, "phone", "valid in the country you chose"),
    ({"phone": "1" * 31}, "phone", "30 characters"),
    ({"contact_method": "phone", "phone": ""}, "phone", "Enter a phone number"),
    ({"contact_method": None}, "contact_method", "Choose how we should contact you"),
    ({"contact_method": "pigeon"}, "contact_method", "Choose how we should contact you"),
    ({"consent": None}, "consent", "Tick the box"),
    ({"consent": ""}, "consent", "Tick the box"),
    ({"consent": "yes"}, "consent", "Tick the box"),
    ({"consent": "on"}, "consent", "Tick the box"),
    ({"consent": "true"}, "consent", "Tick the box"),
]


@pytest.mark.parametrize(("answers", "field", "message"), INVALID)
def test_invalid_answers_are_refused_with_a_message(
    client, app, apply_form, answers, field, message
):
    data = apply_form(**answers)
    response = client.post("/apply", data=data)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert count(app, Lead) == 0
    # The inline message, tied to its field, and a summary link at the top.
    error = re.search(rf'<p class="field__error" id="{field}-error">(.*?)</p>', html, re.S)
    assert error is not None, f"no inline error for {field}"
    assert message in error.group(1).replace("&#39;", "'")
    anchor = f"#{field}-0" if field in ("role", "contact_method") else f"#{field}"
    assert re.search(rf'<div class="error-summary".*?href="{anchor}"', html, re.S)
    assert "<title>Error: Find your trial" in html
    if field in ("role", "contact_method"):
        assert re.search(rf'<fieldset[^>]*id="{field}"[^>]*aria-invalid="true"', html) or re.search(
            rf'<fieldset[^>]*aria-invalid="true"[^>]*id="{field}"', html
        )
    else:
        control = re.search(rf'<(input|select)[^>]*\bid="{field}"[^>]*>', html).group(0)
        assert 'aria-invalid="true"' in control
        assert f"{field}-error" in re.search(r'aria-describedby="([^"]*)"', control).group(1)


def test_everything_typed_is_kept_after_an_error(client, apply_form):
    data = apply_form(
        role="patient",
        patient_age="15",
        name="Sam <Tester>",
        email="sam@example.com",
        phone="020 7946 0018",
        postal_code="AB1 2CD",
        diagnosis="other",
        diagnosis_other="Very rare tumor",
        contact_method="phone",
        updates_opt_in="y",
    )
    html = client.post("/apply", data=data).get_data(as_text=True)
    assert 'value="Sam &lt;Tester&gt;"' in html
    assert 'value="sam@example.com"' in html
    assert 'value="020 7946 0018"' in html
    assert 'value="AB1 2CD"' in html
    assert 'value="15"' in html
    assert 'value="Very rare tumor"' in html
    assert re.search(r'<input checked id="role-1"', html)
    assert re.search(r'<input checked id="contact_method-1"', html)
    assert re.search(r'<option selected value="other">', html)
    assert re.search(r'<option selected value="GB">', html)
    assert re.search(
        r'<input aria-[^>]*checked[^>]*name="consent"|<input checked[^>]*name="consent"', html
    )
    assert re.search(r'<input checked[^>]*name="updates_opt_in"', html)
    # The same idempotency key comes back, so fixing the error and sending stores one lead.
    assert f'value="{data["idempotency_key"]}"' in html


def test_a_double_submission_stores_one_lead_and_both_end_on_thanks(client, app, apply_form):
    data = apply_form()
    first = client.post("/apply", data=data)
    second = client.post("/apply", data=data)
    assert (first.status_code, second.status_code) == (303, 303)
    assert first.headers["Location"] == second.headers["Location"] == "/apply/thanks"
    assert count(app, Lead) == 1


def test_each_rendering_of_the_form_has_its_own_key(client, app, apply_form):
    client.post("/apply", data=apply_form())
    client.post("/apply", data=apply_form())
    assert count(app, Lead) == 2


@pytest.mark.parametrize("key", [None, "", "not-a-key", "A" * 32, "0" * 33])
def test_without_a_usable_key_the_lead_is_still_stored(client, app, apply_form, key):
    data = apply_form(idempotency_key=key)
    assert client.post("/apply", data=data).status_code == 303
    assert client.post("/apply", data=data).status_code == 303
    stored = rows(app, Lead)
    assert len(stored) == 2  # no de-duplication is possible without a key
    assert {lead.idempotency_key for lead in stored} == {None}


@pytest.mark.parametrize("honeypot", ["http://spam.example", " ", None])
def test_the_honeypot_drops_the_submission_quietly(client, app, apply_form, caplog, honeypot):
    caplog.set_level(logging.INFO)
    response = client.post("/apply", data=apply_form(hp_extra_notes=honeypot))
    assert response.status_code == 303
    assert response.headers["Location"] == "/apply/thanks"
    assert count(app, Lead) == 0
    assert "honeypot" in caplog.text
    assert "Alex" not in caplog.text and "alex@example.com" not in caplog.text


def test_the_honeypot_is_hidden_from_people_and_browsers(client):
    html = client.get("/apply").get_data(as_text=True)
    wrapper = re.search(r'<div class="hp" aria-hidden="true">(.*?)</div>', html, re.S)
    assert wrapper is not None
    field = re.search(r"<input[^>]*hp_extra_notes[^>]*>", wrapper.group(1)).group(0)
    assert 'tabindex="-1"' in field and 'autocomplete="off"' in field


def test_logs_carry_the_lead_id_and_no_personal_data(client, app, apply_form, caplog):
    caplog.set_level(logging.DEBUG)
    client.post("/apply", data=apply_form(phone="020 7946 0018"))
    [lead] = rows(app, Lead)
    assert f"lead {lead.id}" in caplog.text
    for personal in ("Alex", "alex@example.com", "7946", "SW1A", "neuroblastoma"):
        assert personal not in caplog.text


def test_a_missing_csrf_token_keeps_the_input_and_asks_to_submit_again(client, app, apply_form):
    data = apply_form(name="Kept Name", email="kept@example.com")
    del data["csrf_token"]
    response = client.post("/apply", data=data)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "press “Send my application” again" in html
    assert 'value="Kept Name"' in html and 'value="kept@example.com"' in html
    assert count(app, Lead) == 0
    # The page carries a fresh token: sending it again works.
    fresh = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)
    assert client.post("/apply", data={**data, "csrf_token": fresh}).status_code == 303
    assert count(app, Lead) == 1


def test_an_expired_session_keeps_the_input(app, apply_form, client):
    data = apply_form(name="After Lunch")
    stranger = app.test_client()  # a browser whose session cookie is gone
    response = stranger.post("/apply", data=data)
    assert response.status_code == 400
    assert 'value="After Lunch"' in response.get_data(as_text=True)
    assert count(app, Lead) == 0


def test_posting_to_a_page_without_a_form_gets_a_styled_405(client):
    response = client.post("/apply/thanks")
    assert response.status_code == 405
    assert "<h1>Method Not Allowed</h1>" in response.get_data(as_text=True)


def test_thanks_says_how_and_when_we_will_contact_them(client, apply_form):
    client.post("/apply", data=apply_form(contact_method="phone", phone="020 7946 0018"))
    response = client.get("/apply/thanks")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "no-store" in response.headers["Cache-Control"]
    assert "will contact you by " in html  # the day: tests/test_due_times.py
    assert "call you on <strong>+442079460018</strong>" in html
    assert "withdraw" in html
    assert "Send this to a friend" in html


def test_thanks_follows_the_org_settings(make_app):
    app = make_app(
        ORG_NAME="Kids Trials Net", ORG_EMAIL="help@kids.example", CALLBACK_BUSINESS_DAYS=5
    )
    html = app.test_client().get("/apply/thanks").get_data(as_text=True)
    assert "Kids Trials Net" in html and "help@kids.example" in html
    assert "within 5 business days" in html
    assert "the way you asked" in html  # no lead in this session


def test_consent_time_and_version_are_recorded(client, app, apply_form):
    client.post("/apply", data=apply_form())
    [lead] = rows(app, Lead)
    assert lead.consent_version == CONSENT_VERSION
    assert abs(lead.consent_at - datetime.now(UTC)) < timedelta(minutes=1)


def test_the_consent_text_shown_names_the_organisation(make_app):
    app = make_app(ORG_NAME="Kids Trials Net")
    html = app.test_client().get("/apply").get_data(as_text=True)
    assert "I agree that Kids Trials Net stores what I entered here" in html


def test_a_blank_optional_choice_is_stored_as_no_answer(client, app, apply_form):
    """Found by the property test: " " slipped past Optional() and hit the check constraint."""
    assert client.post("/apply", data=apply_form(treatment_stage="   ")).status_code == 303
    with app.app_context():
        assert db.session.scalar(select(Lead.treatment_stage)) is None


def test_every_visitor_gets_their_own_token_and_key_on_the_form_rendered_once(app):
    """The empty form is rendered once per worker; its CSRF token and idempotency key are not."""
    first, second = app.test_client(), app.test_client()
    pages = [first.get("/apply"), first.get("/apply"), second.get("/apply")]
    fields = [rendered_hidden_fields(page.get_data(as_text=True)) for page in pages]
    assert len({f["idempotency_key"] for f in fields}) == 3
    assert all(re.fullmatch(r"[0-9a-f]{32}", f["idempotency_key"]) for f in fields)
    assert fields[0]["csrf_token"] != fields[2]["csrf_token"]  # another visitor, another session
    assert "placeholder" not in pages[0].get_data(as_text=True)
    for client, page in ((first, fields[1]), (second, fields[2])):
        data = {**page, **VALID_APPLICATION}
        assert client.post("/apply", data=data).status_code == 303
