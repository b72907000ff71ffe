"""The database tables, as SQLAlchemy 2.0 typed models. Nothing here knows about requests."""

from __future__ import annotations

from datetime import UTC, date, datetime

from flask_login import UserMixin
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    event,
    inspect,
)
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from .choices import (
    CONTACT_METHODS,
    LANGUAGE_CODES,
    LEAD_STATUSES,
    MAX_PATIENT_AGE,
    MIN_PATIENT_AGE,
    ROLES,
    STAFF_ROLES,
    TRAVEL_DISTANCES,
    TREATMENT_STAGES,
    TRIAL_ALERT_STATES,
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
        _one_of("travel_distance", TRAVEL_DISTANCES),
        _one_of("contact_method", CONTACT_METHODS),
        _one_of("language", LANGUAGE_CODES),
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
    # The day the age was given (in DISPLAY_TIMEZONE): alerts count the months since, so a
    # child who grows into a trial's age range gets it.
    patient_age_given_on: Mapped[date | None] = mapped_column(Date)
    diagnosis: Mapped[str] = mapped_column(String(40))
    diagnosis_other: Mapped[str | None] = mapped_column(String(200))
    treatment_stage: Mapped[str | None] = mapped_column(String(20))
    country: Mapped[str] = mapped_column(String(2))
    postal_code: Mapped[str | None] = mapped_column(String(12))
    # How far the family can travel (choices.TRAVEL_DISTANCES); None: not answered.
    travel_distance: Mapped[str | None] = mapped_column(String(3))
    # Whole kilometres from the postal code to the first match's nearest recruiting site,
    # when both are known: kept with the matches (leads.csv's nearest_site_km).
    nearest_site_km: Mapped[int | None] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(20))
    contact_method: Mapped[str] = mapped_column(String(10))
    consent_version: Mapped[str] = mapped_column(String(20))
    # The language of the pages the family applied on, and so of every mail to them.
    language: Mapped[str] = mapped_column(String(2), default="en", server_default="en")
    consent_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updates_opt_in: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(20), default="new")
    # The navigator who calls the family back; None: nobody has taken the lead yet.
    assigned_to_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_user.id", ondelete="SET NULL"), index=True
    )
    # The call back promised on arrival (``callbacks.due_at``), and when it was kept: the
    # status left "new" or a call note was written.
    callback_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    callback_met_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A keyed digest of the email address, so staff see the family's other applications
    # without comparing addresses (``callbacks.email_digest``).
    email_digest: Mapped[str | None] = mapped_column(String(64), index=True)
    # When `flask alerts send` last found trials for this lead that it was never shown:
    # the dashboard lists it under "New matches" until staff open the lead page or mark
    # them reviewed after that (the access record tells).
    matches_found_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    # One key per rendering of the form: a double click or a resubmission stores one lead.
    idempotency_key: Mapped[str | None] = mapped_column(String(32), unique=True)
    # Attribution: the referral link followed within its window, and the UTM parameters
    # seen when the visit began.
    referral_id: Mapped[int | None] = mapped_column(
        ForeignKey("referral.id", ondelete="SET NULL", use_alter=True), index=True
    )
    utm_source: Mapped[str | None] = mapped_column(String(200))
    utm_medium: Mapped[str | None] = mapped_column(String(200))
    utm_campaign: Mapped[str | None] = mapped_column(String(200))
    utm_content: Mapped[str | None] = mapped_column(String(200))
    utm_term: Mapped[str | None] = mapped_column(String(200))

    referral: Mapped[Referral | None] = relationship(foreign_keys=[referral_id])
    assigned_to: Mapped[StaffUser | None] = relationship(lazy="raise")

    def __repr__(self) -> str:  # no personal data, so it is safe in logs and tracebacks
        return f"<Lead {self.id}>"


class Referral(db.Model):
    """A "send this to a friend", or a lead's own link to share: the code in /r/<code>.

    A lead's personal link has no friend; a referral to a friend whose address is
    suppressed keeps no friend's details either.
    """

    __tablename__ = "referral"
    __table_args__ = (_one_of("language", LANGUAGE_CODES),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # "share": sent to a friend through /share; "personal": a lead's own link to pass on.
    kind: Mapped[str] = mapped_column(String(10), default="share", server_default="share")
    code: Mapped[str] = mapped_column(String(32), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    sender_name: Mapped[str] = mapped_column(String(100))
    friend_name: Mapped[str | None] = mapped_column(String(80))
    friend_email: Mapped[str | None] = mapped_column(String(320))
    # The lead who sent it, when the sender had just applied.
    lead_id: Mapped[int | None] = mapped_column(
        ForeignKey("lead.id", ondelete="SET NULL"), index=True
    )
    clicks: Mapped[int] = mapped_column(Integer, default=0)
    first_click_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_click_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    idempotency_key: Mapped[str | None] = mapped_column(String(32), unique=True)
    # The language of the page it was made on: the friend's mail and /r/<code> use it.
    language: Mapped[str] = mapped_column(String(2), default="en", server_default="en")

    lead: Mapped[Lead | None] = relationship(foreign_keys=[lead_id])

    def __repr__(self) -> str:
        return f"<Referral {self.id}>"


OUTBOX_STATUSES = ("queued", "sent", "failed", "cancelled")
# Referral messages honour the suppression list; a confirmation or a staff notice is no
# referral, so an unsubscribe from referrals does not stop it.
OUTBOX_KINDS = (
    "referral",
    "confirmation",
    "staff_notice",
    "staff_digest",
    "staff_invite",
    "password_reset",
    "alert_confirmation",
    "alert_renewal",
    "trial_alert",
)


class OutboxMessage(db.Model):
    """An email waiting to go out, written in the same transaction as what caused it."""

    __tablename__ = "outbox_message"
    __table_args__ = (
        _one_of("status", OUTBOX_STATUSES),
        Index("ix_outbox_message_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    kind: Mapped[str] = mapped_column(String(20), default="referral", server_default="referral")
    referral_id: Mapped[int | None] = mapped_column(
        ForeignKey("referral.id", ondelete="SET NULL"), index=True
    )
    lead_id: Mapped[int | None] = mapped_column(
        ForeignKey("lead.id", ondelete="SET NULL"), index=True
    )
    to_address: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(200))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    headers: Mapped[dict] = mapped_column(JSON, default=dict)
    message_id: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(10), default="queued")
    attempts: Mapped[int] = mapped_column(SmallInteger, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # A sender holds a lease while it talks to the SMTP server; nobody else sends meanwhile.
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lease_token: Mapped[str | None] = mapped_column(String(32))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(String(200))  # never an address

    def __repr__(self) -> str:
        return f"<OutboxMessage {self.id} {self.status}>"


class SuppressedAddress(db.Model):
    """An address that must never be sent a referral message again.

    It holds only a SHA-256 digest of the address, unkeyed, so that the list survives a
    change of SECRET_KEY and still keeps no readable address.
    """

    __tablename__ = "suppressed_address"

    address_digest: Mapped[str] = mapped_column(String(64), primary_key=True)


class MailThrottle(db.Model):
    """When an address was last sent a referral message: at most one per window."""

    __tablename__ = "mail_throttle"

    address_digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_queued_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Testimonial(db.Model):
    """A quote from a family, shown in the article's carousel once published."""

    __tablename__ = "testimonial"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(60), unique=True)
    quote: Mapped[str] = mapped_column(Text)
    author: Mapped[str] = mapped_column(String(100))
    position: Mapped[int] = mapped_column(SmallInteger, default=0)
    published: Mapped[bool] = mapped_column(Boolean, default=False)
    # When the person agreed to have their words published.
    consent_given_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def __repr__(self) -> str:
        return f"<Testimonial {self.slug}>"


class StaffUser(UserMixin, db.Model):
    """A patient navigator or administrator who may sign in to /staff."""

    __tablename__ = "staff_user"
    __table_args__ = (_one_of("role", STAFF_ROLES),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    # Empty until an invited member sets a password: nobody can sign in with it.
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    role: Mapped[str] = mapped_column(String(10), default="navigator", server_default="navigator")
    # The languages the member can call families in, as "en,es" (choices.LANGUAGE_CODES).
    languages: Mapped[str] = mapped_column(String(20), default="en", server_default="en")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return self.active

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def language_codes(self) -> list[str]:
        return [code for code in self.languages.split(",") if code]

    def __repr__(self) -> str:
        return f"<StaffUser {self.id}>"


class StaffSession(db.Model):
    """A signed-in staff session. The cookie carries a random id; only its SHA-256 digest
    is kept here, and every staff request checks the row, so ending it here ends it."""

    __tablename__ = "staff_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    staff_id: Mapped[int] = mapped_column(
        ForeignKey("staff_user.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The last time the member typed their password in this session.
    reauthenticated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # "signed out", "idle", "time limit", "ended by <staff id>", "disabled", "password"
    end_reason: Mapped[str | None] = mapped_column(String(40))
    # A few words to tell one's sessions apart ("Chrome on Linux"); never an address.
    device: Mapped[str | None] = mapped_column(String(60))
    # When the member proved a second factor in this session; None: a "password-only"
    # session, which reaches nothing but enrolment and the challenge (``mfa.py``).
    second_factor_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The WebAuthn challenge this session was last given (base64url), used once.
    webauthn_challenge: Mapped[str | None] = mapped_column(String(200))

    staff: Mapped[StaffUser] = relationship(lazy="raise")


FACTOR_KINDS = ("passkey", "totp")


class StaffFactor(db.Model):
    """A second factor of a staff member: a passkey or security key (WebAuthn), or an
    authenticator app (TOTP). A member may hold several, each named."""

    __tablename__ = "staff_factor"
    __table_args__ = (_one_of("kind", FACTOR_KINDS),)

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(
        ForeignKey("staff_user.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(10))
    name: Mapped[str] = mapped_column(String(60))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A passkey: its credential id (base64url, unique), COSE public key, sign count and
    # transports ("internal,hybrid").
    credential_id: Mapped[str | None] = mapped_column(String(1400), unique=True)
    public_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    sign_count: Mapped[int] = mapped_column(BigInteger, default=0)
    transports: Mapped[str | None] = mapped_column(String(100))
    # An authenticator app: its secret, encrypted with MFA_ENCRYPTION_KEY, and the last
    # 30-second step a code was accepted for (a code works once).
    totp_secret: Mapped[str | None] = mapped_column(Text)
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)


class RecoveryCode(db.Model):
    """A single-use recovery code, hashed like a password; a new set replaces the old."""

    __tablename__ = "recovery_code"

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(
        ForeignKey("staff_user.id", ondelete="CASCADE"), index=True
    )
    code_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LeadNote(db.Model):
    """A call note on a lead: written once, never edited."""

    __tablename__ = "lead_note"

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("lead.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id", ondelete="SET NULL"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    # lazy="raise": loaded in the query that needs it (templates never query).
    author: Mapped[StaffUser | None] = relationship(lazy="raise")


class StatusChange(db.Model):
    """Who moved a lead from one status to another, and when."""

    __tablename__ = "status_change"

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("lead.id", ondelete="CASCADE"), index=True)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id", ondelete="SET NULL"))
    from_status: Mapped[str] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    staff: Mapped[StaffUser | None] = relationship(lazy="raise")


class Assignment(db.Model):
    """Who gave a lead to whom (or took it, or left it unassigned), and when."""

    __tablename__ = "assignment"

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("lead.id", ondelete="CASCADE"), index=True)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id", ondelete="SET NULL"))
    from_staff_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_user.id", ondelete="SET NULL")
    )
    to_staff_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_user.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    staff: Mapped[StaffUser | None] = relationship(foreign_keys=[staff_id], lazy="raise")
    from_staff: Mapped[StaffUser | None] = relationship(foreign_keys=[from_staff_id], lazy="raise")
    to_staff: Mapped[StaffUser | None] = relationship(foreign_keys=[to_staff_id], lazy="raise")


class AccessRecord(db.Model):
    """Who looked at or changed what: a lead page viewed, a CSV exported, an erasure, a
    change to the team. Append-only: the database refuses UPDATE and DELETE on it
    (``access.TRIGGERS``) but for rows older than the latest AccessPurge's cutoff.

    No foreign keys, so that nothing the record names can change it; lead ids only, never
    a family's details."""

    __tablename__ = "access_record"
    __table_args__ = (
        Index("ix_access_record_staff", "staff_id", "created_at"),
        Index("ix_access_record_lead", "lead_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    staff_id: Mapped[int | None] = mapped_column(Integer)  # None: the command line
    actor: Mapped[str] = mapped_column(String(320))  # the staff email, or "cli:<os user>"
    session_id: Mapped[int | None] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(30))  # access.ACTIONS
    lead_id: Mapped[int | None] = mapped_column(Integer)
    # What else the action names: a staff email for team changes, an export's filters.
    detail: Mapped[str | None] = mapped_column(String(400))


class AccessPurge(db.Model):
    """A purge of the access record: the only way rows leave it. Append-only as well."""

    __tablename__ = "access_purge"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    purged_before: Mapped[datetime] = mapped_column(UTCDateTime)
    removed: Mapped[int] = mapped_column(Integer, default=0)


class JobRun(db.Model):
    """One run of a timer job (outbox send, retention purge, trials sync, staff digest,
    alerts), with what it did: the runs page shows the last of each."""

    __tablename__ = "job_run"
    __table_args__ = (Index("ix_job_run_job", "job", "started_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    job: Mapped[str] = mapped_column(String(30))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    counts: Mapped[dict] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(String(200))  # an exception's class, never data


class ExportLog(db.Model):
    """Every CSV export, from the web or the command line: who, when, what, how many rows."""

    __tablename__ = "export_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(320))  # a staff email, or "cli:<os user>"
    kind: Mapped[str] = mapped_column(String(20))  # leads or referrals
    filters: Mapped[dict] = mapped_column(JSON, default=dict)
    rows: Mapped[int] = mapped_column(Integer, default=0)
    completed: Mapped[bool] = mapped_column(Boolean, default=False)


class ErasureRecord(db.Model):
    """That an erasure happened, how and what it removed; never whose data it was."""

    __tablename__ = "erasure_record"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    reason: Mapped[str] = mapped_column(String(40))  # "cli erase", "withdrawal", "purge"
    counts: Mapped[dict] = mapped_column(JSON, default=dict)


class Trial(db.Model):
    """A study from ClinicalTrials.gov (API v2), upserted by its NCT id."""

    __tablename__ = "trial"

    id: Mapped[int] = mapped_column(primary_key=True)
    nct_id: Mapped[str] = mapped_column(String(20), unique=True)
    brief_title: Mapped[str] = mapped_column(String(500))
    brief_summary: Mapped[str | None] = mapped_column(Text)
    eligibility_criteria: Mapped[str | None] = mapped_column(Text)  # the record's markdown
    overall_status: Mapped[str] = mapped_column(String(40), index=True)
    phases: Mapped[list] = mapped_column(JSON, default=list)  # ["PHASE1", "PHASE2"]
    conditions: Mapped[list] = mapped_column(JSON, default=list)
    keywords: Mapped[list] = mapped_column(JSON, default=list)
    # Whole months; None means no limit. A minimum rounds down, a maximum rounds up.
    min_age_months: Mapped[int | None] = mapped_column(Integer)
    max_age_months: Mapped[int | None] = mapped_column(Integer)
    sex: Mapped[str | None] = mapped_column(String(10))  # ALL, FEMALE, MALE
    last_update_on: Mapped[date | None] = mapped_column(Date)
    # The diagnosis values (choices.DIAGNOSES) its conditions and keywords name, computed
    # on import from the synonym table, as "|all|aml|", so matching is one indexed query.
    diagnoses: Mapped[str] = mapped_column(String(400), default="|")
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # A digest of everything imported from the record: an unchanged record is not written.
    content_digest: Mapped[str | None] = mapped_column(String(64))

    sites: Mapped[list[TrialSite]] = relationship(
        back_populates="trial", cascade="all, delete-orphan", order_by="TrialSite.id"
    )
    contacts: Mapped[list[TrialContact]] = relationship(
        back_populates="trial", cascade="all, delete-orphan", order_by="TrialContact.id"
    )

    def __repr__(self) -> str:
        return f"<Trial {self.nct_id}>"


class TrialDiagnosis(db.Model):
    """One diagnosis a trial names, a row each of ``Trial.diagnoses``: matching reads a
    diagnosis's trials through this primary key instead of reading every trial. Written
    on every flush of a trial whose diagnoses changed (``_index_trial_diagnoses``)."""

    __tablename__ = "trial_diagnosis"

    diagnosis: Mapped[str] = mapped_column(String(40), primary_key=True)
    trial_id: Mapped[int] = mapped_column(
        ForeignKey("trial.id", ondelete="CASCADE"), primary_key=True, index=True
    )


def diagnoses_in(key: str | None) -> list[str]:
    """ "|all|aml|" -> ["all", "aml"]."""
    return [diagnosis for diagnosis in (key or "").split("|") if diagnosis]


@event.listens_for(Session, "after_flush")
def _index_trial_diagnoses(session, flush_context) -> None:
    """Keep trial_diagnosis in step with the trials this flush wrote (new ones, and those
    whose diagnoses changed). Writers that bypass the ORM write both themselves."""
    changed = [
        trial
        for trial in (*session.new, *session.dirty)
        if isinstance(trial, Trial)
        and (trial in session.new or inspect(trial).attrs.diagnoses.history.has_changes())
    ]
    if not changed:
        return
    table = TrialDiagnosis.__table__
    connection = session.connection()
    updated = [trial.id for trial in changed if trial not in session.new]
    if updated:
        connection.execute(table.delete().where(table.c.trial_id.in_(updated)))
    rows = [
        {"diagnosis": diagnosis, "trial_id": trial.id}
        for trial in changed
        for diagnosis in diagnoses_in(trial.diagnoses)
    ]
    if rows:
        connection.execute(table.insert(), rows)


class TrialSite(db.Model):
    """A place where a trial runs (contactsLocationsModule.locations[])."""

    __tablename__ = "trial_site"
    # Distance matching looks for recruiting sites in a box of latitude and longitude.
    # With trial_id, the index alone answers the box query: no table row is read for a site
    # outside the box.
    __table_args__ = (
        Index("ix_trial_site_position", "status", "latitude", "longitude", "trial_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    trial_id: Mapped[int] = mapped_column(ForeignKey("trial.id", ondelete="CASCADE"), index=True)
    facility: Mapped[str | None] = mapped_column(String(300))
    city: Mapped[str | None] = mapped_column(String(120))
    state: Mapped[str | None] = mapped_column(String(120))
    postal_code: Mapped[str | None] = mapped_column(String(40))
    country: Mapped[str | None] = mapped_column(String(120))  # as given
    country_code: Mapped[str | None] = mapped_column(String(2))  # ISO 3166-1; None if unknown
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    status: Mapped[str | None] = mapped_column(String(40))
    # The site's first listed contact (locations[].contacts[0]).
    contact_name: Mapped[str | None] = mapped_column(String(200))
    contact_phone: Mapped[str | None] = mapped_column(String(60))
    contact_email: Mapped[str | None] = mapped_column(String(320))

    trial: Mapped[Trial] = relationship(back_populates="sites")


class TrialContact(db.Model):
    """A central contact of a trial (contactsLocationsModule.centralContacts[])."""

    __tablename__ = "trial_contact"

    id: Mapped[int] = mapped_column(primary_key=True)
    trial_id: Mapped[int] = mapped_column(ForeignKey("trial.id", ondelete="CASCADE"), index=True)
    name: Mapped[str | None] = mapped_column(String(200))
    role: Mapped[str | None] = mapped_column(String(40))
    phone: Mapped[str | None] = mapped_column(String(60))
    email: Mapped[str | None] = mapped_column(String(320))

    trial: Mapped[Trial] = relationship(back_populates="contacts")


class TrialImport(db.Model):
    """One run of `flask trials import` or `flask trials sync`: how fresh the catalog is."""

    __tablename__ = "trial_import"

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(10))  # "import" or "sync"
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    new: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[int] = mapped_column(Integer, default=0)


class PostalPlace(db.Model):
    """A postal code's centre (country, normalized code, place, coordinates), so a family's
    postal code is located on this server and never sent anywhere. US ZIP codes come from
    the zipcodes package, other countries from GeoNames dumps (``trials/places.py``)."""

    __tablename__ = "postal_place"
    __table_args__ = (UniqueConstraint("country", "postal_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    country: Mapped[str] = mapped_column(String(2))  # ISO 3166-1 alpha-2
    postal_code: Mapped[str] = mapped_column(String(20))  # upper case, no spaces or dashes
    place_name: Mapped[str | None] = mapped_column(String(180))
    region: Mapped[str | None] = mapped_column(String(100))
    latitude: Mapped[float] = mapped_column(Float)
    longitude: Mapped[float] = mapped_column(Float)


class LeadMatch(db.Model):
    """A trial shown to a family after applying, as it was shown: what staff see later is
    what the family saw, even if the catalog changes."""

    __tablename__ = "lead_match"

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("lead.id", ondelete="CASCADE"), index=True)
    rank: Mapped[int] = mapped_column(SmallInteger)  # 1 is the first shown
    nct_id: Mapped[str] = mapped_column(String(20))
    shown: Mapped[dict] = mapped_column(JSON, default=dict)  # title, status, phases, ages, sites
    matched_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TrialAlert(db.Model):
    """A family's opt-in to mails about new trials that may fit (one per lead), from the
    consent given on the form through the confirmation (double opt-in) to its end.

    The state stored is pending, active, paused or stopped; an opt-in not confirmed by
    ``confirm_by``, or alerts past ``active_until``, read as expired (``alerts.state``).
    """

    __tablename__ = "trial_alert"
    __table_args__ = (_one_of("state", tuple(TRIAL_ALERT_STATES)),)

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("lead.id", ondelete="CASCADE"), unique=True)
    state: Mapped[str] = mapped_column(String(10), default="pending")
    consent_version: Mapped[str] = mapped_column(String(20))
    consent_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The confirmation (or renewal) link in the family's mailbox: its token carries this
    # moment, and using it clears it, so a link works once.
    confirm_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    confirm_by: Mapped[datetime | None] = mapped_column(UTCDateTime)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    active_until: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    renewal_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_mailed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # "family" (the stop link or the manage page), "status <status>" (set by staff).
    stop_reason: Mapped[str | None] = mapped_column(String(40))

    lead: Mapped[Lead] = relationship()

    def __repr__(self) -> str:
        return f"<TrialAlert {self.id} {self.state}>"


class LeadTrial(db.Model):
    """What a family has been shown and mailed of one trial, and what staff were told of
    it: written by the thanks page's matching, by Match again (which replaces LeadMatch,
    never this) and by the alerts. Removed with the lead."""

    __tablename__ = "lead_trial"
    __table_args__ = (UniqueConstraint("lead_id", "nct_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("lead.id", ondelete="CASCADE"))
    nct_id: Mapped[str] = mapped_column(String(20))
    first_shown_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    first_shown_status: Mapped[str | None] = mapped_column(String(40))
    # The first time it was shown while RECRUITING: a trial shown only as not yet
    # recruiting that opens since is news to the family.
    shown_recruiting_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    first_mailed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When `flask alerts send` first found it for this lead (a "new match" for staff).
    found_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


def render_migration_item(type_, obj, autogen_context):
    """Write UTCDateTime columns into migrations as plain DateTime, which is what they are."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime()"
    return False
