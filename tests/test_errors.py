"""One error shape: JSON clients get {"error": {code, message}}, browsers a page, never a traceback."""

from __future__ import annotations

import pytest
from flask import Blueprint
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy.exc import OperationalError

from accounts.models import Role
from app.access import role_required
from kernel.errors import Forbidden
from tests.conftest import login


@pytest.fixture
def app_config():
    return {"MAX_CONTENT_LENGTH": 1024, "PROPAGATE_EXCEPTIONS": False}


@pytest.fixture
def app(app):
    bp = Blueprint("boom", __name__)

    @bp.get("/boom")
    def boom():
        raise RuntimeError("secret internals /etc/passwd")

    @bp.get("/api/forbidden")
    def forbidden():
        raise Forbidden()

    @bp.get("/api/db-down")
    def db_down():
        raise OperationalError("SELECT 1", {}, Exception("connection to server at 127.0.0.1 failed: /etc/passwd"))

    @bp.get("/queue-down")
    @role_required(Role.CANDIDATE)
    def queue_down():
        raise RedisConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    @bp.post("/upload")
    def upload():
        from flask import request

        return str(len(request.get_data()))

    app.register_blueprint(bp)
    return app


def test_404_json_and_html(client):
    resp = client.get("/api/nothing")
    assert resp.status_code == 404 and resp.json["error"]["code"] == "not_found"
    html = client.get("/nothing", headers={"Accept": "text/html"})
    assert html.status_code == 404 and "<h1>" in html.get_data(as_text=True)


def test_403_from_domain_error(client):
    resp = client.get("/api/forbidden")
    assert resp.status_code == 403
    assert resp.json == {"error": {"code": "forbidden", "message": "You are not allowed to do this."}}


def test_403_html_for_wrong_role(client, make_user):
    login(client, make_user("candidate"))
    resp = client.get("/staff/")
    assert resp.status_code == 403 and "text/html" in resp.content_type


def test_400_bad_request(client):
    resp = client.post("/api/x", data="{not json", content_type="application/json")
    assert resp.status_code in (400, 404, 405)
    assert "error" in resp.json


def test_413_too_large(client):
    resp = client.post("/upload", data=b"x" * 5000, headers={"Accept": "application/json"})
    assert resp.status_code == 413 and resp.json["error"]["code"] == "request_entity_too_large"


def test_500_never_shows_a_traceback(client):
    resp = client.get("/boom")
    body = resp.get_data(as_text=True)
    assert resp.status_code == 500
    assert "Traceback" not in body and "/etc/passwd" not in body and "secret internals" not in body
    api = client.get("/boom", headers={"Accept": "application/json"})
    assert api.json["error"]["code"] == "internal_error"


def test_database_outage_is_a_503_with_the_error_shape(client):
    resp = client.get("/api/db-down")
    assert resp.status_code == 503 and resp.headers["Retry-After"] == "5"
    assert set(resp.json) == {"error"} and resp.json["error"]["code"] == "service_unavailable"
    assert "/etc/passwd" not in resp.get_data(as_text=True) and "Traceback" not in resp.get_data(as_text=True)


def test_queue_outage_is_a_503_page_that_does_not_touch_the_database(client, make_user):
    login(client, make_user("candidate"))
    resp = client.get("/queue-down", headers={"Accept": "text/html"})
    body = resp.get_data(as_text=True)
    assert resp.status_code == 503 and "text/html" in resp.content_type and "<h1>" in body
    assert "Connection refused" not in body and "Traceback" not in body
    api = client.get("/queue-down", headers={"Accept": "application/json"})
    assert api.status_code == 503 and api.json["error"]["code"] == "service_unavailable"


def test_database_down_when_loading_the_user_is_a_503_page(app, client, make_user, monkeypatch):
    login(client, make_user("candidate"))

    def database_down(session_id):
        raise OperationalError("SELECT user", {}, Exception("connection refused"))

    monkeypatch.setattr(app.login_manager, "_user_callback", database_down)
    resp = client.get("/", headers={"Accept": "text/html"})  # every page's template asks for the user again
    assert resp.status_code == 503 and "<h1>" in resp.get_data(as_text=True)
    assert client.get("/api/identity/1").json["error"]["code"] == "service_unavailable"


def test_database_down_on_a_refused_csrf_token_is_a_503(app, make_user, monkeypatch):
    client = app.test_client()
    login(client, make_user("candidate"))
    app.config["WTF_CSRF_ENABLED"] = True

    def database_down(session_id):
        raise OperationalError("SELECT user", {}, Exception("connection refused"))

    monkeypatch.setattr(app.login_manager, "_user_callback", database_down)
    resp = client.put("/api/attempts/1/answers/q1", json={"value": "a"}, headers={"X-CSRFToken": "stale"})
    assert resp.status_code == 503 and resp.json["error"]["code"] == "service_unavailable"


def test_routing_errors_speak_the_ui_language(client):
    """Werkzeug's own error texts are English; a German page gets German ones (a custom text stays)."""
    resp = client.get("/no/such/page", headers={"Accept-Language": "de"})
    assert resp.status_code == 404 and "existiert nicht" in resp.get_data(as_text=True)
    resp = client.get("/api/no/such/thing", headers={"Accept-Language": "de"})
    assert resp.json["error"]["code"] == "not_found" and "existiert nicht" in resp.json["error"]["message"]
    resp = client.get("/api/no/such/thing", headers={"Accept-Language": "en"})
    assert resp.json["error"]["message"] == "This page does not exist, or it is not yours to see."
    resp = client.delete("/login", headers={"Accept-Language": "de"})
    assert resp.status_code == 405 and "nicht möglich" in resp.get_data(as_text=True)


def test_an_unreachable_database_host_fails_fast_as_a_503():
    """A database host that does not answer (here: a socket that never speaks) costs the connect timeout, no
    more, and the request is a 503; without the timeout it would hang for as long as the kernel lets it."""
    import socket
    import threading
    import time

    from app import create_app

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # the kernel completes the handshake; nobody ever answers the startup message
    try:
        app = create_app({"SQLALCHEMY_DATABASE_URI": f"postgresql+psycopg://x@127.0.0.1:{silent.getsockname()[1]}/x",
                          "DATABASE_CONNECT_TIMEOUT": 2, "TESTING": True, "SECRET_KEY": "t",
                          "WTF_CSRF_ENABLED": False})
        got: list = []
        started = time.monotonic()
        request = threading.Thread(target=lambda: got.append(app.test_client().post(
            "/login", data={"email": "a@example.org", "password": "x"})), daemon=True)
        request.start()
        request.join(20)  # without the timeout the request would hang here for good
        took = time.monotonic() - started
    finally:
        silent.close()
    assert got and got[0].status_code == 503 and got[0].headers["Retry-After"], took
    assert 1.5 <= took < 15, took


def test_an_outage_that_escapes_flask_is_still_a_clean_503(app):
    """When even the teardown fails (the database went away mid-request), the answer is our 503, not the
    server's bare HTML page."""
    from sqlalchemy.exc import OperationalError

    @app.teardown_request
    def _database_gone(_exc):
        raise OperationalError("ROLLBACK", {}, Exception("server closed the connection unexpectedly"))

    import json

    from werkzeug.test import EnvironBuilder

    started: list[tuple[str, dict[str, str]]] = []

    def start_response(status, headers, exc_info=None):  # as gunicorn: headers may change until sent
        started.append((status, dict(headers)))

    # Called as a WSGI server calls it (Flask's test client would defer the teardown past the middleware).
    body = b"".join(app.wsgi_app(EnvironBuilder(path="/login").get_environ(), start_response))
    status, headers = started[-1]
    assert status.startswith("503") and headers["Retry-After"] == "5"
    assert json.loads(body)["error"]["code"] == "service_unavailable"
