"""dlib's face models, one set per thread.

face_recognition keeps one module-level detector, shape predictor and encoder for the whole
process. dlib's objects are not safe to call from several threads at once: with the media
engine's worker pool analysing two candidates' frames concurrently, the process died with
"malloc assertion failure" inside the HOG detector (bench/monitoring.py, 3 candidates).
Each thread here loads its own models on first use (about 30 MB, 68-point predictor only
where liveness needs it); the functions mirror face_recognition's (boxes are top, right,
bottom, left).
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

_local = threading.local()

# Index ranges of the 68-point layout (iBUG 300-W) that liveness uses.
_LANDMARKS_68 = {"left_eye": range(36, 42), "right_eye": range(42, 48), "nose_tip": range(31, 36)}


def _model(name: str) -> Any:
    model = getattr(_local, name, None)
    if model is None:
        import dlib
        import face_recognition_models as frm

        model = {
            "detector": dlib.get_frontal_face_detector,
            "pose_5": lambda: dlib.shape_predictor(frm.pose_predictor_five_point_model_location()),
            "pose_68": lambda: dlib.shape_predictor(frm.pose_predictor_model_location()),
            "encoder": lambda: dlib.face_recognition_model_v1(frm.face_recognition_model_location()),
        }[name]()
        setattr(_local, name, model)
    return model


def _rect(box: tuple[int, int, int, int]) -> Any:
    import dlib

    top, right, bottom, left = box
    return dlib.rectangle(left, top, right, bottom)


def locations(image: np.ndarray, upsample: int = 0) -> list[tuple[int, int, int, int]]:
    """HOG face boxes (top, right, bottom, left), clipped to the image."""
    h, w = image.shape[:2]
    return [(max(r.top(), 0), min(r.right(), w), min(r.bottom(), h), max(r.left(), 0))
            for r in _model("detector")(image, upsample)]


def encodings(image: np.ndarray, boxes: list[tuple[int, int, int, int]], num_jitters: int = 1) -> list[np.ndarray]:
    """128-d encodings of the faces in ``boxes`` (5-point alignment)."""
    predictor, encoder = _model("pose_5"), _model("encoder")
    return [np.array(encoder.compute_face_descriptor(image, predictor(image, _rect(b)), num_jitters))
            for b in boxes]


def landmarks(image: np.ndarray, boxes: list[tuple[int, int, int, int]]) -> list[dict[str, list[tuple[int, int]]]]:
    """Eye and nose-tip points (68-point model) of the faces in ``boxes``."""
    predictor = _model("pose_68")
    out = []
    for b in boxes:
        shape = predictor(image, _rect(b))
        points = [(p.x, p.y) for p in shape.parts()]
        out.append({name: [points[i] for i in idx] for name, idx in _LANDMARKS_68.items()})
    return out
