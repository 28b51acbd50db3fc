"""The demo seed and the `make run` path: a real server process serves the login and demo accounts log in."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path

import pyotp
from sqlalchemy import func, select

from accounts.models import Role, User
from kernel.db import db
from tests.conftest import REPO


def test_seed_demo_once(runner):
    first = runner.invoke(args=["seed-demo"])
    assert first.exit_code == 0, first.output
    roles = {u.role for u in db.session.scalars(select(User))}
    assert roles == set(Role)
    assert len(re.findall(r"@demo\.example\s+\S+", first.output)) == 4
    second = runner.invoke(args=["seed-demo"])
    assert "already" in second.output and "@demo.example " not in second.output
    assert db.session.scalar(select(func.count()).select_from(User)) == 5  # a second candidate, login not printed


def test_seed_demo_shows_the_product(runner):
    """The demo exam has a question of every type and its proctor; one result went through the whole chain of
    trust (identity decided by a person, supervised, reviewed, graded, released) and its certificate verifies."""
    from exams.certificates import lookup_certificate
    from exams.models import Attempt, Exam
    from exams.questions import QuestionKind
    from exams.trust import IdentityState, holds, identity_of
    from kernel.clock import utcnow

    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    exam_id = int(re.search(r"/candidate/exams/(\d+)", result.output).group(1))
    exam = db.session.get(Exam, exam_id)
    # every written type; "oral" needs an examiner in the call (an oral exam), not a seeded demo
    assert {q["type"] for q in exam.questions} == {k.value for k in QuestionKind} - {"oral"}
    assert [p.email for p in exam.proctors] == ["proctor@demo.example"]
    assert exam.opens_at <= utcnow() < exam.closes_at
    candidate = db.session.scalar(select(User).where(User.email == "candidate@demo.example"))
    assert candidate.email_verified_at is not None
    assert db.session.scalar(select(Attempt).where(Attempt.exam_id == exam_id)) is None  # ready to take it
    from exams.rosters import enrolment_of

    enrolment = enrolment_of(candidate, exam)  # on the roster of today's session, with the demo proctor
    assert enrolment is not None and enrolment.session is not None
    assert enrolment.session.starts_at <= utcnow() < enrolment.session.ends_at
    assert [p.email for p in enrolment.session.proctors] == ["proctor@demo.example"]
    (public_id,) = re.findall(r"/verify/(\S+)", result.output)
    released = db.session.scalars(select(Attempt).where(Attempt.result_released_at.is_not(None))).all()
    assert len(released) == 1 and released[0].user_id == candidate.id and released[0].review_outcome == "clean"
    identity = identity_of(released[0])
    assert identity.state == IdentityState.VERIFIED and identity.method == "person"
    assert holds(released[0]) == []
    shown = lookup_certificate(public_id)
    assert shown.status == "valid" and shown.identity_method == "person"
    assert shown.supervision == "live" and shown.review == "clean"
    # The other candidate's result waits for points: the exam office finds it on its home page.
    (waiting,) = db.session.scalars(select(Attempt).where(Attempt.result_released_at.is_(None))).all()
    assert [h.code for h in holds(waiting)] == ["grading"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_make_run_path_serves_login_and_demo_accounts_log_in(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env["AUFSICHT_INSTANCE_PATH"] = str(tmp_path)
    flask = [sys.executable, "-m", "flask", "--app", "app"]
    subprocess.run([*flask, "db", "upgrade"], cwd=REPO, env=env, check=True, capture_output=True, timeout=120)
    seeded = subprocess.run([*flask, "seed-demo"], cwd=REPO, env=env, check=True, capture_output=True, text=True,
                            timeout=120).stdout
    logins = dict(re.findall(r"(\S+@demo\.example)\s+(\S+)", seeded))
    assert set(logins) == {"admin@demo.example", "staff@demo.example", "proctor@demo.example",
                           "candidate@demo.example"}
    port = _free_port()
    server = subprocess.Popen([*flask, "serve", "--port", str(port)], cwd=REPO, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                page = urllib.request.urlopen(base + "/login", timeout=2).read().decode()  # noqa: S310
                break
            except (urllib.error.URLError, ConnectionError):
                assert time.monotonic() < deadline, "server did not come up"
                time.sleep(0.2)
        assert "<form" in page and 'name="password"' in page
        for email, password in logins.items():
            opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
            html = opener.open(base + "/login", timeout=5).read().decode()
            token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
            data = urllib.parse.urlencode({"email": email, "password": password, "csrf_token": token}).encode()
            landed = opener.open(base + "/login", data=data, timeout=10)
            role = email.split("@")[0]
            if role != "candidate":  # the first login of an account that sees personal data sets up the app
                assert landed.geturl().endswith("/login/enrol"), (email, landed.geturl())
                html = landed.read().decode()
                secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', html).group(1)
                token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
                data = urllib.parse.urlencode({"code": pyotp.TOTP(secret).now(), "csrf_token": token}).encode()
                codes = opener.open(base + "/login/enrol", data=data, timeout=10).read().decode()
                assert 'id="recovery-codes"' in codes
                landed = opener.open(base + "/", timeout=10)
            assert landed.geturl().rstrip("/").endswith(f"/{role}"), (email, landed.geturl())
    finally:
        server.terminate()
        server.wait(timeout=10)
