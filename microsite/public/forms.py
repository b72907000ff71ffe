"""The public site's forms. Every rule of an application lives here, not in the views."""

from __future__ import annotations

import re
import uuid
from functools import cache

import phonenumbers
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, StringField
from wtforms.validators import DataRequired, InputRequired, NumberRange, Optional, ValidationError

from ..choices import (
    ADULT_AGE,
    CONTACT_METHODS,
    COUNTRIES,
    DIAGNOSES,
    MAX_PATIENT_AGE,
    MIN_PATIENT_AGE,
    ROLES,
    TRAVEL_DISTANCES,
    TREATMENT_STAGES,
    country_names,
)
from ..fields import (
    ChoiceRadioField,
    ChoiceSelectField,
    OptionalRadioField,
    WholeNumberField,
    YesCheckbox,
    choice_options,
    email_field,
    empty_to_none,
    strip,
    text_field,
)
from ..web.i18n import current_language, wtforms_messages

_IDEMPOTENCY_KEY = re.compile(r"[0-9a-f]{32}")


@cache
def country_options(language: str) -> list:
    """The country select's options in ``language``, made once per language."""
    return choice_options(country_names(language), _l("Choose a country"))


CHOOSE_ROLE = _l("Choose who is filling in this form.")
CHOOSE_DIAGNOSIS = _l("Choose the diagnosis, or “Another diagnosis”.")
CHOOSE_COUNTRY = _l("Choose the country where the patient lives.")
CHOOSE_CONTACT_METHOD = _l("Choose how we should contact you.")


class VisitorForm(FlaskForm):
    """A public form: one idempotency key per rendering, and a honeypot for bots."""

    class Meta:
        def get_translations(self, form):
            return wtforms_messages

    idempotency_key = HiddenField()
    # Named so that no browser autofills it; hidden from people, filled by bots.
    hp_extra_notes = StringField(_l("Leave this field empty"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not _IDEMPOTENCY_KEY.fullmatch(self.idempotency_key.data or ""):
            self.idempotency_key.data = uuid.uuid4().hex

    def is_from_a_bot(self) -> bool:
        """A bot fills in the hidden field, or drops it; a browser sends it back empty."""
        return self.hp_extra_notes.raw_data != [""]

    def submitted_key(self) -> str | None:
        """The idempotency key the browser sent back, when it is one we could have made."""
        raw = self.idempotency_key.raw_data
        return raw[0] if raw and _IDEMPOTENCY_KEY.fullmatch(raw[0]) else None


class ApplyForm(VisitorForm):
    role = ChoiceRadioField(
        _l("Who is filling in this form?"),
        choices=choice_options(ROLES),
        validators=[InputRequired(CHOOSE_ROLE)],
        invalid_choice_message=CHOOSE_ROLE,
    )
    patient_age = WholeNumberField(
        _l("How old is the patient?"),
        description=_l("In whole years. Enter 0 for a baby under one year old."),
        validators=[
            InputRequired(_l("Enter the patient's age in years.")),
            NumberRange(
                MIN_PATIENT_AGE,
                MAX_PATIENT_AGE,
                _l(
                    "Enter an age from %(low)d to %(high)d years. "
                    "We help children, teenagers and young adults.",
                    low=MIN_PATIENT_AGE,
                    high=MAX_PATIENT_AGE,
                ),
            ),
        ],
        render_kw={
            "inputmode": "numeric",
            "pattern": "[0-9]*",
            "autocomplete": "off",
            "maxlength": 3,
        },
    )
    diagnosis = ChoiceSelectField(
        _l("Diagnosis"),
        choices=choice_options(DIAGNOSES, _l("Choose a diagnosis")),
        validators=[DataRequired(CHOOSE_DIAGNOSIS)],
        invalid_choice_message=CHOOSE_DIAGNOSIS,
    )
    diagnosis_other = text_field(
        _l("Which diagnosis?"), 200, description=_l("Only if you chose “Another diagnosis”.")
    )
    treatment_stage = ChoiceSelectField(
        _l("Where is the patient in treatment? (optional)"),
        choices=choice_options(TREATMENT_STAGES, _l("Prefer not to say")),
        validators=[Optional()],
        # Optional() lets blank input through unchecked: make " " the empty answer it is.
        filters=[strip, empty_to_none],
        invalid_choice_message=_l("Choose one of the listed stages, or “Prefer not to say”."),
    )
    country = ChoiceSelectField(
        _l("Country where the patient lives"),
        # Called for each form, so the names are in the page's language, sorted in it.
        choices=lambda: country_options(current_language()),
        validators=[DataRequired(CHOOSE_COUNTRY)],
        invalid_choice_message=CHOOSE_COUNTRY,
        render_kw={"autocomplete": "country"},
    )
    postal_code = text_field(
        _l("Postal code (optional)"),
        12,
        description=_l("Helps us find trial sites near you."),
        autocomplete="postal-code",
    )
    travel_distance = OptionalRadioField(
        _l("How far could the patient travel for a trial? (optional)"),
        choices=choice_options(TRAVEL_DISTANCES),
        description=_l("We list trial sites within this distance first."),
        invalid_choice_message=_l("Choose one of the listed distances, or leave it unanswered."),
    )
    name = text_field(_l("Your name"), 100, _l("Enter your name."), autocomplete="name")
    email = email_field(
        _l("Your email address"), _l("Enter your email address."), autocomplete="email"
    )
    phone = text_field(
        _l("Your phone number (optional)"),
        30,
        description=_l("Needed if you would like us to call you."),
        autocomplete="tel",
        type="tel",
    )
    contact_method = ChoiceRadioField(
        _l("How should we contact you?"),
        choices=choice_options(CONTACT_METHODS),
        validators=[InputRequired(CHOOSE_CONTACT_METHOD)],
        invalid_choice_message=CHOOSE_CONTACT_METHOD,
    )
    consent = YesCheckbox(
        _l("I agree"),  # the template shows the full consent text beside it
        validators=[DataRequired(_l("Tick the box to agree, so that we can contact you."))],
    )
    updates_opt_in = YesCheckbox(_l("Also send me occasional news about pediatric cancer research"))
    # Its own consent, text and version (alerts.CONSENT), shown beside it by the template.
    trial_alerts = YesCheckbox(_l("Email me when a new trial that may fit opens"))

    def validate_patient_age(self, field) -> None:
        if self.role.data == "patient" and field.data is not None and field.data < ADULT_AGE:
            raise ValidationError(
                gettext(
                    "If you are under 18, please ask a parent or guardian to fill in this "
                    "form with you."
                )
            )

    def validate_diagnosis_other(self, field) -> None:
        if self.diagnosis.data == "other" and not field.data:
            raise ValidationError(gettext("Tell us the diagnosis."))

    def validate_phone(self, field) -> None:
        if not field.data:
            if self.contact_method.data == "phone":
                raise ValidationError(gettext("Enter a phone number, so that we can call you."))
            return
        region = self.country.data if self.country.data in COUNTRIES else None
        try:
            number = phonenumbers.parse(field.data, region)
        except phonenumbers.NumberParseException:
            number = None
        if number is None or not phonenumbers.is_valid_number(number):
            # phonenumbers explains a refusal in English: every reason gets this message.
            raise ValidationError(
                gettext(
                    "Enter a phone number that is valid in the country you chose, "
                    "or start it with + and the country code."
                )
            )
        field.data = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)

    def application(self) -> dict:
        """The validated answers, as the Lead's columns."""
        return {
            "role": self.role.data,
            "patient_age": self.patient_age.data,
            "diagnosis": self.diagnosis.data,
            "diagnosis_other": self.diagnosis_other.data
            if self.diagnosis.data == "other"
            else None,
            "treatment_stage": self.treatment_stage.data,
            "country": self.country.data,
            "postal_code": self.postal_code.data,
            "travel_distance": self.travel_distance.data,
            "name": self.name.data,
            "email": self.email.data,
            "phone": self.phone.data,
            "contact_method": self.contact_method.data,
            "updates_opt_in": self.updates_opt_in.data,
        }


class ShareForm(VisitorForm):
    """Send this to a friend. No free-text message: that would make us a spam relay."""

    sender_name = text_field(
        _l("Your name"),
        80,
        _l("Enter your name."),
        description=_l("We tell your friend who thought of them."),
        autocomplete="name",
    )
    friend_name = text_field(_l("Your friend’s name (optional)"), 80)
    friend_email = email_field(
        _l("Your friend’s email address"), _l("Enter your friend’s email address.")
    )
    consent = YesCheckbox(
        _l("I know this person and believe they would welcome this"),
        validators=[
            DataRequired(_l("Tick the box to confirm that your friend would welcome this."))
        ],
    )

    def referral(self) -> dict:
        """The validated answers, as the Referral's columns."""
        return {
            "sender_name": self.sender_name.data,
            "friend_name": self.friend_name.data,
            "friend_email": self.friend_email.data,
        }


class AlertSettingsForm(FlaskForm):
    """What a family may change of their trial alerts: where to look from, and how far.
    The same questions, rules and messages as on the application form."""

    postal_code = ApplyForm.postal_code
    travel_distance = ApplyForm.travel_distance

    def settings(self) -> dict:
        return {"postal_code": self.postal_code.data, "travel_distance": self.travel_distance.data}
