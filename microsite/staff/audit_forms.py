"""The audit page's filters: by staff member, by lead, and by days."""

from __future__ import annotations

import re

from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, StringField
from wtforms.validators import Optional, ValidationError

from .. import access, auth, dates
from ..fields import strip


class DayField(DateField):
    """A day written YYYY-MM-DD (a date input sends it so), with the message the CSV
    exports give for anything else; what was typed is shown back."""

    def process_formdata(self, valuelist):
        if valuelist:
            self.data = None
            self.data = dates.parse_day(valuelist[0].strip(), self.label.text)


def lead_number(form, field) -> None:
    if field.data and not re.fullmatch(r"[0-9]{1,9}", field.data):
        raise ValidationError("A lead id is a whole number, like 42.")


class AccessFilterForm(FlaskForm):
    """Read from the query string, like the dashboard's filters."""

    class Meta:
        csrf = False  # a GET form that changes nothing

    staff = SelectField(
        "Staff member",
        validators=[Optional()],
        invalid_choice_message="Choose a staff member from the list.",
    )
    lead = StringField(
        "Lead id",
        filters=[strip],
        validators=[Optional(), lead_number],
        render_kw={"inputmode": "numeric", "autocomplete": "off"},
    )
    from_ = DayField("From", name="from", validators=[Optional()])
    to = DayField("To", validators=[Optional()])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.staff.choices = [("", "Anyone")] + [
            (str(member.id), member.email) for member in auth.members()
        ]

    def validate_to(self, field) -> None:
        if field.data and self.from_.data and field.data < self.from_.data:
            raise ValidationError("“To” must be the same day as “From” or later.")

    def filters(self) -> access.AccessFilters:
        """The filters asked for; call after ``validate()`` passed."""
        return access.AccessFilters(
            staff_id=int(self.staff.data) if self.staff.data else None,
            lead_id=int(self.lead.data) if self.lead.data else None,
            first=self.from_.data,
            last=self.to.data,
        )
