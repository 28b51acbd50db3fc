"""Frames for the identity check's liveness challenge, taken by the media engine from the received video.

While a capture runs, the session's video is decoded frame by frame (a VP8 decoder needs every frame
since a keyframe; ``_VideoGate`` decodes while ``captures`` is non-zero) and about ``fps`` frames a second
are kept, each timed by this server's clock when it arrived (unix ms). The sender's RTP timestamps are
not used: a sender chooses them, and could move a late answer inside its deadline. At the end the frames
are converted to JPEG on the engine's worker pool and handed to ``on_done``; nothing is written by the
engine itself. Only the frames of the window are converted; outside a capture nothing changes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from flask import Flask

log = logging.getLogger(__name__)

#: At most this many frames are kept of one capture (a long window at a high rate is cut).
MAX_FRAMES = 150

#: What a finished capture hands over: (unix ms, JPEG bytes) per kept frame.
TimedJpegs = list[tuple[int, bytes]]


async def grab(track: Any, until: float, fps: float) -> list[tuple[int, Any]]:
    """Receive decoded frames from ``track`` until unix time ``until``; keep about ``fps`` a second."""
    kept: list[tuple[int, Any]] = []
    every = 1.0 / max(fps, 0.5)
    next_at = 0.0
    while len(kept) < MAX_FRAMES:
        left = until - time.time()
        if left <= 0:
            break
        try:
            frame = await asyncio.wait_for(track.recv(), timeout=left)
        except TimeoutError:
            break
        except Exception:  # the track ended: the candidate hung up
            break
        now = time.time()
        if now >= next_at:
            kept.append((int(now * 1000), frame))
            next_at = now + every
    return kept


def to_jpegs(frames: list[tuple[int, Any]]) -> TimedJpegs:
    """Decoded frames as (unix ms, JPEG) pairs (on a worker, never in the event loop)."""
    import cv2

    out: TimedJpegs = []
    for t_ms, frame in frames:
        ok, jpeg = cv2.imencode(".jpg", frame.to_ndarray(format="bgr24"), [cv2.IMWRITE_JPEG_QUALITY, 92])
        if ok:
            out.append((t_ms, jpeg.tobytes()))
    return out


#: How long a finished capture is offered again while the database does not answer (a restart, a failover).
DELIVER_FOR = 60.0


def deliver_to_idcheck(app: Flask, check_id: int, challenge_at: int,
                       give_up_after: float = DELIVER_FOR) -> Callable[[TimedJpegs], None]:
    """The callback that hands a finished capture to the identity check (run on the engine's worker pool).

    The frames exist only here: if storing them fails (the database restarts), it is tried again with a
    growing pause for ``give_up_after`` seconds (each try in a fresh app context, so a fresh session);
    then they are dropped, and the candidate's page asks to repeat the movements.
    """

    def done(frames: TimedJpegs) -> None:
        from idcheck.verification import accept_live_frames
        from kernel.clock import utcnow

        end, pause = time.monotonic() + give_up_after, 0.5
        while True:
            try:
                with app.app_context():
                    accept_live_frames(check_id, challenge_at, frames, utcnow())
                return
            except Exception:
                if time.monotonic() + pause > end:
                    log.exception("frames of identity check %s dropped: storing them kept failing", check_id)
                    return
                log.warning("storing the frames of identity check %s failed; trying again", check_id)
                time.sleep(pause)
                pause = min(pause * 2, 8.0)

    return done
