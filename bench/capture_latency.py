"""How late the liveness capture times a frame, per media plane: a stand-in browser (aiortc) paints its own clock
(unix ms) into each frame as big black and white blocks, the engine captures 6 s at 5 frames a second as the
identity check does, and each kept frame's time (the engine's, at arrival) minus the time painted in it is the
latency the prompts' deadlines see (encoding, network on loopback, the engine's receive path; on aiortc also its
decoding). Prints one JSON line per plane: ``frames``, ``latency_ms_median``, ``latency_ms_p90``, ``latency_ms_max``.

    .venv/bin/python bench/capture_latency.py [aiortc] [janus]
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

BITS = 24  # the clock painted modulo 2^24 ms (about 4.6 hours)


def paint(ms: int) -> np.ndarray:
    """A 640x480 picture of ``ms`` in 24 blocks (3 rows of 8), white for a one."""
    img = np.full((480, 640, 3), 128, np.uint8)
    for b in range(BITS):
        r, c = divmod(b, 8)
        img[40 + r * 120:140 + r * 120, 20 + c * 75:80 + c * 75] = 255 if ms >> b & 1 else 0
    return img


def read(img: np.ndarray) -> int:
    """The ms painted by ``paint`` (JPEG's losses do not reach the blocks' centres)."""
    return sum(1 << b for b in range(BITS) if img[90 + divmod(b, 8)[0] * 120, 50 + divmod(b, 8)[1] * 75].mean() > 128)


async def measure(plane: str) -> dict[str, Any]:
    """Capture the painted clock on ``plane``; the latencies of the kept frames."""
    import av
    import cv2
    from aiortc import RTCPeerConnection, RTCSessionDescription
    from aiortc.mediastreams import AudioStreamTrack, VideoStreamTrack

    from proctoring.ice import use_host_addresses
    from proctoring.sessions import DiscardSink

    class Clock(VideoStreamTrack):
        async def recv(self) -> av.VideoFrame:
            pts, time_base = await self.next_timestamp()
            frame = av.VideoFrame.from_ndarray(paint(int(time.time() * 1000) % (1 << BITS)), format="bgr24")
            frame.pts, frame.time_base = pts, time_base
            return frame

    eng: Any
    if plane == "janus":  # Janus leaves loopback out: the sender reaches it on the machine's other address
        from proctoring.janus import JanusEngine

        use_host_addresses(None)
        eng = JanusEngine(host_addresses=None)
    else:
        from proctoring.engine import MediaEngine

        use_host_addresses(["127.0.0.1"])
        eng = MediaEngine(host_addresses=["127.0.0.1"])
    eng.start()
    loop = asyncio.get_running_loop()
    pc = RTCPeerConnection()
    try:
        pc.addTrack(Clock())
        pc.addTrack(AudioStreamTrack())
        await pc.setLocalDescription(await pc.createOffer())
        sdp = pc.localDescription.sdp
        answer = await loop.run_in_executor(None, lambda: eng.answer("clock", sdp, lambda _s, _p: DiscardSink()))
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
        for _ in range(200):  # as the challenge's start: connected and frames coming
            stats = eng.stats("clock") or {}
            if stats.get("state") == "connected" and int(stats.get("video_frames") or 0) >= 5:
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.0)
        got: list[tuple[int, bytes]] = []
        done = threading.Event()

        def on_done(frames: list[tuple[int, bytes]]) -> None:
            got.extend(frames)
            done.set()

        await loop.run_in_executor(None, lambda: eng.capture("clock", time.time() + 6, 5.0, on_done))
        while not done.is_set():
            await asyncio.sleep(0.1)
    finally:
        await pc.close()
        await loop.run_in_executor(None, eng.stop)
    late = sorted((t_ms - read(np.asarray(cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR))))
                  % (1 << BITS) for t_ms, jpeg in got)
    return {"plane": plane, "frames": len(late), "latency_ms_median": late[len(late) // 2] if late else None,
            "latency_ms_p90": late[int(len(late) * 0.9)] if late else None, "latency_ms_max": max(late, default=None)}


def main() -> None:
    """Measure each plane named (both by default), each in a fresh event loop."""
    figures: dict[str, object] = {}
    for plane in sys.argv[1:] or ["aiortc", "janus"]:
        got = asyncio.run(measure(plane))
        print(f"{plane:7} {got['frames']} frames, lateness median {got['latency_ms_median']} ms, "
              f"p90 {got['latency_ms_p90']} ms, max {got['latency_ms_max']} ms", flush=True)
        figures.update({f"{key}_{plane}": value for key, value in got.items() if key != "plane"})
    print(json.dumps(figures), flush=True)  # the last line: all planes side by side


if __name__ == "__main__":
    main()
