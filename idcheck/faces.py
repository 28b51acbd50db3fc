"""dlib's face models, one set per thread.

face_recognition keeps one module-level detector, shape predictor and encoder for the whole
process. dlib's objects are not safe to call from several threads at once: with the media
engine's worker pool analysing two candidates' frames concurrently, the process died with
"malloc assertion failure" inside the HOG detector (bench/monitoring.py, 3 candidates).
Each thread here loads its own models on first use (about 30 MB); the functions mirror
face_recognition's (boxes are top, right, bottom, left).

Licences: only dlib's own models are loaded: the HOG detector (built into dlib, Boost Software
Licence), the 5-point landmark model and the ResNet encoder (released into the public domain by their
author, Davis King, in dlib-models; shipped by face_recognition_models, MIT). The 68-point model that
face_recognition_models also ships is trained on iBUG 300-W, whose licence excludes commercial use:
no code path loads it (tests/idcheck/test_licences.py); head pose comes from mediapipe's face mesh
(idcheck/pose.py). Do not ``import face_recognition``: it loads the 68-point model on import.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

_local = threading.local()


def _model(name: str) -> Any:
    model = getattr(_local, name, None)
    if model is None:
        import dlib
        import face_recognition_models as frm

        model = {
            "detector": dlib.get_frontal_face_detector,
            "pose_5": lambda: dlib.shape_predictor(frm.pose_predictor_five_point_model_location()),
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
