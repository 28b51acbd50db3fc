"""Liveness: frames of a turning face pass the challenge; the same still image repeated fails."""

from __future__ import annotations

import cv2
import numpy as np

from idcheck.images import load_upload
from idcheck.liveness import evaluate
from idcheck.quality import detect


def turn(image: np.ndarray, k: float) -> np.ndarray:
    """Simulate a head turn: move the nose sideways relative to the outer eye corners (k > 0: to their left)."""
    h, w = image.shape[:2]
    _top, right, _bottom, left = detect(image)[0]
    cx, half = (left + right) / 2, (right - left) * 0.4
    xs = np.arange(w, dtype=np.float32)
    u = np.clip((xs - (cx - half)) / (2 * half), 0, 1)
    mapx = np.tile(xs - k * half * np.sin(np.pi * u), (h, 1)).astype(np.float32)
    mapy = np.tile(np.arange(h, dtype=np.float32)[:, None], (1, w))
    return cv2.remap(image, mapx, mapy, cv2.INTER_LINEAR)


def test_turning_face_passes_in_the_asked_order(faces):
    img = load_upload((faces / "obama.jpg").read_bytes())
    frames = [img, turn(img, 0.5), turn(img, 0.5), img, turn(img, -0.5), turn(img, -0.5)]
    assert evaluate(["left", "right"], frames).passed
    # the same frames do not answer the opposite order
    assert not evaluate(["right", "left"], frames).passed
    reversed_frames = [img, turn(img, -0.5), turn(img, -0.5), img, turn(img, 0.5), turn(img, 0.5)]
    assert evaluate(["right", "left"], reversed_frames).passed
    assert not evaluate(["left", "right"], [img, turn(img, -0.5), img, turn(img, -0.5)]).passed


def test_still_image_repeated_fails(faces):
    img = load_upload((faces / "obama.jpg").read_bytes())
    result = evaluate(["left", "right"], [img] * 8)
    assert not result.passed and "still image" in result.reason


def test_no_face_fails():
    blank = np.full((480, 640, 3), 90, np.uint8)
    assert not evaluate(["left", "right"], [blank] * 5).passed
