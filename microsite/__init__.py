"""Trial Finder microsite: ``create_app`` builds the Flask application."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from flask import Flask

from . import attribution, callbacks, cli, config, database, models
from .extensions import csrf, db, limiter, login_manager, migrate
from .links import bp as links_bp
from .public import bp as public_bp
from .staff import bp as staff_bp
from .web import errors, health, i18n, logs, replay, security, urls
from .web.caching import SharedCacheAwareSessionInterface

ROOT = Path(__file__).resolve().parent.parent


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
    app.config.from_mapping(config.FLASK_SETTINGS)
    app.config.from_mapping(config.DEFAULTS)
    app.config.from_pyfile("config.py", silent=True)
    app.config.update(config.from_environment(os.environ))
    app.config.update(test_config)
    config.finish(app.config, app.instance_path)

    logs.init_app(app)
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
    app.session_interface = SharedCacheAwareSessionInterface()
    replay.init_app(app)
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
    urls.init_app(app)
    i18n.init_app(app)
    cli.init_app(app)
    # The call-back promise in words: the thanks page and the confirmation mail.
    app.jinja_env.globals["promised_day"] = callbacks.promised_day

    app.register_blueprint(public_bp)
    # The same pages in Spanish under /es/ (web/i18n.py).
    app.register_blueprint(public_bp, name=i18n.BLUEPRINTS["es"], url_prefix=i18n.PREFIXES["es"])
    app.register_blueprint(links_bp)
    app.register_blueprint(staff_bp)
    app.register_blueprint(health.bp)
    return app
