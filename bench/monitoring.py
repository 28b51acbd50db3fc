"""Monitoring cost per candidate: recording + snapshots + face-flag analysis, snapshot age, flag delay.

N aiortc senders in separate processes stream 640x480@30 video of test photos (one shows nobody,
one two people, the rest one face; one sender switches from a face to an empty picture half-way)
to the media engine of a real app (SQLite, encrypted local storage, face flags on). Prints this
process's CPU per candidate (% of one core), the p95 age of the snapshots a proctor's grid gets
(sampled every 200 ms through the proctor API), and the delay from the face leaving the picture
to the no-face flag. Last line: one JSON object with keys cpu_pct_per_candidate,
snapshot_age_ms_p95, flag_delay_s.

    .venv/bin/python bench/monitoring.py [--candidates 4] [--seconds 20]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from bench.common import stream_over_pipe  # noqa: E402  (after the path is set)

FACES = REPO / "tests" / "data" / "faces"


def sender(conn: Any, picture: str, switch_after: float | None, seconds: float) -> None:
    """Stream a photo as a webcam (switching to an empty picture after ``switch_after`` s); report the switch time."""
    import av
    import numpy as np
    from aiortc.mediastreams import VideoStreamTrack
    from PIL import Image

    def load(name: str | None) -> Any:
        canvas = Image.new("RGB", (640, 480), (90, 90, 90))
        if name:
            img = Image.open(FACES / name).convert("RGB")
            img.thumbnail((640, 480))
            canvas.paste(img, ((640 - img.width) // 2, (480 - img.height) // 2))
        return np.asarray(canvas)[:, :, ::-1].copy()

    face, empty = load(picture or None), load(None)
    state: dict[str, float | None] = {"start": None, "switched": None}

    class Webcam(VideoStreamTrack):
        async def recv(self) -> av.VideoFrame:
            pts, tb = await self.next_timestamp()
            now = time.time()
            state["start"] = state["start"] or now
            img = face
            if switch_after is not None and now - state["start"] >= switch_after:
                state["switched"] = state["switched"] or now
                img = empty
            frame = av.VideoFrame.from_ndarray(img, format="bgr24")
            frame.pts, frame.time_base = pts, tb
            return frame

    stream_over_pipe(conn, Webcam(), seconds, lambda: state["switched"])


def main() -> None:
    """Run the monitoring benchmark."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--candidates", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=20)
    args = ap.parse_args()
    n = max(3, args.candidates)
    tmp = tempfile.mkdtemp(prefix="bench-monitoring-")
    os.environ["AUFSICHT_INSTANCE_PATH"] = tmp
    os.environ.pop("DATABASE_URL", None)
    from flask_migrate import upgrade
    from sqlalchemy import select

    from accounts.models import Role
    from accounts.services import create_institution, create_user
    from app import create_app
    from exams.models import Attempt, Exam
    from kernel.clock import utcnow
    from kernel.db import db
    from proctoring.live import engine, sink_factory
    from proctoring.models import Flag, FlagKind
    from proctoring.sessions import session_id

    app = create_app({"INSTANCE_PATH": tmp, "MEDIA_HOST_ADDRESSES": ["127.0.0.1"], "WTF_CSRF_ENABLED": False})
    with app.app_context():
        upgrade()
        inst = create_institution("Bench", "bench")
        now = utcnow()
        exam = Exam(institution=inst, title="B", duration_minutes=120, opens_at=now, closes_at=now, questions=[],
                    pass_mark_percent=50, identity_check_required=False, proctoring_required=True)
        db.session.add(exam)
        inst.proctor_second_factor_optional = True  # the bench's proctor logs in with the password alone
        proctor = create_user("p@bench.example", "bench password", Role.PROCTOR, "P", inst)
        exam.proctors.append(proctor)
        attempts = []
        for i in range(n):
            cand = create_user(f"c{i}@bench.example", "bench password", Role.CANDIDATE, f"C{i}", inst)
            cand.role = Role.CANDIDATE
            att = Attempt(exam=exam, user=cand, deadline_at=now.replace(year=now.year + 1), seed=1, layout={})
            db.session.add(att)
            attempts.append(att)
        db.session.commit()
        ids = [a.id for a in attempts]
        users = [a.user_id for a in attempts]
        inst_id = inst.id
    pictures = ["", "two_people.jpg"] + ["obama.jpg"] * (n - 2)
    switch = [None, None, args.seconds / 2] + [None] * (n - 3)
    ctx = mp.get_context("spawn")
    pipes, procs = [], []
    for i in range(n):
        parent, child = ctx.Pipe()
        p = ctx.Process(target=sender, args=(child, pictures[i], switch[i], args.seconds + 3))
        p.start()
        pipes.append(parent)
        procs.append(p)
    eng = engine(app)
    for i, pipe in enumerate(pipes):
        pipe.send(eng.answer(session_id(ids[i]), pipe.recv(), sink_factory(app, ids[i], users[i], inst_id)))
    client = app.test_client()
    client.post("/login", data={"email": "p@bench.example", "password": "bench password"})
    time.sleep(2)
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.monotonic()
    ages: list[int] = []
    while time.monotonic() - t0 < args.seconds - 2:
        for tile in client.get("/api/proctor/live").get_json()["attempts"]:
            if tile["snapshot_age_ms"] is not None:
                ages.append(tile["snapshot_age_ms"])
        time.sleep(0.2)
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    elapsed = time.monotonic() - t0
    switched = [pipe.recv() for pipe in pipes]
    time.sleep(1)
    with app.app_context():
        flags = db.session.scalars(select(Flag)).all()
        no_face_flag = next((f for f in flags if f.attempt_id == ids[2] and f.kind == FlagKind.NO_FACE), None)
        by_kind = sorted({(f.attempt_id, f.kind.value) for f in flags})
    eng.stop()
    for p in procs:
        p.join(30)
    cpu = (r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime) / elapsed / n * 100
    ages.sort()
    p95 = ages[int(0.95 * (len(ages) - 1))] if ages else None
    delay = None
    if no_face_flag is not None and switched[2]:
        import calendar

        flag_at = calendar.timegm(no_face_flag.started_at.timetuple()) + no_face_flag.started_at.microsecond / 1e6
        delay = flag_at - switched[2]
    print(f"{n} candidates on {os.cpu_count()} CPUs (senders share them), {elapsed:.0f} s measured")
    print(f"server CPU per monitored candidate (recording + snapshots + face flags): {cpu:.1f}% of one core")
    print(f"snapshot age seen by the proctor API: p95 {p95} ms over {len(ages)} samples")
    print(f"flags raised: {by_kind}")
    shown = None if delay is None else round(delay, 1)
    print(f"delay from the face leaving the picture to the no-face flag: {shown} s")
    print(json.dumps({"cpu_pct_per_candidate": round(cpu, 1), "snapshot_age_ms_p95": p95,
                      "flag_delay_s": shown}))


if __name__ == "__main__":
    main()
