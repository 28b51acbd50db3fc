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
from werkzeug.routing.rules import Rule

from app import create_app
from kernel.clock import clock
from kernel.db import db
from kernel.jobs import InProcessRunner

IN_CI = os.environ.get("CI", "").lower() == "true"
# Password hashes at Argon2's lowest cost in the suite (the servers its browser tests start inherit it): some
# 3,000 hashes and logins at production cost (64 MiB, 3 passes) took 0.3-0.8 s each on a 2-core host.
# tests/accounts/test_password_cost.py holds the production default.
os.environ["AUFSICHT_PASSWORD_HASH_COST"] = "[1, 8, 1]"

_compile_builder = Rule._compile_builder


def _lazy_builder(self: Rule, append_unknown: bool = True) -> Callable[..., tuple[str, str]]:
    """Werkzeug's URL builder for a rule, compiled on its first use instead of when the rule is added.

    Werkzeug writes and compiles Python source for the two builders of each rule as ``create_app`` adds it:
    about 1,100 rules, 0.2 s of every test (the suite makes a fresh app per test), some 5 minutes of a run.
    A test builds a few URLs; the builder that runs is the same compiled code, only made when first asked for.
    """
    real: list[Callable[..., tuple[str, str]]] = []

    def build(rule: Rule, *args: Any, **kwargs: Any) -> tuple[str, str]:
        if not real:
            real.append(_compile_builder(rule, append_unknown))
        return real[0](rule, *args, **kwargs)

    return build


Rule._compile_builder = _lazy_builder  # type: ignore[method-assign]
PASSWORD = "correct horse battery"
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
"""The second-factor key of every admin, staff and proctor account ``make_user`` creates."""
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
    from app.ratelimit import reset

    reset()  # rate limits (verification, account mails) start fresh in every test
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
            # TRUNCATE of the 50-odd tables takes 0.2-0.4 s, and most tests write a few: the tables that hold rows
            # are found in one query and emptied children first; the id sequences used (a rolled-back insert
            # uses one too) start again at 1, as after TRUNCATE ... RESTART IDENTITY.
            probes = sa.union_all(*(sa.select(sa.literal(t.name)).where(sa.exists(sa.select(1).select_from(t)))
                                    for t in tables))
            dirty = set(conn.execute(probes).scalars())
            for t in tables:
                if t.name in dirty:
                    conn.execute(t.delete())
            conn.execute(sa.text(
                "SELECT setval(format('%I.%I', schemaname, sequencename), 1, false) FROM pg_sequences "
                "WHERE schemaname = current_schema() AND last_value IS NOT NULL"))
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
    """Create a user of a role (candidates with a full profile); password is PASSWORD.

    Accounts are as after their first steps: the email address is confirmed (``verified=False``: not yet), and
    admins, staff and proctors have the second factor set up with TOTP_SECRET (``second_factor=False``: not yet).
    A candidate is on the roster of the institution's exams made with ``make_exam(enrol_all=True)``
    (``enrolled=False``: on none).
    """
    from accounts.models import Role
    from accounts.services import create_user, register_candidate
    from accounts.validation import Registration

    def make(role: str = "candidate", institution: Any = None, email: str | None = None, *, verified: bool = True,
             second_factor: bool = True, enrolled: bool = True, **profile: Any) -> Any:
        r = Role(role)
        inst = None if r == Role.ADMIN else (institution or make_institution())
        email = email or f"{r.value}-{secrets.token_hex(3)}@example.org"
        if r != Role.CANDIDATE:
            user = create_user(email, PASSWORD, r, f"{r.value.title()} Person", inst)
            user.email_verified_at = clock.now() if verified else None
            from accounts.second_factor import seal_secret

            user.totp_secret = seal_secret(user, TOTP_SECRET) if second_factor else None
            db.session.commit()
            return user
        fields: dict[str, Any] = {
            "email": email, "password": PASSWORD, "salutation": "ms", "first_name": "Erika", "last_name": "Mustermann",
            "street": "Heidestraße 17", "postal_code": "51147", "city": "Köln", "country": "DE",
            "phone": "+4922112345678", "date_of_birth": dt.date(1990, 8, 12), "place_of_birth": "Berlin",
            "gender": None, "id_document_number": "T22000129",
        }
        fields.update(profile)
        user = register_candidate(inst, Registration(**fields), "test")
        user.email_verified_at = clock.now() if verified else None
        if enrolled:
            _enrol_quietly(sa.select(Exam).where(Exam.id.in_(ROSTER_FOR_ALL), Exam.institution_id == inst.id),
                           [user])
        db.session.commit()
        return user

    from exams.models import Exam

    return make


ROSTER_FOR_ALL: set[int] = set()
"""Exams ``make_exam`` made with ``enrol_all=True`` (the default): every candidate of the institution is on their
roster, those made before and after, as if the exam office had enrolled them (no mail)."""


def _enrol_quietly(exams: Any, candidates: list[Any]) -> None:
    from exams.models import Enrolment

    for exam in db.session.scalars(exams).all():
        for cand in candidates:
            db.session.add(Enrolment(exam_id=exam.id, user_id=cand.id, attempts_allowed=1))


@pytest.fixture
def make_exam(app: Flask, make_institution: Callable[..., Any]) -> Iterator[Callable[..., Any]]:
    """Create an exam open now (overrides as keyword arguments); with ``enrol_all`` (the default) every candidate
    of the institution, made before or after, is on its roster."""
    from accounts.models import Role, User
    from exams.models import Exam

    def make(institution: Any = None, *, enrol_all: bool = True, **overrides: Any) -> Any:
        now = clock.now()
        fields: dict[str, Any] = {
            "title": "Prüfung", "description": "", "duration_minutes": 30, "opens_at": now - dt.timedelta(hours=1),
            "closes_at": now + dt.timedelta(days=1), "pass_mark_percent": 60, "questions": [],
        }
        fields.update(overrides)
        exam = Exam(institution=institution or make_institution(), **fields)
        db.session.add(exam)
        db.session.commit()
        if enrol_all:
            ROSTER_FOR_ALL.add(exam.id)
            _enrol_quietly(sa.select(Exam).where(Exam.id == exam.id), list(db.session.scalars(sa.select(User).where(
                User.institution_id == exam.institution_id, User.role == Role.CANDIDATE)).all()))
            db.session.commit()
        return exam

    yield make
    ROSTER_FOR_ALL.clear()


def totp_code(user: Any) -> str:
    """The authenticator app's code for ``user`` now: one the server has not taken yet (a code is good once, so
    a second login within the same 30 seconds uses the next step's code, moving the test clock on if needed)."""
    import pyotp

    from accounts.models import User
    from accounts.second_factor import STEP_SECONDS, _now_step, secret_of

    last = db.session.scalar(sa.select(User.totp_last_step).where(User.id == user.id))
    while last is not None and last >= _now_step() + 1:
        clock.advance(dt.timedelta(seconds=STEP_SECONDS))
    step = _now_step() if last is None else max(_now_step(), last + 1)
    return str(pyotp.TOTP(secret_of(user) or TOTP_SECRET).at(step * STEP_SECONDS))


def login(client: FlaskClient, user: Any, password: str = PASSWORD, **kwargs: Any) -> Any:
    """Log ``user`` in through the real login form, answering the second-factor step where it comes."""
    resp = client.post("/login", data={"email": user.email, "password": password}, **kwargs)
    if resp.status_code == 302 and resp.headers["Location"].endswith("/login/second-factor"):
        resp = client.post("/login/second-factor", data={"code": totp_code(user)}, **kwargs)
    assert resp.status_code == 302, resp.get_data(as_text=True)
    return resp


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


def mails_to(app: Flask, address: str) -> list[Any]:
    """The mails written to the outbox (no SMTP configured) for ``address``, oldest first (once the mail jobs
    queued so far have run)."""
    from email import policy
    from email.parser import BytesParser

    jobs = app.extensions.get("aufsicht.jobs")
    if isinstance(jobs, InProcessRunner):
        jobs.wait_all()

    outbox = Path(app.instance_path) / "outbox"
    found = []
    for path in sorted(outbox.glob("*.eml"), key=lambda p: p.stat().st_mtime_ns) if outbox.exists() else []:
        msg = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
        if str(msg["To"]).lower() == address.lower():
            found.append(msg)
    return found


def link_in(msg: Any, path: str) -> str:
    """The site-relative link containing ``path`` in a plain-text mail."""
    m = re.search(r"https?://[^/\s]+(" + re.escape(path) + r"\S+)", msg.get_content())
    assert m, f"no link to {path} in the mail"
    return m.group(1)
