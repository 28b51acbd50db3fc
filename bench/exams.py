"""Answer saves through the HTTP API under gunicorn, on SQLite and on PostgreSQL.

N simulated candidates (default 50) each log in, start an attempt and save one answer every
2 seconds, against the app served as in production (gunicorn, several workers). Prints p95
latency and achieved saves per second per database, checks that no saved answer was lost,
and ends with one JSON line: p95_ms_sqlite, p95_ms_postgres, saves_per_s_sqlite, saves_per_s_postgres,
item_analysis_s (and item_analysis_s_sqlite), and the rows of the 60-item exam with media (issue 32):
page_load_p95_ms and p95_ms_media60 (PostgreSQL, the production database), and the page loads' p95 at the start
(page_load_start_p95_ms) and at the reload (page_load_reload_p95_ms) apart, and where the CPU went during the start
burst (start_burst_s, start_burst_cpu_s_server, _client, _machine: the server against this bench's own client).

Exam of 60 items with media (``--exam media60``, run after the 20-item rows on PostgreSQL): the item types a
language exam has (listening items with a recording played at most twice, hotspot and picture items, gap text,
matching, ordering, short text, choice, numeric, an essay), the pictures and recording stored encrypted as the
office uploads them. Each candidate loads the exam page as a browser does at the start and once more half-way
(a reload), all 50 at the same moment at the start, under the load of the others: the HTML and every picture, script
and style sheet it names, one after the other on one connection (a browser fetches them six at a time, so this is
an upper bound), and plays one listening item (the play's ticket, then the recording streamed whole). Like a
browser, a candidate does not ask again for what an earlier answer allowed it to keep (``Cache-Control:
immutable``: the scripts and styles, named by their content's hash; the login page loaded the shared ones);
the item pictures are ``no-store`` and fetched on every load. Saves cycle over all 60 items with answers of each
item's shape.

Item analysis row: 1,000 released attempts x 60 single-choice items are written as real Attempt and Answer
rows, then ``items.statistics.item_analysis`` runs in a fresh process against the same database (loading
included, as the office's page does it); the figure is the best of three runs, the CPU model is printed.

    .venv/bin/python bench/exams.py [--candidates 50] [--seconds 30] [--workers 4] [--items-only]
                                    [--exam both|simple|media60]
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
from bench.common import cpu_model, machine_busy, seed_exam  # noqa: E402  (after the path is set)
from deploy.scaleout import process_tree_cpu_s  # noqa: E402

PASSWORD = "bench password 123"
QUESTIONS = [
    {"id": f"q{i}", "type": "single_choice", "prompt": f"Frage {i}", "points": 1,
     "options": [{"id": "a", "text": "A", "correct": True}, {"id": "b", "text": "B"}]}
    for i in range(20)
]


def media_items() -> list[dict[str, Any]]:
    """60 items as a German language exam has them; ``@audio`` and ``@image`` stand for the stored files."""
    items: list[dict[str, Any]] = []
    choice = [{"id": "a", "text": "am Bahnhof", "correct": True}, {"id": "b", "text": "am Flughafen"},
              {"id": "c", "text": "im Hotel"}]
    for i in range(10):
        items.append({"id": f"h{i}", "type": "single_choice", "prompt": f"Hören: Wo ist die Person? ({i})",
                      "options": choice, "media": {"id": "@audio", "alt": "Durchsage am Bahnhof", "plays": 2,
                                                   "transcript": "Der Zug nach Köln fährt heute von Gleis 5."}})
    for i in range(5):
        items.append({"id": f"s{i}", "type": "hotspot", "prompt": "Klicken Sie auf den Bahnhof.", "image": "@image",
                      "image_alt": "Stadtplan mit Bahnhof oben links",
                      "areas": [{"shape": "rect", "x": 0, "y": 0, "width": 200, "height": 150, "correct": True}]})
    for i in range(5):
        items.append({"id": f"p{i}", "type": "single_choice", "prompt": "Was zeigt das Bild?", "options": choice,
                      "media": {"id": "@image", "alt": "Stadtplan mit Bahnhof oben links"}})
    for i in range(10):
        items.append({"id": f"g{i}", "type": "gap_text", "prompt": "Ergänzen Sie.",
                      "text": "Ich {{g1}} aus Köln und wohne {{g2}} München.",
                      "gaps": [{"id": "g1", "accepted": ["komme"]},
                               {"id": "g2", "options": [{"id": "in", "text": "in", "correct": True},
                                                        {"id": "nach", "text": "nach"}]}]})
    for i in range(5):
        items.append({"id": f"m{i}", "type": "matching", "prompt": "Was passt zusammen?", "points": 3,
                      "premises": [{"id": "p1", "text": "Hund", "match": "dog"},
                                   {"id": "p2", "text": "Katze", "match": "cat"},
                                   {"id": "p3", "text": "Maus", "match": "mouse"}],
                      "options": [{"id": "cat", "text": "cat"}, {"id": "dog", "text": "dog"},
                                  {"id": "mouse", "text": "mouse"}, {"id": "cow", "text": "cow"}]})
    for i in range(5):
        items.append({"id": f"o{i}", "type": "ordering", "prompt": "Ordnen Sie die Wochentage.", "points": 3,
                      "options": [{"id": "mo", "text": "Montag"}, {"id": "di", "text": "Dienstag"},
                                  {"id": "mi", "text": "Mittwoch"}, {"id": "do", "text": "Donnerstag"}]})
    for i in range(10):
        items.append({"id": f"t{i}", "type": "short_text", "prompt": "Wo fahren die Züge ab?",
                      "accepted": ["Bahnhof", "am Bahnhof"]})
    for i in range(5):
        items.append({"id": f"c{i}", "type": "multiple_choice", "prompt": "Was ist richtig?",
                      "options": [{"id": "a", "text": "A", "correct": True}, {"id": "b", "text": "B"},
                                  {"id": "c", "text": "C", "correct": True}]})
    for i in range(4):
        items.append({"id": f"n{i}", "type": "numeric", "prompt": "Wie viel ist 3 + 4?", "answer": 7})
    items.append({"id": "e0", "type": "essay", "prompt": "Schreiben Sie eine E-Mail.", "min_words": 5,
                  "max_words": 200})
    assert len(items) == 60
    return items


ANSWERS: dict[str, Any] = {
    "single_choice": "a", "multiple_choice": ["a", "c"], "numeric": "7", "short_text": "am Bahnhof",
    "gap_text": {"g1": "komme", "g2": "in"}, "matching": {"p1": "dog", "p2": "cat", "p3": "mouse"},
    "ordering": ["mo", "di", "mi", "do"], "hotspot": {"x": 40, "y": 30},
    "essay": "Liebe Frau Müller, ich komme am Montag um neun Uhr zum Termin. Viele Grüße",
}
"""An answer of each item type's shape, as the exam page sends it."""


def media_files() -> tuple[bytes, bytes]:
    """The recording (20 s of a 16 kHz mono WAV tone, 640 KB, like a short announcement) and a 1024x768 PNG."""
    import io
    import math
    import wave

    from PIL import Image, ImageDraw

    rate = 16000
    samples = b"".join(int(8000 * math.sin(2 * math.pi * 440 * t / rate)).to_bytes(2, "little", signed=True)
                       for t in range(rate * 20))
    sound = io.BytesIO()
    with wave.open(sound, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples)
    picture = Image.new("RGB", (1024, 768), "white")
    draw = ImageDraw.Draw(picture)
    for k in range(0, 1024, 32):  # a street grid: a PNG of realistic size, not a blank one
        draw.line([(k, 0), (1023 - k // 2, 767)], fill=(k % 255, 90, 160), width=3)
    draw.rectangle([0, 0, 200, 150], fill=(200, 40, 40))
    png = io.BytesIO()
    picture.save(png, "PNG")
    return sound.getvalue(), png.getvalue()


def attach_media(env: dict[str, str], exam_id: int) -> None:
    """Store the recording and the picture as the exam office uploads them and point the exam's items at them."""
    code = f"""
import json, secrets, sys
sys.path.insert(0, {str(REPO)!r})
from sqlalchemy.orm.attributes import flag_modified
from app import create_app
from kernel.db import db
from accounts.models import Role
from accounts.services import create_user
from exams.models import Exam
from exams.itemmedia import store_item_image
from exams.stimuli import store_item_media
from bench.exams import media_files
app = create_app()
with app.app_context():
    exam = db.session.get(Exam, {exam_id})
    staff = create_user(f"office-{{secrets.token_hex(3)}}@bench.example", "x" * 16, Role.STAFF, "Office",
                        exam.institution)
    sound, png = media_files()
    audio = store_item_media(staff, sound).public_id
    image = store_item_image(staff, png).public_id
    text = json.dumps(exam.questions).replace('"@audio"', json.dumps(audio)).replace('"@image"', json.dumps(image))
    exam.questions = json.loads(text)
    flag_modified(exam, "questions")
    db.session.commit()
"""
    subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, check=True, capture_output=True, text=True)


def free_port() -> int:
    """An unused TCP port on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def prepare(env: dict[str, str], n: int, questions: list[dict[str, Any]]) -> int:
    """Migrate a fresh database and seed one exam of ``questions`` (with its media) and ``n`` candidates;
    returns the exam id."""
    subprocess.run([sys.executable, "-m", "flask", "--app", "app", "db", "upgrade"], cwd=REPO, env=env,
                   check=True, capture_output=True)
    exam_id = seed_exam(env, n, name="Bench", password=PASSWORD, questions=questions, identity=False,
                        proctoring=False, last_name="Candidate")
    if any('"@audio"' in json.dumps(q) or '"@image"' in json.dumps(q) for q in questions):
        attach_media(env, exam_id)
    return exam_id


class Candidate:
    """One simulated candidate with a keep-alive connection and a session cookie."""

    def __init__(self, port: int, email: str, items: list[dict[str, Any]] | None = None) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.cookie = ""
        self.email = email
        self.csrf = ""
        self.items = items or QUESTIONS
        self.media = items is not None  # the 60-item exam: page loads and a listening play are measured too
        self.latencies: list[float] = []
        self.page_loads: list[float] = []
        self.plays: list[float] = []
        self.errors = 0
        self.sent: dict[str, Any] = {}
        self.cached: set[str] = set()  # what this browser keeps: answers it was allowed to cache (immutable)
        self.started = threading.Event()  # set once the start's page load and play are done (or failed)

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
        self.fetch_resources(page)  # the login page's scripts and styles, as a browser loads them
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

    def fetch_resources(self, page: bytes) -> tuple[bool, int]:
        """Each picture, script and style sheet ``page`` names, one after the other on this connection, except
        what this browser keeps from an earlier answer (``Cache-Control: ... immutable``: a browser does not ask
        again, not even on a reload); whether all came, and how many were named."""
        names = set(re.findall(rb'<(?:img|script)[^>]+src="(/[^"]+)"', page))
        names |= set(re.findall(rb'<link[^>]+href="(/[^"]+\.css[^"]*)"', page))
        ok = True
        for name in sorted(names):
            url = name.decode().replace("&amp;", "&")
            if url in self.cached:
                continue
            status, headers, _ = self.request("GET", url)
            ok = ok and status == 200
            if "immutable" in headers.get("Cache-Control", "") and "no-store" not in headers["Cache-Control"]:
                self.cached.add(url)
        return ok, len(names)

    def load_page(self, attempt_id: int) -> None:
        """The exam page as a browser loads it: the HTML, then each picture, script and style sheet it names (one
        after the other on this connection; what the browser keeps is not asked again); the seconds go to
        ``page_loads``."""
        t0 = time.perf_counter()
        status, _, page = self.request("GET", f"/candidate/attempts/{attempt_id}")
        ok, named = self.fetch_resources(page)
        self.page_loads.append(time.perf_counter() - t0)
        if status != 200 or not ok or not named:
            self.errors += 1

    def play_listening(self, attempt_id: int) -> None:
        """One play of a listening item: the ticket, then the recording streamed whole."""
        item = random.choice([q["id"] for q in self.items if (q.get("media") or {}).get("plays")])
        t0 = time.perf_counter()
        status, _, body = self.request("POST", f"/api/attempts/{attempt_id}/media/{item}/plays", b"{}",
                                       "application/json")
        sound = b""
        if status == 200:
            status, _, sound = self.request("GET", json.loads(body)["url"])
        self.plays.append(time.perf_counter() - t0)
        if status != 200 or len(sound) < 640_000:  # the whole recording, not a refusal
            self.errors += 1

    def guarded(self, step: Any, attempt_id: int) -> None:
        """Run a page load or a play; a connection the server closed (keep-alive ended) is reopened for one more
        try of a page load, as a browser does; a play is not sent twice (it would use up a play): an error."""
        for attempt in range(2):
            try:
                step(attempt_id)
                return
            except (OSError, http.client.HTTPException):
                self.conn.close()
                if step == self.play_listening or attempt == 1:
                    self.errors += 1
                    return

    def answer(self) -> tuple[str, Any]:
        """A random item and an answer of its shape."""
        if not self.media:
            return f"q{random.randrange(len(QUESTIONS))}", random.choice(["a", "b"])
        item = random.choice(self.items)
        return item["id"], ANSWERS[item["type"]]

    def run(self, attempt_id: int, until: float, interval: float) -> None:
        """Save one answer every ``interval`` seconds until ``until`` (with media: load the page at the start and
        half-way, and play one listening item)."""
        reload_at = time.monotonic() + (until - time.monotonic()) / 2
        if self.media:
            try:
                self.guarded(self.load_page, attempt_id)
                self.guarded(self.play_listening, attempt_id)
            finally:
                self.started.set()
        time.sleep(random.uniform(0, interval))
        while time.monotonic() < until:
            if self.media and time.monotonic() > reload_at:
                reload_at = float("inf")
                self.guarded(self.load_page, attempt_id)
            qid, value = self.answer()
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


class StartBurst:
    """Where the CPU went while all candidates loaded their page and played a recording at the start: the server
    (gunicorn and its workers), this bench's own client (the 50 "browsers", which in an exam run on the candidates'
    computers) and the machine as a whole (PostgreSQL's backends in it), against the cores' seconds of the burst."""

    def __init__(self, server_pid: int) -> None:
        self.pid = server_pid
        self.t0 = time.monotonic()
        self.at0 = self._now()
        self.at1: dict[str, float] = {}
        self.seconds = 0.0

    def _now(self) -> dict[str, float]:
        own = os.times()
        return {"server": process_tree_cpu_s(self.pid), "client": own.user + own.system, "machine": machine_busy()}

    def done(self) -> None:
        """The last candidate's start is over."""
        self.seconds = time.monotonic() - self.t0
        self.at1 = self._now()

    def figures(self) -> dict[str, float]:
        """CPU seconds per part over the burst, and its wall-clock seconds."""
        used = {k: round(self.at1.get(k, v) - v, 2) for k, v in self.at0.items()}
        return {"start_burst_s": round(self.seconds, 2), **{f"start_burst_cpu_s_{k}": v for k, v in used.items()}}

    def line(self) -> str:
        """One printed line."""
        f = self.figures()
        cores = os.cpu_count() or 1
        return (f"start burst: {f['start_burst_s']:.2f} s until every candidate's page and play were done; CPU "
                f"seconds over it: server {f['start_burst_cpu_s_server']:.2f}, this bench's client "
                f"{f['start_burst_cpu_s_client']:.2f}, the machine {f['start_burst_cpu_s_machine']:.2f} of "
                f"{cores * f['start_burst_s']:.2f} ({cores} cores)")


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


ITEM_ATTEMPTS, ITEM_COUNT = 1000, 60


def seed_item_analysis(n: int = ITEM_ATTEMPTS, m: int = ITEM_COUNT) -> int:
    """In the app context: an exam of ``m`` four-option items and ``n`` released attempts answering all of them.

    Candidates answer like people of differing ability (a stronger one picks the right option more often), so
    the correlations are not degenerate. Returns the exam id."""
    import numpy as np
    from sqlalchemy import insert

    from accounts.models import Role, User
    from accounts.services import create_institution
    from exams.models import Answer, Attempt, AttemptStatus, Exam
    from kernel.clock import utcnow
    from kernel.db import db

    rng = np.random.default_rng(42)
    now = utcnow()
    inst = create_institution("Item bench", f"item-bench-{secrets.token_hex(3)}")
    questions = [{"id": f"q{j}", "type": "single_choice", "prompt": f"Frage {j}", "points": 1,
                  "options": [{"id": o, "text": o.upper(), "correct": o == "a"} for o in "abcd"]} for j in range(m)]
    exam = Exam(institution=inst, title="Item bench", description="", duration_minutes=60,
                opens_at=now - dt.timedelta(days=2), closes_at=now - dt.timedelta(days=1), pass_mark_percent=50,
                identity_check_required=False, proctoring_required=False, questions=questions)
    db.session.add(exam)
    db.session.flush()
    db.session.execute(insert(User), [
        {"email": f"item{i}@bench.example", "password_hash": "!", "role": Role.CANDIDATE,
         "display_name": f"Kandidat {i}", "institution_id": inst.id} for i in range(n)])
    user_ids = list(db.session.scalars(select_ids(User.id, User.institution_id == inst.id)))
    db.session.execute(insert(Attempt), [
        {"exam_id": exam.id, "user_id": uid, "status": AttemptStatus.SUBMITTED, "started_at": now,
         "deadline_at": now, "ended_at": now, "seed": 0, "layout": {}, "result_released_at": now}
        for uid in user_ids])
    attempt_ids = list(db.session.scalars(select_ids(Attempt.id, Attempt.exam_id == exam.id)))
    ability = rng.uniform(0.2, 0.95, size=n)
    right = rng.random((n, m)) < ability[:, None]
    wrong = rng.choice(["b", "c", "d"], size=(n, m))
    db.session.execute(insert(Answer), [
        {"attempt_id": aid, "question_id": f"q{j}", "value": "a" if right[i, j] else str(wrong[i, j]),
         "saved_at": now} for i, aid in enumerate(attempt_ids) for j in range(m)])
    db.session.commit()
    return int(exam.id)


def select_ids(column: Any, where: Any) -> Any:
    """``SELECT column WHERE ... ORDER BY column`` (ids in insertion order)."""
    from sqlalchemy import select

    return select(column).where(where).order_by(column)


def time_item_analysis(exam_id: int) -> float:
    """In the app context: seconds of the best of three item analyses of the exam, loading included."""
    from exams.models import Exam
    from items.statistics import item_analysis
    from kernel.db import db

    best = float("inf")
    for _ in range(3):
        db.session.expire_all()
        db.session.close()
        t0 = time.perf_counter()
        exam = db.session.get(Exam, exam_id)
        assert exam is not None
        result = item_analysis(exam)
        best = min(best, time.perf_counter() - t0)
        assert not result.suppressed and result.attempts == ITEM_ATTEMPTS and len(result.items) == ITEM_COUNT
    return best


def run_item_analysis(label: str, database_url: str | None) -> float:
    """Seed and time the item analysis on a fresh database in a separate process (as the web app runs it)."""
    with tempfile.TemporaryDirectory(prefix=f"bench-items-{label}-") as tmp:
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
        env["AUFSICHT_INSTANCE_PATH"] = tmp
        if database_url:
            env["DATABASE_URL"] = database_url
        subprocess.run([sys.executable, "-m", "flask", "--app", "app", "db", "upgrade"], cwd=REPO, env=env,
                       check=True, capture_output=True)
        out = subprocess.run([sys.executable, str(Path(__file__)), "--measure-item-analysis"], cwd=REPO, env=env,
                             check=True, capture_output=True, text=True)
        seconds = float(json.loads(out.stdout.strip().splitlines()[-1])["item_analysis_s"])
        print(f"{label:9} item analysis {ITEM_ATTEMPTS} x {ITEM_COUNT}: {seconds:.3f} s", flush=True)
        return seconds


def measure_item_analysis_here() -> None:
    """The child process: seed in one app context, time in a fresh one, print one JSON line."""
    from app import create_app

    app = create_app()
    with app.app_context():
        exam_id = seed_item_analysis()
    with app.app_context():
        print(json.dumps({"item_analysis_s": time_item_analysis(exam_id)}))


def fresh_postgres(base: str) -> tuple[Any, str, str]:
    """A new database on the server ``base``: (admin engine, its name, its URL)."""
    import sqlalchemy as sa

    name = f"aufsicht_bench_{secrets.token_hex(4)}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    return admin, name, sa.make_url(base).set(database=name).render_as_string(hide_password=False)


def drop_postgres(admin: Any, name: str) -> None:
    """Drop a database made by :func:`fresh_postgres`."""
    import sqlalchemy as sa

    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def run_one(label: str, database_url: str | None, args: argparse.Namespace,
            items: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Benchmark one database (with ``items``: the exam of those items and their media); returns its figures."""
    with tempfile.TemporaryDirectory(prefix=f"bench-{label}-") as tmp:
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
        env["AUFSICHT_INSTANCE_PATH"] = tmp
        if database_url:
            env["DATABASE_URL"] = database_url
        exam_id = prepare(env, args.candidates, items or QUESTIONS)
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
            cands = [Candidate(port, f"c{i}@bench.example", items) for i in range(args.candidates)]
            attempt_ids = [c.login_and_start(exam_id) for c in cands]
            start = time.monotonic()
            until = start + args.seconds
            threads = [threading.Thread(target=c.run, args=(aid, until, args.interval))
                       for c, aid in zip(cands, attempt_ids, strict=True)]
            burst = StartBurst(server.pid)
            for t in threads:
                t.start()
            if items is not None:
                for c in cands:
                    c.started.wait(120)
                burst.done()
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
        if items is not None:
            loads = sorted(x for c in cands for x in c.page_loads)
            plays = sorted(x for c in cands for x in c.plays)
            figures["page_load_p95_ms"] = loads[int(0.95 * (len(loads) - 1))] * 1000
            figures["page_load_p50_ms"] = statistics.median(loads) * 1000
            figures["play_p95_ms"] = plays[int(0.95 * (len(plays) - 1))] * 1000
            for name, index in (("start", 0), ("reload", 1)):  # all 50 at once; each half-way, as the saves fall
                some = sorted(c.page_loads[index] for c in cands if len(c.page_loads) > index)
                figures[f"page_load_{name}_p95_ms"] = some[int(0.95 * (len(some) - 1))] * 1000 if some else 0.0
            print(f"{label:9} exam page with its pictures, scripts and styles: {len(loads)} loads, p50 "
                  f"{figures['page_load_p50_ms']:.0f} ms, p95 {figures['page_load_p95_ms']:.0f} ms; a listening "
                  f"play (ticket + 640 KB streamed): p95 {figures['play_p95_ms']:.0f} ms", flush=True)
            print(f"{label:9} {burst.line()}", flush=True)
            figures.update(burst.figures())
            print(f"{label:9} page loads at the start (with the plays): p95 {figures['page_load_start_p95_ms']:.0f} "
                  f"ms; at the reload half-way: p95 {figures['page_load_reload_p95_ms']:.0f} ms", flush=True)
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
    ap.add_argument("--items-only", action="store_true", help="only the item analysis row")
    ap.add_argument("--exam", choices=["both", "simple", "media60"], default="both",
                    help="the 20-item rows, the 60-item exam with media (PostgreSQL), or both")
    ap.add_argument("--measure-item-analysis", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.measure_item_analysis:
        measure_item_analysis_here()
        return
    from app.config import normalise_database_url

    base = normalise_database_url(args.postgres)
    print(f"CPU: {cpu_model()}, {os.cpu_count()} CPUs", flush=True)
    items_sqlite = run_item_analysis("sqlite", None)
    admin, name, url = fresh_postgres(base)
    try:
        items_pg = run_item_analysis("postgres", url)
    finally:
        drop_postgres(admin, name)
    items = {"item_analysis_s": round(items_pg, 3), "item_analysis_s_sqlite": round(items_sqlite, 3),
             "cpu": cpu_model()}
    if args.items_only:
        print(json.dumps({**items, "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}))
        return
    print(f"{args.candidates} candidates, one save each every {args.interval:g} s, {args.seconds:g} s, "
          f"gunicorn {args.workers} workers x 8 threads, {os.cpu_count()} CPUs")
    rows: dict[str, Any] = {}
    errors = lost = 0
    if args.exam in ("both", "simple"):
        sqlite = run_one("sqlite", None, args)
        admin, name, url = fresh_postgres(base)
        try:
            pg = run_one("postgres", url, args)
        finally:
            drop_postgres(admin, name)
        rows |= {"p95_ms_sqlite": round(sqlite["p95_ms"], 1), "p95_ms_postgres": round(pg["p95_ms"], 1),
                 "saves_per_s_sqlite": round(sqlite["saves_per_s"], 1),
                 "saves_per_s_postgres": round(pg["saves_per_s"], 1)}
        errors += sqlite["errors"] + pg["errors"]
        lost += sqlite["lost_answers"] + pg["lost_answers"]
    if args.exam in ("both", "media60"):
        print("60 items with media (10 listening items played at most twice, 10 pictures), on PostgreSQL")
        admin, name, url = fresh_postgres(base)
        try:
            media = run_one("media60", url, args, media_items())
        finally:
            drop_postgres(admin, name)
        rows |= {"page_load_p95_ms": round(media["page_load_p95_ms"], 1),
                 "p95_ms_media60": round(media["p95_ms"], 1), "play_p95_ms": round(media["play_p95_ms"], 1),
                 "page_load_start_p95_ms": round(media["page_load_start_p95_ms"], 1),
                 "page_load_reload_p95_ms": round(media["page_load_reload_p95_ms"], 1)}
        errors += media["errors"]
        lost += media["lost_answers"]
    print(json.dumps({**rows, "errors": errors, "lost_answers": lost, **items,
                      "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}))


if __name__ == "__main__":
    main()
