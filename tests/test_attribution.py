"""Where leads come from: referral links (/r/<code>) and UTM parameters."""

from __future__ import annotations

import pytest

from microsite.models import Lead, Referral
from tests.helpers import BROWSER_UA, fetch, rows, share_form_for


@pytest.fixture
def referral(app, client) -> Referral:
    sharer = app.test_client()
    assert sharer.post("/share", data=share_form_for(sharer)()).status_code == 303
    [found] = rows(app, Referral)
    return found


def only_lead(app) -> Lead:
    [lead] = rows(app, Lead)
    return lead


def test_a_click_is_counted_remembered_and_leads_to_the_article(app, client, referral):
    response = client.get(f"/r/{referral.code}", headers={"User-Agent": BROWSER_UA})
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert "no-store" in response.headers["Cache-Control"]
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("tf_referral=")
    assert "Max-Age=2592000" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    clicked = fetch(app, Referral, referral.id)
    assert clicked.clicks == 1
    assert clicked.first_click_at == clicked.last_click_at is not None
    client.get(f"/r/{referral.code}", headers={"User-Agent": BROWSER_UA})
    again = fetch(app, Referral, referral.id)
    assert again.clicks == 2
    assert again.first_click_at == clicked.first_click_at < again.last_click_at


def test_a_lead_after_a_click_is_attributed(app, client, referral, apply_form):
    client.get(f"/r/{referral.code}", headers={"User-Agent": BROWSER_UA})
    client.post("/apply", data=apply_form())
    assert only_lead(app).referral_id == referral.id


def test_a_lead_without_a_click_is_not_attributed(app, client, apply_form):
    client.post("/apply", data=apply_form())
    assert only_lead(app).referral_id is None


def test_an_old_or_forged_cookie_attributes_nothing(app, client, referral, apply_form, monkeypatch):
    import itsdangerous.timed

    real_time = itsdangerous.timed.time.time
    monkeypatch.setattr(itsdangerous.timed.time, "time", lambda: real_time() - 31 * 24 * 3600)
    client.get(
        f"/r/{referral.code}", headers={"User-Agent": BROWSER_UA}
    )  # a cookie signed 31 days ago
    monkeypatch.setattr(itsdangerous.timed.time, "time", real_time)
    client.post("/apply", data=apply_form())
    assert only_lead(app).referral_id is None
    client.set_cookie("tf_referral", "1.forged.signature")
    client.post("/apply", data=apply_form())  # and no 500 either


@pytest.mark.parametrize(
    "user_agent",
    [
        "WhatsApp/2.23.20.0 A",
        "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
        "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        BROWSER_UA.replace(" Chrome/", " HeadlessChrome/"),  # a headless browser
        "",
    ],
)
def test_link_previews_and_crawlers_are_not_clicks(app, client, referral, user_agent):
    response = client.get(f"/r/{referral.code}", headers={"User-Agent": user_agent})
    assert response.headers["Location"] == "/"
    assert "Set-Cookie" not in response.headers
    assert fetch(app, Referral, referral.id).clicks == 0


def test_a_head_request_is_not_a_click(app, client, referral):
    client.head(f"/r/{referral.code}", headers={"User-Agent": BROWSER_UA})
    assert fetch(app, Referral, referral.id).clicks == 0


def test_a_post_is_refused(client, referral):
    assert client.post(f"/r/{referral.code}").status_code == 405


@pytest.mark.parametrize("code", ["AAAAAAAAAAAAAAAA", "short", "x" * 200, "..%2F..", "%00" * 16])
def test_an_unknown_or_malformed_code_just_goes_to_the_article(client, code):
    response = client.get(f"/r/{code}", headers={"User-Agent": BROWSER_UA})
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert "Set-Cookie" not in response.headers


def test_utm_parameters_are_kept_for_the_visit_and_stored_with_the_lead(app, client, apply_form):
    response = client.get(
        "/?utm_source=newsletter&utm_medium=email&utm_campaign=spring&utm_content=banner"
        "&utm_term=trial"
    )
    assert response.status_code == 200
    assert "Set-Cookie" in response.headers
    assert (
        "private" in response.headers["Cache-Control"]
        and "public" not in response.headers["Cache-Control"]
    )
    client.get("/privacy")
    client.post("/apply", data=apply_form())
    lead = only_lead(app)
    assert (
        lead.utm_source,
        lead.utm_medium,
        lead.utm_campaign,
        lead.utm_content,
        lead.utm_term,
    ) == (
        "newsletter",
        "email",
        "spring",
        "banner",
        "trial",
    )


def test_without_utm_the_article_stays_cookie_free_and_public(client):
    response = client.get("/?page=2")
    assert "Set-Cookie" not in response.headers
    assert "public" in response.headers["Cache-Control"]


def test_utm_values_are_trimmed_bounded_and_clean(app, client, apply_form):
    client.get("/?utm_source=" + "s" * 500 + "&utm_medium=ev%0Ail&utm_campaign=%20spaced%20")
    client.post("/apply", data=apply_form())
    lead = only_lead(app)
    assert lead.utm_source == "s" * 200
    assert lead.utm_medium is None
    assert lead.utm_campaign == "spaced"


def test_a_referral_and_utm_together(app, client, referral, apply_form):
    client.get(f"/r/{referral.code}", headers={"User-Agent": BROWSER_UA})
    client.get("/?utm_source=friend")
    client.post("/apply", data=apply_form())
    lead = only_lead(app)
    assert (lead.referral_id, lead.utm_source) == (referral.id, "friend")


def test_referral_links_are_rate_limited_per_client(make_app):
    app = make_app(RATELIMIT_ENABLED=True, REFERRAL_RATE_LIMIT="2 per minute")
    client = app.test_client()
    statuses = [client.get("/r/AAAAAAAAAAAAAAAA").status_code for _ in range(3)]
    assert statuses == [302, 302, 429]
    other = app.test_client()
    assert (
        other.get("/r/AAAAAAAAAAAAAAAA", environ_base={"REMOTE_ADDR": "192.0.2.9"}).status_code
        == 302
    )
    assert (
        app.config["RATELIMIT_ENABLED"]
        and make_app().config["REFERRAL_RATE_LIMIT"] == "60 per minute"
    )
