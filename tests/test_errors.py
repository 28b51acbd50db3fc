"""One error shape: JSON clients get {"error": {code, message}}, browsers a page, never a traceback."""

from __future__ import annotations

import pytest
from flask import Blueprint

from app.errors import Forbidden
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
