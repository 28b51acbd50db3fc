"""No code path loads the 68-point landmark model (trained on iBUG 300-W: no commercial use).

Every shape predictor that dlib is asked to load is recorded while the identity check's paths run
(face match, quality, liveness with its pose, the benchmark's naive baseline) in a fresh thread, so
that the per-thread models (idcheck/faces.py) load anew; the 68-point file makes the load fail.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
import sys
import threading
from pathlib import Path

import dlib
import face_recognition_models as frm
import pytest

from tests.conftest import FACES

REPO = Path(__file__).resolve().parents[2]
FORBIDDEN = Path(frm.pose_predictor_model_location()).name  # shape_predictor_68_face_landmarks.dat


@pytest.fixture
def loads(monkeypatch):
    """The model files dlib loads; the 68-point one raises."""
    seen: list[str] = []
    real = dlib.shape_predictor

    def guarded(path: str) -> object:
        seen.append(Path(path).name)
        if Path(path).name == FORBIDDEN:
            raise AssertionError(f"the 68-point model was loaded: {path}")
        return real(path)

    monkeypatch.setattr(dlib, "shape_predictor", guarded)
    return seen


def run_in_fresh_thread(fn) -> None:
    errors: list[BaseException] = []

    def target() -> None:
        try:
            fn()
        except BaseException as err:  # handed to the test thread
            errors.append(err)

    t = threading.Thread(target=target)
    t.start()
    t.join()
    if errors:
        raise errors[0]


def test_the_guard_catches_the_68_point_model(loads):
    with pytest.raises(AssertionError, match="68-point"):
        dlib.shape_predictor(frm.pose_predictor_model_location())


def test_no_identity_check_path_loads_the_68_point_model(loads):
    from bench.idcheck import naive_encodings
    from bench.spoofs import SpoofSet
    from idcheck.images import load_upload
    from idcheck.liveness import Frame, decide, schedule
    from idcheck.matching import compare

    def paths() -> None:
        a = load_upload((FACES / "obama.jpg").read_bytes())
        b = load_upload((FACES / "obama2.jpg").read_bytes())
        assert compare(a, b).decision == "match"
        head = SpoofSet(FACES).head()
        poses = [(0, 0), (0, 0), (25, 0), (25, 0), (0, 0), (0, 20), (0, 20), (0, 0), (-25, 0), (-25, 0)]
        times = [1000, 1400, 2300, 2600, 3700, 4400, 4700, 5700, 6300, 6600]
        frames = [Frame(t, head.render(y, p)) for t, (y, p) in zip(times, poses, strict=True)]
        assert decide(schedule(["left", "up", "right"], 1500, 2000), frames).passed
        assert naive_encodings(FACES / "obama_small.jpg")

    run_in_fresh_thread(paths)
    assert "shape_predictor_5_face_landmarks.dat" in loads
    assert FORBIDDEN not in loads


def test_face_recognition_is_never_imported():
    """``import face_recognition`` loads the 68-point model at once: no module of ours may import it."""
    for package in ("app", "idcheck", "accounts", "exams", "proctoring", "privacy", "storage", "kernel"):
        mod = importlib.import_module(package)
        for info in pkgutil.walk_packages(mod.__path__, package + "."):
            importlib.import_module(info.name)
    assert "face_recognition" not in sys.modules
    pattern = re.compile(r"^\s*(import face_recognition\b|from face_recognition\b)|pose_predictor_model_location|"
                         r"shape_predictor_68", re.M)
    offenders = [str(p.relative_to(REPO)) for folder in ("app", "idcheck", "accounts", "exams", "proctoring",
                                                         "privacy", "storage", "kernel", "bench")
                 for p in (REPO / folder).rglob("*.py") if pattern.search(p.read_text(encoding="utf-8"))]
    assert offenders == []
