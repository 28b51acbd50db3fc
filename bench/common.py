"""What several benchmarks share: seeding candidates, a simulated head turn, a WebRTC sender over a pipe.

The benchmark scripts run as ``python bench/<name>.py`` (this folder is then on ``sys.path``); the
tests import it as ``bench.common`` from the repository root.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
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
from exams.models import Enrolment, Exam
app = create_app()
with app.app_context():
    inst = create_institution({name!r}, {slug!r})
    if {identity!r}:
        # A check a person has to look at (a liveness step missed on a saturated machine, say) does not hold
        # the candidate back: the institution setting a real exam office may choose. The person's decision is
        # not the load measured; the bench reports how many checks went to a person.
        from privacy.settings import settings_for
        settings = settings_for(inst.id)
        settings.start_during_identity_review = True
        db.session.add(settings)
        db.session.commit()
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
        cand.email_verified_at = now  # no mail to follow in a benchmark
        db.session.add(Enrolment(exam_id=exam.id, user_id=cand.id, attempts_allowed=1))  # on the roster, unmailed
        db.session.commit()
    print(exam.id)
"""
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, check=True, capture_output=True, text=True)
    return int(out.stdout.strip().splitlines()[-1])


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


# ---------------------------------------------------------------------------------------------------------------
# What a browser sends: 640x480 at 30 fps, VP8 at about 1.5 Mbps (getUserMedia's ideal, the answer's b=AS:2000 and
# Chromium's own cap for 640x480), Opus at 32 kbps, a face that moves. Encoded once ahead of time and replayed as
# packets (browsers encode on the candidates' machines, so encoding must not load the platform's machine), with
# a keyframe version of every frame sent when the receiver asks for one (RTCP PLI/FIR), as a browser does.

WIDTH, HEIGHT, FPS = 640, 480, 30
VIDEO_BITRATE = 1_500_000
LOOP_SECONDS = 4  # the face's movement repeats every 4 s
STREAM = (f"{WIDTH}x{HEIGHT}@{FPS} VP8 ~{VIDEO_BITRATE / 1e6:g} Mbps + Opus 32 kbps: a face photo moving "
          f"(+-60 px sideways, +-20 px up and down, scale 0.9-1.1) over a {LOOP_SECONDS} s loop, encoded once "
          "ahead with libvpx realtime and replayed as packets; a PLI/FIR is answered with a keyframe of the next frame")


def _moving_face(photo: Path, n: int) -> list[Any]:
    """``n`` RGB 640x480 frames of ``photo``'s face moving around the picture (one loop, seamless)."""
    import math

    import cv2
    import numpy as np
    from PIL import Image

    img = Image.open(photo).convert("RGB")
    img.thumbnail((WIDTH, HEIGHT))
    face = np.asarray(img)
    rng = np.random.default_rng(7)
    out = []
    for i in range(n):
        t = 2 * math.pi * i / n
        scale = 1.0 + 0.1 * math.sin(t)
        dx, dy = 60 * math.sin(t), 20 * math.sin(2 * t)
        m = np.float32([[scale, 0, WIDTH / 2 + dx - scale * face.shape[1] / 2],
                        [0, scale, HEIGHT / 2 + dy - scale * face.shape[0] / 2]])
        frame = cv2.warpAffine(face, m, (WIDTH, HEIGHT), flags=cv2.INTER_LINEAR, borderValue=(96, 100, 104))
        noise = rng.integers(-2, 3, frame.shape, dtype=np.int16)  # a little sensor noise
        out.append(np.clip(frame.astype(np.int16) + noise, 0, 255).astype(np.uint8))
    return out


def browser_media(photo: str = "obama.jpg") -> dict[str, Any]:
    """The encoded stream of one moving-face webcam (cached on disk by photo): ``inter`` (one loop of delta
    frames), ``key`` (a keyframe of each of those frames), ``opus`` (one 20 ms packet of room tone)."""
    import hashlib
    import pickle
    import tempfile
    from fractions import Fraction

    import av
    import numpy as np

    faces = REPO / "tests" / "data" / "faces"
    tag = hashlib.sha256(f"{photo}{STREAM}v1".encode()).hexdigest()[:12]
    cache = Path(tempfile.gettempdir()) / f"aufsicht-bench-stream-{tag}.pickle"
    if cache.exists():
        with open(cache, "rb") as fh:
            return dict(pickle.load(fh))  # noqa: S301 - our own file
    n = LOOP_SECONDS * FPS
    frames = _moving_face(faces / photo, n) if photo else [np.full((HEIGHT, WIDTH, 3), 96, np.uint8)] * n

    def encoder(**extra: Any) -> Any:
        enc = av.CodecContext.create("libvpx", "w")
        enc.width, enc.height, enc.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        enc.time_base, enc.framerate = Fraction(1, FPS), Fraction(FPS)
        enc.bit_rate = VIDEO_BITRATE
        enc.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0", "error-resilient": "1",
                       **{k: str(v) for k, v in extra.items()}}
        return enc

    def encode(enc: Any, imgs: list[Any], start: int = 0) -> list[bytes]:
        got: list[bytes] = []
        for i, img in enumerate(imgs):
            frame = av.VideoFrame.from_ndarray(img, format="rgb24").reformat(format="yuv420p")
            frame.pts = start + i
            got += [bytes(p) for p in enc.encode(frame)]
        return got + [bytes(p) for p in enc.encode(None)]

    # Two loops with one encoder, the second kept: its rate control has settled, and its first delta frame
    # refers to a picture of the same content (the loop is seamless), so replaying it over and over decodes.
    inter_enc = encoder(g=100000)
    packets = encode(inter_enc, frames + frames)
    inter = packets[n:2 * n]
    # A keyframe as a rate-controlled realtime encoder makes one when asked: the size of the first keyframe.
    first_key = len(packets[0])
    key_enc = encoder(g=1)
    key_enc.bit_rate = first_key * 8 * FPS
    key = encode(key_enc, frames)[:n]
    audio = av.CodecContext.create("libopus", "w")
    audio.sample_rate, audio.layout, audio.format, audio.bit_rate = 48000, "stereo", "s16", 32_000
    rng = np.random.default_rng(1)
    tone = av.AudioFrame.from_ndarray(rng.integers(-60, 60, (1, 960 * 2), dtype=np.int16), format="s16",
                                      layout="stereo")
    tone.sample_rate, tone.pts = 48000, 0
    opus = [bytes(p) for p in audio.encode(tone)] + [bytes(p) for p in audio.encode(None)]
    media = {"inter": inter, "key": key, "opus": opus[0], "photo": photo}
    tmp = cache.with_suffix(f".{os.getpid()}")
    with open(tmp, "wb") as fh:
        pickle.dump(media, fh)
    tmp.replace(cache)
    return media


def media_figures(media: dict[str, Any]) -> dict[str, float]:
    """Bitrate of the replayed stream without keyframe requests, and what one keyframe adds."""
    inter, key = media["inter"], media["key"]
    mean_inter = sum(map(len, inter)) / len(inter)
    mean_key = sum(map(len, key)) / len(key)
    return {"kbps": mean_inter * 8 * FPS / 1000, "keyframe_bytes": mean_key,
            "kbps_per_keyframe_a_second": (mean_key - mean_inter) * 8 / 1000}


def browser_tracks(media: dict[str, Any]) -> tuple[Any, Any]:
    """A webcam's video and microphone tracks handing aiortc encoded packets, paced in real time and stamped with
    the capture time (a starved sender drops, it does not slow time). Attach the video track's RTCRtpSender with
    ``video.sender = pc.addTrack(video)`` so that keyframe requests reach it. ``video.sent`` counts frames,
    ``video.keyframes`` keyframes sent on request, ``video.bytes`` bytes."""
    from fractions import Fraction

    import av
    from aiortc.mediastreams import MediaStreamTrack

    class Encoded(MediaStreamTrack):
        def __init__(self, kind: str, rate: int, clock: int) -> None:
            super().__init__()
            self.kind, self._rate, self._clock = kind, rate, clock
            self._n, self._t0 = 0, 0.0
            self.sender: Any = None
            self.sent = self.keyframes = self.bytes = 0

        def _payload(self, n: int) -> bytes:
            if self.kind == "audio":
                return bytes(media["opus"])
            i = n % len(media["inter"])
            asked = self.sender is not None and getattr(self.sender, "_RTCRtpSender__force_keyframe", False)
            if n == 0 or asked:
                if asked:
                    self.sender._RTCRtpSender__force_keyframe = False
                    self.keyframes += 1
                return bytes(media["key"][i])
            return bytes(media["inter"][i])

        async def recv(self) -> av.Packet:
            if self._n == 0:
                self._t0 = time.monotonic()
            late = time.monotonic() - (self._t0 + self._n / self._rate)
            if late > 2 / self._rate:  # a starved browser captures fewer frames; it does not send a burst after
                self._t0 += late
            await asyncio.sleep(max(0.0, self._t0 + self._n / self._rate - time.monotonic()))
            data = self._payload(self._n)
            pkt = av.Packet(data)
            pkt.pts = int((time.monotonic() - self._t0) * self._clock)
            pkt.time_base = Fraction(1, self._clock)
            self._n += 1
            self.sent += 1
            self.bytes += len(data)
            return pkt

    return Encoded("video", FPS, 90000), Encoded("audio", 50, 48000)


def machine_busy() -> float:
    """CPU seconds the whole machine spent busy (not idle or waiting for I/O) since boot, from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def cpu_model() -> str:
    """The machine's CPU model (/proc/cpuinfo's "model name", the one ``lscpu`` prints)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def proc_cpu_s(pids: list[int]) -> float:
    """User + system CPU seconds so far of the processes ``pids`` (gone ones count 0)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


class BusyMeter:
    """How busy the machine was over a window: load average, the CPU of the server under test, of the senders
    (the simulated browsers) and of everything else (other helpers' tests on this shared machine)."""

    def __init__(self, server: Callable[[], float], senders: Callable[[], float] = lambda: 0.0) -> None:
        self._server, self._senders = server, senders
        self._t0, self._m0, self._s0, self._b0 = time.monotonic(), machine_busy(), server(), senders()

    def report(self) -> dict[str, float]:
        """Figures since construction (% of the whole machine, and the 1-minute load average)."""
        dt = max(1e-6, time.monotonic() - self._t0)
        cores = os.cpu_count() or 1
        machine = (machine_busy() - self._m0) / dt / cores * 100
        server = (self._server() - self._s0) / dt / cores * 100
        senders = (self._senders() - self._b0) / dt / cores * 100
        return {"machine_busy_pct": round(machine, 1), "server_pct_of_machine": round(server, 1),
                "senders_pct_of_machine": round(senders, 1),
                "others_pct_of_machine": round(max(0.0, machine - server - senders), 1),
                "loadavg_1m": round(os.getloadavg()[0], 2)}

    @staticmethod
    def line(r: dict[str, float]) -> str:
        """A report as one line of text."""
        return (f"machine {r['machine_busy_pct']:.0f}% busy ({os.cpu_count()} CPUs): server under test "
                f"{r['server_pct_of_machine']:.0f}%, senders {r['senders_pct_of_machine']:.0f}%, other processes "
                f"{r['others_pct_of_machine']:.0f}%; load average {r['loadavg_1m']:.1f}")


def production_app(n: int, overrides: dict[str, Any] | None = None, template: str = "obama2.jpg") -> dict[str, Any]:
    """A real app in production configuration (app/config.py DEFAULTS; only loopback ICE and a fresh SQLite +
    encrypted local storage instance), one proctored exam with ``n`` candidates in progress, each verified with
    a face template of ``template`` (so the "other person" comparison runs), and a proctor. Returns the app and
    the ids; sets AUFSICHT_INSTANCE_PATH (call before anything else creates an app)."""
    import tempfile

    tmp = tempfile.mkdtemp(prefix="bench-app-")
    os.environ["AUFSICHT_INSTANCE_PATH"] = tmp
    os.environ.pop("DATABASE_URL", None)
    from flask_migrate import upgrade

    from accounts.models import Role
    from accounts.services import create_institution, create_user
    from app import create_app
    from exams.models import Attempt, AttemptStatus, Exam
    from idcheck.images import load_upload
    from idcheck.matching import face_encoding
    from idcheck.models import IdCheck, IdCheckStatus
    from kernel.clock import utcnow
    from kernel.db import db
    from storage import vault

    app = create_app({"INSTANCE_PATH": tmp, "MEDIA_HOST_ADDRESSES": ["127.0.0.1"], "WTF_CSRF_ENABLED": False,
                      **(overrides or {})})
    faces = REPO / "tests" / "data" / "faces"
    enc = face_encoding(load_upload((faces / template).read_bytes(), max_bytes=64 << 20)) if template else None
    with app.app_context():
        upgrade()
        inst = create_institution("Bench", "bench")
        now = utcnow()
        exam = Exam(institution=inst, title="B", duration_minutes=120, opens_at=now, closes_at=now, questions=[],
                    pass_mark_percent=50, identity_check_required=enc is not None, proctoring_required=True)
        db.session.add(exam)
        inst.proctor_second_factor_optional = True  # the bench's proctor logs in with the password alone
        proctor = create_user("p@bench.example", "bench password", Role.PROCTOR, "P", inst)
        exam.proctors.append(proctor)
        attempts = []
        for i in range(n):
            cand = create_user(f"c{i}@bench.example", "bench password", Role.CANDIDATE, f"C{i}", inst)
            att = Attempt(exam=exam, user=cand, deadline_at=now.replace(year=now.year + 1), seed=1, layout={},
                          status=AttemptStatus.IN_PROGRESS)
            db.session.add(att)
            attempts.append(att)
        db.session.commit()
        if enc is not None:
            for att in attempts:
                blob = vault.store("face_template", enc.tobytes(), user_id=att.user_id)
                db.session.add(IdCheck(user_id=att.user_id, exam_id=exam.id, status=IdCheckStatus.VERIFIED,
                                       template_blob_id=blob.id))
            db.session.commit()
        out = {"app": app, "attempts": [a.id for a in attempts], "users": [a.user_id for a in attempts],
               "institution": inst.id, "exam": exam.id}
    return out


def config_line(app: Any) -> str:
    """The settings that decide what the media engine does per stream, as the app runs them."""
    keys = ("MEDIA_DECODE_VIDEO", "PROCTORING_FACE_FLAGS", "PROCTORING_IDENTITY_SECONDS", "SNAPSHOT_STORE_SECONDS",
            "MEDIA_ENGINE_WORKERS", "PROCTORING_FACE_PROCESSES")
    return ", ".join(f"{k}={app.config.get(k)!r}" for k in keys)


def replay_over_pipe(conn: Any, photo: str, seconds: float, switch_after: float | None = None) -> None:
    """In a sender process (a candidate's browser): offer the replayed webcam (``browser_media(photo)``, after
    ``switch_after`` s the picture of nobody) plus microphone, get the answer through the pipe, stream for
    ``seconds``, then send back what was sent: frames, keyframes sent on request, bytes, seconds, switch time."""
    from aiortc import RTCPeerConnection, RTCSessionDescription

    media = browser_media(photo)
    if switch_after is not None:
        empty = browser_media("")
    video, audio = browser_tracks(media)
    state: dict[str, float | None] = {"switched": None}

    async def run() -> None:
        pc = RTCPeerConnection()
        video.sender = pc.addTrack(video)
        pc.addTrack(audio)
        pc.createDataChannel("events")
        await pc.setLocalDescription(await pc.createOffer())
        conn.send(pc.localDescription.sdp)
        answer = await asyncio.get_running_loop().run_in_executor(None, conn.recv)
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
        t0 = time.monotonic()
        if switch_after is not None:
            await asyncio.sleep(switch_after)
            media.update(empty)  # the candidate walks away: the next frames show the empty room
            video.sender._RTCRtpSender__force_keyframe = True  # a new picture starts with a keyframe
            state["switched"] = time.time()
        await asyncio.sleep(max(0.0, seconds - (time.monotonic() - t0)))
        conn.send({"frames": video.sent, "keyframes": video.keyframes, "bytes": video.bytes,
                   "seconds": time.monotonic() - t0, "switched": state["switched"]})
        await pc.close()

    asyncio.run(run())


def thread_cpu_s() -> dict[str, float]:
    """CPU seconds so far of this process's live threads, by what they do (the media engine's loop, aiortc's
    decoders, frame analysis, the engine's worker pool for storage and events, the rest)."""
    import threading

    tick = os.sysconf("SC_CLK_TCK")
    names = {t.native_id: t.name for t in threading.enumerate()}
    out: dict[str, float] = {}
    for task in Path("/proc/self/task").iterdir():
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        name = names.get(int(task.name), "")
        kind = ("receive+record (engine loop)" if name == "media-engine" else "decode" if "decoder" in name
                else "analysis" if name.startswith("media-analysis") else "storage+events" if name.startswith(
                    "media-work") else "other")
        out[kind] = out.get(kind, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    return out
