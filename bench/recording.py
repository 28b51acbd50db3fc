"""CPU and memory per recorded stream: our engine (copy into encrypted WebM) vs aiortc's MediaRecorder.

N aiortc senders, each in its own process (640x480 at 30 fps, VP8 ~1.5 Mbps, plus Opus), stream to
this process for ``--seconds``; this process records them (1) with our MediaEngine into encrypted
blobs on local disk and (2) with aiortc's MediaRecorder into WebM (re-encoding). CPU is this
process's user+system time over the measuring window; frames recorded are compared with frames
sent. Prints both and the ratio; the largest N tried without dropped frames is ``max_streams``.
Last line: one JSON object with keys cpu_pct_per_stream, mem_mb_per_stream,
cpu_ratio_vs_mediarecorder, max_streams.

    .venv/bin/python bench/recording.py [--streams 1,2,4] [--seconds 15]
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
from bench.common import stream_over_pipe  # noqa: E402  (after the path is set)


def sender(conn: Any, seconds: float) -> None:
    """One sender process: make an offer, get the answer through the pipe, stream, report frames sent."""
    import av
    import numpy as np
    from aiortc.codecs import vpx
    from aiortc.mediastreams import VideoStreamTrack

    vpx.DEFAULT_BITRATE = 1_500_000
    vpx.MIN_BITRATE = 1_000_000
    sent = {"video": 0}

    class Moving(VideoStreamTrack):
        async def recv(self) -> av.VideoFrame:
            pts, tb = await self.next_timestamp()
            img = np.zeros((480, 640, 3), np.uint8)
            x = (pts // 3000) % 560
            img[:, :, 1] = (np.arange(640)[None, :] + pts // 1500) % 255
            img[120:360, x:x + 80] = 255
            frame = av.VideoFrame.from_ndarray(img, format="bgr24")
            frame.pts, frame.time_base = pts, tb
            sent["video"] += 1
            return frame

    stream_over_pipe(conn, Moving(), seconds, lambda: sent["video"])


def rss_mb() -> float:
    """Resident memory of this process in MB."""
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def cpu_s() -> float:
    """User+system CPU seconds of this process so far."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def run_ours(n: int, seconds: float, tmp: Path) -> dict[str, float]:
    """Record n streams with our engine into encrypted blobs."""
    from proctoring.engine import MediaEngine
    from storage.backends import LocalBlobStore, new_key
    from storage.crypto import EncryptedWriter, new_data_key

    store = LocalBlobStore(tmp / "ours")
    engine = MediaEngine(host_addresses=["127.0.0.1"], decode_video=False)
    engine.start()
    recorders = {}

    def sink(sid: str, part: int) -> Any:
        return EncryptedWriter(store.open_write(new_key("recording")), new_data_key())

    return _drive(n, seconds, lambda i, sdp: engine.answer(f"s{i}", sdp, sink),
                  lambda i: (engine.stats(f"s{i}") or {}).get("video_frames", 0), engine.stop, recorders)


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
        rec = MediaRecorder(str(tmp / f"mr{i}.webm"), format="webm")
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
                  lambda i: counts.get(i, 0), stop, {})


def _drive(n: int, seconds: float, answer: Any, recorded: Any, stop: Any, _keep: Any) -> dict[str, float]:
    ctx = mp.get_context("spawn")
    pipes, procs = [], []
    for _ in range(n):
        parent, child = ctx.Pipe()
        p = ctx.Process(target=sender, args=(child, seconds + 4))
        p.start()
        pipes.append(parent)
        procs.append(p)
    mem0 = rss_mb()
    for i, pipe in enumerate(pipes):
        pipe.send(answer(i, pipe.recv()))
    time.sleep(3)  # connect and settle
    c0, t0, f0 = cpu_s(), time.monotonic(), [recorded(i) for i in range(n)]
    time.sleep(seconds)
    c1, t1, f1 = cpu_s(), time.monotonic(), [recorded(i) for i in range(n)]
    mem = rss_mb() - mem0
    sent = [pipe.recv() for pipe in pipes]
    stop()
    for p in procs:
        p.join(30)
    frames_recorded = sum(b - a for a, b in zip(f0, f1, strict=True))
    expected = 30 * (t1 - t0) * n
    return {"cpu_pct_per_stream": 100 * (c1 - c0) / (t1 - t0) / n, "cpu_s_per_stream": (c1 - c0) / n,
            "mem_mb_per_stream": max(0.0, mem) / n, "recorded_ratio": frames_recorded / expected,
            "frames_sent": float(sum(sent))}


def main() -> None:
    """Run the comparison for each N."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--streams", default="1,2,4")
    ap.add_argument("--seconds", type=float, default=15)
    args = ap.parse_args()
    ns = [int(x) for x in args.streams.split(",")]
    print(f"{os.cpu_count()} CPUs; senders are aiortc processes (640x480@30, VP8 ~1.5 Mbps + Opus); "
          f"{args.seconds:g} s measured per run")
    ours_by_n, mr_by_n = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for n in ns:
            ours_by_n[n] = run_ours(n, args.seconds, Path(tmp))
            o = ours_by_n[n]
            print(f"ours          N={n}: {o['cpu_pct_per_stream']:5.1f}% of a core/stream, "
                  f"{o['mem_mb_per_stream']:5.1f} MB/stream, recorded {100 * o['recorded_ratio']:.0f}% of 30 fps")
        for n in ns:
            mr_by_n[n] = run_mediarecorder(n, args.seconds, Path(tmp))
            m = mr_by_n[n]
            print(f"MediaRecorder N={n}: {m['cpu_pct_per_stream']:5.1f}% of a core/stream, "
                  f"{m['mem_mb_per_stream']:5.1f} MB/stream, recorded {100 * m['recorded_ratio']:.0f}% of 30 fps")
    largest = max(ns)
    ratio = mr_by_n[largest]["cpu_s_per_stream"] / max(ours_by_n[largest]["cpu_s_per_stream"], 1e-9)
    ok = [n for n in ns if ours_by_n[n]["recorded_ratio"] >= 0.95]
    print(f"CPU-seconds per stream, MediaRecorder / ours at N={largest}: {ratio:.1f}x")
    print(json.dumps({"cpu_pct_per_stream": round(ours_by_n[largest]["cpu_pct_per_stream"], 1),
                      "mem_mb_per_stream": round(ours_by_n[largest]["mem_mb_per_stream"], 1),
                      "cpu_ratio_vs_mediarecorder": round(ratio, 1), "max_streams": max(ok) if ok else 0}))


if __name__ == "__main__":
    main()
