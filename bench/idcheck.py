"""Latency of one full identity verification, against calling face_recognition naively.

One verification = both images decoded and validated, quality checks, detection, encoding and
the decision (``idcheck.matching.compare``), pinned to one core. Sizes: 640x480, 1280x960 and
the photos' own size; naive = ``face_encodings(load_image_file(path))`` on the full-size files.
Also prints the genuine/impostor distance ranges and the thresholds.
Last line: one JSON object with keys median_ms_1280, p95_ms_1280, speedup_vs_naive.

    .venv/bin/python bench/idcheck.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import io
import itertools
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

FACES = REPO / "tests" / "data" / "faces"
PERSON = {"obama": "A", "biden": "B"}
PAIRS = [("obama.jpg", "obama2.jpg"), ("obama3.jpg", "obama.jpg"), ("biden.jpg", "biden2.jpg"),
         ("obama2.jpg", "biden.jpg"), ("obama3.jpg", "biden2.jpg")]


def as_jpeg(path: Path, size: tuple[int, int] | None) -> bytes:
    """The photo as JPEG bytes, letterboxed into ``size`` if given."""
    img = Image.open(path).convert("RGB")
    if size:
        img.thumbnail(size)
        canvas = Image.new("RGB", size, (128, 128, 128))
        canvas.paste(img, ((size[0] - img.width) // 2, (size[1] - img.height) // 2))
        img = canvas
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=92)
    return buf.getvalue()


def person(name: str) -> str:
    """Who is on a test photo (by its file name)."""
    return next(who for prefix, who in PERSON.items() if name.startswith(prefix))


def pct(values: list[float], p: float) -> float:
    """Percentile by nearest rank."""
    s = sorted(values)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))]


_NAIVE: dict[str, Any] = {}


def naive_encodings(path: Path) -> list[Any]:
    """What ``face_recognition.face_encodings(load_image_file(path), model="small")`` does: HOG with one
    upsampling on the full photo, then 5-point alignment and the encoder. face_recognition itself is not
    imported: it loads the 68-point model (non-commercial licence) on import."""
    import dlib
    import face_recognition_models as frm

    if not _NAIVE:
        _NAIVE["detector"] = dlib.get_frontal_face_detector()
        _NAIVE["pose"] = dlib.shape_predictor(frm.pose_predictor_five_point_model_location())
        _NAIVE["encoder"] = dlib.face_recognition_model_v1(frm.face_recognition_model_location())
    image = np.asarray(Image.open(path).convert("RGB"))
    return [np.array(_NAIVE["encoder"].compute_face_descriptor(image, _NAIVE["pose"](image, box), 1))
            for box in _NAIVE["detector"](image, 1)]


def main() -> None:
    """Measure and print."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {0})
    from idcheck.images import load_upload
    from idcheck.matching import Thresholds, compare, distance, face_encoding

    warm = [load_upload(as_jpeg(FACES / n, (640, 480))) for n in ("obama.jpg", "obama2.jpg")]
    compare(*warm)
    results: dict[str, list[float]] = {}
    for label, size in (("640x480", (640, 480)), ("1280x960", (1280, 960)), ("full size", None)):
        data = [(as_jpeg(FACES / a, size), as_jpeg(FACES / b, size)) for a, b in PAIRS]
        times = []
        for _ in range(args.repeat):
            for id_bytes, selfie_bytes in data:
                t0 = time.perf_counter()
                compare(load_upload(id_bytes, max_bytes=64 << 20), load_upload(selfie_bytes, max_bytes=64 << 20))
                times.append((time.perf_counter() - t0) * 1000)
        results[label] = times
        print(f"ours  {label:10}  median {statistics.median(times):7.1f} ms   p95 {pct(times, 95):7.1f} ms  "
              f"({len(times)} verifications)")
    largest = sorted(FACES.glob("*.jpg"), key=lambda p: -Image.open(p).size[0] * Image.open(p).size[1])[:3]
    naive, ours_full = [], []
    for path in largest:
        other = FACES / "obama.jpg"
        t0 = time.perf_counter()
        naive_encodings(path)
        naive_encodings(other)
        naive.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        compare(load_upload(path.read_bytes(), max_bytes=64 << 20), load_upload(other.read_bytes(), max_bytes=64 << 20))
        ours_full.append((time.perf_counter() - t0) * 1000)
    speedup = statistics.median(naive) / statistics.median(ours_full)
    print(f"largest photos ({', '.join(p.name for p in largest)}) + obama.jpg: naive median "
          f"{statistics.median(naive):.0f} ms, ours {statistics.median(ours_full):.0f} ms, speedup {speedup:.1f}x")
    encs = {}
    for p in sorted(FACES.glob("*.jpg")):
        if p.name == "two_people.jpg":
            continue
        encs[p.name] = face_encoding(load_upload(p.read_bytes(), max_bytes=64 << 20))
    genuine, impostor = [], []
    for a, b in itertools.combinations(encs, 2):
        same = person(a) == person(b)
        (genuine if same else impostor).append(distance(encs[a], encs[b]))
    th = Thresholds()
    print(f"genuine distances {min(genuine):.3f}-{max(genuine):.3f} ({len(genuine)} pairs), impostor "
          f"{min(impostor):.3f}-{max(impostor):.3f} ({len(impostor)} pairs); thresholds: match <= {th.match_max}, "
          f"no match >= {th.no_match_min}, review between")
    t1280 = results["1280x960"]
    print(json.dumps({"median_ms_1280": round(statistics.median(t1280), 1), "p95_ms_1280": round(pct(t1280, 95), 1),
                      "speedup_vs_naive": round(speedup, 1)}))


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
