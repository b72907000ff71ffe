"""The second factor in the real browser: passkeys made and used by a virtual
authenticator (Chromium's, over the DevTools protocol) on the live server at
http://localhost:<port> (the relying-party id is "localhost"), and authenticator apps
whose codes the test makes from the key the set-up page shows.

- a member without a factor registers a passkey at the first sign-in, sees the recovery
  codes, signs out and in again with the passkey; the stored factor is the authenticator's
  credential (id, public key, sign count, transports);
- a sign count gone backwards (the stored one raised above the authenticator's) is refused;
- the same authenticator cannot register twice: the options exclude its credential and the
  browser refuses; the first answer sent again is refused too (the challenge is used once);
- adding a factor, after typing the password again, ends the member's other session;
- an authenticator app set up in the browser: a wrong code first, then the right one; the
  code used at set-up does not sign in again, the next one does.
"""

from __future__ import annotations

import base64
import re
from datetime import timedelta
from urllib.parse import parse_qs

import pyotp
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    PublicFormat,
    load_der_private_key,
)
from playwright.sync_api import CDPSession, Page, expect
from sqlalchemy import select, update
from webauthn.helpers import bytes_to_base64url, decode_credential_public_key

from microsite.extensions import db
from microsite.models import AccessRecord, StaffFactor, StaffSession, utcnow
from tests.helpers import STAFF_EMAIL, STAFF_PASSWORD, create_staff_user, rows

from .pages import (
    LiveServer,
    enrol_app,
    enter_password,
    expect_h1,
    expect_recovery_codes,
    secret_shown,
    sign_in,
)

pytestmark = pytest.mark.browser

NOT_USED = "The passkey was not used"  # passkeys.js, when the browser refused or failed


# --- The virtual authenticator -----------------------------------------------------------


class Authenticator:
    """A platform authenticator with user verification (like a laptop's fingerprint
    reader), attached to one page through the DevTools protocol; it answers at once."""

    def __init__(self, page: Page) -> None:
        self.cdp: CDPSession = page.context.new_cdp_session(page)
        self.cdp.send("WebAuthn.enable")
        self.id = self.cdp.send(
            "WebAuthn.addVirtualAuthenticator",
            {
                "options": {
                    "protocol": "ctap2",
                    "transport": "internal",
                    "hasResidentKey": True,
                    "hasUserVerification": True,
                    "isUserVerified": True,
                    "automaticPresenceSimulation": True,
                }
            },
        )["authenticatorId"]

    def credentials(self) -> list[dict]:
        """What it holds: credentialId (standard base64), rpId, signCount..."""
        found = self.cdp.send("WebAuthn.getCredentials", {"authenticatorId": self.id})
        return found["credentials"]


def base64url(standard_base64: str) -> str:
    """A credential id as the DevTools protocol gives it, as the site stores it."""
    return bytes_to_base64url(base64.b64decode(standard_base64))


def public_key_of(held: dict) -> tuple[bytes, ...]:
    """The public half of a credential's private key (PKCS #8, standard base64): an
    Ed25519 key's bytes, or a P-256 key's x and y, as a COSE key holds them."""
    private = load_der_private_key(base64.b64decode(held["privateKey"]), password=None)
    if isinstance(private, ed25519.Ed25519PrivateKey):
        return (private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw),)
    assert isinstance(private, ec.EllipticCurvePrivateKey), type(private)
    numbers = private.public_key().public_numbers()
    return (numbers.x.to_bytes(32, "big"), numbers.y.to_bytes(32, "big"))


def stored_public_key(factor: StaffFactor) -> tuple[bytes, ...]:
    key = decode_credential_public_key(factor.public_key)
    return (key.x, key.y) if hasattr(key, "y") else (key.x,)


def passkey_form(page: Page):
    return page.locator("form", has=page.get_by_role("button", name="Create a passkey"))


def create_passkey(page: Page, name: str) -> None:
    """On /staff/mfa/setup: name the passkey and create it (passkeys.js asks the server for
    the options, the authenticator makes the key, the form goes with its answer)."""
    form = passkey_form(page)
    form.locator("input[name=name]").fill(name)
    form.get_by_role("button", name="Create a passkey").click()


def first_sign_in(page: Page, email: str = STAFF_EMAIL) -> None:
    """The password of a member who holds no factor yet: the set-up page comes next."""
    page.goto("/staff/login")
    enter_password(page, email)
    expect_h1(page, "Set up your second sign-in method")


def register_first_passkey(page: Page, server: LiveServer, name: str = "Work laptop") -> None:
    """The first sign-in of a member without a factor, made with a passkey, to the
    dashboard past the recovery codes."""
    first_sign_in(page)
    create_passkey(page, name)
    expect_recovery_codes(page)
    page.get_by_role("link", name="I have saved them: go to the leads").click()
    expect(page).to_have_url(f"{server.url}/staff/")


def sign_out(page: Page) -> None:
    page.get_by_role("navigation", name="Staff").get_by_role("button", name="Sign out").click()
    expect_h1(page, "Staff sign in")


def passkeys(server: LiveServer) -> list[StaffFactor]:
    return rows(server.app, StaffFactor, StaffFactor.kind == "passkey")


# --- Passkeys ---------------------------------------------------------------------------


def test_a_passkey_registered_at_the_first_sign_in_signs_the_member_in(open_page, live_server):
    create_staff_user(live_server.app, with_app=False)
    page = open_page()
    authenticator = Authenticator(page)

    register_first_passkey(page, live_server)
    [held] = authenticator.credentials()
    assert held["rpId"] == "localhost"
    [factor] = passkeys(live_server)
    assert factor.name == "Work laptop"
    assert factor.credential_id == base64url(held["credentialId"])
    assert factor.transports == "internal"
    assert stored_public_key(factor) == public_key_of(held)
    assert factor.sign_count == held["signCount"]

    sign_out(page)
    enter_password(page)
    expect_h1(page, "Confirm it is you")
    expect(page.get_by_label("Code from your authenticator app")).to_have_count(0)  # no app
    page.get_by_role("button", name="Use my passkey").click()
    expect(page).to_have_url(f"{live_server.url}/staff/")
    expect_h1(page, "Leads")

    [held] = authenticator.credentials()
    [factor] = passkeys(live_server)
    assert held["signCount"] > 0  # this authenticator counts its signatures
    assert factor.sign_count == held["signCount"]
    assert factor.last_used_at is not None
    records = rows(live_server.app, AccessRecord, AccessRecord.action == "factor added")
    assert [r.detail for r in records] == ["You added a passkey, “Work laptop”."]


def test_a_passkey_whose_sign_count_went_backwards_is_refused(open_page, live_server):
    create_staff_user(live_server.app, with_app=False)
    page = open_page()
    authenticator = Authenticator(page)
    register_first_passkey(page, live_server)
    sign_out(page)
    [held] = authenticator.credentials()
    ahead = held["signCount"] + 100  # as if a copy of the key had signed 100 times more
    with live_server.app.app_context():
        db.session.execute(update(StaffFactor).values(sign_count=ahead))
        db.session.commit()

    enter_password(page)
    with page.expect_response(lambda r: r.url.endswith("/staff/mfa/passkey")) as answer:
        page.get_by_role("button", name="Use my passkey").click()
    assert answer.value.status == 401
    problem = page.get_by_role("region", name="There is a problem")
    expect(problem).to_contain_text("The passkey could not be checked")
    expect(page).to_have_title(re.compile(r"^Error: Confirm it is you"))

    page.goto("/staff/")  # still password-only: back to the challenge
    expect(page).to_have_url(f"{live_server.url}/staff/mfa")
    [factor] = passkeys(live_server)
    assert factor.sign_count == ahead


def test_the_same_authenticator_cannot_register_twice(open_page, live_server):
    create_staff_user(live_server.app, with_app=False)
    page = open_page()
    authenticator = Authenticator(page)
    first_sign_in(page)
    # The browser's answer, kept as the form sent it, to send again below.
    sent = []
    page.on(
        "request",
        lambda r: sent.append(r.post_data) if r.url.endswith("/staff/mfa/setup/passkey") else None,
    )
    create_passkey(page, "Work laptop")
    expect_recovery_codes(page)
    [first_answer] = sent

    # From the account page (the password typed a moment ago): the options now exclude the
    # passkey held, so the authenticator refuses to make a second one.
    page.goto("/staff/account")
    page.get_by_role("link", name="Add a passkey or an authenticator app").click()
    expect_h1(page, "Add a sign-in method")
    with page.expect_response(lambda r: r.url.endswith("/setup/passkey/options")) as options:
        create_passkey(page, "Same laptop")
    excluded = [c["id"] for c in options.value.json()["excludeCredentials"]]
    assert excluded == [passkeys(live_server)[0].credential_id]
    expect(passkey_form(page).locator("[data-passkey-problem]")).to_contain_text(NOT_USED)
    assert len(authenticator.credentials()) == 1
    assert [f.name for f in passkeys(live_server)] == ["Work laptop"]

    # The first answer sent again in the form (passkeys.js lets a filled-in answer go as
    # it is): it answers a challenge used already, and is refused.
    [credential] = parse_qs(first_answer)["credential"]
    form = passkey_form(page)
    field = form.locator("input[name=credential]")  # hidden, so set by script
    field.evaluate("(field, value) => { field.value = value; }", credential)
    with page.expect_response(lambda r: r.url.endswith("/staff/mfa/setup/passkey")) as again:
        form.get_by_role("button", name="Create a passkey").click()
    assert again.value.status == 422
    problem = page.get_by_role("region", name="There is a problem")
    expect(problem).to_contain_text("The passkey could not be checked")
    assert [f.name for f in passkeys(live_server)] == ["Work laptop"]


# --- Changes end the other sessions -----------------------------------------------------


def test_adding_a_factor_after_typing_the_password_ends_the_other_session(
    open_page, live_server, outbox
):
    app = live_server.app
    create_staff_user(app)
    a, b = open_page(), open_page()
    for page in (a, b):
        page.goto("/staff/login")
        sign_in(page, app)
        expect(page).to_have_url(f"{live_server.url}/staff/")
    with app.app_context():
        session_a, session_b = db.session.scalars(select(StaffSession).order_by(StaffSession.id))
        # A's password and code were typed six minutes ago: a change needs the password again.
        session_a.reauthenticated_at = utcnow() - timedelta(minutes=6)
        db.session.commit()
        a_id, b_id = session_a.id, session_b.id

    a.goto("/staff/account")
    a.get_by_role("link", name="Add a passkey or an authenticator app").click()
    expect_h1(a, "Type your password again")
    a.get_by_label("Your password").fill("not my password")
    a.get_by_role("button", name="Continue").click()
    expect(a.locator("[data-error-summary]")).to_contain_text("That password is not right")
    a.get_by_label("Your password").fill(STAFF_PASSWORD)
    a.get_by_role("button", name="Continue").click()
    expect_h1(a, "Add a sign-in method")
    enrol_app(a, "Tablet app")
    expect(a).to_have_url(f"{live_server.url}/staff/account")
    expect(a.get_by_role("status")).to_contain_text("Your other sessions have ended")
    methods = a.get_by_role("region", name="Your sign-in methods").locator("tbody tr")
    expect(methods).to_have_count(2)

    b.goto("/staff/")
    expect_h1(b, "Staff sign in")
    with app.app_context():
        assert db.session.get(StaffSession, b_id).end_reason == "sign-in factors changed"
        assert db.session.get(StaffSession, a_id).ended_at is None
    notices = [m for m in outbox.drain() if m["Subject"].startswith("Security notice")]
    assert [m["To"] for m in notices] == [STAFF_EMAIL]
    assert (
        "You added an authenticator app, “Tablet app”."
        in notices[0].get_body(("plain",)).get_content()
    )


# --- Authenticator apps -----------------------------------------------------------------


def test_an_authenticator_app_set_up_in_the_browser_signs_the_member_in(open_page, live_server):
    create_staff_user(live_server.app, with_app=False)
    page = open_page()
    first_sign_in(page)
    secret = secret_shown(page)
    qr = page.locator(".qr svg")
    expect(qr).to_be_visible()
    expect(qr.locator("title")).to_have_text("QR code")

    # A wrong code first: the page says so and keeps the same key (nothing is stored yet).
    app_form = page.locator("form", has=page.get_by_role("button", name="Add the app"))
    totp = pyotp.TOTP(secret)
    wrong = f"{(int(totp.now()) + 1) % 1_000_000:06d}"
    app_form.get_by_label("Code from your authenticator app").fill(wrong)
    app_form.get_by_role("button", name="Add the app").click()
    expect(page.locator("[data-error-summary]")).to_contain_text("That code is not right")
    assert secret_shown(page) == secret
    assert rows(live_server.app, StaffFactor) == []

    assert enrol_app(page) == secret
    expect_recovery_codes(page)
    [factor] = rows(live_server.app, StaffFactor)
    assert (factor.kind, factor.name) == ("totp", "Phone app")
    used = factor.totp_last_step

    page.goto("/staff/")
    sign_out(page)
    enter_password(page)
    code = page.get_by_label("Code from your authenticator app")
    code.fill(totp.generate_otp(used))  # the code the set-up took: it works once
    code.press("Enter")
    expect(page.get_by_role("region", name="There is a problem")).to_contain_text(
        "That code is not right, or was used already"
    )
    code.fill(totp.generate_otp(used + 1))  # the app's next code
    code.press("Enter")
    expect(page).to_have_url(f"{live_server.url}/staff/")
    expect_h1(page, "Leads")
