"""Configuration layers and the development secret key."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from microsite import create_app
from microsite.config import ConfigError

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for name in (
        "MICROSITE_ENV",
        "SECRET_KEY",
        "MFA_ENCRYPTION_KEY",
        "WEBAUTHN_RP_ID",
        "DATABASE_URL",
        "ORG_NAME",
        "CALLBACK_BUSINESS_DAYS",
        "MAIL_USE_TLS",
        "MAIL_USE_SSL",
        "RATELIMIT_ENABLED",
        "PUBLIC_URL",
        "PORT",
    ):
        monkeypatch.delenv(name, raising=False)


def build(instance: Path, **settings):
    return create_app({"INSTANCE_PATH": instance, **settings})


def test_defaults_apply_without_any_configuration(tmp_path):
    app = build(tmp_path)
    assert app.config["MICROSITE_ENV"] == "development"
    assert app.config["PUBLIC_URL"] == "http://localhost:5000"
    assert app.config["RETENTION_DAYS"] == 730
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path}/microsite.sqlite3"


def test_the_development_address_follows_port_unless_public_url_is_set(tmp_path, monkeypatch):
    monkeypatch.setenv("PORT", "8123")
    assert build(tmp_path).config["PUBLIC_URL"] == "http://localhost:8123"
    monkeypatch.setenv("PUBLIC_URL", "https://trials.example.org/")
    assert build(tmp_path).config["PUBLIC_URL"] == "https://trials.example.org"


def test_instance_file_overrides_defaults_and_environment_overrides_both(tmp_path, monkeypatch):
    (tmp_path / "config.py").write_text('ORG_NAME = "From the file"\nRETENTION_DAYS = 100\n')
    app = build(tmp_path)
    assert (app.config["ORG_NAME"], app.config["RETENTION_DAYS"]) == ("From the file", 100)
    monkeypatch.setenv("ORG_NAME", "From the environment")
    monkeypatch.setenv("CALLBACK_BUSINESS_DAYS", "4")
    app = build(tmp_path)
    assert app.config["ORG_NAME"] == "From the environment"
    assert app.config["CALLBACK_BUSINESS_DAYS"] == 4
    assert app.config["RETENTION_DAYS"] == 100


@pytest.mark.parametrize(
    ("raw", "value"), [("true", True), ("1", True), ("Off", False), ("no", False)]
)
def test_switches_read_from_the_environment(tmp_path, monkeypatch, raw, value):
    monkeypatch.setenv("RATELIMIT_ENABLED", raw)
    assert build(tmp_path).config["RATELIMIT_ENABLED"] is value


def test_database_url_switches_the_database(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/other.sqlite3")
    assert (
        build(tmp_path).config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path}/other.sqlite3"
    )


def test_a_trailing_slash_on_public_url_is_dropped(tmp_path):
    assert (
        build(tmp_path, PUBLIC_URL="https://trials.example/").config["PUBLIC_URL"]
        == "https://trials.example"
    )


@pytest.mark.parametrize(
    ("environment", "message"),
    [
        ({"CALLBACK_BUSINESS_DAYS": "three"}, "CALLBACK_BUSINESS_DAYS must be a whole number"),
        ({"MICROSITE_ENV": "staging"}, "MICROSITE_ENV must be one of development, production"),
        ({"MICROSITE_ENV": "production"}, "SECRET_KEY must be set in production"),
        ({"MAIL_USE_TLS": "maybe"}, "MAIL_USE_TLS must be true or false"),
        (
            {"MAIL_USE_TLS": "true", "MAIL_USE_SSL": "1"},
            "set MAIL_USE_TLS or MAIL_USE_SSL, not both",
        ),
    ],
)
def test_a_configuration_that_cannot_run_is_refused(tmp_path, monkeypatch, environment, message):
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=message):
        build(tmp_path)
    assert not (tmp_path / "secret_key").exists()  # production never generates a key


def test_production_runs_with_a_configured_key(tmp_path, monkeypatch):
    monkeypatch.setenv("MICROSITE_ENV", "production")
    key = "3f9c2a7b1e8d4f6a0c5b9e2d7a1f4c8b" * 2
    mfa_key = "7e1d9b3a5c8f2e4d6b0a9c7e5f3d1b2a" * 2
    monkeypatch.setenv("SECRET_KEY", key)
    monkeypatch.setenv("MFA_ENCRYPTION_KEY", mfa_key)
    app = build(tmp_path)
    assert app.secret_key == key
    assert app.config["MFA_ENCRYPTION_KEY"] == mfa_key
    assert not (tmp_path / "mfa_key").exists()  # production never generates a key


def test_development_generates_a_private_key_once_and_reuses_it(tmp_path):
    first = build(tmp_path)
    for name in ("secret_key", "mfa_key"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600
    assert len(first.secret_key) == 64 and len(first.config["MFA_ENCRYPTION_KEY"]) == 64
    assert first.config["MFA_ENCRYPTION_KEY"] != first.secret_key  # a key of its own
    again = build(tmp_path)
    assert again.secret_key == first.secret_key
    assert again.config["MFA_ENCRYPTION_KEY"] == first.config["MFA_ENCRYPTION_KEY"]
    # No temporary files left.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mfa_key", "secret_key"]


def test_an_empty_key_file_is_reported(tmp_path):
    (tmp_path / "secret_key").write_text("")
    with pytest.raises(ConfigError, match="is empty"):
        build(tmp_path)


def test_workers_starting_at_once_agree_on_one_key(tmp_path):
    script = (
        "import sys; from microsite import create_app; "
        "print(create_app({'INSTANCE_PATH': sys.argv[1], 'DATABASE_URL': 'sqlite://'}).secret_key)"
    )
    environment = {k: v for k, v in os.environ.items() if k != "SECRET_KEY"}
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(tmp_path)],
            cwd=ROOT,
            env=environment,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(8)
    ]
    keys = {worker.communicate(timeout=60)[0].strip() for worker in workers}
    assert all(worker.returncode == 0 for worker in workers)
    assert len(keys) == 1
    assert keys == {(tmp_path / "secret_key").read_text()}
