"""The pages a crowd lands on answered from memory (web/replay.py): the article as Flask
made it, the empty form with a token, cookie and key of its own that the site accepts;
everything else answered by Flask."""

from __future__ import annotations

import pytest
from flask import request
from sqlalchemy import func, select

from microsite.extensions import db
from microsite.models import Lead
from microsite.web import caching
from tests.helpers import VALID_APPLICATION, form_filler, rendered_hidden_fields

PAGES = ("/", "/es/", "/apply", "/es/apply")


@pytest.fixture
def clock(monkeypatch):
    class FakeClock:
        now = 1000.0

    fake = FakeClock()
    monkeypatch.setattr(caching, "clock", lambda: fake.now)
    return fake


@pytest.fixture
def flask_answered(app) -> list[str]:
    """The paths that Flask itself answered (not the replay in front of it)."""
    paths: list[str] = []
    app.before_request(lambda: paths.append(request.path))
    return paths


def new_visitor(app, path: str):
    return app.test_client().get(path)


def form_rendered(app, flask_answered, path: str = "/apply") -> None:
    """The worker's first visitor of a page: Flask renders it. The empty form's first
    session also carries a mark of Flask-Login's, so that response is not kept: the next
    new visitor's is."""
    new_visitor(app, path)
    flask_answered.clear()


def lead_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Lead))


@pytest.mark.parametrize("path", ["/", "/es/"])
def test_the_article_is_answered_again_from_memory_as_flask_made_it(
    app, flask_answered, clock, path
):
    first = new_visitor(app, path)
    again = new_visitor(app, path)
    assert flask_answered == [path]
    assert again.status == first.status == "200 OK"
    assert list(again.headers) == list(first.headers)
    assert again.get_data() == first.get_data()
    assert "Set-Cookie" not in again.headers


def cookie_value(response) -> str:
    return response.headers["Set-Cookie"].split(";", 1)[0].split("=", 1)[1]


def without_own_values(response) -> tuple:
    """The response with the visitor's own token, key and cookie value taken out."""
    fields = rendered_hidden_fields(response.get_data(as_text=True))
    body = response.get_data(as_text=True)
    for own in (fields["csrf_token"], fields["idempotency_key"]):
        assert body.count(own) == 1
        body = body.replace(own, "")
    cookie = response.headers["Set-Cookie"].replace(cookie_value(response), "")
    headers = [(n, cookie if n == "Set-Cookie" else v) for n, v in response.headers]
    return response.status, headers, body


@pytest.mark.parametrize("path", ["/apply", "/es/apply"])
def test_each_new_visitor_gets_a_form_of_their_own_from_memory(app, flask_answered, clock, path):
    form_rendered(app, flask_answered, path)
    first, second, third = (new_visitor(app, path) for _ in range(3))
    assert flask_answered == [path]
    forms = [rendered_hidden_fields(r.get_data(as_text=True)) for r in (first, second, third)]
    for field in ("csrf_token", "idempotency_key"):
        assert len({form[field] for form in forms}) == 3
    assert len({cookie_value(r) for r in (first, second, third)}) == 3
    assert without_own_values(second) == without_own_values(first)
    assert without_own_values(third) == without_own_values(first)
    assert second.headers["Content-Length"] == str(len(second.get_data()))


def test_a_form_answered_from_memory_is_accepted(app, flask_answered, clock):
    form_rendered(app, flask_answered)
    new_visitor(app, "/apply")  # Flask answers this one, and the replay keeps it
    client = app.test_client()
    data = form_filler(client, "/apply", VALID_APPLICATION)()
    assert flask_answered == ["/apply"]
    response = client.post("/apply", data=data)
    assert response.status_code == 303
    assert response.location.endswith("/apply/thanks")
    assert lead_count(app) == 1
    assert "Thank you" in client.get("/apply/thanks").get_data(as_text=True)


def test_a_token_from_memory_works_only_with_its_own_cookie(app, flask_answered, clock):
    form_rendered(app, flask_answered)
    new_visitor(app, "/apply")
    own, other = app.test_client(), app.test_client()
    data = form_filler(own, "/apply", VALID_APPLICATION)()
    other.get("/apply")  # another new visitor: another session cookie
    assert flask_answered == ["/apply"]
    response = other.post("/apply", data=data)
    assert response.status_code == 400
    assert lead_count(app) == 0
    assert own.post("/apply", data=data).status_code == 303


@pytest.mark.parametrize(
    "path, cookie, headers, query",
    [
        ("/", "anything", {}, ""),
        ("/apply", "anything", {}, ""),
        ("/", None, {}, "utm_source=newsletter"),
        ("/apply", None, {}, "utm_source=newsletter"),
        ("/", None, {"If-None-Match": '"an-etag"'}, ""),
        ("/", None, {"If-Modified-Since": "Tue, 01 Dec 2026 10:00:00 GMT"}, ""),
    ],
)
def test_anything_but_a_plain_first_visit_goes_to_flask(
    app, flask_answered, clock, path, cookie, headers, query
):
    form_rendered(app, flask_answered, path)
    new_visitor(app, path)
    answered = len(flask_answered)
    new_visitor(app, path)
    assert len(flask_answered) == answered  # a plain first visit: from memory
    client = app.test_client()
    if cookie:
        client.set_cookie("session", cookie)
    client.get(path, headers=headers, query_string=query)
    assert flask_answered[answered:] == [path]


def test_a_head_request_goes_to_flask(app, flask_answered, clock):
    new_visitor(app, "/")
    response = app.test_client().head("/")
    assert response.status_code == 200 and response.get_data() == b""
    assert flask_answered == ["/", "/"]


def test_pages_that_no_view_offers_are_not_kept(app, flask_answered, clock):
    for _ in range(2):
        new_visitor(app, "/privacy")
        new_visitor(app, "/no-such-page")
    assert flask_answered == ["/privacy", "/no-such-page"] * 2


@pytest.mark.parametrize("path", ["/", "/apply"])
def test_flask_answers_again_once_the_page_is_due_for_its_check(app, flask_answered, clock, path):
    form_rendered(app, flask_answered, path)
    new_visitor(app, path)
    answered = len(flask_answered)
    clock.now += caching.REVALIDATE_AFTER / 2
    new_visitor(app, path)
    assert len(flask_answered) == answered
    clock.now += caching.REVALIDATE_AFTER / 2
    new_visitor(app, path)
    assert flask_answered[answered:] == [path]


def test_each_host_has_its_own_page(app, flask_answered, clock):
    for host in ("localhost", "www.example.org", "localhost"):
        app.test_client().get("/", base_url=f"http://{host}")
    assert flask_answered == ["/", "/"]


def test_on_https_the_form_from_memory_has_the_secure_host_cookie_and_is_accepted(make_app):
    app = make_app(PUBLIC_URL="https://trials.example.org")
    base = "https://trials.example.org"
    answered: list[str] = []
    app.before_request(lambda: answered.append(request.path))
    for _ in range(2):  # the first render, then the response the replay keeps
        app.test_client().get("/apply", base_url=base)
    client = app.test_client()
    page = client.get("/apply", base_url=base)
    assert answered == ["/apply", "/apply"]
    cookie = page.headers["Set-Cookie"]
    assert cookie.startswith("__Host-session=") and "Secure" in cookie and "Path=/" in cookie
    assert page.headers["Strict-Transport-Security"].startswith("max-age=")
    data = {**rendered_hidden_fields(page.get_data(as_text=True)), **VALID_APPLICATION}
    response = client.post("/apply", data=data, base_url=base, headers={"Referer": base + "/apply"})
    assert response.status_code == 303
    assert lead_count(app) == 1
