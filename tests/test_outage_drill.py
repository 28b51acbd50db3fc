"""PostgreSQL and Redis restarted under load: requests fail cleanly meanwhile, the platform recovers by
itself, nothing acknowledged is lost and no job has its effect twice.

The drill runs its own PostgreSQL (initdb into a temporary folder, on a free port) and its own Redis
(append-only file fsynced on every write, as docs/deploy.md tells production to run the queue's Redis),
gunicorn with two web workers, two ``flask jobs worker`` processes and one media engine, wired as in
production. Candidates save answers all the time; others ask for their data export and go through the
identity check (the live challenge over WebRTC with a 3D head that follows the prompts, the frames handed
over by the media engine, the face match in the job workers). PostgreSQL is stopped with ``-m immediate``
(a crash: recovery on start) and started again; then Redis is killed (-9) and started again on the same
folder. Nothing is restarted but the two servers. Afterwards:

- every request had an answer: 2xx/3xx, or 503 with the error shape (JSON) or a page without traceback;
  never a 500, never a dropped connection; the web and job processes are still the same processes;
- answer saves go through again after the restart without anyone touching the app, and go through all the
  time while Redis is down (the exam does not need the queue);
- every acknowledged answer is in the database (or a later one of the same question);
- every export asked for is built exactly once (one ZIP each, partial ZIPs of cut-off builds deleted) and
  every identity check reached one decision (one face template, ID images purged once), including those
  acknowledged while Redis was down (their jobs are queued by the periodic requeue).
"""

from __future__ import annotations

import collections
import contextlib
import glob
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, need_service

pytestmark = pytest.mark.browser  # heavy: its own PostgreSQL and Redis, gunicorn and job workers

PASSWORD = "drill password 1"
QUESTIONS = [{"id": f"q{i}", "type": "free_text", "prompt": f"Frage {i}", "points": 1} for i in range(5)]
SAVERS, EXPORTERS, IDENTITIES = 6, 3, 5
BASELINE_S, DOWN_S, SETTLE_S = 4.0, 6.0, 6.0
CHALLENGE_S = 13.5  # an identity check's live challenge: connect, 2 s straight, 3 moves of 3 s, hand-over
ALL_STATUSES = tuple(range(100, 600))


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(check: Any, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if check():
                return
        time.sleep(0.1)
    raise AssertionError(f"{what} did not come up")


class PrivatePostgres:
    """A PostgreSQL cluster of its own in a temporary folder (run as the postgres user when we are root)."""

    def __init__(self, root: Path) -> None:
        binaries = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                          key=lambda p: int(Path(p).parent.parent.name))
        if not binaries:
            need_service("PostgreSQL server binaries", "no /usr/lib/postgresql/*/bin/initdb")
        self.bin = Path(binaries[-1]).parent
        self.root, self.data, self.port = root, root / "data", _port()
        self.as_owner: list[str] = []
        if os.geteuid() == 0:  # initdb and pg_ctl refuse to run as root
            owner = pwd.getpwnam("postgres")
            os.chown(root, owner.pw_uid, owner.pw_gid)
            self.as_owner = ["runuser", "-u", "postgres", "--"]
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/drill"

    def _run(self, *args: str) -> None:
        subprocess.run([*self.as_owner, *args], check=True, capture_output=True, timeout=60)

    def init(self) -> None:
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8",
                  "--no-sync")
        self.start()
        self._run(str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "drill")

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.root}"
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.root / "postgres.log"), "-w",
                  "-t", "60", "-o", options, "start")

    def stop(self) -> None:
        """Stop at once, as a crash would: no checkpoint, recovery on the next start."""
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.stop()


class PrivateRedis:
    """A redis-server of its own, persisting every write before it answers (appendfsync always)."""

    def __init__(self, root: Path) -> None:
        server = shutil.which("redis-server")
        if server is None:
            need_service("Redis", "redis-server is not installed")
        self.args = [str(server), "--port", str(_port()), "--bind", "127.0.0.1", "--dir", str(root),
                     "--appendonly", "yes", "--appendfsync", "always", "--save", "", "--daemonize", "no",
                     "--logfile", str(root / "redis.log")]
        self.url = f"redis://127.0.0.1:{self.args[2]}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        from redis import Redis

        self.proc = subprocess.Popen(self.args, start_new_session=True, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        client = Redis.from_url(self.url, socket_connect_timeout=1)
        _wait(client.ping, "Redis")
        client.close()

    def kill(self) -> None:
        """SIGKILL: only what the append-only file holds survives."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    close = kill


class Outcomes:
    """What each request got, by phase: ok, unavailable (a clean 503) or a problem."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.phase = "baseline"
        self.counts: collections.Counter[tuple[str, str, str]] = collections.Counter()
        self.problems: list[str] = []
        self.first_ok_after: dict[str, float] = {}  # phase -> first successful save in it (monotonic)

    def record(self, label: str, resp: Any, json_api: bool) -> str:
        """Classify one response (None: no response at all)."""
        if resp is None:
            outcome = "no_response"
        elif resp.status < 400:
            outcome = "ok"
        elif resp.status == 503:
            outcome = "unavailable" if _clean_503(resp, json_api) else "unclean_503"
        elif resp.status == 409 and label == "identity_document":
            outcome = "conflict"  # the step went through before its answer was lost: the flow moves on
        elif resp.status == 409 and label == "identity_liveness_start":
            outcome = "conflict"  # the engine does not receive the camera yet: the page tries again
        else:
            outcome = f"http_{resp.status}"
        with self.lock:
            self.counts[(self.phase, label, outcome)] += 1
            if outcome not in ("ok", "unavailable", "conflict"):
                body = b"" if resp is None else resp.data[:200]
                self.problems.append(f"{self.phase} {label}: {outcome} {body!r}")
            if outcome == "ok" and label == "answer_save" and self.phase not in self.first_ok_after:
                self.first_ok_after[self.phase] = time.monotonic()
        return outcome

    def total(self, *, phase: str | None = None, label: str | None = None, outcome: str | None = None) -> int:
        return sum(n for (p, lab, o), n in self.counts.items()
                   if phase in (None, p) and label in (None, lab) and outcome in (None, o))


def _clean_503(resp: Any, json_api: bool) -> bool:
    body = resp.data.decode("utf-8", "replace")
    if "Traceback" in body or "psycopg" in body or "redis" in body.lower() or "Retry-After" not in resp.headers:
        return False
    if not json_api:
        return "<h1>" in body
    doc = json.loads(body)
    return set(doc) == {"error"} and doc["error"]["code"] == "service_unavailable" and bool(doc["error"]["message"])


def _send(b: Any, label: str, method: str, path: str, *, body: bytes | None = None,
          ctype: str | None = None) -> Any:
    return b.call(label, method, path, body=body, ctype=ctype, ok=ALL_STATUSES)


def _form(b: Any, label: str, path: str, fields: dict[str, str]) -> Any:
    body = urllib.parse.urlencode({**fields, "csrf_token": b.csrf}).encode()
    return _send(b, label, "POST", path, body=body, ctype="application/x-www-form-urlencoded")


def _login(base: str, email: str) -> Any:
    from bench.load import Browser

    b = Browser(base)
    page = b.call("login_page", "GET", "/login")
    b.csrf = page.data.decode().split('name="csrf-token" content="')[1].split('"')[0]
    assert b.form("login", "/login", {"email": email, "password": PASSWORD}).status == 302
    return b


@contextlib.contextmanager
def platform(pg: PrivatePostgres, redis: PrivateRedis, workdir: Path) -> Iterator[dict[str, Any]]:
    """gunicorn (2 workers) and two job workers on the private servers; yields the base URL and processes."""
    key = __import__("base64").b64encode(secrets.token_bytes(32)).decode()
    engine_port = _port()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("AUFSICHT_")},
           "DATABASE_URL": pg.url, "REDIS_URL": redis.url, "AUFSICHT_INSTANCE_PATH": str(workdir / "instance"),
           "AUFSICHT_SECRET_KEY": secrets.token_urlsafe(32),
           "AUFSICHT_STORAGE_MASTER_KEYS": json.dumps({"active": "k1", "keys": {"k1": key}}),
           "AUFSICHT_MEDIA_GRANT_KEY": __import__("base64").b64encode(secrets.token_bytes(32)).decode(),
           "AUFSICHT_LOGIN_MAX_FAILURES": "1000",
           # the drill asks for many exports per person; the daily bound is tested in tests/hostile/test_bounds.py
           "AUFSICHT_EXPORTS_PER_DAY": "1000",
           # one media engine process (the identity check's camera): web workers reach it over its API
           "AUFSICHT_MEDIA_ENGINES": json.dumps([f"http://127.0.0.1:{engine_port}"]),
           "AUFSICHT_MEDIA_HOST_ADDRESSES": '["127.0.0.1"]', "AUFSICHT_PROCTORING_FACE_FLAGS": "false",
           "AUFSICHT_IDCHECK_REQUIRE_MRZ": "false",
           # Lost jobs are found again within seconds, not minutes, so that the drill stays short.
           "AUFSICHT_JOB_STALLED_AFTER_SECONDS": "4",
           "AUFSICHT_JOB_PERIODS": json.dumps({"idcheck.requeue_stalled": 2, "privacy.requeue_stalled_exports": 2})}
    flask = [sys.executable, "-m", "flask", "--app", "app"]
    subprocess.run([*flask, "db", "upgrade"], cwd=REPO, env=env, check=True, capture_output=True, timeout=120)
    port = _port()
    procs: dict[str, subprocess.Popen[bytes]] = {}
    logs = workdir / "logs"
    logs.mkdir()

    def spawn(name: str, args: list[str]) -> None:
        with open(logs / f"{name}.log", "wb") as log:
            procs[name] = subprocess.Popen(args, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
                                           start_new_session=True)

    try:
        spawn("web", [str(Path(sys.executable).parent / "gunicorn"), "-w", "2", "-k", "gthread", "--threads", "4",
                      "--timeout", "60", "-b", f"127.0.0.1:{port}", "--log-level", "warning", "wsgi:app"])
        for i in (1, 2):
            spawn(f"jobs{i}", [*flask, "jobs", "worker"])
        spawn("engine", [*flask, "media", "serve", "--host", "127.0.0.1", "--port", str(engine_port)])
        base = f"http://127.0.0.1:{port}"
        import urllib.request

        _wait(lambda: urllib.request.urlopen(base + "/healthz", timeout=2).status == 200, "web", 60)  # noqa: S310
        from proctoring import grants

        seed = __import__("base64").b64decode(env["AUFSICHT_MEDIA_GRANT_KEY"])
        engine_url = f"http://127.0.0.1:{engine_port}"

        def probe() -> urllib.request.Request:  # a grant is good for one call
            token = grants.sign(grants.private_key(seed), grants.Grant("probe"), engine=engine_url)
            return urllib.request.Request(engine_url + "/engine/healthz",  # noqa: S310
                                          headers={"Authorization": f"Grant {token}"})

        _wait(lambda: urllib.request.urlopen(probe(), timeout=2).status == 200, "media engine", 60)  # noqa: S310
        yield {"base": base, "env": env, "procs": procs, "logs": logs}
    finally:
        for proc in procs.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs.values():
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)


def _seed(pg_url: str, instance: Path) -> dict[str, Any]:
    """Two exams (one plain, one with the identity check) and the candidates of the drill."""
    import datetime as dt

    from accounts.services import create_institution, register_candidate
    from accounts.validation import Registration
    from app import create_app
    from app.config import normalise_database_url
    from exams.models import Enrolment, Exam
    from kernel.clock import utcnow
    from kernel.db import db

    app = create_app({"SQLALCHEMY_DATABASE_URI": normalise_database_url(pg_url), "INSTANCE_PATH": str(instance),
                      "TESTING": True, "REDIS_URL": None})
    with app.app_context():
        inst = create_institution("Drill", "drill")
        now = utcnow()
        exams = {}
        for kind, idcheck in (("plain", False), ("identity", True)):
            exam = Exam(institution=inst, title=f"Drill {kind}", description="", duration_minutes=120,
                        opens_at=now - dt.timedelta(hours=1), closes_at=now + dt.timedelta(days=1),
                        pass_mark_percent=50, identity_check_required=idcheck, proctoring_required=False,
                        questions=QUESTIONS)
            db.session.add(exam)
            db.session.commit()
            exams[kind] = exam.id
        emails = {}
        for role, n in (("saver", SAVERS), ("exporter", EXPORTERS), ("identity", IDENTITIES)):
            emails[role] = [f"{role}{i}@drill.example" for i in range(n)]
            for email in emails[role]:
                drilled = register_candidate(inst, Registration(
                    email=email, password=PASSWORD, salutation="ms", first_name="Dora", last_name="Drill",
                    street="Weg 1", postal_code="10115", city="Berlin", country="DE", phone="+49301234567",
                    date_of_birth=dt.date(1990, 1, 1), place_of_birth="Berlin", gender=None,
                    id_document_number="T22000129"), "drill")
                drilled.email_verified_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)  # may start exams
                db.session.flush()
                db.session.add_all([Enrolment(exam_id=exam_id, user_id=drilled.id, attempts_allowed=1)
                                    for exam_id in exams.values()])  # on both rosters
                db.session.commit()
        db.session.remove()
        db.engine.dispose()
    return {"app": app, "exams": exams, "emails": emails}


def _saver(b: Any, attempt_id: int, out: Outcomes, stop: threading.Event, sent: list[tuple[str, str, bool]],
           seq: Iterator[int]) -> None:
    """Save answers as fast as a busy candidate would; remember what was acknowledged."""
    n = 0
    while not stop.is_set():
        qid, value = f"q{n % len(QUESTIONS)}", f"v{next(seq)}"
        n += 1
        resp = _send(b, "answer_save", "PUT", f"/api/attempts/{attempt_id}/answers/{qid}",
                     body=json.dumps({"value": value}).encode(), ctype="application/json")
        sent.append((qid, value, out.record("answer_save", resp, json_api=True) == "ok"))
        time.sleep(0.15)


def _exporter(browsers: list[Any], out: Outcomes, stop: threading.Event, acked: collections.Counter[int]) -> None:
    """Candidates ask for their data export, one after another."""
    i = 0
    while not stop.is_set():
        b = browsers[i % len(browsers)]
        if out.record("export_request", _form(b, "export_request", "/account/privacy/export", {}),
                      json_api=False) == "ok":
            acked[i % len(browsers)] += 1
        i += 1
        time.sleep(0.8)


def _identity(b: Any, exam_id: int, camera: Any, out: Outcomes, acked: list[str]) -> None:
    """One candidate's identity check: the ID photo, then the live challenge with a 3D head that follows the
    prompts (``bench.camera.live_challenge``); a step answered 503 is tried again, as the page's script does.
    Acknowledged once the challenge is over (the media engine then hands the frames to the check)."""
    import asyncio

    import urllib3

    from bench.camera import PromptedCamera, live_challenge
    from bench.load import FACES

    def step(label: str, send: Any) -> Any:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            resp = send()
            outcome = out.record(label, resp, json_api=True)
            if outcome in ("ok", "conflict"):
                return resp
            time.sleep(0.5)
        raise AssertionError(f"{label} never went through")

    body, ctype = urllib3.encode_multipart_formdata(
        [("file", ("id.jpg", (FACES / "obama2.jpg").read_bytes(), "image/jpeg"))])
    step("identity_document", lambda: _send(b, "identity_document", "POST", f"/api/identity/{exam_id}/document",
                                            body=body, ctype=ctype))

    def call(method: str, path: str, payload: Any) -> tuple[int, Any]:
        label = ("identity_camera" if path.endswith("/offer") else
                 "identity_liveness_start" if method == "POST" else "identity_prompt")
        resp = _send(b, label, method, path, body=None if payload is None else json.dumps(payload).encode(),
                     ctype="application/json")
        out.record(label, resp, json_api=True)
        if resp is None:
            return 0, None
        try:
            return resp.status, json.loads(resp.data)
        except ValueError:
            return resp.status, None

    # As the page does: the check waits for the frames for 8 s after the challenge; if they never came (the
    # engine could not hand them over), the page says so and the candidate repeats the movements.
    repeated = 0
    while True:
        asyncio.run(live_challenge(call, f"/api/identity/{exam_id}", PromptedCamera(camera), retry_for=90))
        end = time.monotonic() + 8
        status = "started"
        while status == "started" and time.monotonic() < end:
            code, state = call("GET", f"/api/identity/{exam_id}", None)
            status = state.get("status", "started") if code == 200 and isinstance(state, dict) else "started"
            time.sleep(0.5)
        if status != "started" or repeated == 2:
            break
        repeated += 1
    acked.append(out.phase + (f" (movements repeated {repeated}x)" if repeated else ""))


def test_postgres_and_redis_restart_under_load(tmp_path: Path) -> None:
    sys.path.insert(0, str(REPO))
    from bench.camera import drawer
    from tests.conftest import FACES

    started = time.monotonic()
    root = Path(tempfile.mkdtemp(prefix="aufsicht-outage-"))  # not under pytest's tmp: the postgres user reads it
    root.chmod(0o755)
    (root / "pg").mkdir()
    (root / "redis").mkdir()
    pg, redis = PrivatePostgres(root / "pg"), None
    try:
        pg.init()
        redis = PrivateRedis(root / "redis")
        redis.start()
        with platform(pg, redis, tmp_path) as stack:
            seeded = _seed(pg.url, tmp_path / "instance")
            _run_drill(stack, seeded, pg, redis, drawer(FACES, "head"), started)
    finally:
        if redis is not None:
            redis.close()
        pg.close()
        shutil.rmtree(root, ignore_errors=True)


def _run_drill(stack: dict[str, Any], seeded: dict[str, Any], pg: PrivatePostgres, redis: PrivateRedis,
               camera: Any, started: float) -> None:
    import itertools

    base, exams, emails = stack["base"], seeded["exams"], seeded["emails"]
    out, stop = Outcomes(), threading.Event()
    seq = itertools.count()
    savers = []
    for email in emails["saver"]:
        b = _login(base, email)
        resp = b.form("start", f"/candidate/exams/{exams['plain']}/start", {})
        savers.append((b, int(resp.headers["Location"].rstrip("/").split("/")[-1]), []))
    exporters = [_login(base, email) for email in emails["exporter"]]
    identities = []
    for email in emails["identity"]:
        b = _login(base, email)
        assert _form(b, "consent", f"/candidate/exams/{exams['identity']}/identity/consent",
                     {"granted": "yes"}).status == 302
        identities.append(b)
    export_acks: collections.Counter[int] = collections.Counter()
    identity_acks: list[str] = []
    threads = [threading.Thread(target=_saver, args=(b, att, out, stop, sent, seq), daemon=True)
               for b, att, sent in savers]
    threads.append(threading.Thread(target=_exporter, args=(exporters, out, stop, export_acks), daemon=True))
    for t in threads:
        t.start()
    id_threads: list[threading.Thread] = []

    def identity_now(i: int) -> None:
        t = threading.Thread(target=_identity, args=(identities[i], exams["identity"], camera, out, identity_acks),
                             daemon=True)
        t.start()
        id_threads.append(t)

    def phase(name: str) -> float:
        with out.lock:
            out.phase = name
        return time.monotonic()

    timeline: dict[str, float] = {}
    identity_now(0)
    time.sleep(BASELINE_S + CHALLENGE_S)  # its challenge is over before PostgreSQL goes

    phase("postgres_down")
    pg.stop()
    identity_now(1)  # answered 503 until PostgreSQL is back, tried again by the page
    time.sleep(DOWN_S)
    t0 = time.monotonic()
    pg.start()
    timeline["postgres_start_s"] = time.monotonic() - t0
    timeline["postgres_back_at"] = phase("postgres_back")
    identity_now(4)  # its challenge ends, and its face match is likely under way, just before Redis goes
    time.sleep(2.5)
    identity_now(2)  # its challenge ends while the queue is down: its job is queued by the periodic requeue
    time.sleep(CHALLENGE_S + 1.0 - 2.5)

    phase("redis_down")
    redis.kill()
    time.sleep(DOWN_S)
    redis.start()
    timeline["redis_back_at"] = phase("redis_back")
    identity_now(3)
    time.sleep(SETTLE_S)
    stop.set()
    for t in threads + id_threads:
        t.join(90)

    _check_outcome(stack, seeded, out, savers, export_acks, identity_acks, timeline, started)


def _check_outcome(stack: dict[str, Any], seeded: dict[str, Any], out: Outcomes, savers: list[Any],
                   export_acks: collections.Counter[int], identity_acks: list[str], timeline: dict[str, float],
                   started: float) -> None:
    from sqlalchemy import func, select

    from accounts.models import User
    from exams.models import Answer
    from idcheck.models import IdCheck, IdCheckStatus
    from kernel.db import db
    from privacy.models import DataExport
    from storage.models import Blob, BlobState, PurgeReceipt

    app = seeded["app"]
    # The jobs acknowledged before, during and after the outages all end (none lost, none stuck). The wait is
    # generous: the last identity checks are acknowledged late (their live challenge takes 13 s), and on a
    # shared machine their face matches queue behind the exports; the time taken is reported.
    deadline = time.monotonic() + 120
    with app.app_context():
        while True:
            db.session.rollback()
            pending = db.session.scalar(select(func.count()).select_from(IdCheck).where(
                IdCheck.status == IdCheckStatus.PROCESSING)) + db.session.scalar(
                select(func.count()).select_from(DataExport).where(DataExport.status.in_(("queued", "running"))))
            if pending == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        jobs_done_s = time.monotonic() - timeline["redis_back_at"]

        saved = {(a.attempt_id, a.question_id): a.value for a in db.session.scalars(select(Answer))}
        lost = 0
        for _b, attempt_id, sent in savers:
            last_ack: dict[str, int] = {}
            for n, (qid, _value, ok) in enumerate(sent):
                if ok:
                    last_ack[qid] = n
            for qid, n in last_ack.items():  # the acknowledged value, or one sent after it (unacknowledged)
                allowed = {v for q, v, _ok in sent[n:] if q == qid}
                lost += saved.get((attempt_id, qid)) not in allowed

        users = {u.email: u.id for u in db.session.scalars(select(User))}
        exporter_ids = [users[e] for e in seeded["emails"]["exporter"]]
        exports = db.session.scalars(select(DataExport).where(DataExport.user_id.in_(exporter_ids))).all()
        export_blobs = db.session.scalars(select(Blob).where(Blob.category == "export")).all()
        live_zips = [b for b in export_blobs if b.state == BlobState.COMPLETE]
        checks = db.session.scalars(select(IdCheck)).all()
        templates = db.session.scalars(select(Blob).where(Blob.category == "face_template")).all()
        id_images = db.session.scalars(select(Blob).where(Blob.category == "id_image")).all()
        receipts = collections.Counter(db.session.scalars(select(PurgeReceipt.blob_id)))
        db.session.remove()
        db.engine.dispose()

    procs, logs = stack["procs"], stack["logs"]
    web_log = (logs / "web.log").read_text(errors="replace")
    job_logs = "".join((logs / f"jobs{i}.log").read_text(errors="replace") for i in (1, 2))
    by_phase = {p: {o: out.total(phase=p, label="answer_save", outcome=o) for o in ("ok", "unavailable")}
                for p in ("baseline", "postgres_down", "postgres_back", "redis_down", "redis_back")}
    pg_recovery = out.first_ok_after.get("postgres_back", float("inf")) - timeline["postgres_back_at"]
    report = {
        "seconds": round(time.monotonic() - started, 1),
        "answer_saves": by_phase,
        "requests_unavailable_503": out.total(outcome="unavailable"),
        "problems": len(out.problems),
        "postgres_start_s": round(timeline["postgres_start_s"], 1),
        "saves_ok_again_after_postgres_start_s": round(pg_recovery, 2),
        "answers_lost": lost,
        "exports": {"acknowledged": sum(export_acks.values()), "rows": len(exports),
                    "ready": sum(e.status == "ready" for e in exports), "zips": len(live_zips),
                    "partial_zips_deleted": sum(b.state == BlobState.PURGED for b in export_blobs)},
        "identity_checks": {"acknowledged_in": identity_acks, "decided": collections.Counter(
            c.status.value for c in checks), "templates": len(templates),
            "not_verified": [(c.status.value, c.reason) for c in checks if c.status != IdCheckStatus.VERIFIED]},
        "jobs_all_done_after_redis_back_s": round(jobs_done_s, 1),
        "enqueues_left_to_requeue": web_log.count("left for its requeue"),
        "job_workers_lost_redis": job_logs.count("job worker lost Redis"),
        "web_unhandled_errors": web_log.count("unhandled error"),
    }
    print("\nOUTAGE DRILL", json.dumps(report, indent=1, default=str))

    assert not out.problems, out.problems[:10]
    assert all(p.poll() is None for p in procs.values()), "a platform process died"
    assert report["web_unhandled_errors"] == 0, web_log[-3000:]
    # PostgreSQL down: saves are refused cleanly; back: they go through again by themselves, within seconds.
    assert by_phase["postgres_down"]["unavailable"] > 0
    assert pg_recovery < 5
    assert by_phase["postgres_back"]["ok"] > 0 and by_phase["redis_back"]["ok"] > 0
    # Redis down: the exam does not notice.
    assert by_phase["redis_down"]["unavailable"] == 0 and by_phase["redis_down"]["ok"] > 0
    assert lost == 0
    # Exports: each acknowledged one built, exactly one ZIP each (any ZIP of a cut-off build deleted).
    assert sum(export_acks.values()) > 0
    assert len(exports) >= sum(export_acks.values())
    assert all(e.status == "ready" for e in exports), [(e.id, e.status) for e in exports]
    assert sorted(b.id for b in live_zips) == sorted(e.blob_id for e in exports)
    assert all(b.state in (BlobState.COMPLETE, BlobState.PURGED) for b in export_blobs)
    # Identity checks: every one acknowledged decided once by its job, none lost or stuck processing: verified
    # (the face matches: one template each, ID images purged), or, where the live challenge missed its
    # deadlines on an overloaded machine (seen at load 15 on 2 cores), with a person for the liveness reason.
    assert len(identity_acks) == IDENTITIES
    verified = [c for c in checks if c.status == IdCheckStatus.VERIFIED]
    assert len(checks) == IDENTITIES and verified, report["identity_checks"]
    assert all(c.status == IdCheckStatus.REVIEW and "liveness" in (c.reason or "")
               for c in checks if c not in verified), report["identity_checks"]
    assert sorted(t.user_id for t in templates) == sorted(c.user_id for c in verified)
    assert all(t.state == BlobState.COMPLETE for t in templates)
    mine = {c.user_id for c in verified}
    assert all(b.state == BlobState.PURGED for b in id_images if b.user_id in mine)
    assert all(n == 1 for n in receipts.values())
    assert report["enqueues_left_to_requeue"] > 0  # the drill did exercise the lost-enqueue path
