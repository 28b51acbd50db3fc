"""Real face photos from tests/data/faces and small helpers to make test images."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import FACES, login


@pytest.fixture(scope="session")
def faces() -> Path:
    """The folder of licensed test photos."""
    folder = FACES
    if not (folder / "obama.jpg").exists():
        pytest.fail(f"test photos missing in {folder}")
    return folder


def jpeg(array: np.ndarray, quality: int = 92) -> bytes:
    """Encode an RGB array as JPEG bytes."""
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def resized(path: Path, width: int, height: int) -> np.ndarray:
    """A photo letterboxed into width x height (as a webcam or phone would deliver it)."""
    img = Image.open(path).convert("RGB")
    img.thumbnail((width, height))
    canvas = Image.new("RGB", (width, height), (128, 128, 128))
    canvas.paste(img, ((width - img.width) // 2, (height - img.height) // 2))
    return np.asarray(canvas)


@pytest.fixture
def candidate_at_exam(app, make_institution, make_user, make_exam):
    """An exam with the identity check and a logged-in candidate: (institution, exam, candidate, client)."""
    inst = make_institution()
    exam = make_exam(institution=inst, identity_check_required=True, proctoring_required=False,
                     questions=[{"id": "q1", "type": "free_text", "prompt": "?", "points": 1}])
    cand = make_user("candidate", inst)
    client = app.test_client()
    login(client, cand)
    return inst, exam, cand, client
