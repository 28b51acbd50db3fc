"""Face match between the ID photo and the selfie: encodings, distance, and a recommendation.

The decision is a recommendation for people, never a refusal by itself (GDPR Art. 22):
``match`` verifies; ``no_match`` and ``review`` go to the review queue; ``unusable`` asks the
candidate to retake a photo.

Thresholds (measured on tests/data/faces with this code): the same person scored 0.06-0.45,
different people 0.70-0.87. ``match_max = 0.45`` keeps false matches unlikely (the library's
authors advise <= 0.5 for fewer false matches); ``no_match_min = 0.60`` leaves the band between
for a person to look at. Operators calibrate with ``flask idcheck compare``.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from idcheck.images import UnusableImage, load_upload
from idcheck.quality import assess


@dataclasses.dataclass(frozen=True)
class Thresholds:
    """Distances: at most ``match_max`` is a match, at least ``no_match_min`` no match, between: review."""

    match_max: float = 0.45
    no_match_min: float = 0.60


@dataclasses.dataclass(frozen=True)
class Decision:
    """The recommendation, the distance (None if unusable) and a reason code or text; with both photos'
    face encodings (ID photo, selfie) where both were usable, so a caller need not compute them again."""

    decision: str
    distance: float | None
    reason: str
    encodings: tuple[np.ndarray, np.ndarray] | None = dataclasses.field(default=None, compare=False, repr=False)


def face_encoding(image: np.ndarray) -> np.ndarray:
    """The 128-d encoding of the single usable face (raises UnusableImage otherwise)."""
    from idcheck import faces

    face = assess(image)
    enc = faces.encodings(image, [face.box])
    if not enc:
        raise UnusableImage("no_face", "No face found.")
    return np.asarray(enc[0], dtype=np.float64)


def distance(a: np.ndarray, b: np.ndarray) -> float:
    """Euclidean distance between two encodings (0 = identical)."""
    return float(np.linalg.norm(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)))


def compare(id_image: np.ndarray, selfie: np.ndarray, thresholds: Thresholds | Any = None) -> Decision:
    """Quality checks and face match of both photos; a recommendation with the distance."""
    th = thresholds if isinstance(thresholds, Thresholds) else Thresholds()
    try:
        id_enc = face_encoding(id_image)
    except UnusableImage as err:
        return Decision("unusable", None, f"ID photo: {err.reason}: {err.message}")
    try:
        selfie_enc = face_encoding(selfie)
    except UnusableImage as err:
        return Decision("unusable", None, f"selfie: {err.reason}: {err.message}")
    d, both = distance(id_enc, selfie_enc), (id_enc, selfie_enc)
    if d <= th.match_max:
        return Decision("match", d, "same person", both)
    if d >= th.no_match_min:
        return Decision("no_match", d, "faces differ: a person will review", both)
    return Decision("review", d, "uncertain: a person will review", both)


def compare_files(id_path: str | Path, selfie_path: str | Path, thresholds: Thresholds | Any = None) -> dict[str, Any]:
    """The same checks on two files: ``{"decision", "distance", "reason"}``."""
    try:
        id_image = load_upload(Path(id_path).read_bytes(), max_bytes=64 * 1024 * 1024)
        selfie = load_upload(Path(selfie_path).read_bytes(), max_bytes=64 * 1024 * 1024)
    except UnusableImage as err:
        return {"decision": "unusable", "distance": None, "reason": f"{err.reason}: {err.message}"}
    d = compare(id_image, selfie, thresholds)
    return {"decision": d.decision, "distance": None if d.distance is None else round(d.distance, 4),
            "reason": d.reason}
