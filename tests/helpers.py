"""Plain helpers for the test modules; the fixtures that use them are in ``conftest.py``.

One copy of each: valid answers to the forms and a browser's way of sending them, the staff
user every test signs in as, stored rows (leads, trials) made directly, rows read back,
free ports, the loopback SMTP server, and the ``flask`` command run as an operator runs it.
No test module imports another test module: what two of them share is here.
"""

from __future__ import annotations

import base64
import email
import hashlib
import os
import re
import socket
import subprocess
import sys
from datetime import date
from email import policy
from html.parser import HTMLParser
from pathlib import Path

import pyotp
import pytest
from sqlalchemy import func, inspect, select

from microsite import auth, mfa
from microsite.extensions import db
from microsite.leads import CONSENT_VERSION
from microsite.models import Lead, StaffFactor, Trial, TrialSite, utcnow
from microsite.staff.views import PUBLIC_ENDPOINTS
from microsite.trials import synonyms

ROOT = Path(__file__).resolve().parent.parent
# Recorded ClinicalTrials.gov API v2 records (fictional studies, NCT9999xxxx).
TRIAL_FIXTURES = Path(__file__).resolve().parent / "fixtures" / "trials"

# The PUBLIC_URL of the apps ``make_app`` builds (the development default): mail links and
# personal links start with it, whatever Host a request names.
PUBLIC_URL = "http://localhost:5000"

# The staff user of every test that signs in.
STAFF_EMAIL = "navigator@example.com"
STAFF_PASSWORD = "a-long-enough-password"

# A person's desktop Chrome: crawlerdetect counts its clicks on /r/<code>, unlike a link
# preview's or a headless browser's.
BROWSER_UA = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/156.0.0.0 Safari/537.36"
)

# Every field of the "Find your trial" form, as its inputs are named.
APPLICATION_FIELDS = (
    "role",
    "patient_age",
    "diagnosis",
    "diagnosis_other",
    "treatment_stage",
    "country",
    "postal_code",
    "name",
    "email",
    "phone",
    "contact_method",
    "consent",
    "updates_opt_in",
)

VALID_APPLICATION = {
    "role": "parent",
    "patient_age": "7",
    "diagnosis": "neuroblastoma",
    "diagnosis_other": "",
    "treatment_stage": "in_treatment",
    "country": "GB",
    "postal_code": "SW1A 1AA",
    "name": "Alex Example",
    "email": "alex@example.com",
    "phone": "",
    "contact_method": "email",
    "consent": "y",
}

VALID_SHARE = {
    "sender_name": "Robin Sender",
    "friend_name": "Kim Friend",
    "friend_email": "kim@example.com",
    "consent": "y",
}


def missing_service(message: str) -> None:
    """A server or tool some tests need is missing: a failure in CI, a skip elsewhere."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message}. CI must run these tests, so this is a failure, not a skip.")
    pytest.skip(message)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listened on a moment ago."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def dispose(app) -> None:
    """Close the pooled connections of ``app``'s engine."""
    with app.app_context():
        db.engine.dispose()


# --- Forms, as a browser sends them -------------------------------------------------------


class _FormFields(HTMLParser):
    """The name and value of every input a browser would send back, from a page's forms."""

    def __init__(self):
        super().__init__()
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "input" and (
            attributes.get("type") == "hidden" or attributes.get("name") == "hp_extra_notes"
        ):
            self.fields[attributes["name"]] = attributes.get("value") or ""


def rendered_hidden_fields(html: str) -> dict[str, str]:
    parser = _FormFields()
    parser.feed(html)
    return parser.fields


def form_filler(client, path: str, valid: dict):
    """Like a browser: load the form at ``path``, then send back its hidden fields with
    valid answers, changed by the keyword arguments (None leaves a field out)."""

    def fill(**answers):
        page = client.get(path)
        assert page.status_code == 200
        data = {**rendered_hidden_fields(page.get_data(as_text=True)), **valid, **answers}
        return {key: value for key, value in data.items() if value is not None}

    return fill


def share_form_for(client):
    return form_filler(client, "/share", VALID_SHARE)


def submit_application(app, path: str = "/apply", **answers):
    """Apply through HTTP in a new client (on the form at ``path``: /es/apply in
    Spanish), closing the response as a server does once it is sent; returns the client
    (its session knows the application)."""
    client = app.test_client()
    data = form_filler(client, path, VALID_APPLICATION)(**answers)
    with client.post(path, data=data) as response:
        assert response.status_code == 303, response.status_code
    return client


def submit_share(app, **answers):
    """Send /share through HTTP in a new client, like ``submit_application``."""
    client = app.test_client()
    with client.post("/share", data=share_form_for(client)(**answers)) as response:
        assert response.status_code == 303, response.status_code
    return client


# --- Staff --------------------------------------------------------------------------------


def totp_secret(email: str) -> str:
    """The authenticator-app secret every test member holds: derived from the address, so
    a test can make its codes (``totp_code``)."""
    address = auth.normalize_email(email)  # any spelling that signs in
    return base64.b32encode(hashlib.sha256(address.encode()).digest()[:20]).decode()


def totp_code(email: str, step_offset: int = 0) -> str:
    """The member's code of now (or of the step ``step_offset`` away)."""
    totp = pyotp.TOTP(totp_secret(email))
    return totp.generate_otp(totp.timecode(utcnow()) + step_offset)


def create_staff_user(
    app,
    email: str = STAFF_EMAIL,
    password: str = STAFF_PASSWORD,
    role: str | None = None,
    languages: str = "en",
    with_app: bool = True,
) -> int:
    """A member who can sign in; the first of a team is its admin (as on the CLI). With
    an authenticator app (``totp_secret``) unless ``with_app`` is False: such a member
    enrols at their first sign-in."""
    with app.app_context():
        user = auth.create_staff(email, password, role=role, languages=languages)
        if with_app:
            db.session.add(
                StaffFactor(
                    staff_id=user.id,
                    kind="totp",
                    name="Test app",
                    totp_secret=mfa.encrypt(totp_secret(user.email)),
                )
            )
        db.session.commit()
        return user.id


def allow_code_again(app, email: str) -> None:
    """Forget the member's last used step, so the code of now works again: a test signs
    in many times within 30 seconds, which a person never does."""
    with app.app_context():
        user = auth.find_staff(email)
        for factor in db.session.scalars(select(StaffFactor).filter_by(staff_id=user.id)):
            factor.totp_last_step = None
        db.session.commit()


def answer_challenge(client, email: str = STAFF_EMAIL):
    """The second step of signing in: the code of the member's authenticator app."""
    allow_code_again(client.application, email)
    token = csrf_token(client, "/staff/mfa")
    return client.post("/staff/mfa/code", data={"csrf_token": token, "code": totp_code(email)})


def csrf_token(client, path: str = "/staff/login") -> str:
    """The token a browser would send back: read from the rendered page."""
    page = client.get(path)
    assert page.status_code == 200, path
    return rendered_hidden_fields(page.get_data(as_text=True))["csrf_token"]


def log_in_with_password(
    client, email: str = STAFF_EMAIL, password: str = STAFF_PASSWORD, next: str | None = None
):
    """The first step of signing in alone: the password through the form; a right one
    leaves a password-only session (303 to /staff/mfa)."""
    token = csrf_token(client)
    return client.post(
        "/staff/login",
        query_string=None if next is None else {"next": next},
        data={"csrf_token": token, "email": email, "password": password},
    )


def log_in(
    client, email: str = STAFF_EMAIL, password: str = STAFF_PASSWORD, next: str | None = None
):
    """Sign in through the form, as a browser does, then answer the second-factor
    challenge with the member's authenticator code when asked; returns the last POST's
    response (the password's, when it did not lead to the challenge)."""
    response = log_in_with_password(client, email, password, next)
    if response.status_code == 303 and response.headers["Location"] == "/staff/mfa":
        allow_code_again(client.application, email)
        with client.application.app_context():
            user = auth.find_staff(email)
            enrolled = user is not None and mfa.has_factor(user.id)
        if enrolled:
            return answer_challenge(client, email)
    return response


SECRET_SHOWN = re.compile(r'<code class="secret">([A-Z2-7]+)</code>')


def enrol_app(client, name: str = "Phone app", step_offset: int = 0):
    """Add an authenticator app from the set-up page, as a person does: read the key the
    page shows as text, make the app's code (of the step ``step_offset`` away) and send
    it. Returns the POST's response and the key."""
    page = client.get("/staff/mfa/setup")
    assert page.status_code == 200, page.headers.get("Location")
    html = page.get_data(as_text=True)
    secret = SECRET_SHOWN.search(html)[1]
    fields = rendered_hidden_fields(html)
    totp = pyotp.TOTP(secret)
    response = client.post(
        "/staff/mfa/setup/app",
        data={
            "csrf_token": fields["csrf_token"],
            "secret": fields["secret"],
            "code": totp.generate_otp(totp.timecode(utcnow()) + step_offset),
            "name": name,
        },
    )
    return response, secret


def post_on_lead_page(client, lead_id: int, action: str, **data):
    """POST to /staff/leads/<id>/<action> with the token of the lead's page, as its
    forms (status, notes, matching again) do."""
    token = csrf_token(client, f"/staff/leads/{lead_id}")
    return client.post(f"/staff/leads/{lead_id}/{action}", data={"csrf_token": token, **data})


def staff_routes(app, with_endpoints: bool = False) -> list[tuple]:
    """(method, path) of every GET or POST route of the staff blueprint but the pages open
    to strangers (sign-in, setting a password from a link), straight from the URL map,
    with every <int:...> argument filled with 1; (method, path, endpoint) if asked."""
    found = []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("staff.") or rule.endpoint in PUBLIC_ENDPOINTS:
            continue
        path = re.sub(r"<(?:[^:<>]+:)?[^<>]+>", "1", rule.rule)
        for method in sorted(rule.methods & {"GET", "POST"}):
            found.append((method, path, rule.endpoint) if with_endpoints else (method, path))
    return sorted(found)


# --- Rows ---------------------------------------------------------------------------------


def lead_values(**columns) -> dict:
    """The columns of a valid lead (an application from Alex Example), changed by
    ``columns`` (created_at, if given, must be aware)."""
    return {
        "role": "parent",
        "patient_age": 7,
        "diagnosis": "neuroblastoma",
        "country": "GB",
        "name": "Alex Example",
        "email": "alex@example.com",
        "contact_method": "email",
        "consent_version": CONSENT_VERSION,
        "consent_at": utcnow(),
        **columns,
    }


def add_lead(app, **columns) -> int:
    """A lead stored directly, with any column given; returns its id."""
    with app.app_context():
        lead = Lead(**lead_values(**columns))
        db.session.add(lead)
        db.session.commit()
        return lead.id


TRIAL_UPDATED = date(2026, 10, 1)


def add_trial(
    app,
    nct_id: str,
    conditions=("Neuroblastoma",),
    keywords=(),
    status="RECRUITING",
    min_age=None,
    max_age=None,
    sites=(),
    updated=TRIAL_UPDATED,
    phases=("PHASE2",),
    diagnoses: str | None = None,
    title: str | None = None,
) -> None:
    """A trial as the importer stores it; ``sites`` are (country_code, status[, facility,
    city]) tuples."""
    with app.app_context():
        trial = Trial(
            nct_id=nct_id,
            brief_title=title or f"Study {nct_id}",
            overall_status=status,
            phases=list(phases),
            conditions=list(conditions),
            keywords=list(keywords),
            min_age_months=min_age,
            max_age_months=max_age,
            last_update_on=updated,
            diagnoses=diagnoses
            if diagnoses is not None
            else synonyms.diagnoses_key([*conditions, *keywords]),
        )
        for number, (country, site_status, *names) in enumerate(sites, start=1):
            facility, city = names if names else (f"Hospital {number}", f"City {number}")
            trial.sites.append(
                TrialSite(facility=facility, city=city, country_code=country, status=site_status)
            )
        db.session.add(trial)
        db.session.commit()


def import_trials(app, *paths: Path) -> str:
    """``flask trials import PATH...`` (e.g. files of TRIAL_FIXTURES), which must succeed;
    returns its output."""
    result = app.test_cli_runner().invoke(args=["trials", "import", *map(str, paths)])
    assert result.exit_code == 0, result.output
    return result.output


def count(app, model, *where) -> int:
    """How many rows of ``model`` there are (that meet every condition of ``where``)."""
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model).where(*where))


def rows(app, model, *where) -> list:
    """The rows of ``model`` (that meet ``where``) in primary key order, detached so their
    columns can be read after the app context has gone."""
    order = inspect(model).primary_key
    with app.app_context():
        found = list(db.session.scalars(select(model).where(*where).order_by(*order)))
        db.session.expunge_all()
        return found


def fetch(app, model, id_):
    """The row of ``model`` with that id (or None), detached."""
    with app.app_context():
        found = db.session.get(model, id_)
        db.session.expunge_all()
        return found


# --- Mail ---------------------------------------------------------------------------------


class SMTPServer:
    """A real SMTP server on loopback (aiosmtpd) that keeps what it receives, and can be
    stopped and started again to play an outage."""

    def __init__(self):
        self.port = free_port()  # Controller(port=0) does not work: pick a port first
        self.messages: list = []
        self.conversations: list[bytes] = []
        self.controller = None

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or envelope.content
        self.conversations.append(raw)
        message = email.message_from_bytes(raw, policy=policy.default)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 OK"

    def start(self):
        from aiosmtpd.controller import Controller

        self.controller = Controller(
            self, hostname="127.0.0.1", port=self.port, enable_SMTPUTF8=True
        )
        self.controller.start()

    def stop(self):
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


# --- The command line, as an operator runs it ----------------------------------------------


def flask_command(
    *args: str, url: str, check: bool = False, env: dict[str, str | None] | None = None
) -> subprocess.CompletedProcess:
    """``flask --app microsite ARGS`` in a process of its own, DATABASE_URL in its
    environment and ``env`` over it (None removes a variable); with ``check``, a
    non-zero exit fails the test."""
    environment = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": "s" * 40, **(env or {})}
    environment = {name: value for name, value in environment.items() if value is not None}
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "microsite", *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if check:
        assert result.returncode == 0, f"flask {' '.join(args)}:\n{result.stderr}"
    return result


# --- Places and trial sites with coordinates -----------------------------------------------


def add_postal_codes(app, *codes: str) -> None:
    """Real ZIP code centres from the zipcodes package, stored as `content load` would."""
    import zipcodes

    from microsite.models import PostalPlace
    from microsite.trials import places

    with app.app_context():
        for code in codes:
            [entry] = zipcodes.matching(code)
            country = (
                entry["state"] if entry["state"] in places.ZIP_STATES_WITH_OWN_COUNTRY else "US"
            )
            db.session.add(
                PostalPlace(
                    country=country,
                    postal_code=code,
                    place_name=entry["city"],
                    region=entry["state"],
                    latitude=float(entry["lat"]),
                    longitude=float(entry["long"]),
                )
            )
        db.session.commit()


def add_located_trial(
    app,
    nct_id: str,
    *sites,
    status="RECRUITING",
    site_status="RECRUITING",
    title: str | None = None,
) -> None:
    """A neuroblastoma trial whose sites have coordinates: ``sites`` are (facility, city,
    state, country_code, latitude, longitude) tuples; each site's contact is the desk of
    its city."""
    with app.app_context():
        trial = Trial(
            nct_id=nct_id,
            brief_title=title or f"Study {nct_id}",
            overall_status=status,
            phases=["PHASE2"],
            conditions=["Neuroblastoma"],
            keywords=[],
            last_update_on=TRIAL_UPDATED,
            diagnoses=synonyms.diagnoses_key(["Neuroblastoma"]),
        )
        for facility, city, state, country, latitude, longitude in sites:
            trial.sites.append(
                TrialSite(
                    facility=facility,
                    city=city,
                    state=state,
                    country_code=country,
                    latitude=latitude,
                    longitude=longitude,
                    status=site_status,
                    contact_name=f"Desk of {city}",
                    contact_phone="+1 555 0100",
                )
            )
        db.session.add(trial)
        db.session.commit()
