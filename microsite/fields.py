"""Field helpers shared by the site's forms: strict parsing and plain-English messages."""

from __future__ import annotations

import re
import unicodedata

from email_validator import EmailNotValidError, validate_email
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    IntegerField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, ValidationError
from wtforms.widgets import TextInput

# Control characters (C0, C1, DEL) and the Unicode line and paragraph separators.
_CONTROL_CATEGORIES = {"Cc", "Zl", "Zp"}


def strip(value):
    return value.strip() if isinstance(value, str) else value


def empty_to_none(value):
    return value or None


def has_control_characters(text: str, allow: str = "") -> bool:
    return any(unicodedata.category(c) in _CONTROL_CATEGORIES and c not in allow for c in text)


class NoControlCharacters:
    """Refuse text with control characters: they only ever come from a bot or a paste gone wrong."""

    def __init__(self, message: str | None = None, allow: str = ""):
        message = message or _l("Remove the special characters from this answer.")
        self.message = message
        self.allow = allow

    def __call__(self, form, field) -> None:
        if field.data and has_control_characters(field.data, self.allow):
            raise ValidationError(self.message)


class Email:
    """Check an address with email-validator and keep its normalized form.

    No DNS look-ups: a request never waits on the network. Internationalized addresses
    are accepted.
    """

    def __init__(self, message: str | None = None):
        # email-validator explains a refusal in English: every reason gets this message.
        self.message = message or _l("Enter an email address like name@example.com.")

    def __call__(self, form, field) -> None:
        if not field.data:
            return
        try:
            field.data = validate_email(field.data, check_deliverability=False).normalized
        except EmailNotValidError:
            raise ValidationError(self.message) from None


class WholeNumberField(IntegerField):
    """An integer written with the digits 0-9 only: no signs, decimals, underscores or
    other scripts' digits, which Python's int() would quietly accept. Rendered as text with
    a numeric keyboard, which suits people better than a number spinner."""

    widget = TextInput()

    def process_formdata(self, valuelist):
        if not valuelist:
            return
        raw = valuelist[0].strip()
        if raw == "":
            self.data = None
        elif re.fullmatch(r"[0-9]{1,3}", raw):
            self.data = int(raw)
        else:
            self.data = None
            raise ValueError(gettext("Enter a whole number, like 7."))


class YesCheckbox(BooleanField):
    """A checkbox that counts as ticked only when the submitted value is exactly ``y``."""

    def process_formdata(self, valuelist):
        self.data = bool(valuelist) and valuelist[0] == "y"


class _OneOfTheChoices:
    """A choice field whose answer is checked against the set of its choices' values, not
    by building every option as WTForms does (a country select has 250). Fields without
    a message of their own, or without choices, are left to WTForms."""

    def pre_validate(self, form) -> None:
        if self.invalid_choice_message is None or self.choices is None:
            super().pre_validate(form)
        elif self.process_errors or not self.validate_choice:
            return
        elif self.data not in {self.coerce(choice.value) for choice in self.choices}:
            raise ValidationError(self.invalid_choice_message)


class ChoiceSelectField(_OneOfTheChoices, SelectField):
    """A select whose answer must be one of its choices (a list of SelectChoice)."""


class ChoiceRadioField(_OneOfTheChoices, RadioField):
    """Radio buttons whose answer must be one of their choices (a list of SelectChoice)."""


class OptionalRadioField(ChoiceRadioField):
    """Radio buttons that may be left unanswered (data None); an answer must be a choice."""

    def process_formdata(self, valuelist):
        super().process_formdata([value for value in valuelist if value.strip()])

    def pre_validate(self, form) -> None:
        if self.data is not None:
            super().pre_validate(form)


class TypedStringField(StringField):
    """A text field that shows back exactly what was typed, while ``data`` holds the
    cleaned value (trimmed, normalized): a form shown again after an error changes
    nothing the visitor wrote."""

    def _value(self):
        if self.raw_data:
            return self.raw_data[0]
        return super()._value()


def text_field(
    label: str,
    max_length: int,
    required: str | None = None,
    description: str | None = None,
    autocomplete: str = "off",
    extra=(),
    **render_kw,
) -> TypedStringField:
    """A trimmed, length-bounded text field without control characters. ``required`` is
    the message for an empty answer; without it the field is optional and empty means None."""
    validators = [DataRequired(required)] if required else []
    validators += [
        Length(max=max_length, message=_l("Use %(num)d characters or fewer.", num=max_length)),
        NoControlCharacters(),
        *extra,
    ]
    return TypedStringField(
        label,
        description=description,
        filters=[strip] if required else [strip, empty_to_none],
        validators=validators,
        render_kw={"maxlength": max_length, "autocomplete": autocomplete, **render_kw},
    )


def email_field(label: str, required: str, autocomplete: str = "off") -> TypedStringField:
    # Not type=email: Chromium refuses internationalized addresses that we accept.
    return text_field(
        label,
        254,
        required,
        autocomplete=autocomplete,
        extra=[Email()],
        inputmode="email",
        spellcheck="false",
    )


def text_area_field(label: str, max_length: int, required: str) -> TextAreaField:
    """Several lines of trimmed, length-bounded text: line breaks and tabs are allowed,
    other control characters are not."""
    return TextAreaField(
        label,
        filters=[strip],
        validators=[
            DataRequired(required),
            Length(max=max_length, message=f"Use {max_length:,} characters or fewer."),
            NoControlCharacters(allow="\r\n\t"),
        ],
        render_kw={"rows": 4, "maxlength": max_length},
    )


def choice_options(choices: dict[str, str], placeholder: str | None = None) -> list[SelectChoice]:
    """The choices of a select or radio field, after an empty placeholder when given."""
    options = [SelectChoice(value, label) for value, label in choices.items()]
    return options if placeholder is None else [SelectChoice("", placeholder), *options]
