"""Liveness: frames of a turning face pass the challenge; the same still image repeated fails."""

from __future__ import annotations

import numpy as np

from bench.common import head_turn
from idcheck.images import load_upload
from idcheck.liveness import evaluate


def test_turning_face_passes_in_the_asked_order(faces):
    img = load_upload((faces / "obama.jpg").read_bytes())
    frames = [img, head_turn(img, 0.5), head_turn(img, 0.5), img, head_turn(img, -0.5), head_turn(img, -0.5)]
    assert evaluate(["left", "right"], frames).passed
    # the same frames do not answer the opposite order
    assert not evaluate(["right", "left"], frames).passed
    reversed_frames = [img, head_turn(img, -0.5), head_turn(img, -0.5), img, head_turn(img, 0.5), head_turn(img, 0.5)]
    assert evaluate(["right", "left"], reversed_frames).passed
    assert not evaluate(["left", "right"], [img, head_turn(img, -0.5), img, head_turn(img, -0.5)]).passed


def test_still_image_repeated_fails(faces):
    img = load_upload((faces / "obama.jpg").read_bytes())
    result = evaluate(["left", "right"], [img] * 8)
    assert not result.passed and "still image" in result.reason


def test_no_face_fails():
    blank = np.full((480, 640, 3), 90, np.uint8)
    assert not evaluate(["left", "right"], [blank] * 5).passed
