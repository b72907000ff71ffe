"""The database away (down, restarting, locked): forms answer 503 with everything typed
kept, /healthz says so, other pages get a styled 503, and everything works again once the
database is back, without a restart. The outage here is real: the SQLite file is moved
away and a folder put in its place, so every connection attempt fails."""

from __future__ import annotations

import pytest

from microsite.extensions import db
from microsite.models import Lead, Referral
from tests.helpers import (
    VALID_APPLICATION,
    VALID_SHARE,
    count,
    create_staff_user,
    form_filler,
    log_in,
)

pytestmark = pytest.mark.sqlite_only(
    "moves the SQLite file away; `make loadtest` (database_down) stops a real PostgreSQL"
)


class Outage:
    def __init__(self, app, database):
        self.app, self.database = app, database
        self.away = database.with_name("away.sqlite3")

    def begin(self):
        with self.app.app_context():
            db.engine.dispose()
        self.database.rename(self.away)
        self.database.mkdir()

    def end(self):
        self.database.rmdir()
        self.away.rename(self.database)


@pytest.fixture
def outage(make_app, tmp_path):
    database = tmp_path / "outage.sqlite3"
    app = make_app(DATABASE_URL=f"sqlite:///{database}")
    return Outage(app, database)


@pytest.mark.parametrize(
    ("path", "valid", "model", "typed"),
    [
        ("/apply", VALID_APPLICATION, Lead, {"name": "Kept Name", "postal_code": "EC1A 1BB"}),
        (
            "/share",
            VALID_SHARE,
            Referral,
            {"sender_name": "Kept Sender", "friend_email": "kept@example.com"},
        ),
    ],
)
def test_a_form_answers_503_with_the_input_kept_and_works_once_the_database_is_back(
    outage, path, valid, model, typed
):
    client = outage.app.test_client()
    answers = form_filler(client, path, valid)(**typed)
    outage.begin()
    response = client.post(path, data=answers)
    html = response.get_data(as_text=True)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "30"
    assert "We could not save this just now" in html
    for value in typed.values():
        assert f'value="{value}"' in html
    assert client.get("/healthz").status_code == 503
    outage.end()
    assert client.post(path, data=answers).status_code == 303
    assert client.get("/healthz").status_code == 200
    assert count(outage.app, model) >= 1


def test_other_pages_get_a_styled_503_while_the_database_is_away(outage):
    create_staff_user(outage.app)
    client = outage.app.test_client()
    assert log_in(client).status_code == 303
    outage.begin()
    for path in ("/staff/", "/staff/leads.csv"):
        response = client.get(path)
        assert response.status_code == 503, path
        assert response.headers["Retry-After"] == "30"
        assert "no-store" in response.headers["Cache-Control"]
    assert "We are briefly unavailable" in client.get("/staff/").get_data(as_text=True)
    visitor = outage.app.test_client()
    assert visitor.get("/privacy").status_code == 200  # what needs no database still works
    assert visitor.get("/apply").status_code == 200
    outage.end()
    assert client.get("/staff/").status_code == 200
