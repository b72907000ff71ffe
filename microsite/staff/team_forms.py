"""Forms of the team page, the account page and the set-password page."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, SelectMultipleField
from wtforms.validators import DataRequired, EqualTo, Length, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from .. import auth
from ..choices import LANGUAGE_NAMES, STAFF_ROLES
from ..fields import choice_options, email_field

MAX_PASSWORD_LENGTH = 1024
TOO_SHORT = f"Use at least {auth.MIN_PASSWORD_LENGTH} characters."
TOO_LONG = f"Use {MAX_PASSWORD_LENGTH:,} characters or fewer."


class CheckboxesField(SelectMultipleField):
    """Several choices, one checkbox each (the templates render them in a fieldset)."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def role_field() -> SelectField:
    return SelectField(
        "Role",
        choices=choice_options(STAFF_ROLES),
        default="navigator",
        description="Navigators work with leads; admins also run the team, testimonials, "
        "the referrals export, the access record and the runs page.",
        invalid_choice_message="Choose one of the listed roles.",
    )


def languages_field() -> CheckboxesField:
    return CheckboxesField(
        "Languages spoken",
        choices=choice_options(LANGUAGE_NAMES),
        default=["en"],
        description="The languages they can call families in.",
        validators=[DataRequired("Choose at least one language.")],
        invalid_choice_message="Choose languages from the list.",
    )


def new_password_field(label: str) -> PasswordField:
    return PasswordField(
        label,
        description=f"At least {auth.MIN_PASSWORD_LENGTH} characters. A few unrelated words "
        "make a password that is long and easy to remember.",
        validators=[
            DataRequired("Enter a new password."),
            Length(min=auth.MIN_PASSWORD_LENGTH, message=TOO_SHORT),
            Length(max=MAX_PASSWORD_LENGTH, message=TOO_LONG),
        ],
        render_kw={"autocomplete": "new-password", "minlength": auth.MIN_PASSWORD_LENGTH},
    )


def confirm_field(other: str) -> PasswordField:
    return PasswordField(
        "Type the new password again",
        validators=[
            DataRequired("Type the new password again."),
            EqualTo(other, "The two new passwords are not the same. Type them again."),
        ],
        render_kw={"autocomplete": "new-password"},
    )


class InviteForm(FlaskForm):
    email = email_field("Email address", "Enter the new member’s email address.")
    role = role_field()
    languages = languages_field()

    def validate_email(self, field) -> None:
        try:
            found = auth.find_staff(field.data)
        except auth.StaffError:
            raise ValidationError("Enter an email address like name@example.com.") from None
        if found is not None:
            raise ValidationError(
                f"{found.email} is on the team already: find them in the list below."
            )


class RoleForm(FlaskForm):
    role = role_field()


class LanguagesForm(FlaskForm):
    languages = languages_field()


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField(
        "Current password",
        validators=[
            DataRequired("Enter your current password."),
            Length(max=MAX_PASSWORD_LENGTH, message=TOO_LONG),
        ],
        render_kw={"autocomplete": "current-password"},
    )
    new_password = new_password_field("New password")
    confirm_password = confirm_field("new_password")


class SetPasswordForm(FlaskForm):
    password = new_password_field("Password")
    confirm_password = confirm_field("password")
