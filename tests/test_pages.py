"""The pages around the form: privacy notice, health check and error pages."""

from __future__ import annotations

import pytest

from microsite import create_app
from microsite.public import views


def test_privacy_notice_covers_what_why_who_how_long_and_rights(client):
    response = client.get("/privacy")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    for heading in ("What we collect and why", "Who sees it", "How long we keep it", "Your rights"):
        assert f"<h2>{heading}</h2>" in html
    for right in ("Access:", "Correction:", "Erasure:", "Withdrawal:"):
        assert right in html
    assert "730 days (2 years)" in html
    assert "navigators@trialfinder.example" in html


def test_privacy_notice_follows_the_retention_setting(make_app):
    html = make_app(RETENTION_DAYS=365).test_client().get("/privacy").get_data(as_text=True)
    assert "365 days (1 year" in html


def test_healthz_checks_the_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}
    assert "no-store" in response.headers["Cache-Control"]


def test_healthz_reports_a_database_it_cannot_reach(tmp_path, caplog):
    app = create_app(
        {
            "TESTING": True,
            "INSTANCE_PATH": tmp_path,
            "SECRET_KEY": "x" * 40,
            "DATABASE_URL": f"sqlite:///{tmp_path}/missing-folder/db.sqlite3",
        }
    )
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json() == {"status": "error"}
    assert "database unavailable (OperationalError)" in caplog.text


def test_unknown_pages_get_the_styled_404(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    html = response.get_data(as_text=True)
    assert "<h1>Page not found</h1>" in html
    assert 'href="/static/css/site.css"' in html


def test_a_crash_gets_the_styled_500_and_the_next_request_works(make_app, monkeypatch):
    app = make_app(PROPAGATE_EXCEPTIONS=False)
    client = app.test_client()

    def broken():
        raise RuntimeError("boom")

    monkeypatch.setattr(views, "published_testimonials", broken)
    response = client.get("/")
    assert response.status_code == 500
    assert "Sorry, something went wrong" in response.get_data(as_text=True)
    assert client.get("/healthz").status_code == 200


@pytest.mark.parametrize("path", ["/", "/apply", "/privacy", "/apply/thanks", "/no-such-page"])
def test_every_page_names_itself_and_has_a_description(client, path):
    html = client.get(path).get_data(as_text=True)
    assert "<title>" in html and "Trial Finder</title>" in html
    assert '<meta name="description" content="' in html
    assert '<html lang="en">' in html
