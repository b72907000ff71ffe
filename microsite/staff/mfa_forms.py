"""Forms of the second factor: codes, an authenticator app's set-up, names of factors."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, Length

from ..fields import strip

NAME_HINT = "So you can tell your sign-in methods apart, like “Work laptop” or “Phone app”."


def name_field(default: str, field_id: str) -> StringField:
    """Both set-up forms are on one page: each name field has an id of its own."""
    return StringField(
        "Name",
        id=field_id,
        default=default,
        description=NAME_HINT,
        filters=[strip],
        validators=[
            DataRequired("Give it a name."),
            Length(max=60, message="Use 60 characters or fewer."),
        ],
    )


class CodeForm(FlaskForm):
    code = StringField(
        "Code from your authenticator app",
        description="Six digits. A code works once; wait for the next one if it was used.",
        filters=[strip],
        validators=[DataRequired("Enter the six-digit code from your authenticator app.")],
        render_kw={"inputmode": "numeric", "autocomplete": "one-time-code", "maxlength": 8},
    )


class RecoveryForm(FlaskForm):
    recovery_code = StringField(
        "Recovery code",
        description="One of the ten codes you saved when you set up your sign-in, like "
        "1a2b-3c4d-5e6f-7a8b. Each works once.",
        filters=[strip],
        validators=[DataRequired("Enter one of your recovery codes.")],
        render_kw={"autocomplete": "off", "spellcheck": "false", "maxlength": 40},
    )


class TotpSetupForm(FlaskForm):
    # The new secret, encrypted with MFA_ENCRYPTION_KEY (mfa.pending_secret): nothing is
    # stored until a code proves the app was set up.
    secret = HiddenField()
    code = CodeForm.code
    name = name_field("Authenticator app", "app-name")


class PasskeyForm(FlaskForm):
    # The browser's answer (JSON), filled in by passkeys.js.
    credential = HiddenField()
    name = name_field("Passkey", "passkey-name")


class ConfirmForm(FlaskForm):
    password = PasswordField(
        "Your password",
        validators=[DataRequired("Enter your password.")],
        render_kw={"autocomplete": "current-password"},
    )
