"""Kill -9 of the whole server mid-exam and mid-recording, then restart it: nothing acknowledged is lost.

The real one-process server (``flask serve``: web app, jobs, media engine) runs as a subprocess
on the test database. A candidate saves answers while their webcam streams; the server's process
group gets SIGKILL. After the restart the same browser session carries on: every acknowledged
answer is there, the attempt resumes (more answers, a new recording part), and the part cut by
the crash reads back as truncated and plays up to the crash.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import select

from exams.models import Answer, Attempt, AttemptStatus
from kernel.db import db
from proctoring.models import SystemCheck
from storage import vault
from storage.models import BlobState
from tests.conftest import PASSWORD, REPO
from tests.proctoring.conftest import PatternTrack, probe, recordings

pytestmark = pytest.mark.browser  # heavy: a server subprocess and WebRTC

QUESTIONS = [{"id": f"q{i}", "type": "single_choice", "prompt": f"Frage {i}", "points": 1,
              "options": [{"id": "a", "text": "A", "correct": True}, {"id": "b", "text": "B"}]} for i in range(8)]


def _port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """``flask serve`` in its own process group."""

    def __init__(self, database_url: str, instance_path: Path) -> None:
        self.port = _port()
        self.env = {**os.environ, "DATABASE_URL": database_url, "AUFSICHT_INSTANCE_PATH": str(instance_path),
                    "AUFSICHT_MEDIA_HOST_ADDRESSES": '["127.0.0.1"]', "AUFSICHT_PROCTORING_FACE_FLAGS": "false",
                    # The test pattern compresses to a few kB/s: small segments so that some are sealed
                    # before the kill (a real webcam fills a 256 KiB segment in about 1.5 s).
                    "AUFSICHT_STORAGE_SEGMENT_SIZE": "16384"}
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> str:
        self.proc = subprocess.Popen([sys.executable, "-m", "flask", "--app", "app", "serve", "--port",
                                      str(self.port)], cwd=REPO, env=self.env, start_new_session=True,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{self.port}"
        for _ in range(200):
            with contextlib.suppress(OSError):
                if urllib.request.urlopen(url + "/healthz", timeout=1).status == 200:  # noqa: S310
                    return url
            time.sleep(0.2)
        raise AssertionError("server did not start")

    def kill9(self) -> None:
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)


class Webcam:
    """An aiortc sender on its own loop thread, signalling with the browser's session."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.pc = None

    def connect(self, browser, attempt_id: int) -> None:
        from aiortc import RTCPeerConnection, RTCSessionDescription
        from aiortc.mediastreams import AudioStreamTrack

        async def run():
            pc = RTCPeerConnection()
            pc.addTrack(PatternTrack())
            pc.addTrack(AudioStreamTrack())
            await pc.setLocalDescription(await pc.createOffer())
            answer = await self.loop.run_in_executor(None, lambda: browser.json(
                "media_offer", "POST", f"/api/attempts/{attempt_id}/media/offer",
                {"type": "offer", "sdp": pc.localDescription.sdp}))
            assert answer is not None, browser.errors
            await pc.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type="answer"))
            for _ in range(100):
                if pc.connectionState == "connected":
                    return pc
                await asyncio.sleep(0.1)
            raise AssertionError(pc.connectionState)

        self.pc = asyncio.run_coroutine_threadsafe(run(), self.loop).result(30)

    def close(self) -> None:
        if self.pc is not None:
            asyncio.run_coroutine_threadsafe(self.pc.close(), self.loop).result(15)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


def test_kill9_mid_exam_and_recording_loses_nothing(app, database_url, instance_path, make_user, make_exam):
    sys.path.insert(0, str(REPO))
    from bench.load import Browser

    exam = make_exam(identity_check_required=False, proctoring_required=True, questions=QUESTIONS)
    cand = make_user("candidate", exam.institution)
    db.session.add(SystemCheck(user_id=cand.id, exam_id=exam.id))
    db.session.commit()
    server, cam = Server(database_url, instance_path), Webcam()
    try:
        b = Browser(server.start())
        page = b.call("login_page", "GET", "/login")
        b.csrf = page.data.decode().split('name="csrf-token" content="')[1].split('"')[0]
        b.form("login", "/login", {"email": cand.email, "password": PASSWORD})
        resp = b.form("start", f"/candidate/exams/{exam.id}/start", {})
        attempt_id = int(resp.headers["Location"].rstrip("/").split("/")[-1])
        cam.connect(b, attempt_id)
        acknowledged = {}
        for i in range(5):
            if b.json("answer_save", "PUT", f"/api/attempts/{attempt_id}/answers/q{i}", {"value": "a"}):
                acknowledged[f"q{i}"] = "a"
            time.sleep(0.7)
        server.kill9()  # mid-exam, mid-recording: no shutdown code runs
        cam.close()

        db.session.rollback()
        saved = {a.question_id: a.value for a in db.session.scalars(select(Answer).where(
            Answer.attempt_id == attempt_id))}
        assert saved == acknowledged and len(saved) == 5
        cut = recordings(attempt_id)[0]
        assert cut.state == BlobState.WRITING  # never closed: the crash cut it
        reader = vault.open_reader(cut)
        assert reader.truncated
        info = probe(reader.read())
        assert ("video", "vp8") in info["streams"] and info["decoded_frames"] > 10  # plays up to the crash

        old, b = b, Browser(server.start())  # restart; the browser keeps its session cookie
        b.cookie, b.csrf = old.cookie, old.csrf
        old.pool.close()
        assert b.json("state", "GET", f"/api/attempts/{attempt_id}")["status"] == "in_progress"
        assert b.json("answer_save", "PUT", f"/api/attempts/{attempt_id}/answers/q7", {"value": "b"})
        cam = Webcam()
        cam.connect(b, attempt_id)
        time.sleep(2.0)
        assert b.json("submit", "POST", f"/api/attempts/{attempt_id}/submit")["status"] == "submitted"
        cam.close()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            db.session.rollback()
            parts = recordings(attempt_id)
            if len(parts) == 2 and parts[1].state == BlobState.COMPLETE:
                break
            time.sleep(0.3)
        assert [p.state for p in parts] == [BlobState.WRITING, BlobState.COMPLETE]
        assert db.session.get(Attempt, attempt_id).status == AttemptStatus.SUBMITTED
        saved = {a.question_id: a.value for a in db.session.scalars(select(Answer).where(
            Answer.attempt_id == attempt_id))}
        assert saved == {**acknowledged, "q7": "b"}, json.dumps(saved)
        b.pool.close()
    finally:
        server.stop()
