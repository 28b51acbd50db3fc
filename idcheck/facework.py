"""Face detection and encoding for live monitoring, in worker processes.

dlib's HOG detector and ResNet encoder keep Python's GIL while they run (an encoding took up to 614 ms on
a loaded 2-core machine). Called in the media engine's own process, every such call stopped the engine's
event loop: RTP packets queued up, jitter buffers overflowed and video was lost under load. The engine
therefore hands a sampled frame to a small pool of worker processes, which do the dlib work and send back
only the boxes and, when asked, the 128-d encoding of the largest face; the engine process keeps the
flag logic, the database and the event loop.

Each picture's faces are found with mediapipe's BlazeFace short-range detector (about 2 ms of CPU at
640x480 against 25 ms for dlib's HOG; the model ships in the mediapipe 0.10.21 wheel, Apache-2.0): a
candidate at a laptop sits well within its two metres. dlib's HOG runs only where it is needed: the
thorough, upsampled look for a small face before a no-face flag, and, when the identity comparison is
due, on a crop around the face, so that the encoding is made from the same kind of box as the verified
template (idcheck/matching.py).

``FacePool(0)`` runs in the calling thread (one candidate on a laptop, or a debugger); production uses
``PROCTORING_FACE_PROCESSES`` processes (default 1), started with ``spawn`` so that no thread or lock of
the engine process is inherited.
"""

from __future__ import annotations

import concurrent.futures
import logging
import multiprocessing
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

Box = tuple[int, int, int, int]  # top, right, bottom, left
BLAZEFACE_MIN_CONFIDENCE = 0.5  # BlazeFace's own default: a face it is less sure of is not counted


@dataclass(frozen=True)
class FacePass:
    """What one frame showed: face boxes (largest first), whether the thorough pass ran, and the encoding
    of the largest face when it was asked for and a face was found."""

    boxes: list[Box]
    thorough: bool
    encoding: np.ndarray | None


_local = threading.local()


def _area(box: Box) -> int:
    return (box[2] - box[0]) * (box[1] - box[3])


def _blazeface() -> Any:
    detector = getattr(_local, "blazeface", None)
    if detector is None:
        from mediapipe.python.solutions import face_detection

        detector = face_detection.FaceDetection(model_selection=0, min_detection_confidence=BLAZEFACE_MIN_CONFIDENCE)
        _local.blazeface = detector
    return detector


def quick_faces(rgb: np.ndarray) -> list[Box]:
    """Face boxes (top, right, bottom, left) found by BlazeFace short-range, largest first."""
    h, w = rgb.shape[:2]
    boxes = []
    for found in _blazeface().process(rgb).detections or []:
        rel = found.location_data.relative_bounding_box
        left, top = max(0, round(rel.xmin * w)), max(0, round(rel.ymin * h))
        right, bottom = min(w, round((rel.xmin + rel.width) * w)), min(h, round((rel.ymin + rel.height) * h))
        if right > left and bottom > top:
            boxes.append((top, right, bottom, left))
    return sorted(boxes, key=_area, reverse=True)


def _hog_box_near(rgb: np.ndarray, box: Box) -> Box | None:
    """dlib's HOG box of the face in and around ``box`` (the box kind the encoder's alignment expects)."""
    from idcheck import faces

    h, w = rgb.shape[:2]
    top, right, bottom, left = box
    margin = max(bottom - top, right - left) // 2 + 8
    y0, x0 = max(0, top - margin), max(0, left - margin)
    crop = np.ascontiguousarray(rgb[y0:min(h, bottom + margin), x0:min(w, right + margin)])
    found = faces.locations(crop, 0) or faces.locations(crop, 1)  # HOG finds faces from about 80 px
    if not found:
        return None
    t, r, b, lft = max(found, key=_area)
    return (t + y0, r + x0, b + y0, lft + x0)


def face_pass(rgb: np.ndarray, *, thorough_if_none: bool, encode: bool) -> FacePass:
    """Detect faces in an RGB frame: BlazeFace; if it finds none and ``thorough_if_none``, dlib's upsampled
    pass for a small face; with ``encode``, the encoding of the largest face."""
    from idcheck import faces
    from idcheck.quality import detect

    boxes = quick_faces(rgb)
    thorough = False
    if not boxes and thorough_if_none:
        boxes, thorough = detect(rgb), True
    encoding = None
    if encode and boxes:
        hog = boxes[0] if thorough else _hog_box_near(rgb, boxes[0])
        found = faces.encodings(rgb, [hog]) if hog is not None else []
        encoding = found[0] if found else None
    return FacePass(boxes, thorough, encoding)


def _warm() -> bool:
    """Load the models in a new worker so that its first frame is not the slow one."""
    from idcheck import faces

    faces.encodings(np.zeros((64, 64, 3), np.uint8), [])
    faces.locations(np.zeros((64, 64, 3), np.uint8))
    quick_faces(np.zeros((64, 64, 3), np.uint8))
    return True


class FacePool:
    """Runs :func:`face_pass` in ``processes`` worker processes (0: in the calling thread)."""

    def __init__(self, processes: int = 1) -> None:
        self.processes = max(0, processes)
        self._lock = threading.Lock()
        self._executor: concurrent.futures.ProcessPoolExecutor | None = None
        self._closed = False
        self._warming: list[concurrent.futures.Future[bool]] = []

    def _pool(self) -> concurrent.futures.ProcessPoolExecutor:
        with self._lock:
            if self._closed:
                raise RuntimeError("the face pool is closed")
            if self._executor is None:
                self._executor = concurrent.futures.ProcessPoolExecutor(
                    max_workers=self.processes, mp_context=multiprocessing.get_context("spawn"))
                self._warming = [self._executor.submit(_warm) for _ in range(self.processes)]
            return self._executor

    def start(self) -> None:
        """Start the worker processes now (they load their models in the background), so that the first
        candidate's first picture does not wait for them."""
        if self.processes > 0:
            self._pool()

    def ready(self, timeout: float = 120.0) -> None:
        """Start the workers and wait until they have loaded their models (benchmarks measure after this)."""
        self.start()
        concurrent.futures.wait(self._warming, timeout=timeout)

    def run(self, rgb: np.ndarray, *, thorough_if_none: bool, encode: bool, timeout: float = 30.0) -> FacePass | None:
        """The face pass of one frame, or None when the workers could not give it (a worker died: the
        pool is rebuilt for the next frame; or it took longer than ``timeout``)."""
        if self.processes == 0:
            return face_pass(rgb, thorough_if_none=thorough_if_none, encode=encode)
        executor = self._pool()
        try:
            return executor.submit(face_pass, rgb, thorough_if_none=thorough_if_none,
                                   encode=encode).result(timeout=timeout)
        except concurrent.futures.process.BrokenProcessPool:
            log.error("a face worker process died; starting new ones")
            with self._lock:
                if self._executor is executor:
                    self._executor = None
            executor.shutdown(wait=False, cancel_futures=True)
            return None
        except concurrent.futures.TimeoutError:
            log.warning("face analysis took longer than %.0f s; frame skipped", timeout)
            return None

    def pids(self) -> list[int]:
        """Process ids of the live worker processes (for accounting their CPU with the engine's)."""
        with self._lock:
            executor = self._executor
        processes = getattr(executor, "_processes", None) or {}
        return [int(pid) for pid in processes]

    def close(self) -> None:
        """Stop the worker processes (idempotent); later calls to :meth:`run` raise."""
        with self._lock:
            self._closed = True
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)
