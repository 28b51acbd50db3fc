"""CPU and memory per recorded stream: our engine in production configuration vs aiortc's MediaRecorder.

N senders, each in its own process, stream what a browser sends (bench.common.STREAM: 640x480 at 30 fps,
VP8 ~1.5 Mbps of a moving face, plus Opus; encoded once ahead and replayed as packets, keyframes on
request) to this process for ``--seconds``. This process receives them (1) with the media engine of a
real app in production configuration (app/config.py DEFAULTS: video decoded for snapshots and face
flags, identity comparison against a seeded face template every 10 s, snapshots stored, recording into
encrypted blobs on local disk), (2) as an extra, lighter row, the same with MEDIA_DECODE_VIDEO off
(recording only), and (3) with aiortc's MediaRecorder into WebM (decoding and re-encoding). CPU is this
process's user+system time over the measuring window; frames recorded are compared with frames sent.
Also prints the keyframes the engine asked for (one per picture it analyses) and what they cost in
bitrate, and how busy the machine was. Last line: one JSON object with keys cpu_pct_per_stream,
mem_mb_per_stream, cpu_ratio_vs_mediarecorder, max_streams, stream, config, keyframe_kbps_per_stream, ...
The same run records the same streams on the Janus plane too (MEDIA_PLANE=janus, where Janus is installed), with
Janus's and its recorders' CPU counted (psutil-free: /proc of their processes): janus_cpu_pct_per_stream,
janus_vs_aiortc_cpu, and their recording-only counterparts; cpu_model names the machine's CPU.

    .venv/bin/python bench/recording.py [--streams 2,4] [--seconds 15] [--no-mediarecorder] [--no-janus]
"""

from __future__ import annotations

import argparse
import asyncio
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
from bench.common import (  # noqa: E402  (after the path is set)
    FPS,
    STREAM,
    BusyMeter,
    browser_media,
    config_line,
    cpu_model,
    media_figures,
    proc_cpu_s,
    production_app,
    replay_over_pipe,
    thread_cpu_s,
)


def rss_mb() -> float:
    """Resident memory of this process in MB."""
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def cpu_s() -> float:
    """User+system CPU seconds of this process so far."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def run_ours(n: int, seconds: float, setup: dict[str, Any]) -> dict[str, float]:
    """Record n streams with the app's media engine (as production wires it): the aiortc engine, or with
    ``MEDIA_PLANE = "janus"`` Janus and our GStreamer recorders (their CPU counted with this process's)."""
    from proctoring.live import engine, sink_factory
    from proctoring.sessions import session_id

    app = setup["app"]
    eng = engine(app)
    _warm_face_workers(app)
    ids, users, inst = setup["attempts"][:n], setup["users"][:n], setup["institution"]
    before = {i: eng.stats(session_id(aid)) or {} for i, aid in enumerate(ids)}

    def stat(i: int, key: str) -> int:
        return int((eng.stats(session_id(ids[i])) or {}).get(key, 0)) - int(before[i].get(key, 0))

    def stop() -> None:
        eng.stop()
        app.extensions.pop("aufsicht.media", None)

    out = _drive(n, seconds, lambda i, sdp: eng.answer(session_id(ids[i]), sdp,
                                                       sink_factory(app, ids[i], users[i], inst), oral=True),
                 lambda i: stat(i, "video_frames"), stop,
                 extra=lambda: {"decoded": sum(stat(i, "frames_decoded") for i in range(n)),
                                "asked": sum(stat(i, "keyframes_requested") for i in range(n))},
                 server_pids=lambda: _face_workers(app) + _janus_pids(eng))
    return out


def _janus_pids(eng: Any) -> list[int]:
    """Janus's process and the recorders' (gst-launch) on the Janus plane; none on aiortc."""
    return list(eng.pids()) if hasattr(eng, "pids") else []


# ---------------------------------------------------------------------- the phone as the second camera (issue 29)

PHONE_W, PHONE_H, PHONE_BITRATE = 1280, 720, 2_000_000
PHONE_STREAM = (f"{PHONE_W}x{PHONE_H}@{FPS} VP8 ~{PHONE_BITRATE / 1e6:g} Mbps, no audio (as the phone page sends "
                "it: the camera at its ideal 1280x720, no microphone, the answer's b=AS:2000 caps it at 2 Mbps): "
                "the suite's moving face scaled to 720p, encoded once ahead, keyframes on request")


def phone_media() -> dict[str, Any]:
    """The encoded stream of a phone camera: ``bench.common``'s moving face at 1280x720 (cached on disk)."""
    import hashlib
    import pickle
    from fractions import Fraction

    import av
    import cv2

    from bench.common import LOOP_SECONDS, _moving_face

    tag = hashlib.sha256(f"phone{PHONE_STREAM}v1".encode()).hexdigest()[:12]
    cache = Path(tempfile.gettempdir()) / f"aufsicht-bench-phone-{tag}.pickle"
    if cache.exists():
        with open(cache, "rb") as fh:
            return dict(pickle.load(fh))  # noqa: S301 - our own file
    n = LOOP_SECONDS * FPS
    frames = [cv2.resize(f, (PHONE_W, PHONE_H), interpolation=cv2.INTER_LINEAR)
              for f in _moving_face(REPO / "tests" / "data" / "faces" / "obama.jpg", n)]

    def encode(gop: int, rate: int, imgs: list[Any]) -> list[bytes]:
        enc = av.CodecContext.create("libvpx", "w")
        enc.width, enc.height, enc.pix_fmt = PHONE_W, PHONE_H, "yuv420p"
        enc.time_base, enc.framerate = Fraction(1, FPS), Fraction(FPS)
        enc.bit_rate = rate
        enc.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0", "error-resilient": "1",
                       "g": str(gop)}
        got: list[bytes] = []
        for i, img in enumerate(imgs):
            frame = av.VideoFrame.from_ndarray(img, format="rgb24").reformat(format="yuv420p")
            frame.pts = i
            got += [bytes(p) for p in enc.encode(frame)]
        return got + [bytes(p) for p in enc.encode(None)]

    packets = encode(100000, PHONE_BITRATE, frames + frames)  # the second loop: rate control has settled
    key = encode(1, len(packets[0]) * 8 * FPS, frames)[:n]
    media = {"inter": packets[n:2 * n], "key": key, "opus": b"", "photo": "obama.jpg"}
    with open(cache, "wb") as fh:
        pickle.dump(media, fh)
    return media


def replay_phone_over_pipe(conn: Any, seconds: float) -> None:
    """In a sender process (the phone page): the 720p camera, an audio section that sends nothing, the events
    channel; reports what it sent like ``replay_over_pipe``."""
    from aiortc import RTCPeerConnection, RTCSessionDescription

    from bench.common import browser_tracks

    video, _audio = browser_tracks(phone_media())

    async def run() -> None:
        pc = RTCPeerConnection()
        video.sender = pc.addTrack(video)
        pc.addTransceiver("audio", direction="inactive")
        pc.createDataChannel("events")
        await pc.setLocalDescription(await pc.createOffer())
        conn.send(pc.localDescription.sdp)
        answer = await asyncio.get_running_loop().run_in_executor(None, conn.recv)
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
        t0 = time.monotonic()
        await asyncio.sleep(seconds)
        conn.send({"frames": video.sent, "keyframes": video.keyframes, "bytes": video.bytes,
                   "seconds": time.monotonic() - t0})
        await pc.close()

    asyncio.run(run())


def run_with_phone(n: int, seconds: float, setup: dict[str, Any]) -> dict[str, float]:
    """n candidates each with webcam (``attempt-<id>``) and phone (``phone-<id>``, recorded as its own stream
    kind), as production wires both; CPU per candidate."""
    from proctoring.live import engine, sink_factory
    from proctoring.sessions import phone_session_id, session_id

    app = setup["app"]
    eng = engine(app)
    _warm_face_workers(app)
    ids, users, inst = setup["attempts"][:n], setup["users"][:n], setup["institution"]
    sessions = [session_id(a) for a in ids] + [phone_session_id(a) for a in ids]
    owners = [(a, u) for a, u in zip(ids, users, strict=True)] * 2
    before = {i: eng.stats(s) or {} for i, s in enumerate(sessions)}

    def stat(i: int, key: str) -> int:
        return int((eng.stats(sessions[i]) or {}).get(key, 0)) - int(before[i].get(key, 0))

    def stop() -> None:
        eng.stop()
        app.extensions.pop("aufsicht.media", None)

    def answer(i: int, sdp: str) -> str:
        aid, uid = owners[i]
        return str(eng.answer(sessions[i], sdp, sink_factory(app, aid, uid, inst), oral=i < n))

    senders = [(replay_over_pipe, ("obama.jpg", seconds + 4))] * n + [(replay_phone_over_pipe, (seconds + 4,))] * n
    out = _drive(2 * n, seconds, answer, lambda i: stat(i, "video_frames"), stop,
                 server_pids=lambda: _face_workers(app), senders=senders)
    out["cpu_pct_per_candidate"] = out["cpu_pct_per_stream"] * 2
    out["cpu_s_per_candidate"] = out["cpu_s_per_stream"] * 2
    out["phone_kbps"] = out["kbps_sent_per_stream"]  # both kinds averaged; the phone's alone is printed apart
    return out


def _per_frame_ratio(alone: dict[str, Any], both: dict[str, Any]) -> float:
    """Webcam + phone against webcam alone with each at the full frame rate, from the CPU per frame recorded
    (for a machine so busy that the senders could not send every frame)."""
    per_frame_alone = alone["cpu_s_per_stream"] / max(alone["recorded_ratio"], 1e-9)
    per_frame_both = both["cpu_s_per_stream"] / max(both["recorded_ratio"], 1e-9)  # the two kinds averaged
    return 2 * per_frame_both / max(per_frame_alone, 1e-9)


def _warm_face_workers(app: Any) -> None:
    """Wait until the face workers have loaded their models: their start is not part of a stream's cost."""
    from proctoring.live import live_state

    state = live_state(app)
    if state is not None:
        state.faces.ready()


def _face_workers(app: Any) -> list[int]:
    """The face worker processes of the app's live monitoring: their CPU is the engine's."""
    from proctoring.live import live_state

    state = live_state(app)
    return state.faces.pids() if state is not None else []


def run_mediarecorder(n: int, seconds: float, tmp: Path) -> dict[str, float]:
    """Record n streams with aiortc's MediaRecorder (decode + re-encode) in one asyncio loop thread."""
    import threading

    from aiortc import RTCPeerConnection, RTCSessionDescription
    from aiortc.contrib.media import MediaRecorder

    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, daemon=True).start()
    pcs, recs, counts = {}, {}, {}

    async def answer(i: int, sdp: str) -> str:
        pc = RTCPeerConnection()
        rec = MediaRecorder(str(tmp / f"mr{n}-{i}.webm"), format="webm")
        pcs[i], recs[i], counts[i] = pc, rec, 0

        @pc.on("track")
        def on_track(track: Any) -> None:
            rec.addTrack(track)
            if track.kind == "video":
                orig = track.recv

                async def counting() -> Any:
                    frame = await orig()
                    counts[i] += 1
                    return frame

                track.recv = counting

        await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        await rec.start()
        await pc.setLocalDescription(await pc.createAnswer())
        return str(pc.localDescription.sdp)

    async def stop_all() -> None:
        for i in pcs:
            await recs[i].stop()
            await pcs[i].close()

    def stop() -> None:
        asyncio.run_coroutine_threadsafe(stop_all(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)

    return _drive(n, seconds, lambda i, sdp: asyncio.run_coroutine_threadsafe(answer(i, sdp), loop).result(20),
                  lambda i: counts.get(i, 0), stop)


def _drive(n: int, seconds: float, answer: Any, recorded: Any, stop: Any, extra: Any = None,
           server_pids: Any = list, senders: Any = None) -> dict[str, float]:
    """``senders``: per pipe, the sender process's function and its arguments after the pipe (default: the
    replayed webcam)."""
    ctx = mp.get_context("spawn")
    pipes, procs = [], []
    for i in range(n):
        parent, child = ctx.Pipe()
        target, args = senders[i] if senders else (replay_over_pipe, ("obama.jpg", seconds + 4))
        p = ctx.Process(target=target, args=(child, *args))
        p.start()
        pipes.append(parent)
        procs.append(p)
    mem0 = rss_mb()
    for i, pipe in enumerate(pipes):
        pipe.send(answer(i, pipe.recv()))
    time.sleep(3)  # connect and settle
    pids = server_pids()  # helper processes of the server under test (face workers): counted with it

    def server_cpu_s() -> float:
        return cpu_s() + proc_cpu_s(pids)

    x0 = extra() if extra else {}
    th0 = thread_cpu_s()
    own0, helpers0 = cpu_s(), proc_cpu_s(pids)
    c0, t0, f0 = server_cpu_s(), time.monotonic(), [recorded(i) for i in range(n)]
    busy = BusyMeter(server_cpu_s, lambda: proc_cpu_s([p.pid for p in procs if p.pid]))
    time.sleep(seconds)
    c1, t1, f1 = server_cpu_s(), time.monotonic(), [recorded(i) for i in range(n)]
    x1 = extra() if extra else {}
    th1 = thread_cpu_s()
    own1, helpers1 = cpu_s(), proc_cpu_s(pids)
    machine = busy.report()
    mem = rss_mb() - mem0
    sent = [pipe.recv() for pipe in pipes]
    stop()
    for p in procs:
        p.join(30)
    frames_recorded = sum(b - a for a, b in zip(f0, f1, strict=True))
    expected = FPS * (t1 - t0) * n
    out = {"cpu_pct_per_stream": 100 * (c1 - c0) / (t1 - t0) / n, "cpu_s_per_stream": (c1 - c0) / n,
           "mem_mb_per_stream": max(0.0, mem) / n, "recorded_ratio": frames_recorded / expected,
           "frames_sent": float(sum(s["frames"] for s in sent)),
           "kbps_sent_per_stream": sum(s["bytes"] * 8 / s["seconds"] / 1000 for s in sent) / n,
           "keyframes_sent_per_s": sum(s["keyframes"] / s["seconds"] for s in sent) / n,
           "machine_busy_pct": machine["machine_busy_pct"], "others_pct": machine["others_pct_of_machine"],
           "senders_pct": machine["senders_pct_of_machine"], "loadavg": machine["loadavg_1m"],
           "threads": {k: 100 * (v - th0.get(k, 0.0)) / (t1 - t0) / n for k, v in th1.items()},
           "own_pct_per_stream": 100 * (own1 - own0) / (t1 - t0) / n,
           "helpers_pct_per_stream": 100 * (helpers1 - helpers0) / (t1 - t0) / n,
           "per_stream_fps": [round((b - a) / (t1 - t0), 1) for a, b in zip(f0, f1, strict=True)]}
    if extra:
        out["decoded_per_s"] = (x1["decoded"] - x0["decoded"]) / (t1 - t0) / n
        out["asked_per_s"] = (x1["asked"] - x0["asked"]) / (t1 - t0) / n
    return out


def _row(label: str, n: int, o: dict[str, float]) -> str:
    line = (f"{label:32} N={n}: {o['cpu_pct_per_stream']:5.1f}% of a core/stream, {o['mem_mb_per_stream']:5.1f} "
            f"MB/stream, recorded {100 * o['recorded_ratio']:.0f}% of {FPS} fps, received "
            f"{o['kbps_sent_per_stream']:.0f} kbps/stream")
    if "decoded_per_s" in o:
        line += (f"; decoded {o['decoded_per_s']:.2f} frames/s/stream, keyframes asked "
                 f"{o['asked_per_s']:.2f}/s, sent on request {o['keyframes_sent_per_s']:.2f}/s")
    line += (f"\n    this process {o['own_pct_per_stream']:.1f}%, helper processes (face workers; Janus and the "
             f"recorders on Janus) {o['helpers_pct_per_stream']:.1f}% of a core per stream")
    line += "\n    by thread, % of a core per stream: " + ", ".join(
        f"{k} {v:.1f}" for k, v in sorted(o["threads"].items()) if v >= 0.05)
    if min(o["per_stream_fps"]) < 0.95 * FPS:
        line += f"; frames/s recorded per stream {o['per_stream_fps']}"
    return line + (f"  [machine {o['machine_busy_pct']:.0f}% busy, senders {o['senders_pct']:.0f}%, "
                   f"other processes {o['others_pct']:.0f}%, load {o['loadavg']:.1f}]")


def main() -> None:
    """Run the comparison for each N."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--streams", default="2,4")
    ap.add_argument("--seconds", type=float, default=15)
    ap.add_argument("--no-mediarecorder", action="store_true")
    ap.add_argument("--no-janus", action="store_true", help="leave out the Janus plane's rows")
    ap.add_argument("--phone-only", action="store_true",
                    help="only the phone row: webcam alone and webcam + phone side by side")
    args = ap.parse_args()
    ns = [int(x) for x in args.streams.split(",")]
    media = browser_media("obama.jpg")
    browser_media("")
    fig = media_figures(media)
    prod = production_app(max(ns))
    light = production_app(max(ns), {"MEDIA_DECODE_VIDEO": False})
    from proctoring.janus import available

    # Janus leaves loopback out of its candidates: on its plane the senders reach it on the machine's other address.
    janus_on = not args.no_janus and available()
    on_janus = {"MEDIA_PLANE": "janus", "MEDIA_HOST_ADDRESSES": None}
    jprod = production_app(max(ns), on_janus) if janus_on else None
    jlight = production_app(max(ns), {**on_janus, "MEDIA_DECODE_VIDEO": False}) if janus_on else None
    print(f"{os.cpu_count()} CPUs ({cpu_model()}); each sender its own process; stream: {STREAM}")
    print(f"  replayed stream {fig['kbps']:.0f} kbps without keyframe requests; one keyframe "
          f"{fig['keyframe_bytes'] / 1000:.0f} kB, so one a second adds {fig['kbps_per_keyframe_a_second']:.0f} kbps")
    print(f"production configuration (app/config.py DEFAULTS): {config_line(prod['app'])}; "
          "a face template per candidate; SQLite, encrypted local storage")
    print(f"lighter extra row: {config_line(light['app'])} (recording only: no snapshots, no flags)")
    print(f"{args.seconds:g} s measured per run")
    ours, lighter, mr, phone = {}, {}, {}, {}
    pmedia = phone_media()
    pfig = media_figures(pmedia)
    print(f"phone row: {PHONE_STREAM}; replayed {pfig['kbps']:.0f} kbps")
    with tempfile.TemporaryDirectory() as tmp:
        # The phone row: webcam alone and webcam + phone, one after the other in this run, at the same N.
        for n in ns:
            ours[n] = run_ours(n, args.seconds, prod)
            print(_row("ours, production configuration", n, ours[n]), flush=True)
            phone[n] = run_with_phone(n, args.seconds, prod)
            print(_row("ours, webcam + phone (per stream)", 2 * n, phone[n]), flush=True)
            print(f"  webcam + phone N={n} candidates: {phone[n]['cpu_pct_per_candidate']:.1f}% of a core per "
                  f"candidate against webcam alone {ours[n]['cpu_pct_per_stream']:.1f}%: "
                  f"{phone[n]['cpu_s_per_candidate'] / max(ours[n]['cpu_s_per_stream'], 1e-9):.2f}x "
                  f"(target <= 1.6x); per frame recorded, both at {FPS} fps: {_per_frame_ratio(ours[n], phone[n]):.2f}x"
                  + ("" if min(ours[n]["recorded_ratio"], phone[n]["recorded_ratio"]) >= 0.95 else
                     "  [the senders were starved: fewer frames than sent at 30 fps, the per-frame figure is the "
                     "fairer one]"), flush=True)
        for n in ns if not args.phone_only else []:
            lighter[n] = run_ours(n, args.seconds, light)
            print(_row("ours, recording only (lighter)", n, lighter[n]), flush=True)
        janus, jlighter = {}, {}
        if jprod is not None and jlight is not None and not args.phone_only:
            for n in ns:
                janus[n] = run_ours(n, args.seconds, jprod)
                print(_row("Janus plane, production config", n, janus[n]), flush=True)
            for n in ns:
                jlighter[n] = run_ours(n, args.seconds, jlight)
                print(_row("Janus plane, recording only", n, jlighter[n]), flush=True)
        if not args.no_mediarecorder and not args.phone_only:
            for n in ns:
                mr[n] = run_mediarecorder(n, args.seconds, Path(tmp))
                print(_row("aiortc MediaRecorder", n, mr[n]), flush=True)
    largest = max(ns)
    o = ours[largest]
    ratio = mr[largest]["cpu_s_per_stream"] / max(o["cpu_s_per_stream"], 1e-9) if mr else None
    # MediaRecorder decodes and re-encodes every frame it takes; when it cannot keep up it takes fewer (the
    # rest are lost), so its CPU-seconds alone flatter it: also compare CPU-seconds per frame recorded.
    per_frame = None
    if mr and mr[largest]["recorded_ratio"] > 0:
        per_frame = ((mr[largest]["cpu_s_per_stream"] / mr[largest]["recorded_ratio"])
                     / max(o["cpu_s_per_stream"] / max(o["recorded_ratio"], 1e-9), 1e-9))
    ok = [n for n in ns if ours[n]["recorded_ratio"] >= 0.95]
    extra_kbps = o["kbps_sent_per_stream"] - fig["kbps"]
    print(f"keyframes asked for analysis cost {extra_kbps:.0f} kbps per stream "
          f"({100 * extra_kbps / fig['kbps']:.0f}% over {fig['kbps']:.0f} kbps) at N={largest}")
    if ratio is not None:
        print(f"CPU-seconds per stream, MediaRecorder / ours (production configuration) at N={largest}: "
              f"{ratio:.1f}x; MediaRecorder recorded {100 * mr[largest]['recorded_ratio']:.0f}% of the frames, "
              f"ours {100 * o['recorded_ratio']:.0f}%: per frame recorded {per_frame:.1f}x")
    j = janus.get(largest)
    if j is not None:
        print(f"Janus plane / aiortc engine, CPU per stream at N={largest}: production configuration "
              f"{j['cpu_pct_per_stream'] / max(o['cpu_pct_per_stream'], 1e-9):.2f}, recording only "
              f"{jlighter[largest]['cpu_pct_per_stream'] / max(lighter[largest]['cpu_pct_per_stream'], 1e-9):.2f} "
              "(target: at most 0.25)")
    print(json.dumps({"cpu_model": cpu_model(),
                      "janus_cpu_pct_per_stream": None if j is None else round(j["cpu_pct_per_stream"], 2),
                      "janus_cpu_pct_per_stream_recording_only":
                          None if j is None else round(jlighter[largest]["cpu_pct_per_stream"], 2),
                      "janus_helpers_pct_per_stream": None if j is None else round(j["helpers_pct_per_stream"], 2),
                      "janus_recorded_pct": None if j is None else round(100 * j["recorded_ratio"]),
                      "janus_vs_aiortc_cpu": None if j is None else round(
                          j["cpu_pct_per_stream"] / max(o["cpu_pct_per_stream"], 1e-9), 2),
                      # a starved engine records fewer frames for less CPU: also per frame recorded
                      "janus_vs_aiortc_cpu_per_recorded_frame": None if j is None else round(
                          (j["cpu_pct_per_stream"] / max(j["recorded_ratio"], 1e-9))
                          / max(o["cpu_pct_per_stream"] / max(o["recorded_ratio"], 1e-9), 1e-9), 2),
                      "janus_vs_aiortc_cpu_recording_only": None if j is None else round(
                          jlighter[largest]["cpu_pct_per_stream"] / max(lighter[largest]["cpu_pct_per_stream"], 1e-9),
                          2),
                      "cpu_pct_per_stream": round(o["cpu_pct_per_stream"], 1),
                      "mem_mb_per_stream": round(o["mem_mb_per_stream"], 1),
                      "cpu_ratio_vs_mediarecorder": None if ratio is None else round(ratio, 1),
                      "cpu_ratio_vs_mediarecorder_per_recorded_frame":
                          None if per_frame is None else round(per_frame, 1),
                      "max_streams": max(ok) if ok else 0, "streams": largest,
                      "stream": f"{STREAM.split(':')[0]}, replayed", "config": "production (DEFAULTS)",
                      "cpu_pct_per_stream_recording_only":
                          round(lighter[largest]["cpu_pct_per_stream"], 1) if lighter else None,
                      "phone_cpu_pct_per_candidate": round(phone[largest]["cpu_pct_per_candidate"], 1),
                      "phone_cost_ratio": round(phone[largest]["cpu_s_per_candidate"]
                                                / max(o["cpu_s_per_stream"], 1e-9), 2),
                      "phone_cost_ratio_per_recorded_frame": round(_per_frame_ratio(o, phone[largest]), 2),
                      "phone_stream": f"{PHONE_W}x{PHONE_H}@{FPS} VP8, replayed",
                      "phone_recorded_pct": round(100 * phone[largest]["recorded_ratio"]),
                      "mediarecorder_recorded_pct": round(100 * mr[largest]["recorded_ratio"]) if mr else None,
                      "keyframe_kbps_per_stream": round(extra_kbps), "stream_kbps": round(fig["kbps"]),
                      "decoded_frames_per_s": round(o.get("decoded_per_s", 0), 2),
                      "machine_busy_pct": o["machine_busy_pct"], "others_pct": o["others_pct"]}))


if __name__ == "__main__":
    main()
