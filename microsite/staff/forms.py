"""The staff area's forms."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional

from ..callbacks import DUE_STATES
from ..choices import COUNTRIES, DIAGNOSES, LANGUAGE_NAMES, LEAD_STATUSES
from ..dashboard import LeadFilters
from ..fields import choice_options, strip, text_area_field, text_field


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
        choices=choice_options(LEAD_STATUSES),
        invalid_choice_message="Choose one of the listed statuses.",
    )


class AssignForm(FlaskForm):
    """An admin gives a lead to a member, or to nobody."""

    assignee = SelectField(
        "Assigned to", invalid_choice_message="Choose one of the listed members."
    )

    def __init__(self, *args, members=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.assignee.choices = [("", "Nobody (unassigned)")] + [
            (str(member.id), f"{member.email} ({member.languages.replace(',', ', ')})")
            for member in members
        ]


class NoteForm(FlaskForm):
    body = text_area_field("Add a call note", 4000, "Write the note first.")


class LeadFilterForm(FlaskForm):
    """The dashboard's search and filters, read from the query string."""

    class Meta:
        csrf = False  # a GET form that changes nothing

    q = text_field("Search name, email or phone", 100)
    from_ = DateField("From", validators=[Optional()], name="from")
    to = DateField("To", validators=[Optional()])
    diagnosis = SelectField(
        "Diagnosis", choices=choice_options(DIAGNOSES, "Any"), validators=[Optional()]
    )
    country = SelectField(
        "Country", choices=choice_options(COUNTRIES, "Any"), validators=[Optional()]
    )
    status = SelectField(
        "Status", choices=choice_options(LEAD_STATUSES, "Any"), validators=[Optional()]
    )

    language = SelectField(
        "Language", choices=choice_options(LANGUAGE_NAMES, "Any"), validators=[Optional()]
    )
    assignee = SelectField("Assigned to", validators=[Optional()])
    due = SelectField(
        "Call back", choices=choice_options(DUE_STATES, "Any"), validators=[Optional()]
    )
    language_gap = BooleanField("Only leads whose language no assigned navigator speaks")

    def __init__(self, *args, members=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.assignee.choices = [("", "Anyone"), ("none", "Nobody (unassigned)")] + [
            (str(member.id), member.email + ("" if member.active else " (disabled)"))
            for member in members
        ]

    def filters(self) -> LeadFilters:
        """The filters asked for, or none when the query string does not validate."""
        if not self.validate():
            return LeadFilters()
        return LeadFilters(
            search=self.q.data or "",
            first=self.from_.data,
            last=self.to.data,
            diagnosis=self.diagnosis.data or "",
            country=self.country.data or "",
            status=self.status.data or "",
            language=self.language.data or "",
            assignee=self.assignee.data or "",
            due=self.due.data or "",
            language_gap=bool(self.language_gap.data),
        )


class TestimonialForm(FlaskForm):
    author = text_field("Name shown", 100, "Enter the name to show.")
    quote = text_area_field("Quote", 1000, "Enter the quote.")
    consent_given_on = DateField(
        "Date they agreed to publication",
        description="Publish only words the person agreed, in writing, to share.",
        validators=[DataRequired("Enter the date they agreed to publication.")],
    )
    published = BooleanField("Published on the article page")
