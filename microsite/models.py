"""The database tables, as SQLAlchemy 2.0 typed models. Nothing here knows about requests."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Boolean, CheckConstraint, DateTime, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from .choices import (
    CONTACT_METHODS,
    LEAD_STATUSES,
    MAX_PATIENT_AGE,
    MIN_PATIENT_AGE,
    ROLES,
    TREATMENT_STAGES,
)
from .extensions import db


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """A point in time stored as naive UTC and read back as an aware UTC datetime.

    SQLite keeps no time zone; storing UTC everywhere gives the same answers on SQLite
    and PostgreSQL.
    """

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("refusing a naive datetime: pass an aware one")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


def _one_of(column: str, values) -> CheckConstraint:
    listed = ", ".join(f"'{value}'" for value in values)
    return CheckConstraint(f"{column} IN ({listed})", name=column)


class Lead(db.Model):
    """One "Find your trial" application."""

    __tablename__ = "lead"
    __table_args__ = (
        _one_of("role", ROLES),
        _one_of("treatment_stage", TREATMENT_STAGES),
        _one_of("contact_method", CONTACT_METHODS),
        _one_of("status", LEAD_STATUSES),
        CheckConstraint(
            f"patient_age BETWEEN {MIN_PATIENT_AGE} AND {MAX_PATIENT_AGE}",
            name="patient_age",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    role: Mapped[str] = mapped_column(String(20))
    patient_age: Mapped[int] = mapped_column(SmallInteger)
    diagnosis: Mapped[str] = mapped_column(String(40))
    diagnosis_other: Mapped[str | None] = mapped_column(String(200))
    treatment_stage: Mapped[str | None] = mapped_column(String(20))
    country: Mapped[str] = mapped_column(String(2))
    postal_code: Mapped[str | None] = mapped_column(String(12))
    name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(20))
    contact_method: Mapped[str] = mapped_column(String(10))
    consent_version: Mapped[str] = mapped_column(String(20))
    consent_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updates_opt_in: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(20), default="new")
    # One key per rendering of the form: a double click or a resubmission stores one lead.
    idempotency_key: Mapped[str | None] = mapped_column(String(32), unique=True)

    def __repr__(self) -> str:  # no personal data, so it is safe in logs and tracebacks
        return f"<Lead {self.id}>"


class Testimonial(db.Model):
    """A quote from a family, shown in the article's carousel once published."""

    __tablename__ = "testimonial"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(60), unique=True)
    quote: Mapped[str] = mapped_column(Text)
    author: Mapped[str] = mapped_column(String(100))
    position: Mapped[int] = mapped_column(SmallInteger, default=0)
    published: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def __repr__(self) -> str:
        return f"<Testimonial {self.slug}>"


def render_migration_item(type_, obj, autogen_context):
    """Write UTCDateTime columns into migrations as plain DateTime, which is what they are."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime()"
    return False
