"""Reading the MRZ of photographed ID documents: our reader against PassportEye, on the same images.

The documents come from tests/documents.py (deterministic): the ICAO 9303 and German specimens and
seeded random people in TD1, TD2 and TD3, rendered in OCR-B and photographed with perspective,
rotation, uneven light, glare, blur, noise, low light and JPEG. A document counts as read when
every check digit of the read is valid (PassportEye: ``valid_score == 100``); ``*_correct`` also
requires the fields read (number, surname, dates) to be the printed ones, ``*_wrong_valid`` counts
valid reads that are not.
Both readers get the JPEG bytes and run one after the other on the same core.
PassportEye (PyPI ``passporteye``, bench/requirements-bench.txt) uses Debian's tesseract.
Last line: one JSON object (mrz_read_rate, mrz_read_rate_passporteye, mrz_s_per_doc, ...).

    .venv/bin/python bench/mrz.py [--count 45] [--skip-passporteye]
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import os
import sys
import time
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


Key = tuple[str, str, str, str]  # document number, surname, birth and expiry date (YYMMDD)


def key_of(lines: list[str]) -> Key:
    """The fields that are compared, from the printed lines."""
    from idcheck.mrz import parse

    m = parse("\n".join(lines), today=dt.date(2026, 12, 1))
    return m.document_number, m.surname, m.birth_date.strftime("%y%m%d"), m.expiry_date.strftime("%y%m%d")


def ours(image: bytes, today: dt.date) -> tuple[bool, Key | None, str | None]:
    """Our reader: valid, the fields read, reason."""
    from idcheck.document import read_bytes

    r = read_bytes(image, today=today)
    return r.valid, key_of(r.lines) if r.valid else None, r.reason


def passporteye(image: bytes) -> tuple[bool, Key | None, str | None]:
    """PassportEye's read_mrz with its defaults (tesseract from PATH)."""
    from passporteye import read_mrz

    try:
        mrz = read_mrz(io.BytesIO(image))
    except Exception as err:  # a crash on an image counts as not read
        return False, None, f"error: {type(err).__name__}"
    if mrz is None:
        return False, None, "no MRZ found"
    valid = mrz.valid_score == 100
    key = (mrz.number.replace("<", ""), mrz.surname.replace("<", " ").strip(), mrz.date_of_birth,
           mrz.expiration_date)
    return valid, key, None if valid else f"valid_score {mrz.valid_score}"


def main() -> None:
    """Generate the set, run both readers, print per-document lines and the JSON summary."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=45)
    ap.add_argument("--skip-passporteye", action="store_true")
    args = ap.parse_args()
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    print(json.dumps(measure(args.count, passporteye_too=not args.skip_passporteye)))


def measure(count: int = 45, passporteye_too: bool = True) -> dict[str, Any]:
    """Generate ``count`` document photos, read each with ours (and PassportEye), print a line per document;
    returns the summary (``bench/idcheck.py`` prints it in its own last line too)."""
    warnings.filterwarnings("ignore")  # skimage's deprecations inside PassportEye
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")  # tesseract: one thread, as ours
    from tests.documents import specimen_set

    if passporteye_too:
        import importlib.util

        if importlib.util.find_spec("passporteye") is None:
            raise SystemExit("PassportEye is not installed: .venv/bin/pip install -r bench/requirements-bench.txt "
                             "(or --skip-passporteye, which leaves out the comparison)")
    t0 = time.perf_counter()
    samples = specimen_set(count)
    print(f"{len(samples)} documents generated in {time.perf_counter() - t0:.1f} s", flush=True)
    today = dt.date(2026, 12, 1)
    ours(samples[0].image, today)  # templates built once, outside the timing
    stats: dict[str, Any] = {name: Counter() for name in ("ours", "passporteye")}
    seconds: dict[str, float] = {"ours": 0.0, "passporteye": 0.0}
    by_format: dict[str, Counter[str]] = {}
    for s in samples:
        row = [s.name]
        readers: list[tuple[str, Any]] = [("ours", lambda im: ours(im, today))]
        if passporteye_too:
            readers.append(("passporteye", passporteye))
        for name, reader in readers:
            t = time.perf_counter()
            valid, key, reason = reader(s.image)
            seconds[name] += time.perf_counter() - t
            correct = valid and key == key_of(s.lines)
            stats[name]["valid"] += valid
            stats[name]["correct"] += correct
            stats[name]["wrong_valid"] += valid and not correct
            by_format.setdefault(f"{name}:{s.fmt}", Counter())["valid"] += valid
            row.append(f"{name}={'ok' if correct else ('VALID-WRONG' if valid else reason)}")
        print("  ".join(row), flush=True)
    n = len(samples)
    summary: dict[str, Any] = {
        "documents": n,
        "mrz_read_rate": round(stats["ours"]["valid"] / n, 3),
        "mrz_correct_rate": round(stats["ours"]["correct"] / n, 3),
        "mrz_wrong_valid": stats["ours"]["wrong_valid"],
        "mrz_s_per_doc": round(seconds["ours"] / n, 3),
        "by_format": {k: v["valid"] for k, v in sorted(by_format.items())},
    }
    if passporteye_too:
        pe = stats["passporteye"]
        summary.update({"mrz_read_rate_passporteye": round(pe["valid"] / n, 3),
                        "mrz_correct_rate_passporteye": round(pe["correct"] / n, 3),
                        "mrz_wrong_valid_passporteye": pe["wrong_valid"],
                        "mrz_s_per_doc_passporteye": round(seconds["passporteye"] / n, 3),
                        "ratio_vs_passporteye": round(stats["ours"]["valid"] / max(pe["valid"], 1), 2)})
    return summary


if __name__ == "__main__":
    main()
