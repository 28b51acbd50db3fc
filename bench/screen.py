"""The candidate's screen and the oral exam's call (issue 19): what they cost the media engine, and the call's delay.

1. ``cpu_pct_per_candidate_with_screen``: N senders, each its own process (a candidate's browser), stream the
   replayed webcam of ``bench.common`` (640x480@30 VP8 + Opus) and, in the same connection, a screen
   (1920x1080 VP8 at ``--screen-fps``, a desktop of text whose cursor moves, encoded once ahead, keyframes on
   request). This process receives them with the media engine of a real app in production configuration
   (app/config.py DEFAULTS: webcam keyframes decoded for snapshots and face flags, recording into encrypted
   blobs), the screen copied into the same recording. The same run without the screen gives the webcam-only
   figure; the target is at most 1.5x. CPU: this process and its face workers,
   user+system time over the measuring window.
2. ``oral_call_rtt_ms``: an examiner and a candidate (two aiortc peers in this process, 320x240@30) in an oral
   session of the engine on loopback. The examiner's picture carries a frame counter (16 black or white
   blocks); the candidate's side decodes what the engine forwards and paints the counter it read into its own
   picture; the examiner reads it back: examiner -> engine -> candidate -> engine -> examiner, including the
   candidate's decoding and encoding, as a browser does. p50 and p95 over ``--seconds``. The engine hands each
   frame on once its packets are in (``proctoring.jitter``); the two aiortc peers keep aiortc's own receive
   buffer, which holds each frame until the next begins (33 ms on each of their two hops), where a browser's
   releases it when complete: the figure is that much higher than with browsers.

    .venv/bin/python bench/screen.py [--candidates 2] [--seconds 15] [--screen-fps 2]

Last line: one JSON object with cpu_pct_per_candidate_with_screen, cpu_pct_per_candidate_webcam_only,
screen_cpu_ratio, oral_call_rtt_ms (p95), oral_call_rtt_p50_ms, and what was measured.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from bench.common import (  # noqa: E402  (after the path is set)
    STREAM,
    BusyMeter,
    browser_media,
    browser_tracks,
    config_line,
    proc_cpu_s,
    production_app,
)

SCREEN_W, SCREEN_H = 1920, 1080


def cpu_s() -> float:
    """User+system CPU seconds of this process so far."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def screen_media(fps: int) -> dict[str, Any]:
    """One 4 s loop of a 1920x1080 "desktop" (text lines, a moving cursor) as VP8: ``inter`` and ``key`` frames."""
    from fractions import Fraction

    import av
    import cv2
    import numpy as np

    n = max(1, 4 * fps)
    base = np.full((SCREEN_H, SCREEN_W, 3), 245, np.uint8)
    for row in range(40, SCREEN_H - 40, 36):
        cv2.putText(base, f"Aufgabe {row // 36}: Beschreiben Sie den Ablauf der Pruefung in eigenen Worten.",
                    (60, row), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (30, 30, 30), 1, cv2.LINE_AA)
    frames = []
    for i in range(n):
        img = base.copy()
        x = 60 + (i * 40) % (SCREEN_W - 200)
        cv2.rectangle(img, (x, 500), (x + 4, 530), (0, 0, 0), -1)  # the text cursor moves along
        frames.append(img)

    def encode(gop: int, bitrate: int) -> list[bytes]:
        enc = av.CodecContext.create("libvpx", "w")
        enc.width, enc.height, enc.pix_fmt = SCREEN_W, SCREEN_H, "yuv420p"
        enc.time_base, enc.framerate = Fraction(1, fps), Fraction(fps)
        enc.bit_rate = bitrate
        enc.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0", "g": str(gop)}
        out: list[bytes] = []
        for i, img in enumerate(frames + frames):
            f = av.VideoFrame.from_ndarray(img, format="rgb24").reformat(format="yuv420p")
            f.pts = i
            out += [bytes(p) for p in enc.encode(f)]
        return out + [bytes(p) for p in enc.encode(None)]

    # Text compresses well; keep keyframes near what Chromium sends for a 1080p desktop (tens of kB), within
    # what aiortc's jitter buffer holds for one frame (128 packets).
    inter = encode(100000, 300_000)[n:2 * n]
    key = encode(1, 400_000)[:n]
    return {"inter": inter, "key": key, "opus": b""}


def send_candidate(conn: Any, seconds: float, screen_fps: int) -> None:
    """In a sender process: the webcam (and, when ``screen_fps``, the screen as the second video track)."""
    from aiortc import RTCPeerConnection, RTCSessionDescription

    video, audio = browser_tracks(browser_media("obama.jpg"))
    screen = None
    if screen_fps:
        screen, _ = browser_tracks(screen_media(screen_fps))
        screen._rate = screen_fps  # the screen's own frame rate (the helper paces at the webcam's)

    async def run() -> None:
        pc = RTCPeerConnection()
        video.sender = pc.addTrack(video)
        pc.addTrack(audio)
        if screen is not None:
            screen.sender = pc.addTrack(screen)
        pc.createDataChannel("events")
        await pc.setLocalDescription(await pc.createOffer())
        conn.send(pc.localDescription.sdp)
        answer = await asyncio.get_running_loop().run_in_executor(None, conn.recv)
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
        await asyncio.sleep(seconds)
        conn.send({"frames": video.sent, "screen_frames": screen.sent if screen else 0})
        await pc.close()

    asyncio.run(run())


def run_candidates(setup: dict[str, Any], n: int, seconds: float, screen_fps: int) -> dict[str, float]:
    """CPU of this process per candidate while n candidates stream (with the screen when ``screen_fps``)."""
    from proctoring.live import engine, live_state, sink_factory
    from proctoring.sessions import session_id

    app = setup["app"]
    eng = engine(app)
    state = live_state(app)
    assert state is not None
    state.faces.ready()  # the face workers' start (loading models) is not part of a candidate's cost
    ids, users, inst = setup["attempts"][:n], setup["users"][:n], setup["institution"]
    ctx = mp.get_context("spawn")
    pipes, procs = [], []
    for _ in range(n):
        parent, child = ctx.Pipe()
        p = ctx.Process(target=send_candidate, args=(child, seconds + 4, screen_fps))
        p.start()
        pipes.append(parent)
        procs.append(p)
    for i, pipe in enumerate(pipes):
        pipe.send(eng.answer(session_id(ids[i]), pipe.recv(), sink_factory(app, ids[i], users[i], inst),
                             screen=bool(screen_fps)))
    time.sleep(3)  # connect and settle
    face_pids = state.faces.pids()  # the face worker processes are part of the engine

    def server_cpu_s() -> float:
        return cpu_s() + proc_cpu_s(face_pids)

    busy = BusyMeter(server_cpu_s, lambda: proc_cpu_s([p.pid for p in procs if p.pid]))
    stats0 = [eng.stats(session_id(a)) or {} for a in ids]
    c0, t0 = server_cpu_s(), time.monotonic()
    time.sleep(seconds)
    c1, t1 = server_cpu_s(), time.monotonic()
    stats1 = [eng.stats(session_id(a)) or {} for a in ids]
    machine = busy.report()
    for pipe in pipes:
        pipe.recv()
    eng.stop()
    app.extensions.pop("aufsicht.media", None)
    for p in procs:
        p.join(30)
    video = sum(int(b.get("video_frames", 0)) - int(a.get("video_frames", 0))
                for a, b in zip(stats0, stats1, strict=True))
    screen = sum(int(b.get("screen_frames", 0)) for b in stats1)  # the part's count (one part per run)
    return {"cpu_pct_per_candidate": 100 * (c1 - c0) / (t1 - t0) / n,
            "webcam_fps": video / (t1 - t0) / n, "screen_frames_recorded": float(screen),
            "machine_busy_pct": machine["machine_busy_pct"], "others_pct": machine["others_pct_of_machine"]}


def counter_tracks() -> tuple[Any, Any, dict[int, float], dict[str, int]]:
    """The examiner's track (its counter in the picture, send times kept), the candidate's echo track (it shows
    ``echo["value"]``), the send times and the echo."""
    import av
    import numpy as np
    from aiortc.mediastreams import VideoStreamTrack

    sent: dict[int, float] = {}
    echo = {"value": 0}

    def paint(value: int) -> av.VideoFrame:
        img = np.full((240, 320, 3), 128, np.uint8)
        for bit in range(16):
            on = (value >> bit) & 1
            x, y = 10 + (bit % 8) * 38, 60 + (bit // 8) * 80
            img[y:y + 30, x:x + 30] = 255 if on else 0
        return av.VideoFrame.from_ndarray(img, format="bgr24")

    class Examiner(VideoStreamTrack):
        n = 0

        async def recv(self) -> av.VideoFrame:
            pts, tb = await self.next_timestamp()
            self.n = (self.n + 1) % 65536
            sent[self.n] = time.monotonic()
            frame = paint(self.n)
            frame.pts, frame.time_base = pts, tb
            return frame

    class Candidate(VideoStreamTrack):
        async def recv(self) -> av.VideoFrame:
            pts, tb = await self.next_timestamp()
            frame = paint(echo["value"])
            frame.pts, frame.time_base = pts, tb
            return frame

    return Examiner(), Candidate(), sent, echo


def read_counter(frame: Any) -> int:
    """The counter painted into a decoded frame."""
    img = frame.to_ndarray(format="bgr24")
    if img.shape[:2] != (240, 320):
        import cv2

        img = cv2.resize(img, (320, 240))
    value = 0
    for bit in range(16):
        x, y = 10 + (bit % 8) * 38, 60 + (bit // 8) * 80
        if img[y + 5:y + 25, x + 5:x + 25].mean() > 128:
            value |= 1 << bit
    return value


async def connect_oral(eng: Any, session_id: str, candidate_video: Any, examiner_video: Any,
                       on_candidate_track: Any = None) -> tuple[Any, Any, dict[str, dict[str, Any]]]:
    """A candidate (aiortc, ``candidate_video`` and silent audio) in an oral session of the media engine ``eng``,
    and an examiner (``examiner_video`` and silent audio) joined to it, both connected; returns the two peer
    connections and the tracks each received (``{"cand": {kind: track}, "exam": {...}}``).
    ``on_candidate_track(pc, track)`` runs as the candidate's side gets each track."""
    from aiortc import RTCPeerConnection, RTCSessionDescription
    from aiortc.mediastreams import AudioStreamTrack

    from proctoring.sessions import DiscardSink

    loop = asyncio.get_running_loop()
    cand, exam = RTCPeerConnection(), RTCPeerConnection()
    got: dict[str, dict[str, Any]] = {"cand": {}, "exam": {}}

    @cand.on("track")
    def on_cand(track: Any) -> None:
        if on_candidate_track is not None:
            on_candidate_track(cand, track)
        got["cand"][track.kind] = track

    exam.on("track", lambda t: got["exam"].__setitem__(t.kind, t))
    cand.addTrack(candidate_video)
    cand.addTrack(AudioStreamTrack())
    cand.createDataChannel("events")
    await cand.setLocalDescription(await cand.createOffer())
    answer = await loop.run_in_executor(None, lambda: eng.answer(
        session_id, cand.localDescription.sdp, lambda _s, _p: DiscardSink(), oral=True))
    await cand.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
    while cand.connectionState != "connected":
        await asyncio.sleep(0.05)
    await asyncio.sleep(1.0)
    exam.addTrack(examiner_video)
    exam.addTrack(AudioStreamTrack())
    await exam.setLocalDescription(await exam.createOffer())
    answer = await loop.run_in_executor(None, lambda: eng.join(session_id, "examiner", exam.localDescription.sdp))
    await exam.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
    while exam.connectionState != "connected":
        await asyncio.sleep(0.05)
    return cand, exam, got


def run_oral(seconds: float) -> dict[str, float]:
    """The examiner -> engine -> candidate -> engine -> examiner delay of picture frames, in ms."""
    from proctoring.engine import MediaEngine

    eng = MediaEngine(host_addresses=["127.0.0.1"], decode_video=True)
    eng.start()
    examiner_track, candidate_track, sent, echo = counter_tracks()
    rtts: list[float] = []

    async def consume(track: Any, on_frame: Any, until: float) -> None:
        while time.monotonic() < until:
            try:
                frame = await asyncio.wait_for(track.recv(), timeout=1.0)
            except Exception:  # noqa: S112  a timeout, or the track ended: the loop ends at ``until``
                continue
            on_frame(frame)

    async def run() -> None:
        cand, exam, got = await connect_oral(eng, "attempt-bench", candidate_track, examiner_track)
        await asyncio.sleep(2.0)  # the first keyframes
        rtts.clear()
        until = time.monotonic() + seconds

        def at_candidate(frame: Any) -> None:
            echo["value"] = read_counter(frame)

        last = {"value": -1}

        def at_examiner(frame: Any) -> None:
            value = read_counter(frame)
            if value != last["value"] and value in sent:
                last["value"] = value
                rtts.append(1000 * (time.monotonic() - sent[value]))

        await asyncio.gather(consume(got["cand"]["video"], at_candidate, until),
                             consume(got["exam"]["video"], at_examiner, until))
        await exam.close()
        await cand.close()

    asyncio.run(run())
    eng.stop()
    if not rtts:
        return {"p50": float("nan"), "p95": float("nan"), "samples": 0.0}
    rtts.sort()
    return {"p50": rtts[len(rtts) // 2], "p95": rtts[min(len(rtts) - 1, int(0.95 * len(rtts)))],
            "samples": float(len(rtts))}


def main() -> None:
    """Both figures, the last line JSON."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--candidates", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=15)
    ap.add_argument("--screen-fps", type=int, default=2)
    args = ap.parse_args()
    browser_media("obama.jpg")
    setup = production_app(args.candidates)
    print(f"{os.cpu_count()} CPUs; each candidate its own process; webcam: {STREAM}")
    print(f"screen: {SCREEN_W}x{SCREEN_H} VP8 at {args.screen_fps} fps (a desktop of text, a moving cursor), "
          "the second video track of the same connection, copied into the same recording")
    print(f"production configuration (app/config.py DEFAULTS): {config_line(setup['app'])}")
    cam = run_candidates(setup, args.candidates, args.seconds, 0)
    print(f"webcam only       N={args.candidates}: {cam['cpu_pct_per_candidate']:.1f}% of a core per candidate, "
          f"webcam {cam['webcam_fps']:.1f} fps recorded  [machine {cam['machine_busy_pct']:.0f}% busy]", flush=True)
    scr = run_candidates(setup, args.candidates, args.seconds, args.screen_fps)
    print(f"webcam + screen   N={args.candidates}: {scr['cpu_pct_per_candidate']:.1f}% of a core per candidate, "
          f"webcam {scr['webcam_fps']:.1f} fps, {scr['screen_frames_recorded']:.0f} screen frames recorded  "
          f"[machine {scr['machine_busy_pct']:.0f}% busy]", flush=True)
    ratio = scr["cpu_pct_per_candidate"] / max(cam["cpu_pct_per_candidate"], 1e-9)
    print(f"with the screen / webcam only: {ratio:.2f}x (target <= 1.5x)")
    oral = run_oral(args.seconds)
    print(f"oral call, examiner -> engine -> candidate -> engine -> examiner (320x240@30 VP8, loopback, one process; "
          f"the aiortc peers hold a frame each): p50 {oral['p50']:.0f} ms, p95 {oral['p95']:.0f} ms "
          f"over {oral['samples']:.0f} frames (target p95 < 150)")
    print(json.dumps({"cpu_pct_per_candidate_with_screen": round(scr["cpu_pct_per_candidate"], 1),
                      "cpu_pct_per_candidate_webcam_only": round(cam["cpu_pct_per_candidate"], 1),
                      "screen_cpu_ratio": round(ratio, 2), "screen": f"{SCREEN_W}x{SCREEN_H}@{args.screen_fps} VP8",
                      "candidates": args.candidates, "config": "production (DEFAULTS)",
                      "screen_frames_recorded": scr["screen_frames_recorded"],
                      "oral_call_rtt_ms": round(oral["p95"], 1), "oral_call_rtt_p50_ms": round(oral["p50"], 1),
                      "oral_call_samples": oral["samples"], "machine_busy_pct": scr["machine_busy_pct"]}))


if __name__ == "__main__":
    main()
