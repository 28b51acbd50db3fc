"""What several benchmarks share: seeding candidates, a simulated head turn, a WebRTC sender over a pipe.

The benchmark scripts run as ``python bench/<name>.py`` (this folder is then on ``sys.path``); the
tests import it as ``bench.common`` from the repository root.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


def seed_exam(env: dict[str, str], n: int, *, name: str, password: str, questions: list[dict[str, Any]],
              identity: bool, proctoring: bool, last_name: str = "Probe") -> int:
    """One open exam of a new institution ``name`` and ``n`` registered candidates ``c<i>@<slug>.example``,
    created through the real services in the database ``env`` points at; returns the exam id."""
    slug = name.lower()
    code = f"""
import datetime as dt, json
from app import create_app
from kernel.db import db
from kernel.clock import utcnow
from accounts.services import create_institution, register_candidate
from accounts.validation import Registration
from exams.models import Exam
app = create_app()
with app.app_context():
    inst = create_institution({name!r}, {slug!r})
    now = utcnow()
    exam = Exam(institution=inst, title={name!r}, description="", duration_minutes=120,
                opens_at=now - dt.timedelta(hours=1), closes_at=now + dt.timedelta(days=1), pass_mark_percent=50,
                identity_check_required={identity!r}, proctoring_required={proctoring!r},
                questions=json.loads({json.dumps(questions)!r}))
    db.session.add(exam); db.session.commit()
    for i in range({n}):
        cand = register_candidate(inst, Registration(email=f"c{{i}}@{slug}.example", password={password!r},
            salutation="ms", first_name={name!r}, last_name={last_name!r}, street="Weg 1", postal_code="10115",
            city="Berlin", country="DE", phone="+49301234567", date_of_birth=dt.date(1990, 1, 1),
            place_of_birth="Berlin", gender=None, id_document_number="T22000129"), {slug!r})
        cand.email_verified_at = now; db.session.commit()  # no mail to follow in a benchmark
    print(exam.id)
"""
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, check=True, capture_output=True, text=True)
    return int(out.stdout.strip().splitlines()[-1])


def head_turn(image: Any, k: float) -> Any:
    """Simulate a head turn: move the nose sideways relative to the outer eye corners (k > 0: to their left)."""
    import cv2
    import numpy as np

    from idcheck.quality import detect

    h, w = image.shape[:2]
    _top, right, _bottom, left = detect(image)[0]
    cx, half = (left + right) / 2, (right - left) * 0.4
    xs = np.arange(w, dtype=np.float32)
    u = np.clip((xs - (cx - half)) / (2 * half), 0, 1)
    mapx = np.tile(xs - k * half * np.sin(np.pi * u), (h, 1)).astype(np.float32)
    mapy = np.tile(np.arange(h, dtype=np.float32)[:, None], (1, w))
    return cv2.remap(image, mapx, mapy, cv2.INTER_LINEAR)


def stream_over_pipe(conn: Any, video: Any, seconds: float, report: Callable[[], Any]) -> None:
    """In a sender process: offer ``video`` plus a silent audio track, get the answer through the pipe,
    stream for ``seconds``, then send ``report()`` back (what the benchmark compares with what arrived)."""
    from aiortc import RTCPeerConnection, RTCSessionDescription
    from aiortc.mediastreams import AudioStreamTrack

    async def run() -> None:
        pc = RTCPeerConnection()
        pc.addTrack(video)
        pc.addTrack(AudioStreamTrack())
        await pc.setLocalDescription(await pc.createOffer())
        conn.send(pc.localDescription.sdp)
        answer = await asyncio.get_running_loop().run_in_executor(None, conn.recv)
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
        await asyncio.sleep(seconds)
        conn.send(report())
        await pc.close()

    asyncio.run(run())
