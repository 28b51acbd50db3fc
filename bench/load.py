"""Load test: simulated candidates doing the whole flow against the scaled-out platform.

Each candidate logs in, passes the identity check (biometric consent, ID photo, the live challenge
over WebRTC with a 3D head following the prompts (bench/camera.py), the face match in the job workers),
passes the system check
over WebRTC, starts the exam, streams webcam video and audio from an aiortc sender for the whole
attempt (recorded by the media engines into S3, in production configuration: snapshots, face flags and
the identity comparison on), saves an answer every 2 s, and submits. The senders run in separate
processes (the "browsers") and stream what a browser sends (bench.common.STREAM: 640x480 at 30 fps, VP8
~1.5 Mbps of a moving face, Opus; encoded once ahead and replayed as packets, a keyframe on each
request). ``--light`` streams the old, lighter load instead (a still face, 160x120 at 5 fps): an extra,
labelled row only. Prints sustained candidates, p95 latency per endpoint, the platform's CPU per
candidate (web + engines + job workers, children included: RQ's work horses and the engines' analysis
processes) in the steady phase, by role, errors, lost answers and incomplete recordings, and how busy
the machine was. Last line: one JSON object with keys candidates, stream, p95_ms_answer_save, errors,
lost_answers, incomplete_recordings, cpu_pct_per_candidate. By default the same load runs on each media plane in
turn (aiortc, then Janus where it is installed: issue 34), with the Janus plane's figures under ``janus_`` keys and
``janus_vs_aiortc_cpu``; Janus and the recorders are the engine processes' children, counted with them.

    .venv/bin/python bench/load.py [--candidates 25] [--seconds 60] [--senders 4] [--plane both|aiortc|janus]
                                   [--light]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import datetime as dt
import functools
import json
import multiprocessing as mp
import os
import random
import re
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from bench.camera import PromptedCamera, live_challenge  # noqa: E402  (after the path is set)
from bench.common import STREAM, browser_media, browser_tracks, cpu_model, machine_busy, seed_exam  # noqa: E402

FACES = REPO / "tests" / "data" / "faces"
PASSWORD = "load test password"
QUESTIONS = [{"id": f"q{i}", "type": "single_choice", "prompt": f"Frage {i}", "points": 1,
              "options": [{"id": "a", "text": "A", "correct": True}, {"id": "b", "text": "B"}]} for i in range(20)]
FPS = 5  # the lighter, extra mode (--light) only
WIDTH, HEIGHT = 160, 120
LIGHT = "160x120@5 VP8 150 kbps still face (lighter extra mode, not what a browser sends)"
MODE = {"light": False}  # set in each sender process


def seed(env: dict[str, str], n: int) -> int:
    """One exam with identity check and proctoring, ``n`` candidates; returns the exam id."""
    return seed_exam(env, n, name="Load", password=PASSWORD, questions=QUESTIONS, identity=True, proctoring=True)


class Browser:
    """One candidate's HTTP side: a keep-alive connection, the session cookie, the CSRF token."""

    def __init__(self, base: str) -> None:
        import urllib3

        host, port = base.removeprefix("http://").split(":")
        self.pool = urllib3.HTTPConnectionPool(host, int(port), maxsize=1, retries=False,
                                               timeout=urllib3.Timeout(connect=5, read=60))
        self.cookie = ""
        self.csrf = ""
        self.latencies: dict[str, list[float]] = collections.defaultdict(list)
        self.errors: list[str] = []

    def call(self, label: str, method: str, path: str, *, body: bytes | None = None, ctype: str | None = None,
             ok: tuple[int, ...] = (200, 302)) -> Any:
        headers = {"Cookie": self.cookie} if self.cookie else {}
        if self.csrf:
            headers["X-CSRFToken"] = self.csrf
        if ctype:
            headers["Content-Type"] = ctype
        t0 = time.perf_counter()
        try:
            resp = self.pool.request(method, path, body=body, headers=headers, redirect=False)
        except Exception as err:
            self.errors.append(f"{label}: {type(err).__name__}")
            return None
        self.latencies[label].append(time.perf_counter() - t0)
        for value in resp.headers.getlist("Set-Cookie"):
            if value.startswith("session="):
                self.cookie = value.split(";", 1)[0]
        if resp.status not in ok:
            self.errors.append(f"{label}: HTTP {resp.status} {resp.data[:120]!r}")
            return None
        return resp

    def form(self, label: str, path: str, fields: dict[str, str]) -> Any:
        import urllib.parse

        body = urllib.parse.urlencode({**fields, "csrf_token": self.csrf}).encode()
        return self.call(label, "POST", path, body=body, ctype="application/x-www-form-urlencoded")

    def json(self, label: str, method: str, path: str, payload: Any = None, ok: tuple[int, ...] = (200,)) -> Any:
        resp = self.call(label, method, path, body=None if payload is None else json.dumps(payload).encode(),
                         ctype="application/json", ok=ok)
        return None if resp is None else resp.json()

    def files(self, label: str, path: str, fields: list[tuple[str, tuple[str, bytes, str]]]) -> Any:
        import urllib3

        body, ctype = urllib3.encode_multipart_formdata(fields)
        resp = self.call(label, "POST", path, body=body, ctype=ctype, ok=(200,))
        return None if resp is None else resp.json()


@functools.cache
def encoded_media() -> tuple[list[bytes], bytes]:
    """What every simulated webcam sends, encoded once: VP8 frames of a candidate facing the camera (a keyframe
    every ``FPS`` * 2 frames) and one 20 ms Opus packet of room tone."""
    from fractions import Fraction

    import av
    import numpy as np
    from PIL import Image

    from idcheck.quality import detect

    img = Image.open(FACES / "obama.jpg").convert("RGB")
    # A 4:3 crop around the face, which fills about 60 % of the frame's height.
    top, right, bottom, left = detect(np.asarray(img))[0]
    cx, cy, h = (left + right) / 2, (top + bottom) / 2, 2 * (bottom - top)
    box = (round(cx - h * 2 / 3), round(cy - h / 2), round(cx + h * 2 / 3), round(cy + h / 2))
    still = np.asarray(img.crop(box).resize((WIDTH, HEIGHT)))
    rng = np.random.default_rng(1)
    video = av.CodecContext.create("libvpx", "w")
    video.width, video.height, video.pix_fmt = WIDTH, HEIGHT, "yuv420p"
    video.time_base, video.bit_rate, video.gop_size = Fraction(1, FPS), 150_000, 2 * FPS
    frames: list[bytes] = []
    for i in range(2 * FPS):  # a little sensor noise, so that delta frames are not empty
        noisy = np.clip(still.astype(np.int16) + rng.integers(-3, 4, still.shape), 0, 255).astype(np.uint8)
        frame = av.VideoFrame.from_ndarray(noisy, format="rgb24").reformat(format="yuv420p")
        frame.pts = i
        frames += [bytes(p) for p in video.encode(frame)]
    frames += [bytes(p) for p in video.encode(None)]
    audio = av.CodecContext.create("libopus", "w")
    audio.sample_rate, audio.layout, audio.format, audio.bit_rate = 48000, "stereo", "s16", 32_000
    tone = av.AudioFrame.from_ndarray(rng.integers(-60, 60, (1, 960 * 2), dtype=np.int16), format="s16",
                                      layout="stereo")
    tone.sample_rate, tone.pts = 48000, 0
    opus = [bytes(p) for p in audio.encode(tone)] + [bytes(p) for p in audio.encode(None)]
    return frames[: 2 * FPS], opus[0]


def _tracks(media: tuple[list[bytes], bytes]) -> tuple[Any, Any]:
    """A webcam's video and microphone tracks that hand aiortc encoded packets, paced in real time: the
    platform receives what a browser sends, and the load generator spends no CPU on encoding (browsers
    encode on the candidates' machines)."""
    from fractions import Fraction

    import av
    from aiortc.mediastreams import MediaStreamTrack

    frames, opus = media

    class Encoded(MediaStreamTrack):
        def __init__(self, kind: str, packets: list[bytes], rate: int, clock: int) -> None:
            super().__init__()
            self.kind, self._packets, self._rate, self._clock = kind, packets, rate, clock
            self._n, self._t0 = 0, 0.0

        async def recv(self) -> av.Packet:
            if self._n == 0:
                self._t0 = time.monotonic()
            await asyncio.sleep(max(0.0, self._t0 + self._n / self._rate - time.monotonic()))
            pkt = av.Packet(self._packets[self._n % len(self._packets)])
            # stamped with the capture time, as a browser does (a starved sender drops, it does not slow time)
            pkt.pts = int((time.monotonic() - self._t0) * self._clock)
            pkt.time_base = Fraction(1, self._clock)
            self._n += 1
            return pkt

    return Encoded("video", frames, FPS, 90000), Encoded("audio", [opus], 50, 48000)


async def _connect(browser: Browser, label: str, path: str) -> Any:
    from aiortc import RTCPeerConnection, RTCSessionDescription

    pc = RTCPeerConnection()
    if MODE["light"]:
        for track in _tracks(encoded_media()):
            pc.addTrack(track)
    else:
        video, audio = browser_tracks(browser_media("obama.jpg"))
        video.sender = pc.addTrack(video)
        pc.addTrack(audio)
    pc.createDataChannel("events")
    await pc.setLocalDescription(await pc.createOffer())
    answer = await asyncio.get_running_loop().run_in_executor(
        None, lambda: browser.json(label, "POST", path, {"type": "offer", "sdp": pc.localDescription.sdp}))
    if answer is None:
        await pc.close()
        return None
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type="answer"))
    for _ in range(150):
        if pc.connectionState == "connected":
            return pc
        await asyncio.sleep(0.1)
    browser.errors.append(f"{label}: not connected ({pc.connectionState})")
    await pc.close()
    return None


def candidate_flow(base: str, email: str, exam_id: int, draw: Any, loop: Any,
                   ready: threading.Barrier, go: threading.Event, until_box: list[float],
                   out: dict[str, Any]) -> None:
    """The whole flow of one candidate (HTTP here, WebRTC on the process's asyncio loop)."""
    b = Browser(base)
    out["browser"] = b
    time.sleep(out.pop("arrive_after", 0.0))  # candidates arrive over a few minutes, not in the same second
    attempt_id = None
    pc = None
    try:
        page = b.call("login_page", "GET", "/login")
        b.csrf = re.search(rb'name="csrf-token" content="([^"]+)"', page.data).group(1).decode()
        b.form("login", "/login", {"email": email, "password": PASSWORD})
        b.form("identity_consent", f"/candidate/exams/{exam_id}/identity/consent", {"granted": "yes"})
        b.files("identity_document", f"/api/identity/{exam_id}/document",
                [("file", ("id.jpg", (FACES / "obama2.jpg").read_bytes(), "image/jpeg"))])
        asyncio.run_coroutine_threadsafe(live_challenge(_caller(b), f"/api/identity/{exam_id}", PromptedCamera(draw)),
                                         loop).result(180)
        deadline = time.monotonic() + 900
        while True:
            state = b.json("identity_status", "GET", f"/api/identity/{exam_id}")
            if state and state["status"] in ("verified", "review"):
                out["identity"] = state["status"]
                break
            if time.monotonic() > deadline or (state and state["status"] in ("retake", "rejected")):
                b.errors.append(f"identity: {state}")
                return
            time.sleep(1.0)
        check = asyncio.run_coroutine_threadsafe(
            _connect(b, "system_check_offer", f"/api/exams/{exam_id}/system-check/offer"), loop).result(60)
        if check is None:
            return
        for attempt in range(10):  # the page, too, lets the candidate try again until frames arrived
            time.sleep(2.0)
            ok = (409,) if attempt < 9 else ()
            got = b.json("system_check_confirm", "POST", f"/api/exams/{exam_id}/system-check/confirm", ok=(200, *ok))
            if got and got.get("passed"):
                break
        asyncio.run_coroutine_threadsafe(check.close(), loop).result(10)
        resp = b.form("start", f"/candidate/exams/{exam_id}/start", {})
        if resp is None:
            return
        attempt_id = int(resp.headers["Location"].rstrip("/").split("/")[-1])
        out["attempt_id"] = attempt_id
        pc = asyncio.run_coroutine_threadsafe(_connect(b, "media_offer", f"/api/attempts/{attempt_id}/media/offer"),
                                              loop).result(60)
        out["streaming_since"] = time.time() if pc is not None else None
    except Exception:
        b.errors.append("flow: " + traceback.format_exc(limit=2).replace("\n", " "))
    finally:
        ready.wait()
    go.wait()
    if attempt_id is None or pc is None:
        return
    sent: dict[str, str] = {}
    reconnects = 0
    time.sleep(random.uniform(0, 2))
    while time.monotonic() < until_box[0]:
        if pc.connectionState in ("failed", "closed"):  # as media.js does: reconnect, a new recording part
            reconnects += 1
            asyncio.run_coroutine_threadsafe(pc.close(), loop).result(15)
            again = asyncio.run_coroutine_threadsafe(
                _connect(b, "media_offer", f"/api/attempts/{attempt_id}/media/offer"), loop).result(60)
            pc = again if again is not None else pc
        qid, value = f"q{random.randrange(len(QUESTIONS))}", random.choice(["a", "b"])
        t0 = time.perf_counter()
        if b.json("answer_save", "PUT", f"/api/attempts/{attempt_id}/answers/{qid}", {"value": value}) is not None:
            sent[qid] = value
        time.sleep(max(0.0, 2.0 - (time.perf_counter() - t0)))
    out["sent"] = sent
    out["reconnects"] = reconnects
    out["streamed_s"] = time.time() - out["streaming_since"]
    b.json("submit", "POST", f"/api/attempts/{attempt_id}/submit")
    asyncio.run_coroutine_threadsafe(pc.close(), loop).result(15)


def _caller(b: Browser) -> Any:
    """``bench.camera.Call`` over a candidate's HTTP connection (409 and 503 are answers the client retries)."""

    def call(method: str, path: str, payload: Any) -> tuple[int, Any]:
        label = ("identity_camera" if path.endswith("/offer") else
                 "identity_liveness_start" if method == "POST" else "identity_prompt")
        resp = b.call(label, method, path, body=None if payload is None else json.dumps(payload).encode(),
                      ctype="application/json", ok=(200, 409, 503))
        if resp is None:
            return 0, None
        try:
            return resp.status, json.loads(resp.data)
        except ValueError:
            return resp.status, None

    return call


def sender_process(base: str, jobs: list[tuple[str, int, float]], frames: Any, start_q: Any,
                   result_q: Any, light: bool = False) -> None:
    """One "browser" process: its candidates' HTTP flows in threads, their peers on one asyncio loop.

    Runs at a lower CPU priority: browsers are on the candidates' machines, and on this shared
    machine the load generator must not starve the platform it measures.
    """
    os.nice(10)
    MODE["light"] = light
    encoded_media() if light else browser_media("obama.jpg")  # once per process, before its candidates start
    from bench.camera import drawer

    frames = drawer(FACES, "head")  # the identity challenge's camera, drawn once per process
    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, daemon=True).start()
    ready = threading.Barrier(len(jobs) + 1)
    go = threading.Event()
    until_box = [0.0]
    outs: list[dict[str, Any]] = [{"arrive_after": arrive} for _email, _exam, arrive in jobs]
    threads = [threading.Thread(target=candidate_flow, args=(base, email, exam_id, frames, loop, ready, go,
                                                             until_box, outs[i]))
               for i, (email, exam_id, _arrive) in enumerate(jobs)]
    for t in threads:
        t.start()
    ready.wait()  # every candidate of this process is in the exam (or failed)
    result_q.put(("ready", None))
    seconds = start_q.get()  # (blocks until every process is ready: take the time after it)
    until_box[0] = time.monotonic() + seconds
    go.set()
    for t in threads:
        t.join()
    result_q.put(("done", [{"attempt_id": o.get("attempt_id"), "sent": o.get("sent", {}),
                            "reconnects": o.get("reconnects", 0), "identity": o.get("identity"),
                            "streamed_s": o.get("streamed_s"), "latencies": dict(o["browser"].latencies),
                            "errors": o["browser"].errors} for o in outs]))


def check_results(env: dict[str, str], expected: dict[int, dict[str, str]],
                  streamed: dict[int, float]) -> tuple[int, int]:
    """Lost answers, and recordings that are not complete (no part, a part not closed, video or audio missing,
    or less than 80 % of the streamed time)."""
    code = f"""
import io, json
import av
from sqlalchemy import select
from app import create_app
from kernel.db import db
from exams.models import Answer
from storage import vault
from storage.models import BlobState
expected = {json.dumps({str(k): v for k, v in expected.items()})}
streamed = {json.dumps({str(k): v for k, v in streamed.items()})}
app = create_app()
with app.app_context():
    held = {{(a, q): v for a, q, v in db.session.execute(select(Answer.attempt_id, Answer.question_id, Answer.value))}}
    lost = sum(1 for aid, ans in expected.items() for q, v in ans.items() if held.get((int(aid), q)) != v)
    incomplete = 0
    for aid, seconds in streamed.items():
        parts = vault.blobs_of(attempt_id=int(aid), category="recording")
        total, kinds, ok = 0.0, set(), bool(parts)
        for p in parts:
            ok = ok and p.state == BlobState.COMPLETE
            try:
                c = av.open(io.BytesIO(vault.read(p)))
                for s in c.streams:
                    kinds.add(s.type)
                video = c.streams.video[0] if c.streams.video else None
                pts = [float(pk.pts * pk.time_base) for pk in c.demux(video) if pk.pts is not None] if video else []
            except Exception as err:  # a part that does not read back is an incomplete recording, not a crash
                print("unreadable part", aid, p.id, type(err).__name__, str(err)[:80])
                ok, pts = False, []
            total += (max(pts) - min(pts)) if pts else 0.0
        if not (ok and kinds >= {{"video", "audio"}} and total >= 0.8 * seconds - 2):
            incomplete += 1
            print("incomplete", aid, ok, sorted(kinds), round(total, 1), round(seconds, 1))
    from idcheck.models import IdCheck, IdCheckStatus
    for c in db.session.scalars(select(IdCheck).where(IdCheck.status == IdCheckStatus.REVIEW)):
        print("identity check for a person:", (c.reason or "")[:200])
    print(json.dumps([lost, incomplete]))
"""
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, check=True)
    for line in out.stdout.strip().splitlines()[:-1]:
        print(line)
    lost, incomplete = json.loads(out.stdout.strip().splitlines()[-1])
    return int(lost), int(incomplete)


def run_load(stack: Any, candidates: int, seconds: float, senders: int = 4, ramp: float = 2.0,
             light: bool = False) -> dict[str, Any]:
    """Run the load against a started ``deploy.scaleout.Stack``; prints the figures and returns the JSON."""
    if not light:
        browser_media("obama.jpg")  # encoded once here (cached on disk), not in every sender at once
    exam_id = seed(stack.env, candidates)
    frames = None  # each sender process draws its own camera (bench.camera.drawer)
    jobs = [(f"c{i}@load.example", exam_id, i * ramp) for i in range(candidates)]
    ctx = mp.get_context("spawn")
    result_q = ctx.Queue()
    procs, start_qs = [], []
    t_setup = time.monotonic()
    for i in range(senders):
        start_q = ctx.Queue()
        part = jobs[i::senders]
        if not part:
            continue
        p = ctx.Process(target=sender_process, args=(stack.url, part, frames, start_q, result_q, light))
        p.start()
        procs.append(p)
        start_qs.append(start_q)
    for _ in procs:
        assert result_q.get(timeout=900)[0] == "ready"
    setup_s = time.monotonic() - t_setup
    roles = ("web", "engine", "jobs")
    from deploy.scaleout import process_tree_cpu_s

    names = [n for n in stack.procs if n != "seaweedfs"]
    cpu0, t0 = stack.cpu_seconds(), time.monotonic()
    role0, busy0 = {r: stack.cpu_seconds(r) for r in roles}, machine_busy()
    each0 = {n: process_tree_cpu_s(stack.procs[n].pid) for n in names}
    senders0 = sum(process_tree_cpu_s(p.pid) for p in procs if p.pid)
    for q in start_qs:
        q.put(seconds)
    results: list[dict[str, Any]] = []
    for _ in procs:
        _kind, got = result_q.get(timeout=seconds + 600)
        results += got
    # CPU of the steady phase only: every candidate streaming and saving (submits come after)
    elapsed = time.monotonic() - t0
    cpu = stack.cpu_seconds() - cpu0
    by_role = {r: (stack.cpu_seconds(r) - role0[r]) / elapsed * 100 for r in roles}
    each = {n: (process_tree_cpu_s(stack.procs[n].pid) - each0[n]) / elapsed * 100 for n in names}
    senders_pct = (sum(process_tree_cpu_s(p.pid) for p in procs if p.pid) - senders0) / elapsed * 100
    machine = (machine_busy() - busy0) / elapsed / (os.cpu_count() or 1) * 100
    load1 = os.getloadavg()[0]
    for p in procs:
        p.join(60)
    lat: dict[str, list[float]] = collections.defaultdict(list)
    errors: list[str] = []
    for r in results:
        for label, values in r["latencies"].items():
            lat[label] += values
        errors += r["errors"]
    sustained = sum(1 for r in results if r["streamed_s"] and r["sent"])
    for r in results:
        if not (r["streamed_s"] and r["sent"]):
            print(f"  not sustained: attempt {r['attempt_id']}, saves {len(r['sent'])}, streamed {r['streamed_s']}, "
                  f"reconnects {r['reconnects']}, errors {r['errors'][:2]}")
    expected = {r["attempt_id"]: r["sent"] for r in results if r["attempt_id"]}
    streamed = {r["attempt_id"]: r["streamed_s"] for r in results if r["attempt_id"] and r["streamed_s"]}
    lost, incomplete = check_results(stack.env, expected, streamed)
    incomplete += sum(1 for r in results if r["attempt_id"] is None or not r["streamed_s"])

    def p95(values: list[float]) -> float:
        s = sorted(values)
        return round(s[int(0.95 * (len(s) - 1))] * 1000, 1) if s else 0.0

    print(f"stream per candidate: {LIGHT if light else STREAM}")
    print(f"{candidates} candidates arriving {ramp:g} s apart, {senders} sender processes, setup (login, "
          f"identity, system check, start) {setup_s:.0f} s, then {elapsed:.0f} s steady; {os.cpu_count()} CPUs")
    for label in sorted(lat):
        print(f"  {label:22} n={len(lat[label]):6d}  p95 {p95(lat[label]):8.1f} ms")
    print(f"sustained candidates {sustained}/{candidates}; platform CPU per candidate "
          f"{cpu / elapsed / candidates * 100:.1f}% of one core (web + media engines + job workers)")
    print("  of which " + ", ".join(f"{r} {v:.0f}%" for r, v in by_role.items()) + " of one core in all; "
          f"the whole machine (load generator, PostgreSQL, Redis, S3 included) was {machine:.0f}% busy")
    print("  per process (with its children), % of one core: " + ", ".join(f"{n} {v:.0f}" for n, v in each.items())
          + f"; the senders (browsers) {senders_pct:.0f}; load average {load1:.1f}; other processes "
          f"{max(0.0, machine * (os.cpu_count() or 1) - cpu / elapsed * 100 - senders_pct):.0f}% of one core "
          "(PostgreSQL, Redis, SeaweedFS, other helpers)")
    decided = collections.Counter(r.get("identity") or "none" for r in results)
    print(f"identity checks: {dict(decided)} (review: a person decides; the exam may start meanwhile)")
    print(f"errors {len(errors)}: {errors[:5]}")
    print(f"lost answers {lost}, incomplete recordings {incomplete}, "
          f"media reconnects {sum(r['reconnects'] for r in results)}")
    return {"candidates": sustained, "stream": LIGHT if light else f"{STREAM.split(':')[0]}, replayed",
            "p95_ms_answer_save": p95(lat["answer_save"]), "errors": len(errors),
            "lost_answers": lost, "incomplete_recordings": incomplete,
            "cpu_pct_per_candidate": round(cpu / elapsed / candidates * 100, 1), "cpus": os.cpu_count(),
            "machine_busy_pct": round(machine), "loadavg_1m": round(load1, 1),
            "per_process_pct": {n: round(v) for n, v in each.items()}, "senders_pct": round(senders_pct),
            "identity_checks": dict(decided),
            "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}


def main() -> None:
    """Start the scale-out stack on each media plane in turn (the same load, side by side), run the load, stop it."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--candidates", type=int, default=25)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--senders", type=int, default=4)
    ap.add_argument("--ramp", type=float, default=2.0, help="seconds between two candidates' arrivals")
    ap.add_argument("--web-workers", type=int, default=4)
    ap.add_argument("--engines", type=int, default=2)
    ap.add_argument("--plane", choices=["aiortc", "janus", "both"], default="both",
                    help="the engines' media plane (both: aiortc, then Janus where it is installed)")
    ap.add_argument("--light", action="store_true", help="the old, lighter stream (an extra, labelled row only)")
    args = ap.parse_args()
    from deploy.scaleout import Stack
    from proctoring.janus import available

    planes = ["aiortc", "janus"] if args.plane == "both" else [args.plane]
    if args.plane == "both" and not available():
        print("Janus or GStreamer is not installed: the aiortc plane only", flush=True)
        planes = ["aiortc"]
    print(f"CPU: {cpu_model()}, {os.cpu_count()} CPUs", flush=True)
    figures: dict[str, dict[str, Any]] = {}
    for plane in planes:
        print(f"== media plane: {plane} ==", flush=True)
        with Stack(web_workers=args.web_workers, engines=args.engines, plane=plane) as stack:
            print(f"web {stack.url}, engines {stack.engine_urls}, logs in {stack.logs}", flush=True)
            figures[plane] = run_load(stack, args.candidates, args.seconds, args.senders, args.ramp, args.light)
    out = dict(figures[planes[0]])
    out["plane"] = planes[0]
    janus = figures.get("janus")
    if janus is not None and "aiortc" in figures:
        ratio = janus["cpu_pct_per_candidate"] / max(figures["aiortc"]["cpu_pct_per_candidate"], 1e-9)
        print(f"Janus plane / aiortc plane, platform CPU per candidate: {ratio:.2f}; sustained "
              f"{janus['candidates']} against {figures['aiortc']['candidates']} of {args.candidates}", flush=True)
        out.update({f"janus_{k}": v for k, v in janus.items() if k not in ("stream", "cpus", "at")})
        out["janus_vs_aiortc_cpu"] = round(ratio, 2)
    out["cpu_model"] = cpu_model()
    print(json.dumps(out))



if __name__ == "__main__":
    main()
