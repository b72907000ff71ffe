"""What search engines and link previews see: titles, descriptions, canonical URLs,
Open Graph tags and robots rules."""

from __future__ import annotations

import re

import pytest


def meta(html: str, attribute: str, name: str) -> str | None:
    found = re.search(rf'<meta {attribute}="{re.escape(name)}" content="([^"]*)"', html)
    return found.group(1) if found else None


@pytest.mark.parametrize("path", ["/", "/apply", "/share", "/privacy"])
def test_public_pages_have_title_description_canonical_and_open_graph(make_app, path):
    app = make_app(PUBLIC_URL="https://trials.example")
    html = app.test_client().get(path, headers={"Host": "evil.example"}).get_data(as_text=True)
    title = re.search(r"<title>(.*?) – Trial Finder</title>", html).group(1)
    assert meta(html, "property", "og:title") == title
    assert meta(html, "name", "description") == meta(html, "property", "og:description") != ""
    assert f'<link rel="canonical" href="https://trials.example{path}">' in html
    assert meta(html, "property", "og:url") == f"https://trials.example{path}"
    assert meta(html, "property", "og:image") == "https://trials.example/static/og-image.png"
    assert "evil.example" not in html
    assert meta(html, "name", "robots") is None


@pytest.mark.parametrize(
    "path", ["/apply/thanks", "/share/sent", "/staff/login", "/unsubscribe/x", "/withdraw/x"]
)
def test_private_pages_ask_not_to_be_indexed(client, path):
    html = client.get(path).get_data(as_text=True)
    assert meta(html, "name", "robots") == "noindex"


def test_robots_txt_keeps_crawlers_out_of_private_paths(client):
    response = client.get("/robots.txt")
    assert response.status_code == 200 and response.mimetype == "text/plain"
    rules = response.get_data(as_text=True).splitlines()
    assert rules[0] == "User-agent: *"
    for path in ("/staff/", "/r/", "/unsubscribe/", "/withdraw/"):
        assert f"Disallow: {path}" in rules
    assert "Set-Cookie" not in response.headers


def test_the_preview_image_is_served(client):
    response = client.get("/static/og-image.png")
    assert response.status_code == 200 and response.mimetype == "image/png"
    assert response.data[:8] == b"\x89PNG\r\n\x1a\n"
    response.close()
