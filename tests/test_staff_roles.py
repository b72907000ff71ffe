"""Who sees what in the staff area, over every staff route in the URL map: navigators work
with leads and the trials page; admins also run the team, the testimonials, the referrals
export, the access record and the runs page. A route added later is covered without any
change here, and must be put on one side or the other by its path."""

from __future__ import annotations

import pytest

from microsite.staff.roles import ADMIN_ONLY
from tests.helpers import (
    STAFF_EMAIL,
    STAFF_PASSWORD,
    add_lead,
    create_staff_user,
    csrf_token,
    log_in,
    staff_routes,
)

NAVIGATOR_EMAIL = "navigator.two@example.com"
NAVIGATOR_PASSWORD = "a navigator's long password"

# The paths only admins may use, by their start; every other staff route is for both roles.
ADMIN_PATHS = (
    "/staff/team",
    "/staff/testimonials",
    "/staff/access",
    "/staff/runs",
    "/staff/referrals.csv",
    "/staff/leads/1/assign",  # a navigator takes a lead; only an admin gives one to others
)
FORBIDDEN_PAGE = "This page is for admins"


def for_admins(path: str) -> bool:
    return path.startswith(ADMIN_PATHS)


@pytest.fixture
def team(app):
    """A navigator (member 1), an admin, and a lead with id 1, so every route with an id
    has something to act on. The admin's member actions (/staff/team/1/...) fall on the
    navigator: resetting one's own sign-in methods would end one's sessions."""
    create_staff_user(app, NAVIGATOR_EMAIL, NAVIGATOR_PASSWORD, role="navigator")
    create_staff_user(app, role="admin")
    add_lead(app)
    return app


def signed_in(app, email: str, password: str):
    """A client signed in with the password and the second factor."""
    client = app.test_client()
    response = log_in(client, email, password)
    assert (response.status_code, response.headers["Location"]) == (303, "/staff/")
    return client


def answer(app, email, password, method, path):
    client = signed_in(app, email, password)
    if method == "GET":
        return client.get(path)
    return client.post(path, data={"csrf_token": csrf_token(client, "/staff/")})


def test_every_admin_only_view_is_one_the_paths_name(team):
    marked = {endpoint for _, path, endpoint in staff_routes(team, True) if endpoint in ADMIN_ONLY}
    named = {endpoint for _, path, endpoint in staff_routes(team, True) if for_admins(path)}
    assert marked == named
    assert {"staff.team", "staff.audit", "staff.runs", "staff.referrals_csv"} <= marked


@pytest.mark.parametrize("role", ["navigator", "admin"])
def test_each_role_over_every_staff_route(team, role):
    email, password = (
        (NAVIGATOR_EMAIL, NAVIGATOR_PASSWORD)
        if role == "navigator"
        else (STAFF_EMAIL, STAFF_PASSWORD)
    )
    wrong = []
    for method, path in staff_routes(team):
        response = answer(team, email, password, method, path)
        body = response.get_data(as_text=True)
        refused = response.status_code == 403
        if role == "navigator" and for_admins(path):
            if path.endswith(".csv"):
                ok = refused and response.mimetype == "text/plain" and "," not in body
            else:
                ok = refused and FORBIDDEN_PAGE in body
        else:
            signed_out = response.status_code == 302 and "/staff/login" in response.location
            ok = not refused and not signed_out and response.status_code < 500
            if path == "/staff/logout":
                ok = response.status_code == 303
        if not ok:
            wrong.append(f"{role} {method} {path}: {response.status_code}")
    assert wrong == []


def test_a_navigator_sees_no_admin_links(team):
    page = signed_in(team, NAVIGATOR_EMAIL, NAVIGATOR_PASSWORD).get("/staff/")
    html = page.get_data(as_text=True)
    for path in ("/staff/team", "/staff/access", "/staff/runs", "/staff/testimonials"):
        assert f'href="{path}"' not in html
    assert 'href="/staff/account"' in html and 'href="/staff/trials"' in html


def test_an_admin_sees_every_link(team):
    html = signed_in(team, STAFF_EMAIL, STAFF_PASSWORD).get("/staff/").get_data(as_text=True)
    for path in ("/staff/team", "/staff/access", "/staff/runs", "/staff/testimonials"):
        assert f'href="{path}"' in html


@pytest.mark.parametrize(("scope", "rows"), [("all", 2), ("assigned", 1)])
def test_a_navigators_leads_csv_follows_navigator_export_scope(make_app, scope, rows):
    app = make_app(NAVIGATOR_EXPORT_SCOPE=scope)
    create_staff_user(app)
    navigator = create_staff_user(app, NAVIGATOR_EMAIL, NAVIGATOR_PASSWORD, role="navigator")
    add_lead(app, name="Mine Example", assigned_to_id=navigator)
    add_lead(app, name="Unassigned Example", email="else@example.com")
    body = signed_in(app, NAVIGATOR_EMAIL, NAVIGATOR_PASSWORD).get("/staff/leads.csv").data
    lines = body.decode("utf-8-sig").strip().split("\r\n")
    assert len(lines) == 1 + rows
    assert "Mine Example" in lines[1]
    admin_body = signed_in(app, STAFF_EMAIL, STAFF_PASSWORD).get("/staff/leads.csv").data
    assert admin_body.decode("utf-8-sig").strip().count("\r\n") == 2  # admins: every lead


def test_navigator_export_scope_must_be_all_or_assigned(make_app):
    from microsite.config import ConfigError

    with pytest.raises(ConfigError, match="NAVIGATOR_EXPORT_SCOPE must be one of all, assigned"):
        make_app(NAVIGATOR_EXPORT_SCOPE="mine")
