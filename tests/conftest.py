"""Shared fixtures: a migrated database (SQLite, or PostgreSQL per DATABASE_URL), the app, clients, factories."""

from __future__ import annotations

import datetime as dt
import os
import re
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from app import create_app
from kernel.clock import clock
from kernel.db import db
from kernel.jobs import InProcessRunner

IN_CI = os.environ.get("CI", "").lower() == "true"
PASSWORD = "correct horse battery"
REPO = Path(__file__).resolve().parent.parent


DATA = REPO / "tests" / "data"
"""Files the tests and benchmarks read, all in the repository (licences in ``tests/data/README.md``)."""
FACES = DATA / "faces"


def write_and_die(data: bytes, **owner: Any) -> None:
    """A recording part of ``data`` whose process dies after writing it: the file handle goes (on S3 the
    multipart upload stays open), the blob is never closed."""
    import gc
    import warnings

    from storage import vault

    writer = vault.open_writer("recording", content_type="video/webm", **owner)
    writer.write(data)
    writer.flush()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        del writer
        gc.collect()


def need_service(name: str, reason: str) -> None:
    """Skip outside CI, fail under CI=true: a test that needs a real server must not silently pass."""
    if IN_CI:
        pytest.fail(f"{name} is required under CI=true: {reason}")
    pytest.skip(f"{name} not available: {reason}")


@pytest.fixture(scope="session")
def instance_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh instance folder for the whole session."""
    return tmp_path_factory.mktemp("instance")


@pytest.fixture(scope="session")
def database_url(instance_path: Path) -> Iterator[str]:
    """A new, migrated database: a file in the instance folder, or a fresh PostgreSQL database."""
    base = os.environ.get("DATABASE_URL")
    dbname = None
    if base:
        from app.config import normalise_database_url

        base = normalise_database_url(base)
        dbname = f"aufsicht_test_{secrets.token_hex(4)}"
        admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                conn.execute(sa.text(f'CREATE DATABASE "{dbname}"'))
        except sa.exc.OperationalError as err:
            need_service("PostgreSQL", str(err).splitlines()[0])
        url = sa.make_url(base).set(database=dbname).render_as_string(hide_password=False)
    else:
        url = f"sqlite:///{instance_path / 'test.db'}"
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "INSTANCE_PATH": str(instance_path), "TESTING": True})
    with app.app_context():
        from flask_migrate import upgrade

        upgrade()
        db.engine.dispose()
    yield url
    if dbname:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def app_config() -> dict[str, Any]:
    """Per-test config overrides; override this fixture in a module to change settings."""
    return {}


@pytest.fixture
def app(database_url: str, instance_path: Path, app_config: dict[str, Any]) -> Iterator[Flask]:
    """The app bound to the session's migrated database; every table is emptied after the test."""
    cfg = {"SQLALCHEMY_DATABASE_URI": database_url, "INSTANCE_PATH": str(instance_path), "TESTING": True,
           "WTF_CSRF_ENABLED": False, "SERVER_NAME": "aufsicht.test", "PREFERRED_URL_SCHEME": "http",
           # the suite uses plain face photos as ID photos; tests/idcheck/test_document.py turns this on
           "IDCHECK_REQUIRE_MRZ": False}
    cfg.update(app_config)
    application = create_app(cfg)
    application.test_client_class = FreshContextClient
    ctx = application.app_context()
    ctx.push()
    try:
        yield application
    finally:
        _finish_jobs(application)
        db.session.remove()
        in_use = db.engine.pool.checkedout()  # type: ignore[attr-defined]
        _empty_tables()
        db.engine.dispose()
        ctx.pop()
        clock.reset()
    assert not in_use, f"{in_use} database connection(s) still in use after the test: a thread outlived it"


def _finish_jobs(application: Flask) -> None:
    """Let the jobs a test queued in-process end before its tables are emptied and its engine disposed.

    A job still running then (a data export a request queued, say) would put its connection back into the
    disposed pool, where nothing closes it.
    """
    jobs = application.extensions.get("aufsicht.jobs")
    if isinstance(jobs, InProcessRunner):
        jobs.wait_all()
        jobs.stop()


def _empty_tables() -> None:
    tables = list(reversed(db.metadata.sorted_tables))
    with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in tables)
            conn.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for t in tables:
                conn.execute(t.delete())


class FreshContextClient(FlaskClient):
    """Each request runs in its own app context, as in production (the test's own context stays separate)."""

    def open(self, *args: Any, **kwargs: Any) -> Any:
        """Issue the request inside a fresh app context, so ``g`` and the db session are per request."""
        with self.application.app_context():
            return super().open(*args, **kwargs)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A browser-like test client."""
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> Any:
    """The Flask CLI runner."""
    return app.test_cli_runner()


# ---------------------------------------------------------------- factories


@pytest.fixture
def make_institution(app: Flask) -> Callable[..., Any]:
    """Create an institution (unique slug)."""
    from accounts.services import create_institution

    def make(name: str = "Institut", slug: str | None = None) -> Any:
        return create_institution(name, slug or f"inst-{secrets.token_hex(3)}")

    return make


@pytest.fixture
def make_user(app: Flask, make_institution: Callable[..., Any]) -> Callable[..., Any]:
    """Create a user of a role (candidates with a full profile); password is PASSWORD."""
    from accounts.models import Role
    from accounts.services import create_user, register_candidate
    from accounts.validation import Registration

    def make(role: str = "candidate", institution: Any = None, email: str | None = None, **profile: Any) -> Any:
        r = Role(role)
        inst = None if r == Role.ADMIN else (institution or make_institution())
        email = email or f"{r.value}-{secrets.token_hex(3)}@example.org"
        if r != Role.CANDIDATE:
            return create_user(email, PASSWORD, r, f"{r.value.title()} Person", inst)
        fields: dict[str, Any] = {
            "email": email, "password": PASSWORD, "salutation": "ms", "first_name": "Erika", "last_name": "Mustermann",
            "street": "Heidestraße 17", "postal_code": "51147", "city": "Köln", "country": "DE",
            "phone": "+4922112345678", "date_of_birth": dt.date(1990, 8, 12), "place_of_birth": "Berlin",
            "gender": None, "id_document_number": "T22000129",
        }
        fields.update(profile)
        return register_candidate(inst, Registration(**fields), "test")

    return make


@pytest.fixture
def make_exam(app: Flask, make_institution: Callable[..., Any]) -> Callable[..., Any]:
    """Create an exam open now (overrides as keyword arguments)."""
    from exams.models import Exam

    def make(institution: Any = None, **overrides: Any) -> Any:
        now = clock.now()
        fields: dict[str, Any] = {
            "title": "Prüfung", "description": "", "duration_minutes": 30, "opens_at": now - dt.timedelta(hours=1),
            "closes_at": now + dt.timedelta(days=1), "pass_mark_percent": 60, "questions": [],
        }
        fields.update(overrides)
        exam = Exam(institution=institution or make_institution(), **fields)
        db.session.add(exam)
        db.session.commit()
        return exam

    return make


def login(client: FlaskClient, user: Any, password: str = PASSWORD) -> None:
    """Log ``user`` in through the real login form."""
    resp = client.post("/login", data={"email": user.email, "password": password})
    assert resp.status_code == 302, resp.get_data(as_text=True)


def start_exam(client: FlaskClient, exam_id: int) -> int:
    """Start ``exam_id`` as the logged-in candidate, through the real form post; returns the attempt id."""
    resp = client.post(f"/candidate/exams/{exam_id}/start")
    assert resp.status_code == 302, resp.get_data(as_text=True)
    return int(resp.headers["Location"].rstrip("/").split("/")[-1])


def csrf_from(html: str) -> str:
    """The CSRF token of a rendered page."""
    m = re.search(r'name="csrf-token" content="([^"]+)"', html)
    assert m, "page has no CSRF token"
    return m.group(1)
