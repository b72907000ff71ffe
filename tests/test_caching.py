"""The article page is rendered once per worker and reused while its testimonials stay the
same; an edit shows at once in the worker that made it, and in the others after
``REVALIDATE_AFTER`` seconds (a fake clock moves time on: nothing here waits)."""

from __future__ import annotations

import re

import pytest
from flask import session
from flask.sessions import SecureCookieSessionInterface
from sqlalchemy import select, text

from microsite import models
from microsite.extensions import db
from microsite.web import caching
from tests.helpers import rendered_hidden_fields


@pytest.fixture
def clock(monkeypatch):
    class FakeClock:
        now = 1000.0

        def advance(self, seconds: float) -> None:
            self.now += seconds

    fake = FakeClock()
    monkeypatch.setattr(caching, "clock", lambda: fake.now)
    return fake


def authors(client) -> list[str]:
    response = client.get("/")
    assert response.status_code == 200
    return re.findall(r"<figcaption>(.*?)</figcaption>", response.get_data(as_text=True))


def edit_author(staff_client, app, slug: str, author: str) -> None:
    """Change a testimonial's author through the staff area, as a navigator would."""
    with app.app_context():
        testimonial = db.session.scalar(select(models.Testimonial).filter_by(slug=slug))
        path = f"/staff/testimonials/{testimonial.id}"
        data = {
            **rendered_hidden_fields(staff_client.get(path).get_data(as_text=True)),
            "author": author,
            "quote": testimonial.quote,
            "consent_given_on": "2026-01-31",
            "published": "y",
        }
    assert staff_client.post(path, data=data).status_code == 303


def test_the_worker_that_edits_shows_the_edit_at_once(app, client, staff_client, clock):
    assert "Doris Webber" in authors(client)
    edit_author(staff_client, app, "doris-webber", "Doris W.")
    assert "Doris W." in authors(client)  # no time has passed
    assert "Doris Webber" not in authors(client)


def test_other_workers_show_an_edit_within_the_revalidation_time(
    app, make_app, staff_client, clock
):
    other_worker = make_app().test_client()  # a second app on the same database
    assert "Doris Webber" in authors(other_worker)
    edit_author(staff_client, app, "doris-webber", "Doris W.")

    clock.advance(caching.REVALIDATE_AFTER / 2)
    assert "Doris Webber" in authors(other_worker)  # the page it rendered before
    clock.advance(caching.REVALIDATE_AFTER / 2)
    assert "Doris W." in authors(other_worker)


def test_an_unchanged_page_keeps_its_etag_and_answers_304(client, clock):
    first = client.get("/")
    clock.advance(caching.REVALIDATE_AFTER * 10)  # checked again: nothing changed
    again = client.get("/", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    assert again.headers["ETag"] == first.headers["ETag"]
    assert client.get("/").get_data() == first.get_data()


def test_a_changed_page_gets_a_new_etag(app, client, staff_client, clock):
    first = client.get("/")
    edit_author(staff_client, app, "doris-webber", "Doris W.")
    response = client.get("/", headers={"If-None-Match": first.headers["ETag"]})
    assert response.status_code == 200
    assert response.headers["ETag"] != first.headers["ETag"]


def test_a_visitor_arriving_with_utm_parameters_leaves_nothing_in_the_shared_page(client, clock):
    tagged = client.get("/?utm_source=newsletter&utm_campaign=spring")
    assert "private" in tagged.headers["Cache-Control"]
    other_visitor = client.application.test_client().get("/")
    assert "public" in other_visitor.headers["Cache-Control"]
    assert "Set-Cookie" not in other_visitor.headers
    assert (
        b"newsletter" not in other_visitor.get_data() and b"spring" not in other_visitor.get_data()
    )


def test_when_the_check_fails_the_page_rendered_before_is_served(app, client, clock):
    page = client.get("/").get_data()
    with app.app_context():  # the check's query now fails, as with the database down
        db.session.execute(text("ALTER TABLE testimonial RENAME TO testimonial_away"))
        db.session.commit()
    try:
        clock.advance(caching.REVALIDATE_AFTER)
        response = client.get("/")
        assert response.status_code == 200
        assert response.get_data() == page
        assert client.get("/healthz").status_code == 200  # the database itself answers
    finally:
        with app.app_context():
            db.session.execute(text("ALTER TABLE testimonial_away RENAME TO testimonial"))
            db.session.commit()


def test_a_first_visit_with_the_table_missing_is_an_error_page(make_app, clock):
    app = make_app(PROPAGATE_EXCEPTIONS=False)  # an error page, as in production
    with app.app_context():
        db.session.execute(text("ALTER TABLE testimonial RENAME TO testimonial_away"))
        db.session.commit()
    try:
        response = app.test_client().get("/")
        assert response.status_code >= 500
        assert b"Traceback" not in response.get_data()
    finally:
        with app.app_context():
            db.session.execute(text("ALTER TABLE testimonial_away RENAME TO testimonial"))
            db.session.commit()


def test_session_cookies_are_those_of_flasks_own_signer_both_ways(app, client):
    """The session interface builds its signer once and uses hashlib's SHA-1 directly:
    a cookie Flask's default interface signs is read, and one it writes is Flask's."""
    flasks = SecureCookieSessionInterface().get_signing_serializer(app)
    client.set_cookie(app.config["SESSION_COOKIE_NAME"], flasks.dumps({"lead_id": 7}))
    with client:
        client.get("/privacy")
        assert session["lead_id"] == 7
    page = client.get("/apply")  # the form puts its CSRF token in the session
    assert page.status_code == 200
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    assert "csrf_token" in flasks.loads(cookie.value)
