"""Property: whatever text arrives in any field, /apply never fails with a 5xx and never
stores a lead that breaks the form's rules."""

from __future__ import annotations

import phonenumbers
from email_validator import validate_email
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from microsite.choices import COUNTRIES, DIAGNOSES, ROLES, TREATMENT_STAGES
from microsite.extensions import db
from microsite.models import Lead
from tests.helpers import APPLICATION_FIELDS

# Hostile text: any characters, often with control characters, near the length bounds.
any_text = st.one_of(
    st.text(max_size=300),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=30),
    st.sampled_from(
        ["", " ", "0", "18", "39", "40", "-1", "y", "other", "phone", "GB", "+44 20 7946 0018"]
    ),
)


def clean(text: str | None) -> bool:
    return text is None or not any(
        ord(c) < 32 or 127 <= ord(c) < 160 or c in "\u2028\u2029" for c in text
    )


def assert_valid(lead: Lead) -> None:
    assert lead.role in ROLES
    assert 0 <= lead.patient_age <= 39
    assert lead.role != "patient" or lead.patient_age >= 18
    assert lead.diagnosis in DIAGNOSES
    if lead.diagnosis == "other":
        assert lead.diagnosis_other and len(lead.diagnosis_other) <= 200
    else:
        assert lead.diagnosis_other is None
    assert lead.treatment_stage is None or lead.treatment_stage in TREATMENT_STAGES
    assert lead.country in COUNTRIES
    assert lead.postal_code is None or 0 < len(lead.postal_code) <= 12
    assert 0 < len(lead.name) <= 100 and lead.name == lead.name.strip()
    assert validate_email(lead.email, check_deliverability=False).normalized == lead.email
    if lead.phone is not None:
        assert phonenumbers.is_valid_number(phonenumbers.parse(lead.phone))
        assert lead.phone.startswith("+")
    assert lead.contact_method in ("email", "phone")
    assert lead.contact_method != "phone" or lead.phone
    assert lead.consent_version and lead.consent_at
    for text in (lead.name, lead.email, lead.postal_code, lead.diagnosis_other, lead.phone):
        assert clean(text)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    fuzzed=st.dictionaries(st.sampled_from(APPLICATION_FIELDS), any_text, min_size=1, max_size=5)
)
def test_any_text_in_any_field_never_breaks_the_site_or_the_data(app, client, apply_form, fuzzed):
    data = apply_form(**fuzzed)
    with app.app_context():
        before = set(db.session.scalars(select(Lead.id)))
    response = client.post("/apply", data=data)
    assert response.status_code in (303, 422), response.status_code
    with app.app_context():
        stored = list(db.session.scalars(select(Lead).where(Lead.id.not_in(before))))
    assert len(stored) <= (1 if response.status_code == 303 else 0)
    for lead in stored:
        assert_valid(lead)
