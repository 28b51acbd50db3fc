"""HTTP rendering of the error hierarchy (``kernel.errors``).

Domain code raises a :class:`DomainError` subclass; the handlers registered by
:func:`register_error_handlers` turn it into ``{"error": {"code", "message"}}``
for JSON clients and an HTML page for browsers. Users never see a traceback.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from flask import Flask, Response, g, jsonify, make_response, render_template, request
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from kernel.errors import (
    INTERNAL_MESSAGE,
    DomainError,
    ServiceUnavailable,
    ValidationFailed,
    outage_errors,
)

log = logging.getLogger(__name__)



# What a person sees for an HTTP error raised by routing or Werkzeug (a wrong URL, a wrong method,
# an oversized body), in the UI language rather than Werkzeug's English.
HTTP_MESSAGES = {
    400: _l("The request could not be understood. Please reload the page and try again."),
    401: _l("Please log in."),
    403: _l("You are not allowed to do this."),
    404: _l("This page does not exist, or it is not yours to see."),
    405: _l("This action is not possible here."),
    408: _l("The request took too long. Please try again."),
    413: _l("The upload is too large."),
    415: _l("This kind of content is not accepted here."),
    429: _l("Too many requests. Please wait a moment and try again."),
}


def wants_json() -> bool:
    """True when the client asked for JSON (API path, JSON body or Accept header)."""
    if request.path.startswith("/api/") or request.is_json:
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]


def error_response(
    status: int, code: str, message: str, extra: dict[str, object] | None = None
) -> tuple[Response | str, int]:
    """Render one error as JSON or as an HTML page, by what the client wants."""
    if wants_json():
        body: dict[str, object] = {"code": code, "message": message}
        if extra:
            body.update(extra)
        return jsonify({"error": body}), status
    return render_template("error.html", status=status, code=code, message=message, extra=extra or {}), status


def _without_user() -> None:
    """Render this response without loading the user: the database may be down. Flask-Login's template
    context loads the user for every page unless this request already has one (``g._login_user``)."""
    from app.extensions import login_manager

    g.service_unavailable = True  # base.html then leaves out the user's name and the login links
    if "_login_user" not in g:
        g._login_user = login_manager.anonymous_user()


def register_error_handlers(app: Flask) -> None:
    """Install the handlers for domain errors, HTTP errors and unexpected ones."""

    @app.errorhandler(DomainError)
    def _domain(err: DomainError) -> Response:
        extra: dict[str, object] | None = None
        if isinstance(err, ValidationFailed) and err.fields:
            extra = {"fields": err.fields}
        if isinstance(err, ServiceUnavailable):
            _without_user()
        message = err.message
        if message == err.default_message() and err.status in HTTP_MESSAGES and not wants_json():
            message = str(HTTP_MESSAGES[err.status])  # a page in the UI language, not "Not found."
        resp = make_response(*error_response(err.status, err.code, message, extra))
        if isinstance(err, ServiceUnavailable):
            resp.headers["Retry-After"] = str(err.retry_after)
        return resp

    @app.errorhandler(HTTPException)
    def _http(err: HTTPException) -> tuple[Response | str, int] | HTTPException:
        if err.code is None or err.code < 400:
            return err
        code = (err.name or "error").lower().replace(" ", "_")
        message = err.description or err.name
        if message == type(err).description and err.code in HTTP_MESSAGES:
            message = str(HTTP_MESSAGES[err.code])  # Werkzeug's own text is English; ours is in the UI language
        return error_response(err.code, code, message)

    @app.errorhandler(CSRFError)
    def _csrf(err: CSRFError) -> Any:
        # A page's CSRF token belongs to its session. Once the session has ended (cookie cleared or too old)
        # the token cannot be valid, and the true answer for a protected view is "log in again" (401 or the
        # login redirect): exam.js keeps an unsent answer on 401 but drops it on 400 as refused.
        from flask_login import current_user

        from app.extensions import login_manager

        view = app.view_functions.get(request.endpoint or "")
        try:
            anonymous = not current_user.is_authenticated
        except outage_errors() as outage:  # the user is loaded from the database, which may be down
            return _outage(outage)
        if anonymous and getattr(view, "required_roles", None):
            return login_manager.unauthorized()
        # Its own code, so that a page holding a token of an earlier session can fetch the current one.
        return error_response(400, "csrf_invalid", err.description or "CSRF token invalid")

    def _outage(err: Exception) -> Response:
        from flask_babel import gettext as _

        from kernel.db import db

        # One line, no traceback: an outage of a service is expected now and then, not a bug of ours.
        log.warning("service unavailable on %s %s: %s: %s", request.method, request.path, type(err).__name__,
                    (str(err).splitlines() or [""])[0])
        with contextlib.suppress(Exception):  # the connection may be gone: rolling back is best effort
            db.session.rollback()
        return _domain(ServiceUnavailable(_("The service is briefly unavailable. Please try again in a moment; "
                                            "what you saved before is not lost.")))

    for exc in outage_errors():
        app.register_error_handler(exc, _outage)

    @app.errorhandler(Exception)
    def _unexpected(err: Exception) -> tuple[Response | str, int]:
        from kernel.db import db

        log.exception("unhandled error on %s %s", request.method, request.path)
        with contextlib.suppress(Exception):  # a broken connection must not turn the page into a bare 500
            db.session.rollback()
        return error_response(500, "internal_error", INTERNAL_MESSAGE)


class LastResort:
    """WSGI middleware: an exception that escapes Flask (its error handler failed too, or the teardown did,
    as when the database goes away in the middle of a request) becomes a plain answer in our error shape,
    503 for an outage, instead of the server's bare HTML page. It touches neither the database nor templates.
    """

    def __init__(self, wsgi_app: Any) -> None:
        self.wsgi_app = wsgi_app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        """Serve the request; answer for what escaped."""
        import json
        import sys

        try:
            return self.wsgi_app(environ, start_response)
        except Exception as err:
            chain: list[BaseException] = []
            cause: BaseException | None = err
            while cause is not None and len(chain) < 10:
                chain.append(cause)
                cause = cause.__cause__ or cause.__context__
            outage = any(isinstance(e, outage_errors()) for e in chain)
            log.warning("error escaped the app on %s %s: %s", environ.get("REQUEST_METHOD"),
                        environ.get("PATH_INFO"), type(err).__name__, exc_info=not outage)
            if outage:
                status, code = "503 Service Unavailable", ServiceUnavailable.code
                message = ServiceUnavailable.default_message()
            else:
                status, code, message = "500 Internal Server Error", "internal_error", INTERNAL_MESSAGE
            body = json.dumps({"error": {"code": code, "message": message}}).encode()
            start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body))),
                                    ("Retry-After", "5"), ("Cache-Control", "no-store")], sys.exc_info())
            return [body]

