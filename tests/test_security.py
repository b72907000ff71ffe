"""Security hardening through HTTP: headers, cookies, request bounds, proxies, CSRF on
every POST, and a production configuration that refuses to start unsafe."""

from __future__ import annotations

import logging
import re

import pytest

from microsite import create_app
from microsite.config import ConfigError
from microsite.extensions import db, limiter
from microsite.models import Lead
from microsite.web.security import CONTENT_SECURITY_POLICY
from tests.helpers import VALID_APPLICATION, form_filler, free_port, share_form_for


def every_get_path(app) -> list[str]:
    """Every GET route of the url_map, with 1 for each variable part."""
    rules = [rule for rule in app.url_map.iter_rules() if "GET" in (rule.methods or ())]
    return [re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", "1", rule.rule) for rule in rules]


def assert_security_headers(headers, path: str) -> None:
    assert headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY, path
    assert headers["X-Content-Type-Options"] == "nosniff", path
    assert headers["Referrer-Policy"] == "same-origin", path
    assert headers["Cross-Origin-Opener-Policy"] == "same-origin", path
    assert headers["X-Frame-Options"] == "DENY", path
    policy = headers["Permissions-Policy"]
    for denied in ("camera=()", "microphone=()", "geolocation=()", "payment=()"):
        assert denied in policy, path
    assert "clipboard-write=(self)" in policy and "web-share=()" not in policy, path
    # Passkeys sign staff in, on this site only.
    assert "publickey-credentials-get=(self)" in policy, path
    assert "publickey-credentials-create=(self)" in policy, path
    assert "publickey-credentials-get=()" not in policy, path
    assert "Strict-Transport-Security" not in headers, path  # plain HTTP: no HSTS


def test_every_route_carries_the_security_headers(app, staff_client, apply_form):
    """Enumerated from the url_map, anonymous and signed in, plus a 404 and a refused POST."""
    paths = every_get_path(app) + ["/no-such-page"]
    assert len(paths) >= 20
    for client in (app.test_client(), staff_client):
        for path in paths:
            response = client.get(path)
            response.close()
            assert_security_headers(response.headers, path)
    refused = app.test_client().post("/apply", data=apply_form(email="not an address"))
    assert_security_headers(refused.headers, "POST /apply")


def test_pages_with_personal_data_are_never_stored_by_caches(
    app, client, staff_client, apply_form, share_form
):
    assert client.post("/apply", data=apply_form()).status_code == 303
    personal = ["/apply/thanks"]
    sent = client.post("/share", data=share_form())
    personal.append(sent.headers["Location"])
    personal += [path for path in every_get_path(app) if path.startswith("/staff/")]
    for path in personal:
        viewer = staff_client if path.startswith("/staff/") else client
        response = viewer.get(path)
        response.close()
        assert "no-store" in response.headers["Cache-Control"], path


def test_the_csp_allows_nothing_inline_or_foreign():
    assert (
        "'unsafe-inline'" not in CONTENT_SECURITY_POLICY and "http" not in CONTENT_SECURITY_POLICY
    )
    for directive in (
        "default-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "object-src 'none'",
    ):
        assert directive in CONTENT_SECURITY_POLICY


def test_no_template_has_inline_script_or_style(client):
    for path in ("/", "/apply", "/share", "/privacy", "/staff/login"):
        html = client.get(path).get_data(as_text=True)
        assert "<style" not in html and " style=" not in html
        assert not re.search(r"<script(?![^>]*\bsrc=)", html)
        assert not re.search(r"\son[a-z]+=", html)


def test_cookies_are_httponly_and_samesite_lax(client):
    cookie = client.get("/apply").headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie


def test_under_https_cookies_are_secure_host_cookies_and_hsts_is_sent(make_app):
    client = make_app(PUBLIC_URL="https://trials.example").test_client()
    response = client.get("/apply", base_url="https://trials.example")
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("__Host-session=")
    assert "Secure" in cookie and "Path=/" in cookie and "Domain" not in cookie
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


def test_a_body_over_64_kb_gets_a_clean_413(client, apply_form):
    response = client.post("/apply", data=apply_form(name="x" * 70_000))
    assert response.status_code == 413
    assert "<h1>Request Entity Too Large</h1>" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "body",
    [
        b"name=\xff\xfe\xfa&email=a@example.com",
        b"name=%zz%&&&=&email",
        b"\x00\x01\x02",
        b"a" * 1000,
    ],
)
def test_malformed_form_bodies_get_a_clean_answer(client, body):
    client.get("/apply")
    response = client.post("/apply", data=body, content_type="application/x-www-form-urlencoded")
    assert response.status_code in (400, 422)


def test_every_post_route_refuses_a_request_without_a_valid_token(app):
    """Enumerated from the url_map: a route added later is covered without editing this."""
    posts = [rule for rule in app.url_map.iter_rules() if "POST" in (rule.methods or ())]
    assert len(posts) >= 8
    for rule in posts:
        path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", "1", rule.rule)
        client = app.test_client()
        client.get("/apply")  # a session, but no token sent
        response = client.post(path, data={"name": "x"})
        # In English and in Spanish: their signed tokens are what they check (RFC 8058).
        if rule.endpoint.endswith((".unsubscribe_confirmed", ".alerts_stop_confirmed")):
            assert response.status_code == 404, path
        else:
            assert response.status_code == 400, (path, response.status_code)


def shares_claiming(app, *claims: tuple[str, str]) -> tuple[int, ...]:
    """The statuses of /share sent by one client, to each friend, claiming to be sent for
    each address by an X-Forwarded-For header."""
    client = app.test_client()
    fill = share_form_for(client)
    return tuple(
        client.post(
            "/share", data=fill(friend_email=friend), headers={"X-Forwarded-For": address}
        ).status_code
        for address, friend in claims
    )


def test_forwarded_headers_are_ignored_without_trusted_proxies(make_app):
    app = make_app(RATELIMIT_ENABLED=True, SHARE_RATE_LIMIT="1 per hour")
    statuses = shares_claiming(
        app, ("203.0.113.1", "a@example.com"), ("203.0.113.2", "b@example.com")
    )
    assert statuses == (303, 429)  # one client, whatever it claims


def test_behind_a_trusted_proxy_the_real_client_is_seen(make_app):
    app = make_app(RATELIMIT_ENABLED=True, SHARE_RATE_LIMIT="1 per hour", TRUSTED_PROXY_HOPS=1)
    statuses = shares_claiming(
        app,
        ("203.0.113.1", "a@example.com"),
        ("203.0.113.2", "b@example.com"),
        ("203.0.113.1", "c@example.com"),
    )
    assert statuses == (303, 303, 429)


@pytest.fixture
def limit_storage_down(make_app):
    app = make_app(
        RATELIMIT_ENABLED=True,
        RATELIMIT_STORAGE_URI=f"redis://127.0.0.1:{free_port()}",
        APPLY_RATE_LIMIT="1 per hour",
    )
    yield app
    limiter._storage_dead = False  # the limiter object outlives this app


def test_with_the_limit_storage_down_the_site_keeps_serving_and_logs_it(limit_storage_down, caplog):
    caplog.set_level(logging.INFO)
    client = limit_storage_down.test_client()
    fill = form_filler(client, "/apply", VALID_APPLICATION)
    assert client.post("/apply", data=fill()).status_code == 303
    with limit_storage_down.app_context():
        assert db.session.query(Lead).count() == 1
    assert "Rate limit storage unreachable - falling back to in-memory storage" in caplog.text
    assert client.get("/").status_code == 200


def test_with_the_limit_storage_down_limits_are_counted_in_memory(limit_storage_down):
    client = limit_storage_down.test_client()
    fill = form_filler(client, "/apply", VALID_APPLICATION)
    assert client.post("/apply", data=fill()).status_code == 303
    limited = client.post("/apply", data=fill(name="Still Typed"))
    assert limited.status_code == 429
    assert 'value="Still Typed"' in limited.get_data(as_text=True)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"SECRET_KEY": "short"}, "SECRET_KEY is missing or weak"),
        ({"SECRET_KEY": "a" * 64}, "SECRET_KEY is missing or weak"),
        ({"SECRET_KEY": "k3y-" * 16, "DEBUG": True}, "debug mode is on"),
        (
            {"SECRET_KEY": "9f8e7d6c5b4a3928" * 4, "PASSWORD_HASH_METHOD": "scrypt:1024:8:1"},
            "PASSWORD_HASH_METHOD is weaker than werkzeug's scrypt default",
        ),
        (
            {"SECRET_KEY": "9f8e7d6c5b4a3928" * 4, "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"},
            "PASSWORD_HASH_METHOD is weaker",
        ),
    ],
)
def test_production_refuses_to_start_unsafe(tmp_path, settings, message):
    with pytest.raises(ConfigError, match=message):
        create_app(
            {
                "INSTANCE_PATH": tmp_path,
                "MICROSITE_ENV": "production",
                "DATABASE_URL": "sqlite://",
                **settings,
            }
        )


@pytest.mark.parametrize("method", ["scrypt", "scrypt:32768:8:1", "scrypt:65536:8:2"])
def test_production_accepts_scrypt_at_full_cost_or_more(tmp_path, method):
    create_app(
        {
            "INSTANCE_PATH": tmp_path,
            "MICROSITE_ENV": "production",
            "DATABASE_URL": "sqlite://",
            "SECRET_KEY": "9f8e7d6c5b4a39281706f5e4d3c2b1a0" * 2,
            "MFA_ENCRYPTION_KEY": "0a1b2c3d4e5f60718293a4b5c6d7e8f9" * 2,
            "PASSWORD_HASH_METHOD": method,
        }
    )


def test_production_starts_with_a_strong_key(tmp_path):
    app = create_app(
        {
            "INSTANCE_PATH": tmp_path,
            "MICROSITE_ENV": "production",
            "DATABASE_URL": "sqlite://",
            "SECRET_KEY": "9f8e7d6c5b4a39281706f5e4d3c2b1a0" * 2,
            "MFA_ENCRYPTION_KEY": "0a1b2c3d4e5f60718293a4b5c6d7e8f9" * 2,
        }
    )
    result = app.test_cli_runner().invoke(args=["check-config"])
    assert result.exit_code == 0 and "Configuration OK" in result.output


def test_check_config_reports_a_development_setup(app):
    result = app.test_cli_runner().invoke(args=["check-config"])
    assert result.exit_code == 1
    assert "MICROSITE_ENV is not production" in result.output
