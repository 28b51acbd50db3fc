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
    assert db.session.scalar(select(func.count()).select_from(User)) == 4


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
