"""The aufsicht web application: ``create_app`` builds a configured Flask app without side effects."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, g, has_request_context, request, session
from flask.json.provider import DefaultJSONProvider

from app import config as config_module
from app.extensions import babel, csrf, db, login_manager, migrate

MIGRATIONS_DIR = str(Path(__file__).resolve().parent.parent / "migrations")
# Paths whose answers are never cached: logged-in areas, and the login's own steps (second factor, enrolment).
NO_STORE_PATHS = ("/account", "/candidate", "/proctor", "/staff", "/admin", "/login", "/password-reset", "/sso",
                  "/verify-email", "/institutions")
# The domain modules that define jobs (``kernel.jobs`` learns them from here, see ``create_app``).
JOB_MODULES = ["accounts.jobs", "exams.jobs", "storage.jobs", "idcheck.jobs", "privacy.jobs", "proctoring.jobs",
               "lti.jobs", "accounts.saml", "results.jobs"]


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the app: defaults, then environment, then ``config``; bind extensions and blueprints."""
    app = Flask(__name__, instance_path=os.environ.get("AUFSICHT_INSTANCE_PATH") or None,
                instance_relative_config=True)
    app.json = RequestJSONProvider(app)
    app.config.from_mapping(config_module.DEFAULTS)
    app.config.update(config_module.from_environment())
    app.config.from_prefixed_env("AUFSICHT", loads=_loads)
    if config:
        app.config.update(config)
    if "INSTANCE_PATH" in app.config:
        app.instance_path = app.config["INSTANCE_PATH"]
    if not app.config.get("SQLALCHEMY_DATABASE_URI"):
        app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite:///" + os.path.join(app.instance_path, "aufsicht.db")
    if str(app.config["SQLALCHEMY_DATABASE_URI"]).startswith("postgresql"):
        # An unreachable database host (not a refused connection) must fail a request in seconds, as a 503.
        options = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
        options["connect_args"] = {"connect_timeout": int(app.config.get("DATABASE_CONNECT_TIMEOUT", 5)),
                                   **options.get("connect_args", {})}
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options
    if not app.config.get("SECRET_KEY"):
        from kernel.secrets import ensure_secret

        app.config["SECRET_KEY"] = ensure_secret(app.instance_path, "secret_key")

    from accounts.services import set_hash_cost

    set_hash_cost(_hash_cost(app.config["PASSWORD_HASH_COST"]))
    db.init_app(app)
    migrate.init_app(app, db, directory=MIGRATIONS_DIR, render_as_batch=True, compare_type=True)
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    # No IP-bound session protection: a candidate whose address changes mid-exam (mobile network, VPN) stays
    # logged in, and Flask-Login's identifier would trust a client-set X-Forwarded-For. Sessions end on the
    # server instead: the session version in every cookie is checked on each request (accounts.services).
    login_manager.session_protection = None
    babel.init_app(app, locale_selector=_select_locale)
    _import_models()

    from kernel.jobs import configure, make_runner

    configure(JOB_MODULES, create_app)
    from exams import evidence

    evidence.register()  # the "attempt" retention anchor: when an attempt's recordings may go
    from accounts import sealing

    sealing.register()  # OpenID client secrets and TOTP secrets are re-sealed with the storage master keys
    from oversight import runlog

    runlog.register()  # every detector run that raises a flag is logged (EU AI Act Art. 12)
    from kernel import supervision
    from lti.proctoring import tell_platform

    supervision.listen(tell_platform)  # a platform's assessment under LTI Proctoring learns of flags and decisions
    from results import webhooks

    webhooks.register()  # results released, certificates issued or revoked, appeals decided: signed webhooks
    app.extensions["aufsicht.jobs"] = make_runner(app)

    from app.errors import register_error_handlers
    from app.views import register_blueprints

    register_blueprints(app)
    register_error_handlers(app)
    from app.labels import register_labels

    register_labels(app)
    from app import localtime

    localtime.register(app)

    from app.cli import register_cli

    register_cli(app)
    _register_request_hooks(app)
    from app import proxies as proxy_guard
    from app.errors import LastResort

    proxy_guard.register(app)
    proxies = int(app.config.get("TRUSTED_PROXIES") or 0)
    if proxies > 0:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)  # type: ignore[method-assign]
    from app import static_files

    static_files.install(app)
    app.wsgi_app = LastResort(app.wsgi_app)  # type: ignore[method-assign]
    return app


class RequestJSONProvider(DefaultJSONProvider):
    """JSON that only yields what we can store and render: a body nested too deeply, or with a lone UTF-16
    surrogate or a NUL character in a string, is invalid JSON (400), like any other malformed body."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        """Parse like Flask, then refuse what the database or the UTF-8 response could not take."""
        try:
            value = super().loads(s, **kwargs)
        except RecursionError:
            raise ValueError("JSON nested too deeply") from None
        stack = [value]
        while stack:
            item = stack.pop()
            if isinstance(item, dict):
                stack.extend(item.keys())
                stack.extend(item.values())
            elif isinstance(item, list):
                stack.extend(item)
            elif isinstance(item, str):
                if "\x00" in item:
                    raise ValueError("JSON string with a NUL character")
                try:
                    item.encode("utf-8")
                except UnicodeEncodeError:
                    raise ValueError("JSON string with a lone surrogate") from None
        return value


def _hash_cost(value: Any) -> tuple[int, int, int]:
    """``PASSWORD_HASH_COST`` as (passes, KiB, lanes): a list of three numbers or "3,65536,4"."""
    parts = value.split(",") if isinstance(value, str) else value
    try:
        passes, kib, lanes = (int(p) for p in parts)
    except (TypeError, ValueError) as err:
        raise ValueError(f"PASSWORD_HASH_COST must be three whole numbers (passes, KiB, lanes), not {value!r}") from err
    if passes < 1 or lanes < 1 or kib < 8 * lanes:
        raise ValueError(f"PASSWORD_HASH_COST {value!r} is below Argon2's minimum (1 pass, 8 KiB per lane)")
    return passes, kib, lanes


def _loads(value: str) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        return value


def _import_models() -> None:
    """Import every model module so metadata (and Alembic) sees all tables."""
    import accounts.accessibility
    import accounts.models
    import accounts.saml  # noqa: F401  (SAML identity providers and account links)
    import exams.models  # noqa: F401
    import idcheck.models  # noqa: F401
    import lti.models  # noqa: F401  (LTI 1.3 platforms, links, enrolments, proctoring)
    import oversight.models  # noqa: F401  (the detector-run log)
    import proctoring.models  # noqa: F401
    import results.models  # noqa: F401  (API tokens, webhook endpoints and deliveries)
    import storage.models  # noqa: F401
    from accounts import oidc  # noqa: F401  (OpenID providers and account links)


def _select_locale() -> str | None:
    from flask import current_app

    if not has_request_context():  # the CLI and jobs: the default language (e.g. a QTI import's reasons)
        return str(current_app.config["BABEL_DEFAULT_LOCALE"])
    langs: list[str] = current_app.config["LANGUAGES"]
    chosen = session.get("lang")
    if chosen in langs:
        return str(chosen)
    return request.accept_languages.best_match(langs) or current_app.config["BABEL_DEFAULT_LOCALE"]


def _register_request_hooks(app: Flask) -> None:
    from accounts.services import load_session_user

    @login_manager.user_loader
    def _load(session_id: str) -> Any:
        return load_session_user(session_id)

    @login_manager.unauthorized_handler
    def _unauthorized() -> Any:
        from flask import redirect, url_for
        from flask_babel import gettext as _

        from app.errors import error_response, wants_json

        if wants_json():
            return error_response(401, "login_required", _("Please log in (your session may have expired)."))
        return redirect(url_for("auth.login", next=_back_to()))

    def _back_to() -> str | None:
        """Where to return after logging in: this page, or for a form post the page the form was on
        (a POST-only URL opened with GET after the login would only give 405)."""
        if request.method == "GET":
            return request.full_path.rstrip("?")
        ref = urlsplit(request.referrer or "")
        if ref.netloc == request.host and ref.path.startswith("/") and not ref.path.startswith("//"):
            return ref.path + (f"?{ref.query}" if ref.query else "")
        return None

    @app.before_request
    def _refuse_nul_characters() -> None:
        # No text of ours has a use for NUL, and PostgreSQL text cannot store it (the insert fails: a 500).
        # JSON bodies are checked by RequestJSONProvider; uploaded files are not text and are not looked at.
        from itertools import chain

        from flask_babel import gettext as _

        from kernel.errors import ValidationFailed

        texts = chain(request.args.items(multi=True), request.form.items(multi=True),
                      (request.view_args or {}).items())
        # (A multipart part whose name is not valid UTF-8 arrives with the name None.)
        if any(any(isinstance(t, str) and "\x00" in t for t in pair) for pair in texts):
            raise ValidationFailed(_("Text must not contain NUL characters."), fields={"body": "NUL character"})

    @app.context_processor
    def _template_globals() -> dict[str, Any]:
        from flask_babel import get_locale

        from app.page_gettext import page_translations

        # Each render's own ``_``/``ngettext``: Flask-Babel asked once per string, in the locale of this render
        # (a mail under force_locale included).
        return {"get_locale": get_locale, **page_translations()}

    @app.after_request
    def _headers(resp: Any) -> Any:
        from app.static_files import SECURITY_HEADERS

        for name, value in SECURITY_HEADERS.items():
            resp.headers.setdefault(name, value)
        if app.config["SESSION_COOKIE_SECURE"]:
            resp.headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        # Pages with secrets or personal data (the second factor's enrolment secret and recovery codes, JSON
        # answers) never go into a browser's or a proxy's cache; public pages that may be cached say so themselves.
        if getattr(g, "no_store", False) or request.path.startswith(NO_STORE_PATHS) or resp.is_json:
            resp.headers.setdefault("Cache-Control", "no-store")
        return resp
