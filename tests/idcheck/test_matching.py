"""Face match on the real photos: same people match, different don't, unusable photos say why."""

from __future__ import annotations

import itertools
import json

import cv2
import numpy as np
import pytest

from idcheck.images import UnusableImage, load_upload
from idcheck.matching import compare, compare_files
from idcheck.quality import assess

SAME = [("obama.jpg", "obama2.jpg"), ("obama.jpg", "obama3.jpg"), ("obama2.jpg", "obama-480p.jpg"),
        ("obama_small.jpg", "obama3.jpg"), ("biden.jpg", "biden2.jpg")]


def load(faces, name):
    return load_upload((faces / name).read_bytes(), max_bytes=64 << 20)


@pytest.mark.parametrize(("a", "b"), SAME)
def test_same_person_matches(faces, a, b):
    d = compare(load(faces, a), load(faces, b))
    assert d.decision == "match", d
    assert d.distance is not None and d.distance < 0.45


@pytest.mark.parametrize(("a", "b"), list(itertools.product(["obama.jpg", "obama3.jpg"], ["biden.jpg", "biden2.jpg"])))
def test_different_people_do_not_match(faces, a, b):
    d = compare(load(faces, a), load(faces, b))
    assert d.decision == "no_match" and d.distance > 0.7


def test_two_people_refused_as_two_faces(faces):
    with pytest.raises(UnusableImage) as err:
        assess(load(faces, "two_people.jpg"))
    assert err.value.reason == "two_faces"
    d = compare(load(faces, "obama.jpg"), load(faces, "two_people.jpg"))
    assert d.decision == "unusable" and "two_faces" in d.reason and d.reason.startswith("selfie")


def test_blank_and_noise_are_no_face():
    rng = np.random.default_rng(1)
    for img in (np.full((480, 640, 3), 200, np.uint8), rng.integers(0, 255, (480, 640, 3), dtype=np.uint8)):
        with pytest.raises(UnusableImage) as err:
            assess(img)
        assert err.value.reason == "no_face"


def test_dark_blurred_and_small_faces_are_named(faces):
    img = load(faces, "obama.jpg")
    with pytest.raises(UnusableImage) as dark:
        assess((img * 0.12).astype(np.uint8))
    assert dark.value.reason == "too_dark"
    with pytest.raises(UnusableImage) as blur:
        assess(cv2.GaussianBlur(img, (0, 0), 3.5))
    assert blur.value.reason in ("too_blurred", "no_face")
    tiny = cv2.resize(img, (img.shape[1] // 6, img.shape[0] // 6))
    canvas = np.full((img.shape[0], img.shape[1], 3), 128, np.uint8)
    canvas[:tiny.shape[0], :tiny.shape[1]] = tiny
    with pytest.raises(UnusableImage) as small:
        assess(canvas)
    assert small.value.reason in ("face_too_small", "no_face")


def test_compare_files_prints_the_three_fields(faces, tmp_path, runner):
    result = compare_files(faces / "obama.jpg", faces / "obama2.jpg")
    assert set(result) == {"decision", "distance", "reason"} and result["decision"] == "match"
    bad = tmp_path / "broken.jpg"
    bad.write_bytes((faces / "obama.jpg").read_bytes()[:5000])
    out = runner.invoke(args=["idcheck", "compare", str(faces / "biden.jpg"), str(bad)])
    doc = json.loads(out.output)
    assert doc["decision"] == "unusable" and doc["distance"] is None and "corrupt" in doc["reason"]
    out = runner.invoke(args=["idcheck", "compare", str(faces / "biden.jpg"), str(faces / "obama.jpg")])
    assert json.loads(out.output)["decision"] == "no_match"


def test_face_analysis_is_safe_from_several_threads(faces):
    """The media engine analyses several candidates at once: results must equal the sequential ones.

    With face_recognition's shared dlib models this crashed the process (heap corruption).
    """
    from concurrent.futures import ThreadPoolExecutor

    from idcheck.matching import face_encoding
    from tests.idcheck.conftest import resized

    photos = [resized(faces / n, 640, 480) for n in ("obama.jpg", "biden.jpg", "obama2.jpg", "two_people.jpg")]
    expected = [assess_or_none(p) for p in photos]
    with ThreadPoolExecutor(4) as pool:
        for _ in range(3):
            got = list(pool.map(assess_or_none, photos * 3))
            assert got == expected * 3
    encs = list(ThreadPoolExecutor(4).map(face_encoding, photos[:3] * 2))
    assert np.allclose(encs[0], encs[3]) and np.allclose(encs[1], encs[4])


def assess_or_none(image):
    try:
        return assess(image).box
    except UnusableImage as exc:
        return exc.reason
