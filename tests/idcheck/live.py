"""Stand-ins for a candidate during the live liveness challenge (bench/camera.py), and ``engine_delivers``:
for tests about what follows the challenge (match, review, decisions), the frames the media engine would
take, rendered for the drawn moves and timed on the challenge's clock, handed to the same service the
engine calls. The WebRTC transport itself: tests/idcheck/test_live_challenge.py and the Chromium test.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.camera import PromptedCamera, drawer, head, jpeg, pose_after, timed_frames

__all__ = ["PromptedCamera", "drawer", "engine_delivers", "head", "jpeg", "pose_after", "timed_frames"]


def engine_delivers(check: Any, faces: Path, name: str = "obama.jpg", *, still: bool = False) -> Any:
    """Begin the live challenge (the server draws), then hand over the frames the engine would take: a 3D head
    of ``name`` answering each prompt (or, ``still``, the photo ``name`` held still), 5 a second."""
    from idcheck.verification import accept_live_frames, begin_live_challenge
    from kernel.clock import utcnow
    from tests.idcheck.conftest import resized

    challenge = begin_live_challenge(check, utcnow())
    if still:
        frames = timed_frames(challenge, None, resized(faces / name, 640, 480))
    else:
        frames = timed_frames(challenge, head(faces / name).render)
    return accept_live_frames(check.id, challenge.steps[0].prompted_ms, frames, utcnow())
