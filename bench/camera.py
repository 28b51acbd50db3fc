"""A candidate in front of the camera during the live liveness challenge (tests and benchmarks).

``PromptedCamera``: an aiortc video track of a picture that moves as the server prompts (a textured
3D head from bench/spoofs.py that really turns, or a flat photo turned in perspective), for clients
that stream over WebRTC to the media engine and learn each move by asking the server, as the page does.
``timed_frames``: the frames the media engine takes of such a person, for a known challenge.
"""

from __future__ import annotations

import asyncio
import functools
import io
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from bench.spoofs import MOVES, Head, SpoofSet, load_photo, turned_flat

DELAY_MS = 450  # a person starts moving this long after seeing the prompt
RAMP_MS = 400
HOLD_MS = 900


def pose_after(move: str | None, since_ms: float, angle: float = 25.0) -> tuple[float, float]:
    """(yaw, pitch) of a person ``since_ms`` after ``move`` was prompted: turn, hold, come back."""
    if move is None:
        return 0.0, 0.0
    t = since_ms - DELAY_MS
    if t <= 0 or t >= 2 * RAMP_MS + HOLD_MS:
        return 0.0, 0.0
    k = min(1.0, t / RAMP_MS, (2 * RAMP_MS + HOLD_MS - t) / RAMP_MS)
    dy, dp = MOVES[move]
    k = round(k * 4) / 4  # a few poses, each drawn once
    return dy * angle * k, dp * angle * 0.8 * k


@functools.cache
def head(path: Path) -> Head:
    """The 3D stand-in of a photo (made once per test session)."""
    return Head.from_photo(load_photo(path))


def drawer(faces: Path, kind: str) -> Callable[[float, float], np.ndarray]:
    """A cached picture at (yaw, pitch): ``head`` (3D head turning) or ``flat`` (flat photo turned)."""
    cache: dict[tuple[float, float], np.ndarray] = {}
    if kind == "head":
        render = head(faces / "obama.jpg").render
    else:
        flat = SpoofSet(faces).flat
        render = lambda y, p: turned_flat(flat, y * 1.8, p * 1.8)  # noqa: E731  (45 degrees: clearly turned)

    def draw(yaw: float, pitch: float) -> np.ndarray:
        key = (yaw, pitch)
        if key not in cache:
            cache[key] = render(yaw, pitch)
        return cache[key]

    return draw


class PromptedCamera:
    """What a candidate's camera sends: ``draw`` at the pose of someone answering the current prompt."""

    def __init__(self, draw: Callable[[float, float], np.ndarray], label: str = "Integrated Camera") -> None:
        self.draw = draw
        self.label = label  # the device label the page reports (MediaStreamTrack.label)
        self.move: str | None = None
        self.prompted_at = 0.0
        self.seen: list[str] = []
        self.states: list[dict[str, Any]] = []  # every prompt state the server sent, in order

    def prompt(self, state: dict[str, Any]) -> None:
        """The page's prompt changed (as polled from the server): start answering it."""
        self.states.append(state)
        move = state.get("move") if state.get("phase") == "move" else None
        key = f"{state.get('step')}:{move}"
        if move is not None and (not self.seen or self.seen[-1] != key):
            self.seen.append(key)
            self.move, self.prompted_at = move, time.monotonic()

    def track(self) -> Any:
        """An aiortc video track of this camera (15 fps)."""
        import av
        from aiortc.mediastreams import VideoStreamTrack

        camera = self

        class _Track(VideoStreamTrack):
            async def recv(self) -> av.VideoFrame:
                pts, time_base = await self.next_timestamp()
                yaw, pitch = pose_after(camera.move, (time.monotonic() - camera.prompted_at) * 1000)
                frame = av.VideoFrame.from_ndarray(camera.draw(yaw, pitch), format="rgb24")
                frame.pts, frame.time_base = pts, time_base
                return frame

        return _Track()


def jpeg(image: np.ndarray) -> bytes:
    """JPEG as the engine keeps frames."""
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, "JPEG", quality=92)
    return buf.getvalue()


def timed_frames(challenge: Any, draw: Callable[[float, float], np.ndarray] | None, still: np.ndarray | None = None,
                 every_ms: int = 200) -> list[tuple[int, bytes]]:
    """(ms, JPEG) of someone answering each step of ``challenge`` (drawn by ``draw``), or ``still`` held still,
    from ``LEAD_MS`` before the first prompt to the last deadline: what the media engine takes, 5 a second."""
    from idcheck.liveness import LEAD_MS

    cache: dict[tuple[float, float], bytes] = {}
    frames = []
    start, end = challenge.steps[0].prompted_ms - LEAD_MS, challenge.steps[-1].deadline_ms
    for t in range(start, end + 1, every_ms):
        current = [s for s in challenge.steps if s.prompted_ms <= t]
        pose = pose_after(current[-1].move, t - current[-1].prompted_ms) if current and still is None else (0.0, 0.0)
        if pose not in cache:
            cache[pose] = jpeg(still if still is not None else draw(*pose))  # type: ignore[misc]
        frames.append((t, cache[pose]))
    return frames




#: ``call(method, path, json_body)`` -> (HTTP status, JSON body or None): how a client reaches the web app.
Call = Callable[[str, str, Any], tuple[int, Any]]


async def live_challenge(call: Call, api: str, camera: PromptedCamera, *, retry_for: float = 60.0,
                         linger: float = 1.0) -> None:
    """Go through the live challenge as the identity page does, with ``camera`` as the webcam.

    Connects over WebRTC (``{api}/camera/offer``), starts the challenge once the server receives the video
    (``POST {api}/liveness``, tried again on 409 and 503), then asks for the current prompt a few times a
    second and moves only when a move is prompted; stays connected ``linger`` seconds after the last one
    (0: hangs up the moment the page learns the moves are done, as a candidate closing the tab).
    """
    from aiortc import RTCPeerConnection, RTCSessionDescription
    from aiortc.mediastreams import AudioStreamTrack

    loop = asyncio.get_running_loop()

    async def ask(method: str, path: str, body: Any = None, until_ok: bool = True) -> tuple[int, Any]:
        end = time.monotonic() + retry_for
        while True:
            status, answer = await loop.run_in_executor(None, call, method, path, body)
            if status == 200 or not until_ok or time.monotonic() > end:
                return status, answer
            await asyncio.sleep(0.5)  # as the page: no hammering of a server that is down

    pc = RTCPeerConnection()
    try:
        pc.addTrack(camera.track())
        pc.addTrack(AudioStreamTrack())
        await pc.setLocalDescription(await pc.createOffer())
        offer = {"type": "offer", "sdp": pc.localDescription.sdp, "camera": camera.label}
        status, answer = await ask("POST", f"{api}/camera/offer", offer)
        if status != 200:
            raise AssertionError(f"camera offer answered {status}: {answer}")
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type="answer"))
        status, state = await ask("POST", f"{api}/liveness")
        if status != 200:
            raise AssertionError(f"the challenge did not start: {status} {state}")
        end = time.monotonic() + retry_for
        while state is None or state.get("phase") != "done":
            if state is not None:
                camera.prompt(state)
            if time.monotonic() > end:
                raise AssertionError("the challenge did not finish")
            await asyncio.sleep(0.15)
            status, got = await ask("GET", f"{api}/liveness", until_ok=False)
            state = got if status == 200 else None  # a lost answer: keep answering the last prompt
        await asyncio.sleep(linger)  # the engine keeps the camera a moment after the last deadline
    finally:
        await pc.close()
