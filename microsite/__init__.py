"""Trial Finder microsite: ``create_app`` builds the Flask application."""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path

from flask import Flask

from . import attribution, auth, cli, config, database, errors, health, logs, models, security  # noqa: F401
from .caching import SharedCacheAwareSessionInterface
from .extensions import csrf, db, limiter, login_manager, migrate
from .public import bp as public_bp
from .staff import bp as staff_bp

ROOT = Path(__file__).resolve().parent.parent

FLASK_SETTINGS = {
    "SESSION_COOKIE_SAMESITE": "Lax",
    "SESSION_COOKIE_HTTPONLY": True,
    # A CSRF token lives as long as the session: a form left open for hours still submits.
    "WTF_CSRF_TIME_LIMIT": None,
    # hide_parameters: a database error never copies submitted values into the log.
    "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True, "hide_parameters": True},
    # If the rate-limit storage (Redis) is down, count in this process's memory and log it,
    # and never fail a request because of the limiter; short timeouts keep pages fast.
    "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
    "RATELIMIT_SWALLOW_ERRORS": True,
    "RATELIMIT_STORAGE_OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
    # Only staff sessions are permanent; they end 8 hours after sign-in at the latest.
    "PERMANENT_SESSION_LIFETIME": timedelta(hours=8),
}


def create_app(test_config: Mapping | None = None) -> Flask:
    """Build the app. Settings: defaults, ``instance/config.py``, the environment, then
    ``test_config`` (tests only; it may name another ``INSTANCE_PATH``)."""
    test_config = dict(test_config or {})
    app = Flask(
        __name__,
        instance_path=str(test_config.pop("INSTANCE_PATH", ROOT / "instance")),
        instance_relative_config=True,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    app.config.from_mapping(FLASK_SETTINGS)
    app.config.from_mapping(config.DEFAULTS)
    app.config.from_pyfile("config.py", silent=True)
    app.config.update(config.from_environment(os.environ))
    app.config.update(test_config)
    config.finish(app.config, app.instance_path)
    if app.config["MICROSITE_ENV"] == "production":
        problems = security.configuration_problems(app.config)
        if problems:
            raise config.ConfigError("refusing to start in production: " + "; ".join(problems))

    logs.init_app(app)
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
    app.session_interface = SharedCacheAwareSessionInterface()
    security.init_app(app)
    database.init_app(app)
    migrate.init_app(
        app, db, directory=str(ROOT / "migrations"), render_item=models.render_migration_item
    )
    csrf.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)
    attribution.init_app(app)
    errors.init_app(app)
    cli.init_app(app)

    app.register_blueprint(public_bp)
    app.register_blueprint(staff_bp)
    app.register_blueprint(health.bp)
    return app
