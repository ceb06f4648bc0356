"""The clinic booking application."""

from pathlib import Path

from flask import Flask

from .config import Config

ROOT = Path(__file__).resolve().parent.parent


def create_app(config: object | None = None) -> Flask:
    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
        instance_path=str(ROOT / "instance"),
    )
    app.config.from_object(config or Config())
    from .limits import LengthForStreamedBodies

    app.wsgi_app = LengthForStreamedBodies(app.wsgi_app, app.config["MAX_CONTENT_LENGTH"])
    if app.config.get("PROXY_COUNT"):
        from werkzeug.middleware.proxy_fix import ProxyFix

        count = app.config["PROXY_COUNT"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=count)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)

    from . import cli, db_setup, logredact, schedule_version, security
    from .api import bp as api_bp
    from .extensions import csrf, db, limiter, login, migrate
    from .staff import bp as staff_bp
    from .web import booking_bp, filters, health_bp, manage_bp, webhooks_bp
    from .web import errors as web_errors

    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"))
    csrf.init_app(app)
    login.init_app(app)
    limiter.init_app(app)
    with app.app_context():
        db_setup.configure_engine(db.engine)

    app.register_blueprint(api_bp)
    csrf.exempt(api_bp)
    app.register_blueprint(booking_bp)
    app.register_blueprint(manage_bp)
    app.register_blueprint(health_bp)
    app.register_blueprint(webhooks_bp)
    app.register_blueprint(staff_bp)
    security.init_app(app)
    filters.init_app(app)
    web_errors.init_app(app)
    cli.init_app(app)
    logredact.install()
    schedule_version.init_app(app)
    return app
