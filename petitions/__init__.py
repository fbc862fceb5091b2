"""The petition platform: `create_app()` builds a configured Flask application."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import Flask

ROOT = Path(__file__).resolve().parent.parent


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app: class defaults, then the environment, then `test_config`.

    Nothing is connected or started at import time; the in-process mail worker (for
    `make run`) starts only under `flask serve`.
    """
    from config import CONFIGS, DEFAULT_SECRET_KEY, setting

    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
        instance_path=str(ROOT / "instance"),
    )
    env_name = (test_config or {}).get("PETITIONS_ENV") or os.environ.get(
        "PETITIONS_ENV", setting("PETITIONS_ENV").default
    )
    if env_name not in CONFIGS:
        raise RuntimeError(f"PETITIONS_ENV must be one of {sorted(CONFIGS)}, not {env_name!r}")
    config_class = CONFIGS[env_name]
    app.config.from_object(config_class)
    app.config.update(config_class.from_environment())
    if test_config:
        app.config.update(test_config)
    app.config["PETITIONS_ENV"] = env_name

    if env_name == "production" and app.config["SECRET_KEY"] in ("", None, DEFAULT_SECRET_KEY):
        raise RuntimeError(
            "Refusing to start in production with the default or an empty SECRET_KEY: "
            "set SECRET_KEY to a long random value."
        )
    if env_name == "production" and app.config.get("TRUSTED_HOSTS") is None:
        host = urlsplit(app.config["PUBLIC_BASE_URL"]).hostname
        app.config["TRUSTED_HOSTS"] = [host] if host else None
    app.config["SQLALCHEMY_DATABASE_URI"] = database_url(app.config["SQLALCHEMY_DATABASE_URI"])
    if app.config.get("DATABASE_REPLICA_URL"):
        app.config["DATABASE_REPLICA_URL"] = database_url(app.config["DATABASE_REPLICA_URL"])
    if not app.config.get("SIGNER_HASH_KEY"):
        app.config["SIGNER_HASH_KEY"] = app.config["SECRET_KEY"]
    from .emailaddr import configured_alias_rules

    app.config["EMAIL_ALIAS_RULES"] = configured_alias_rules(app.config["EMAIL_ALIAS_RULES"])

    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///"):
        Path(app.instance_path).mkdir(parents=True, exist_ok=True)

    from . import (
        assets,
        auth,
        cli,
        database,
        emails,
        errors,
        http,
        i18n,
        labels,
        languages,
        limits,
        passwords,
        replica,
        security,
    )
    from .extensions import csrf, db, migrate
    from .forms import FormRequest

    app.request_class = FormRequest

    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True)
    csrf.init_app(app)
    passwords.init_app(app)
    auth.init_app(app)
    database.init_app(app)
    replica.init_app(app)
    languages.init_app(app)
    assets.init_app(app)
    i18n.init_app(app)
    labels.init_app(app)
    emails.init_app(app)
    security.init_app(app)
    limits.init_app(app)
    http.init_app(app)
    errors.init_app(app)
    cli.init_app(app)

    from .admin.views import bp as admin_bp
    from .api.views import bp as api_bp
    from .auth.views import bp as auth_bp
    from .moderation.investigation import bp as investigation_bp
    from .moderation.views import bp as moderation_bp
    from .organiser.export import bp as export_bp
    from .organiser.views import bp as organiser_bp
    from .public.feed import bp as feed_bp
    from .public.live import bp as live_bp
    from .public.views import bp as public_bp
    from .services import search
    from .signing.sponsors import bp as sponsors_bp
    from .signing.unsubscribe import bp as unsubscribe_bp
    from .signing.views import bp as signing_bp

    search.init_app(app)
    app.register_blueprint(public_bp)
    app.register_blueprint(live_bp)
    app.register_blueprint(feed_bp)
    app.register_blueprint(signing_bp)
    app.register_blueprint(organiser_bp)
    app.register_blueprint(sponsors_bp)
    app.register_blueprint(export_bp)
    app.register_blueprint(moderation_bp)
    app.register_blueprint(investigation_bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(unsubscribe_bp)
    app.register_blueprint(api_bp)

    from . import worker
    from .text import paragraphs, summary

    worker.init_app(app)
    app.add_template_filter(paragraphs)
    app.add_template_filter(summary)
    from . import answers

    answers.init_app(app)  # last: the outermost WSGI layer
    return app


def database_url(url: str) -> str:
    """Accept `postgres://` and `postgresql://` URLs; PostgreSQL is driven by psycopg 3."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url
