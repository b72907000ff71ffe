"""The baseline of the apply flow in bench/http_pages.py: a plain Flask-WTF +
Flask-SQLAlchemy app with the site's application form, served by the very same gunicorn
configuration (`gunicorn -c gunicorn.conf.py 'bench.baseline_app:create_app()'`).

It does what any small form app does, and nothing of the site's own work: `GET /apply`
renders a plain form with its CSRF token; `POST /apply` validates the same fields with the
same validators and choices as the site's ApplyForm (microsite/public/forms.py and
microsite/fields.py: the choice lists are imported from microsite.choices, the rules are
written again here), inserts one row into SQLite with the site's durability (journal_mode
WAL, synchronous FULL, as microsite/database.py sets them) and redirects (303) to
/apply/thanks. No matching, no personal link, no mail, no translations.

DATABASE_URL and SECRET_KEY come from the environment. The table is made by
``python -m bench.baseline_app`` (run once before gunicorn starts, so workers never race
to create it).
"""

from __future__ import annotations

import os
import re
import sys
import unicodedata
import uuid
from datetime import UTC, datetime

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from flask import Flask, redirect, render_template
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import FlaskForm
from jinja2 import DictLoader
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Mapped, mapped_column
from wtforms import BooleanField, HiddenField, IntegerField, RadioField, SelectField, StringField
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)
from wtforms.widgets import TextInput

from microsite.choices import (
    ADULT_AGE,
    CONTACT_METHODS,
    COUNTRIES,
    DIAGNOSES,
    MAX_PATIENT_AGE,
    MIN_PATIENT_AGE,
    ROLES,
    TRAVEL_DISTANCES,
    TREATMENT_STAGES,
)

db = SQLAlchemy()


def english(label) -> str:
    """A choice's English words: the lists hold lazy translations, and this app has none."""
    args = getattr(label, "_args", None)
    return args[0] if args else str(label)


def options(choices: dict, placeholder: str | None = None) -> list[tuple[str, str]]:
    listed = [(value, english(label)) for value, label in choices.items()]
    return listed if placeholder is None else [("", placeholder), *listed]


def strip(value):
    return value.strip() if isinstance(value, str) else value


def empty_to_none(value):
    return value or None


def no_control_characters(form, field) -> None:
    if field.data and any(unicodedata.category(c) in ("Cc", "Zl", "Zp") for c in field.data):
        raise ValidationError("Remove the special characters from this answer.")


def email_address(form, field) -> None:
    if field.data:
        try:
            field.data = validate_email(field.data, check_deliverability=False).normalized
        except EmailNotValidError:
            raise ValidationError("Enter an email address like name@example.com.") from None


def text(max_length: int, required: bool = False, extra=()) -> StringField:
    return StringField(
        filters=[strip] if required else [strip, empty_to_none],
        validators=[
            *([DataRequired("Required.")] if required else []),
            Length(max=max_length),
            no_control_characters,
            *extra,
        ],
    )


class WholeNumberField(IntegerField):
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
            raise ValueError("Enter a whole number, like 7.")


class YesCheckbox(BooleanField):
    def process_formdata(self, valuelist):
        self.data = bool(valuelist) and valuelist[0] == "y"


class OptionalRadioField(RadioField):
    def process_formdata(self, valuelist):
        super().process_formdata([value for value in valuelist if value.strip()])

    def pre_validate(self, form) -> None:
        if self.data is not None:
            super().pre_validate(form)


class ApplyForm(FlaskForm):
    idempotency_key = HiddenField()
    hp_extra_notes = StringField()
    role = RadioField(choices=options(ROLES), validators=[InputRequired()])
    patient_age = WholeNumberField(
        validators=[InputRequired(), NumberRange(MIN_PATIENT_AGE, MAX_PATIENT_AGE)]
    )
    diagnosis = SelectField(choices=options(DIAGNOSES, "Choose"), validators=[DataRequired()])
    diagnosis_other = text(200)
    treatment_stage = SelectField(
        choices=options(TREATMENT_STAGES, "Prefer not to say"),
        validators=[Optional()],
        filters=[strip, empty_to_none],
    )
    country = SelectField(choices=options(COUNTRIES, "Choose"), validators=[DataRequired()])
    postal_code = text(12)
    travel_distance = OptionalRadioField(choices=options(TRAVEL_DISTANCES))
    name = text(100, required=True)
    email = text(254, required=True, extra=[email_address])
    phone = text(30)
    contact_method = RadioField(choices=options(CONTACT_METHODS), validators=[InputRequired()])
    consent = YesCheckbox(validators=[DataRequired()])
    updates_opt_in = YesCheckbox()
    trial_alerts = YesCheckbox()

    def validate_patient_age(self, field) -> None:
        if self.role.data == "patient" and field.data is not None and field.data < ADULT_AGE:
            raise ValidationError("Ask a parent or guardian to fill in this form with you.")

    def validate_diagnosis_other(self, field) -> None:
        if self.diagnosis.data == "other" and not field.data:
            raise ValidationError("Tell us the diagnosis.")

    def validate_phone(self, field) -> None:
        if not field.data:
            if self.contact_method.data == "phone":
                raise ValidationError("Enter a phone number, so that we can call you.")
            return
        region = self.country.data if self.country.data in COUNTRIES else None
        try:
            number = phonenumbers.parse(field.data, region)
        except phonenumbers.NumberParseException:
            number = None
        if number is None or not phonenumbers.is_valid_number(number):
            raise ValidationError("Enter a phone number that is valid in the country you chose.")
        field.data = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


class Application(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str | None] = mapped_column(unique=True)
    role: Mapped[str]
    patient_age: Mapped[int]
    diagnosis: Mapped[str]
    diagnosis_other: Mapped[str | None]
    treatment_stage: Mapped[str | None]
    country: Mapped[str]
    postal_code: Mapped[str | None]
    travel_distance: Mapped[str | None]
    name: Mapped[str]
    email: Mapped[str]
    phone: Mapped[str | None]
    contact_method: Mapped[str]
    updates_opt_in: Mapped[bool]
    trial_alerts: Mapped[bool]
    created_at: Mapped[datetime] = mapped_column(default=lambda: datetime.now(UTC))


PAGE = """<!doctype html><html lang="en"><title>Apply</title>
<form method="post" action="/apply">{{ form.csrf_token }}{{ form.idempotency_key }}
{% for field in form if field.name not in ("csrf_token", "idempotency_key") %}
<p>{{ field.label }} {{ field() }}{% for error in field.errors %} {{ error }}{% endfor %}</p>
{% endfor %}<button>Send</button></form></html>"""


def _sqlite_durability(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    for pragma in ("journal_mode=WAL", "synchronous=FULL", "busy_timeout=10000"):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def create_app() -> Flask:
    app = Flask(__name__)
    app.jinja_loader = DictLoader({"apply.html": PAGE})  # compiled once, as a file would be
    app.config.update(
        SECRET_KEY=os.environ["SECRET_KEY"], SQLALCHEMY_DATABASE_URI=os.environ["DATABASE_URL"]
    )
    db.init_app(app)
    with app.app_context():
        engine: Engine = db.engine
        event.listen(engine, "connect", _sqlite_durability)

    @app.route("/apply", methods=["GET", "POST"])
    def apply():
        form = ApplyForm()
        if not form.validate_on_submit():
            if not form.is_submitted():
                form.idempotency_key.data = uuid.uuid4().hex
            return render_template("apply.html", form=form), 422 if form.is_submitted() else 200
        if form.hp_extra_notes.raw_data == [""]:  # a bot fills it in, or drops it
            answers = {name: field.data for name, field in form._fields.items()}
            for name in ("csrf_token", "hp_extra_notes", "consent"):
                answers.pop(name)
            db.session.add(Application(**answers))
            db.session.commit()
        return redirect("/apply/thanks", 303)

    @app.get("/apply/thanks")
    def thanks():
        return "Thank you: we will be in touch."

    @app.get("/")
    def ready():
        return "Baseline"

    return app


if __name__ == "__main__":  # make the table, once, before the server starts
    os.environ.setdefault("SECRET_KEY", "not-used-here")
    if len(sys.argv) == 2:
        os.environ["DATABASE_URL"] = sys.argv[1]
    with create_app().app_context():
        db.create_all()
