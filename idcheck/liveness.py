"""Liveness: the selfie frames must follow a random head-turn challenge.

Per frame we estimate head yaw from landmarks: the nose tip's horizontal offset from the midpoint
of the outer eye corners, divided by the eye distance (about 0 looking straight; it grows as the
head turns). The frames must start near straight, reach a clear turn in the first asked direction
and then in the other, and must not be near-identical. A printed photo or a still image held to
the camera does not turn, so it fails. Limitation: a screen replaying a real video of the person
turning could pass; that is what the live proctor and the identity-drift checks are for.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import cv2
import numpy as np

from idcheck.quality import detect

TURN = 0.07  # yaw change that counts as a turn (about 15 degrees; see the tests for how it was set)
MIN_MOTION = 2.0  # mean absolute pixel difference between frames (0-255) below which they are "the same"


@dataclasses.dataclass(frozen=True)
class LivenessResult:
    """Whether the challenge was followed, why not, and the yaw per frame (None: no face)."""

    passed: bool
    reason: str
    yaws: tuple[float | None, ...]


def yaw(image: np.ndarray) -> float | None:
    """Signed yaw proxy of the largest face (positive: the person turned to their left), or None."""
    from idcheck import faces

    boxes = detect(image)
    if not boxes:
        return None
    marks = faces.landmarks(image, [boxes[0]])
    if not marks:
        return None
    m = marks[0]
    left_eye, right_eye = np.array(m["left_eye"], float), np.array(m["right_eye"], float)
    nose = np.array(m["nose_tip"], float).mean(axis=0)
    # outermost points: the eye at the image's left has the smaller x
    a, b = sorted([left_eye, right_eye], key=lambda e: e[:, 0].mean())
    outer_a, outer_b = a[a[:, 0].argmin()], b[b[:, 0].argmax()]
    span = outer_b[0] - outer_a[0]
    if span <= 1:
        return None
    return float((nose[0] - (outer_a[0] + outer_b[0]) / 2) / span)


def evaluate(challenge: Sequence[str], frames: Sequence[np.ndarray]) -> LivenessResult:
    """Did the frames follow ``challenge`` (e.g. ["left", "right"])?"""
    yaws = tuple(yaw(f) for f in frames)
    known = [y for y in yaws if y is not None]
    if len(known) < 3:
        return LivenessResult(False, "face not visible in enough frames", yaws)
    small = [cv2.resize(cv2.cvtColor(f, cv2.COLOR_RGB2GRAY), (96, 72)).astype(np.float32) for f in frames]
    motion = max(float(np.abs(small[i] - small[i - 1]).mean()) for i in range(1, len(small)))
    if motion < MIN_MOTION:
        return LivenessResult(False, "the pictures do not change: a still image", yaws)
    base = known[0]
    sign = {"left": 1.0, "right": -1.0}
    pos = 0
    for step in challenge:
        want = sign.get(step)
        if want is None:
            return LivenessResult(False, f"unknown challenge step {step!r}", yaws)
        while pos < len(known) and (known[pos] - base) * want < TURN:
            pos += 1
        if pos == len(known):
            return LivenessResult(False, f"no clear turn to the {step}", yaws)
    return LivenessResult(True, "challenge followed", yaws)
