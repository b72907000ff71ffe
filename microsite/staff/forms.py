"""The staff area's forms."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, PasswordField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from ..choices import COUNTRIES, DIAGNOSES, LEAD_STATUSES
from ..public.forms import _options
from ..validators import NoControlCharacters, strip, text_field


class LoginForm(FlaskForm):
    email = StringField(
        "Email address",
        filters=[strip],
        validators=[DataRequired("Enter your email address."), Length(max=320)],
        render_kw={"autocomplete": "username", "inputmode": "email", "spellcheck": "false"},
    )
    password = PasswordField(
        "Password",
        validators=[DataRequired("Enter your password."), Length(max=1024)],
        render_kw={"autocomplete": "current-password"},
    )


class EmptyForm(FlaskForm):
    """Nothing but the CSRF token, for POST-only buttons such as Sign out."""


class StatusForm(FlaskForm):
    status = SelectField(
        "Status",
        choices=_options(LEAD_STATUSES),
        invalid_choice_message="Choose one of the listed statuses.",
    )


class NoteForm(FlaskForm):
    body = TextAreaField(
        "Add a call note",
        filters=[strip],
        validators=[
            DataRequired("Write the note first."),
            Length(max=4000, message="Use 4,000 characters or fewer."),
            NoControlCharacters(allow="\r\n\t"),
        ],
        render_kw={"rows": 4, "maxlength": 4000},
    )


class LeadFilterForm(FlaskForm):
    """The dashboard's search and filters, read from the query string."""

    class Meta:
        csrf = False  # a GET form that changes nothing

    q = text_field("Search name, email or phone", 100)
    from_ = DateField("From", validators=[Optional()], name="from")
    to = DateField("To", validators=[Optional()])
    diagnosis = SelectField("Diagnosis", choices=_options(DIAGNOSES, "Any"), validators=[Optional()])
    country = SelectField("Country", choices=_options(COUNTRIES, "Any"), validators=[Optional()])
    status = SelectField("Status", choices=_options(LEAD_STATUSES, "Any"), validators=[Optional()])


class TestimonialForm(FlaskForm):
    author = text_field("Name shown", 100, "Enter the name to show.")
    quote = TextAreaField(
        "Quote",
        filters=[strip],
        validators=[
            DataRequired("Enter the quote."),
            Length(max=1000, message="Use 1,000 characters or fewer."),
            NoControlCharacters(allow="\r\n"),
        ],
        render_kw={"rows": 4, "maxlength": 1000},
    )
    consent_given_on = DateField(
        "Date they agreed to publication",
        description="Publish only words the person agreed, in writing, to share.",
        validators=[DataRequired("Enter the date they agreed to publication.")],
    )
    published = BooleanField("Published on the article page")
