"""Answer saves through the HTTP API under gunicorn, on SQLite and on PostgreSQL.

N simulated candidates (default 50) each log in, start an attempt and save one answer every
2 seconds, against the app served as in production (gunicorn, several workers). Prints p95
latency and achieved saves per second per database, checks that no saved answer was lost,
and ends with one JSON line: p95_ms_sqlite, p95_ms_postgres, saves_per_s_sqlite, saves_per_s_postgres.

    .venv/bin/python bench/exams.py [--candidates 50] [--seconds 30] [--workers 4]
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import random
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from bench.common import seed_exam  # noqa: E402  (after the path is set)

PASSWORD = "bench password 123"
QUESTIONS = [
    {"id": f"q{i}", "type": "single_choice", "prompt": f"Frage {i}", "points": 1,
     "options": [{"id": "a", "text": "A", "correct": True}, {"id": "b", "text": "B"}]}
    for i in range(20)
]


def free_port() -> int:
    """An unused TCP port on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def prepare(env: dict[str, str], n: int) -> int:
    """Migrate a fresh database and seed one exam and ``n`` candidates; returns the exam id."""
    subprocess.run([sys.executable, "-m", "flask", "--app", "app", "db", "upgrade"], cwd=REPO, env=env,
                   check=True, capture_output=True)
    return seed_exam(env, n, name="Bench", password=PASSWORD, questions=QUESTIONS, identity=False,
                     proctoring=False, last_name="Candidate")


class Candidate:
    """One simulated candidate with a keep-alive connection and a session cookie."""

    def __init__(self, port: int, email: str) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.cookie = ""
        self.email = email
        self.csrf = ""
        self.latencies: list[float] = []
        self.errors = 0
        self.sent: dict[str, str] = {}

    def request(
        self, method: str, path: str, body: bytes | None = None, ctype: str | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        """Send one request and keep the session cookie."""
        headers = {"Cookie": self.cookie} if self.cookie else {}
        if ctype:
            headers["Content-Type"] = ctype
        if self.csrf:
            headers["X-CSRFToken"] = self.csrf
        self.conn.request(method, path, body=body, headers=headers)
        resp = self.conn.getresponse()
        data = resp.read()
        for value in resp.headers.get_all("Set-Cookie") or []:
            if value.startswith("session="):
                self.cookie = value.split(";", 1)[0]
        return resp.status, dict(resp.headers), data

    def login_and_start(self, exam_id: int) -> int:
        """Log in through the form and start the attempt; returns its id."""
        _, _, page = self.request("GET", "/login")
        token = re.search(rb'name="csrf-token" content="([^"]+)"', page)
        assert token, "login page has no CSRF token"
        self.csrf = token.group(1).decode()
        form = urllib.parse.urlencode({"email": self.email, "password": PASSWORD, "csrf_token": self.csrf}).encode()
        status, _, _ = self.request("POST", "/login", form, "application/x-www-form-urlencoded")
        assert status == 302, status
        status, headers, body = self.request("POST", f"/candidate/exams/{exam_id}/start",
                                             urllib.parse.urlencode({"csrf_token": self.csrf}).encode(),
                                             "application/x-www-form-urlencoded")
        assert status == 302, (status, body[:300])
        return int(headers["Location"].rstrip("/").split("/")[-1])

    def run(self, attempt_id: int, until: float, interval: float) -> None:
        """Save one answer every ``interval`` seconds until ``until``."""
        time.sleep(random.uniform(0, interval))
        while time.monotonic() < until:
            qid = f"q{random.randrange(len(QUESTIONS))}"
            value = random.choice(["a", "b"])
            t0 = time.perf_counter()
            status = 0
            for _try in range(2):  # a browser, too, reopens a keep-alive connection the server closed
                try:
                    status, _, _ = self.request("PUT", f"/api/attempts/{attempt_id}/answers/{qid}",
                                                json.dumps({"value": value}).encode(), "application/json")
                    break
                except (OSError, http.client.HTTPException):
                    self.conn.close()
            self.latencies.append(time.perf_counter() - t0)
            if status == 200:
                self.sent[qid] = value
            else:
                self.errors += 1
            time.sleep(max(0.0, interval - (time.perf_counter() - t0)))


def lost_answers(env: dict[str, str], expected: dict[int, dict[str, str]]) -> int:
    """Answers the server acknowledged but does not hold (or holds with another value)."""
    code = """
import json, sys
from sqlalchemy import select
from app import create_app
from kernel.db import db
from exams.models import Answer
app = create_app()
with app.app_context():
    rows = db.session.execute(select(Answer.attempt_id, Answer.question_id, Answer.value)).all()
    print(json.dumps([[a, q, v] for a, q, v in rows]))
"""
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, check=True, capture_output=True, text=True)
    held = {(a, q): v for a, q, v in json.loads(out.stdout.strip().splitlines()[-1])}
    return sum(1 for aid, answers in expected.items() for q, v in answers.items() if held.get((aid, q)) != v)


def run_one(label: str, database_url: str | None, args: argparse.Namespace) -> dict[str, Any]:
    """Benchmark one database; returns its figures."""
    with tempfile.TemporaryDirectory(prefix=f"bench-{label}-") as tmp:
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
        env["AUFSICHT_INSTANCE_PATH"] = tmp
        if database_url:
            env["DATABASE_URL"] = database_url
        exam_id = prepare(env, args.candidates)
        port = free_port()
        server = subprocess.Popen(
            [str(REPO / ".venv/bin/gunicorn"), "-w", str(args.workers), "-k", "gthread", "--threads", "8",
             "--keep-alive", "5", "-b", f"127.0.0.1:{port}", "--log-level", "warning", "wsgi:app"],
            cwd=REPO, env=env, start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise RuntimeError("gunicorn did not start") from None
                    time.sleep(0.2)
            cands = [Candidate(port, f"c{i}@bench.example") for i in range(args.candidates)]
            attempt_ids = [c.login_and_start(exam_id) for c in cands]
            start = time.monotonic()
            until = start + args.seconds
            threads = [threading.Thread(target=c.run, args=(aid, until, args.interval))
                       for c, aid in zip(cands, attempt_ids, strict=True)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            elapsed = time.monotonic() - start
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
        lat = sorted(x for c in cands for x in c.latencies)
        errors = sum(c.errors for c in cands)
        lost = lost_answers(env, {aid: c.sent for c, aid in zip(cands, attempt_ids, strict=True)})
        p95 = lat[int(0.95 * (len(lat) - 1))] * 1000
        figures = {"saves": len(lat), "saves_per_s": len(lat) / elapsed, "p50_ms": statistics.median(lat) * 1000,
                   "p95_ms": p95, "errors": errors, "lost_answers": lost}
        print(f"{label:9} {figures['saves']:6d} saves  {figures['saves_per_s']:6.1f}/s  "
              f"p50 {figures['p50_ms']:6.1f} ms  p95 {p95:6.1f} ms  errors {errors}  lost {lost}", flush=True)
        return figures


def main() -> None:
    """Run the benchmark on SQLite and PostgreSQL and print the JSON line."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--candidates", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--interval", type=float, default=2.0)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test",
                    help="server URL; a fresh database is created on it and dropped afterwards")
    args = ap.parse_args()
    print(f"{args.candidates} candidates, one save each every {args.interval:g} s, {args.seconds:g} s, "
          f"gunicorn {args.workers} workers x 8 threads, {os.cpu_count()} CPUs")
    sqlite = run_one("sqlite", None, args)
    import sqlalchemy as sa

    from app.config import normalise_database_url

    base = normalise_database_url(args.postgres)
    name = f"aufsicht_bench_{secrets.token_hex(4)}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        pg = run_one("postgres", sa.make_url(base).set(database=name).render_as_string(hide_password=False), args)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    print(json.dumps({
        "p95_ms_sqlite": round(sqlite["p95_ms"], 1), "p95_ms_postgres": round(pg["p95_ms"], 1),
        "saves_per_s_sqlite": round(sqlite["saves_per_s"], 1), "saves_per_s_postgres": round(pg["saves_per_s"], 1),
        "errors": sqlite["errors"] + pg["errors"], "lost_answers": sqlite["lost_answers"] + pg["lost_answers"],
        "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }))


if __name__ == "__main__":
    main()
