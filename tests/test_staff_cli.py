"""Staff accounts from the command line: create, set-password, set-role, disable."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from werkzeug.security import check_password_hash

from microsite.extensions import db
from microsite.models import StaffUser
from tests.helpers import STAFF_EMAIL, STAFF_PASSWORD, count, log_in

NEW_PASSWORD = "another-long-password"
ADMIN_EMAIL = "admin@example.com"


def user(app, email: str = STAFF_EMAIL) -> StaffUser | None:
    with app.app_context():
        found = db.session.scalar(select(StaffUser).filter_by(email=email))
        db.session.expunge_all()
        return found


def create(runner, email: str = STAFF_EMAIL, password: str = STAFF_PASSWORD):
    return runner.invoke(args=["staff", "create", email, "--password-stdin"], input=password + "\n")


def test_create_reads_the_password_from_stdin(app, runner):
    result = create(runner)
    assert result.exit_code == 0, result.output
    assert result.output == (
        f"Staff user {STAFF_EMAIL} created as admin (the team's first admin).\n"
    )
    created = user(app)
    assert created.password_hash.startswith("scrypt:")
    assert check_password_hash(created.password_hash, STAFF_PASSWORD)
    assert STAFF_PASSWORD not in created.password_hash
    assert created.active is True and created.last_login_at is None
    assert log_in(app.test_client(), STAFF_EMAIL, STAFF_PASSWORD).status_code == 303


def test_create_stores_the_email_in_lower_case(app, runner):
    result = create(runner, "  Navigator@EXAMPLE.com ")
    assert result.exit_code == 0, result.output
    assert user(app).email == STAFF_EMAIL


def test_a_password_from_stdin_keeps_its_spaces_but_not_the_line_ending(app, runner):
    result = runner.invoke(
        args=["staff", "create", STAFF_EMAIL, "--password-stdin"], input=" spaced password \r\n"
    )
    assert result.exit_code == 0, result.output
    assert check_password_hash(user(app).password_hash, " spaced password ")


def test_create_asks_twice_for_the_password(app, runner):
    result = runner.invoke(
        args=["staff", "create", STAFF_EMAIL], input=f"{STAFF_PASSWORD}\n{STAFF_PASSWORD}\n"
    )
    assert result.exit_code == 0, result.output
    assert result.output.count("Password") == 1 and "Repeat for confirmation" in result.output
    assert STAFF_PASSWORD not in result.output  # the typing is hidden
    assert result.output.endswith(
        f"Staff user {STAFF_EMAIL} created as admin (the team's first admin).\n"
    )
    assert check_password_hash(user(app).password_hash, STAFF_PASSWORD)


def test_a_confirmation_that_does_not_match_asks_again(app, runner):
    typed = f"{STAFF_PASSWORD}\nsomething-else-entirely\n{NEW_PASSWORD}\n{NEW_PASSWORD}\n"
    result = runner.invoke(args=["staff", "create", STAFF_EMAIL], input=typed)
    assert result.exit_code == 0, result.output
    assert "Error: The two entered values do not match." in result.output
    assert check_password_hash(user(app).password_hash, NEW_PASSWORD)


def test_a_confirmation_that_never_matches_creates_nobody(app, runner):
    result = runner.invoke(
        args=["staff", "create", STAFF_EMAIL], input=f"{STAFF_PASSWORD}\nsomething-else-entirely\n"
    )
    assert result.exit_code == 1
    assert "Error: The two entered values do not match." in result.output
    assert "Aborted!" in result.output
    assert count(app, StaffUser) == 0


@pytest.mark.parametrize("password", ["", "short", "elevenchars"])
def test_a_short_password_is_refused(app, runner, password):
    result = create(runner, password=password)
    assert result.exit_code != 0
    assert result.output == "Error: a password needs at least 12 characters\n"
    assert count(app, StaffUser) == 0


def test_a_password_of_12_characters_is_accepted(app, runner):
    assert create(runner, password="twelve-chars").exit_code == 0
    assert count(app, StaffUser) == 1


@pytest.mark.parametrize("email", [STAFF_EMAIL, STAFF_EMAIL.upper(), f" {STAFF_EMAIL}"])
def test_a_duplicate_email_is_refused(app, runner, email):
    assert create(runner).exit_code == 0
    result = create(runner, email, NEW_PASSWORD)
    assert result.exit_code != 0
    assert result.output == f"Error: a staff user {STAFF_EMAIL} exists already\n"
    assert count(app, StaffUser) == 1
    assert check_password_hash(user(app).password_hash, STAFF_PASSWORD)  # unchanged


@pytest.mark.parametrize("email", ["not-an-email", "a@", "@example.com", "two@@example.com", ""])
def test_a_bad_email_is_refused(app, runner, email):
    result = create(runner, email)
    assert result.exit_code != 0
    assert result.output.startswith("Error: not an email address: ")
    assert result.output.count("\n") == 1
    assert count(app, StaffUser) == 0


def test_create_needs_an_email(runner):
    result = runner.invoke(
        args=["staff", "create", "--password-stdin"], input=STAFF_PASSWORD + "\n"
    )
    assert result.exit_code == 2
    assert "Missing argument 'EMAIL'" in result.output


def test_set_password_replaces_the_password(app, runner):
    create(runner)
    result = runner.invoke(
        args=["staff", "set-password", STAFF_EMAIL, "--password-stdin"], input=NEW_PASSWORD + "\n"
    )
    assert result.exit_code == 0, result.output
    assert result.output == f"Password of {STAFF_EMAIL} changed.\n"
    changed = user(app)
    assert changed.password_hash.startswith("scrypt:")
    assert check_password_hash(changed.password_hash, NEW_PASSWORD)
    client = app.test_client()
    assert log_in(client, STAFF_EMAIL, STAFF_PASSWORD).status_code == 401
    assert log_in(client, STAFF_EMAIL, NEW_PASSWORD).status_code == 303


def test_set_password_asks_twice(app, runner):
    create(runner)
    result = runner.invoke(
        args=["staff", "set-password", STAFF_EMAIL], input=f"{NEW_PASSWORD}\n{NEW_PASSWORD}\n"
    )
    assert result.exit_code == 0, result.output
    assert "Repeat for confirmation" in result.output
    assert check_password_hash(user(app).password_hash, NEW_PASSWORD)


def test_set_password_refuses_a_short_password(app, runner):
    create(runner)
    result = runner.invoke(
        args=["staff", "set-password", STAFF_EMAIL, "--password-stdin"], input="short\n"
    )
    assert result.exit_code != 0
    assert result.output == "Error: a password needs at least 12 characters\n"
    assert check_password_hash(user(app).password_hash, STAFF_PASSWORD)


def test_disable_stops_sign_in(app, runner):
    create(runner, ADMIN_EMAIL)
    create(runner)
    client = app.test_client()
    assert log_in(client, STAFF_EMAIL, STAFF_PASSWORD).status_code == 303
    result = runner.invoke(args=["staff", "disable", STAFF_EMAIL.upper()])
    assert result.exit_code == 0, result.output
    assert result.output == f"Staff user {STAFF_EMAIL} disabled.\n"
    assert user(app).active is False
    assert client.get("/staff/").status_code == 302  # the open session ends too
    assert log_in(app.test_client(), STAFF_EMAIL, STAFF_PASSWORD).status_code == 401


def test_set_password_enables_a_disabled_user(app, runner):
    create(runner)
    runner.invoke(args=["staff", "disable", STAFF_EMAIL])
    result = runner.invoke(
        args=["staff", "set-password", STAFF_EMAIL, "--password-stdin"], input=NEW_PASSWORD + "\n"
    )
    assert result.exit_code == 0, result.output
    assert user(app).active is True
    assert log_in(app.test_client(), STAFF_EMAIL, NEW_PASSWORD).status_code == 303


@pytest.mark.parametrize(
    ("args", "stdin"),
    [
        (["staff", "disable", "nobody@example.com"], None),
        (["staff", "set-password", "nobody@example.com", "--password-stdin"], NEW_PASSWORD + "\n"),
    ],
)
def test_an_unknown_email_is_refused_with_a_message(app, runner, args, stdin):
    create(runner)
    result = runner.invoke(args=args, input=stdin)
    assert result.exit_code != 0
    assert result.output == "Error: no staff user nobody@example.com\n"
    assert user(app).active is True


@pytest.mark.parametrize("command", ["disable", "set-password"])
def test_a_bad_email_is_refused_by_every_command(runner, command):
    result = runner.invoke(
        args=["staff", command, "not-an-email", "--password-stdin"][
            : 3 if command == "disable" else 4
        ],
        input=NEW_PASSWORD + "\n",
    )
    assert result.exit_code != 0
    assert result.output == "Error: not an email address: 'not-an-email'\n"


def test_staff_help_lists_the_commands(runner):
    result = runner.invoke(args=["staff", "--help"])
    assert result.exit_code == 0
    for command in ("create", "set-password", "disable"):
        assert command in result.output
    create_help = runner.invoke(args=["staff", "create", "--help"])
    assert "12 characters" in create_help.output and "--password-stdin" in create_help.output


# --- roles -------------------------------------------------------------------------------


def test_the_second_member_is_a_navigator_unless_told(app, runner):
    create(runner, ADMIN_EMAIL)
    result = create(runner)
    assert result.output == f"Staff user {STAFF_EMAIL} created as navigator.\n"
    assert user(app).role == "navigator"
    third = runner.invoke(
        args=["staff", "create", "third@example.com", "--role", "admin", "--password-stdin"],
        input=STAFF_PASSWORD + "\n",
    )
    assert third.output == "Staff user third@example.com created as admin.\n"


def test_the_first_member_may_be_made_a_navigator_on_purpose(app, runner):
    result = runner.invoke(
        args=["staff", "create", STAFF_EMAIL, "--role", "navigator", "--password-stdin"],
        input=STAFF_PASSWORD + "\n",
    )
    assert result.output == f"Staff user {STAFF_EMAIL} created as navigator.\n"
    assert user(app).role == "navigator"


def test_an_unknown_role_is_refused(runner):
    result = runner.invoke(args=["staff", "create", STAFF_EMAIL, "--role", "boss"])
    assert result.exit_code == 2
    assert "'boss' is not one of 'navigator', 'admin'" in result.output


def test_set_role_promotes_and_demotes(app, runner):
    create(runner, ADMIN_EMAIL)
    create(runner)
    result = runner.invoke(args=["staff", "set-role", STAFF_EMAIL, "admin"])
    assert result.exit_code == 0, result.output
    assert result.output == f"Staff user {STAFF_EMAIL} is now admin.\n"
    assert user(app).role == "admin"
    result = runner.invoke(args=["staff", "set-role", ADMIN_EMAIL, "navigator"])
    assert result.exit_code == 0, result.output
    assert user(app, ADMIN_EMAIL).role == "navigator"


def test_the_last_active_admin_can_be_neither_demoted_nor_disabled(app, runner):
    create(runner, ADMIN_EMAIL)
    create(runner)
    for args in (["set-role", ADMIN_EMAIL, "navigator"], ["disable", ADMIN_EMAIL]):
        result = runner.invoke(args=["staff", *args])
        assert result.exit_code == 1
        assert result.output == (
            f"Error: {ADMIN_EMAIL} is the last active admin: make another member an admin first\n"
        )
    found = user(app, ADMIN_EMAIL)
    assert found.role == "admin" and found.active is True


def test_a_disabled_admin_does_not_count_as_the_teams_admin(app, runner):
    create(runner, ADMIN_EMAIL)
    create(runner, "second.admin@example.com")
    runner.invoke(args=["staff", "set-role", "second.admin@example.com", "admin"])
    assert runner.invoke(args=["staff", "disable", "second.admin@example.com"]).exit_code == 0
    result = runner.invoke(args=["staff", "disable", ADMIN_EMAIL])
    assert result.exit_code == 1
    assert "last active admin" in result.output


def test_set_role_of_an_unknown_member_says_so(runner):
    result = runner.invoke(args=["staff", "set-role", "nobody@example.com", "admin"])
    assert result.exit_code == 1
    assert result.output == "Error: no staff user nobody@example.com\n"


def test_passwords_are_hashed_at_werkzeugs_full_scrypt_cost_by_default(make_app):
    app = make_app(PASSWORD_HASH_METHOD="scrypt")  # the default, which the test apps lower
    result = create(app.test_cli_runner())
    assert result.exit_code == 0, result.output
    created = user(app)
    assert created.password_hash.startswith("scrypt:32768:8:1$")
    assert log_in(app.test_client(), STAFF_EMAIL, STAFF_PASSWORD).status_code == 303
