"""The app factory, configuration, secrets, CSRF, security headers, i18n and the schema."""

from __future__ import annotations

import os
import stat

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from app import create_app
from kernel.db import db
from tests.conftest import csrf_from


def test_factory_has_no_side_effects(tmp_path):
    """Building the app creates no tables and touches no network; only the secret file appears."""
    url = f"sqlite:///{tmp_path / 'x.db'}"
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "INSTANCE_PATH": str(tmp_path)})
    with app.app_context():
        assert sa.inspect(db.engine).get_table_names() == []
        db.engine.dispose()


def test_secrets_are_generated_private_and_stable(tmp_path, capsys):
    app1 = create_app({"INSTANCE_PATH": str(tmp_path / "i")})
    app2 = create_app({"INSTANCE_PATH": str(tmp_path / "i")})
    path = tmp_path / "i" / "secret_key"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert app1.config["SECRET_KEY"] == app2.config["SECRET_KEY"]
    assert len(app1.config["SECRET_KEY"]) == 32
    out = capsys.readouterr()
    assert path.read_text() not in out.out + out.err


def test_environment_overrides_defaults_and_dict_overrides_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("AUFSICHT_LOGIN_MAX_FAILURES", "9")
    monkeypatch.setenv("DATABASE_URL", "postgres://u@h/db")
    app = create_app({"INSTANCE_PATH": str(tmp_path)})
    assert app.config["LOGIN_MAX_FAILURES"] == 9
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@h/db"
    assert create_app({"INSTANCE_PATH": str(tmp_path), "LOGIN_MAX_FAILURES": 3}).config["LOGIN_MAX_FAILURES"] == 3


def test_models_and_migrations_agree(app):
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), db.metadata)
    assert diff == [], f"models and migrations differ; run `flask db migrate`: {diff}"


@pytest.fixture
def csrf_app(database_url, instance_path):
    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "INSTANCE_PATH": str(instance_path),
                      "TESTING": True})
    yield app
    with app.app_context():
        db.engine.dispose()


def test_csrf_is_required_on_forms(csrf_app):
    client = csrf_app.test_client()
    assert client.post("/login", data={"email": "a@b.de", "password": "x"}).status_code == 400
    token = csrf_from(client.get("/login").get_data(as_text=True))
    resp = client.post("/login", data={"email": "a@b.de", "password": "x", "csrf_token": token})
    assert resp.status_code == 401  # got past CSRF, wrong password


def test_security_headers(client):
    resp = client.get("/login")
    csp = resp.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert resp.headers["X-Content-Type-Options"] == "nosniff"


def test_german_is_default_and_english_can_be_chosen(client):
    assert 'lang="de"' in client.get("/login").get_data(as_text=True)
    assert "Anmelden" in client.get("/login").get_data(as_text=True)
    en = client.get("/login", headers={"Accept-Language": "en-GB,en;q=0.9"}).get_data(as_text=True)
    assert 'lang="en"' in en and "Log in" in en
    client.post("/language", data={"lang": "en", "next": "/login"})
    assert 'lang="en"' in client.get("/login").get_data(as_text=True)


def test_pages_load_nothing_from_third_parties(client, make_institution):
    make_institution(slug="x")
    for path in ("/login", "/register", "/register/x", "/privacy"):
        html = client.get(path).get_data(as_text=True)
        assert "http://" not in html.replace("http://aufsicht.test", "") and "https://" not in html, path


def test_healthz(client):
    assert client.get("/healthz").json == {"status": "ok"}
