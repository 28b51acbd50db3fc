"""Reading the machine-readable zone (MRZ) of an ID document from a photo: TD1, TD2 and TD3.

Our own reader, made for the MRZ: every ICAO 9303 document prints it in OCR-B at a fixed pitch of
2.54 mm, so no general OCR is needed.

1. Find it: dark text on light paper (morphological black-hat), characters merged into lines, and
   groups of 2 or 3 parallel lines of equal length, evenly spaced.
2. Straighten it: the four ends of the first and last line span the zone (all MRZ lines are full
   length), which corrects rotation and perspective in one warp.
3. Read each line: every window along the line is compared with the OCR-B glyphs (normalised
   correlation, glyphs rendered from the bundled font in a few blur and weight variants), and a
   dynamic programme places the 30, 36 or 44 characters at an even pitch, each constrained to what
   its field allows (digits in dates, letters in names).
4. Verify: every check digit. If some fail, the least certain characters may take their second
   best glyph, but only a read whose check digits all pass is ever data.

A read that fails says why, in words the candidate can act on (edge cut off, glare, blur, dark).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from idcheck.images import N_, UnusableImage
from idcheck.mrz import Mrz, MrzInvalid, matches_registration, parse

OCRB_FONT = Path(__file__).resolve().parent / "data" / "OCRB.otf"
ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ<"
CHARS = {"TD1": 30, "TD2": 36, "TD3": 44}
LINES = {"TD1": 3, "TD2": 2, "TD3": 2}
DETECT_WIDTH = 1000
GLYPH_H, GLYPH_W = 28, 26  # a character cell in the normalised line: cap band plus margins, one pitch
CAP_TOP, CAP_BOTTOM = 3, 25  # rows of the cap band inside the cell
DIGIT_PREFERENCE = 0.05

REASONS = {
    "cut_off_bottom": N_("The lower edge of the document is cut off. Hold the camera so that the whole "
                         "document is in the picture."),
    "cut_off_side": N_("A side of the document is cut off. Hold the camera so that the whole document is in "
                       "the picture."),
    "glare": N_("Too much glare on the machine-readable lines. Tilt the document a little or move away from "
                "the lamp."),
    "too_dark": N_("The photo is too dark. Please turn on a light or move to a brighter place."),
    "blurred": N_("The photo is blurred. Hold still and let the camera focus on the document."),
    "no_mrz": N_("No machine-readable lines (<<<) found. For an ID card photograph the back; lay the "
                 "document flat and let it fill most of the picture."),
    "unreadable": N_("The machine-readable lines could not be read reliably. Please take the photo again, "
                     "flat, sharp and without reflections."),
}


@dataclasses.dataclass(frozen=True)
class Reading:
    """What was read from one image: ``valid`` only when every check digit passed."""

    format: str | None
    lines: list[str]
    valid: bool
    mrz: Mrz | None
    reason: str | None  # a key of REASONS when not valid

    @property
    def message(self) -> str | None:
        """The reason in English (translate with gettext(message) where shown)."""
        return REASONS[self.reason] if self.reason else None

    def to_json(self) -> dict[str, Any]:
        """The CLI's and the bench's shape."""
        m = self.mrz
        fields = None if m is None else {
            "document_number": m.document_number, "surname": m.surname, "given_names": m.given_names,
            "birth_date": m.birth_date.isoformat(), "expiry_date": m.expiry_date.isoformat(),
            "nationality": m.nationality}
        return {"format": self.format, "lines": self.lines, "valid": self.valid, "fields": fields,
                "reason": self.message}


# ------------------------------------------------------------------ field layouts


def _layout(fmt: str) -> list[str]:
    """Per line a string of position kinds: d digit, a letter or <, x letter/digit/<, s sex."""
    if fmt == "TD1":
        return ["a" + "x" + "aaa" + "x" * 9 + "x" + "x" * 15,
                "d" * 7 + "s" + "d" * 7 + "aaa" + "x" * 11 + "d",
                "a" * 30]
    n = CHARS[fmt]
    l2 = "x" * 9 + "d" + "aaa" + "d" * 7 + "s" + "d" * 7
    l2 += "x" * 7 + "d" if fmt == "TD2" else "x" * 14 + "x" + "d"
    return ["a" + "x" + "aaa" + "a" * (n - 5), l2]


_ALLOWED = {"d": "0123456789", "a": "ABCDEFGHIJKLMNOPQRSTUVWXYZ<", "x": ALPHABET, "s": "MFX<"}
_MASKS = {kd: np.array([0.0 if c in allowed else -9.0 for c in ALPHABET], np.float32)
          for kd, allowed in _ALLOWED.items()}


# ------------------------------------------------------------------ glyph templates


@lru_cache(maxsize=1)
def _templates() -> tuple[np.ndarray, np.ndarray]:
    """Normalised glyph templates (K x GLYPH_H*GLYPH_W) and the character index of each."""
    from PIL import Image, ImageDraw, ImageFont

    size = 200
    font = ImageFont.truetype(str(OCRB_FONT), size)
    advance = font.getlength("H")
    top, bottom = font.getbbox("H")[1], font.getbbox("H")[3]
    cap = bottom - top
    scale = (CAP_BOTTOM - CAP_TOP) / cap
    rows, labels = [], []
    for idx, ch in enumerate(ALPHABET):
        img = Image.new("L", (int(advance) + 40, size + 40), 0)
        ImageDraw.Draw(img).text((20, 20), ch, font=font, fill=255)
        a = np.asarray(img, np.float32)
        y0 = 20 + top - CAP_TOP / scale
        crop = a[round(y0):round(y0 + GLYPH_H / scale), 20:20 + round(advance)]
        base = cv2.resize(crop, (GLYPH_W, GLYPH_H), interpolation=cv2.INTER_AREA)
        for variant in _variants(base):
            rows.append(_normalise(variant[None].reshape(1, -1))[0])
            labels.append(idx)
    return np.stack(rows).astype(np.float32), np.array(labels)


def _variants(glyph: np.ndarray) -> list[np.ndarray]:
    kernel = np.ones((2, 2), np.uint8)
    bold = cv2.dilate(glyph, kernel)
    thin = cv2.erode(glyph, kernel)
    return [glyph, thin, cv2.GaussianBlur(glyph, (0, 0), 1.2), cv2.GaussianBlur(bold, (0, 0), 1.8)]


def _normalise(rows: np.ndarray) -> np.ndarray:
    rows = rows - rows.mean(axis=1, keepdims=True)
    norm = np.linalg.norm(rows, axis=1, keepdims=True)
    return rows / np.maximum(norm, 1e-6)


# ------------------------------------------------------------------ finding the zone


@dataclasses.dataclass(frozen=True)
class _Line:
    center: np.ndarray
    u: np.ndarray  # unit vector along the line, pointing right
    length: float
    thickness: float


def _lines(gray_small: np.ndarray) -> list[_Line]:
    """Text lines long enough to be MRZ lines, in detection-image coordinates."""
    w = gray_small.shape[1]
    out: list[_Line] = []
    for k, close in ((9, 17), (13, 27)):
        blackhat = cv2.morphologyEx(gray_small, cv2.MORPH_BLACKHAT, cv2.getStructuringElement(cv2.MORPH_RECT, (k, k)))
        thr = max(18.0, float(cv2.threshold(blackhat, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)[0]))
        mask = (blackhat > thr).astype(np.uint8) * 255
        closed = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (close, 3)))
        opened = cv2.morphologyEx(closed, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (9, 3)))
        contours, _h = cv2.findContours(opened, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        for c in contours:
            (cx, cy), (rw, rh), angle = cv2.minAreaRect(c)
            length, thick = max(rw, rh), min(rw, rh)
            if length < 0.18 * w or thick < 4 or length / max(thick, 1) < 9:
                continue
            theta = np.deg2rad(angle if rw >= rh else angle + 90)
            u = np.array([np.cos(theta), np.sin(theta)])
            if u[0] < 0:
                u = -u
            if abs(u[1]) > 0.5:
                continue
            out.append(_Line(np.array([cx, cy]), u, length, thick))
    return out


def _groups(lines: list[_Line]) -> list[list[_Line]]:
    """Candidate zones: 3 or 2 parallel lines of equal length, evenly spaced, best first."""
    found: list[tuple[float, list[_Line]]] = []
    seen: set[tuple[int, ...]] = set()
    order = sorted(range(len(lines)), key=lambda i: float(lines[i].center @ np.array([-lines[i].u[1], lines[i].u[0]])))
    for size in (3, 2):
        for combo in itertools.combinations(order, size):
            group = [lines[i] for i in combo]
            if not _consistent(group):
                continue
            key = tuple(sorted(combo))
            if key in seen:
                continue
            seen.add(key)
            found.append((size * 1000 + sum(ln.length for ln in group) / len(group), group))
    found.sort(key=lambda t: -t[0])
    # duplicates from the two detection scales: keep groups whose centres differ
    out: list[list[_Line]] = []
    for _score, g in found:
        c = np.mean([ln.center for ln in g], axis=0)
        if all(np.linalg.norm(c - np.mean([ln.center for ln in h], axis=0)) > 5 or len(h) != len(g) for h in out):
            out.append(g)
    return out[:6]


def _consistent(group: list[_Line]) -> bool:
    u = group[0].u
    v = np.array([-u[1], u[0]])
    lengths = [ln.length for ln in group]
    if max(lengths) > 1.15 * min(lengths):
        return False
    if any(abs(float(ln.u @ u)) < 0.995 for ln in group):
        return False
    offs = [float(ln.center @ v) for ln in group]
    if sorted(offs) != offs and sorted(offs, reverse=True) != offs:
        return False
    gaps = np.diff(sorted(offs))
    thick = float(np.median([ln.thickness for ln in group]))
    if np.any(gaps < 1.2 * thick) or np.any(gaps > 3.5 * thick):
        return False
    if len(gaps) > 1 and max(gaps) > 1.25 * min(gaps):
        return False
    along = [float(ln.center @ u) for ln in group]
    return max(along) - min(along) < 0.06 * float(np.mean(lengths))


# ------------------------------------------------------------------ reading


def read_image(rgb: np.ndarray, today: dt.date | None = None) -> Reading:
    """Find and read the MRZ in an RGB image; ``valid`` only if every check digit passes.

    A photo in which no zone is found or read is tried again turned upside down and sideways (a card
    photographed the wrong way round); a problem of the photo itself (cut off, glare, blur) is said at once.
    """
    today = today or dt.date.today()
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    if max(gray.shape) > 2400:
        f = 2400 / max(gray.shape)
        gray = cv2.resize(gray, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
    first = _read_upright(gray, today)
    if first.valid or first.reason not in ("no_mrz", "unreadable"):
        return first
    for turns in (2, 1, 3):
        turned = _read_upright(np.ascontiguousarray(np.rot90(gray, turns)), today)
        if turned.valid:
            return turned
    return first


def _read_upright(gray: np.ndarray, today: dt.date) -> Reading:
    scale = DETECT_WIDTH / gray.shape[1]
    small = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    lines = _lines(small)
    groups = _groups(lines)
    best: tuple[float, str, list[str]] | None = None
    for group in groups:
        formats = ["TD1"] if len(group) == 3 else _two_line_formats(group)
        for fmt in formats:
            got = _read_group(gray, group, scale, fmt)
            if got is None:
                continue
            text, score, alts = got
            try:
                mrz = parse("\n".join(text), today=today)
            except MrzInvalid:
                fixed = _correct(text, alts, fmt, today)
                if fixed is not None:
                    return Reading(fmt, fixed, True, parse("\n".join(fixed), today=today), None)
                if best is None or score > best[0]:
                    best = (score, fmt, text)
                continue
            return Reading(fmt, text, True, mrz, None)
    reason = _diagnose(gray, small, lines, groups, scale)
    if best is not None:
        return Reading(best[1], best[2], False, None, reason)
    return Reading(None, [], False, None, reason)


Alternatives = list[list[list[tuple[float, str]]]]  # per line, per character: (margin to the pick, glyph)


def _two_line_formats(group: list[_Line]) -> list[str]:
    """TD3 (44 characters) or TD2 (36): the likelier first, by line length over line spacing."""
    spacing = abs(float((group[1].center - group[0].center) @ np.array([-group[0].u[1], group[0].u[0]])))
    ratio = float(np.mean([ln.length for ln in group])) / max(spacing, 1.0)
    return ["TD3", "TD2"] if ratio > 24.2 else ["TD2", "TD3"]


def _read_group(gray: np.ndarray, group: list[_Line], scale: float, fmt: str
                ) -> tuple[list[str], float, Alternatives] | None:
    """Warp the zone upright and read each line; the text and the mean glyph score."""
    n, k = CHARS[fmt], len(group)
    u = group[0].u
    v = np.array([-u[1], u[0]])
    first, last = group[0], group[-1]
    if float(first.center @ v) > float(last.center @ v):
        first, last = last, first
    spacing = float(np.linalg.norm((last.center - first.center) @ v)) / (k - 1)
    pitch = float(np.mean([ln.length for ln in group])) / (n - 0.3)
    margin = 1.2 * pitch
    pts = []
    for line, side in ((first, -1), (last, 1)):
        lu = line.u
        lv = np.array([-lu[1], lu[0]])
        a = line.center - lu * (line.length / 2 + margin)
        b = line.center + lu * (line.length / 2 + margin)
        pts.append((a + lv * side * spacing / 2, b + lv * side * spacing / 2))
    src = np.array([pts[0][0], pts[0][1], pts[1][1], pts[1][0]], np.float32) / scale
    line_px = 2 * GLYPH_H
    out_w = round((n + 2.4) * GLYPH_W * 1.0)
    out_h = k * line_px
    dst = np.array([[0, 0], [out_w, 0], [out_w, out_h], [0, out_h]], np.float32)
    m = cv2.getPerspectiveTransform(src, dst)
    zone = cv2.warpPerspective(gray, m, (out_w, out_h), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE)
    text, scores, alts = [], [], []
    kinds = _layout(fmt)
    grows = (0.95, 1.03, 1.11)
    for i in range(k):
        strip = zone[i * line_px:(i + 1) * line_px]
        got = _read_line(strip, n, kinds[i], grows)
        if got is None:
            return None
        chars, s, alt, _grow = got
        text.append(chars)
        scores.append(s)
        alts.append(alt)
    return text, float(np.mean(scores)), alts


def _ink(strip: np.ndarray) -> np.ndarray:
    """Ink strength 0..1 (dark on light), independent of the light level."""
    s = strip.astype(np.float32)
    bg = cv2.dilate(s, np.ones((1, 2 * GLYPH_W + 1), np.uint8))
    bg = cv2.GaussianBlur(bg, (0, 0), 4)
    ink = np.clip((bg - s) / np.maximum(bg, 20), 0, 1)
    return ink


def _read_line(strip: np.ndarray, n: int, kinds: str, grows: tuple[float, ...] = (1.0, 0.92, 1.08, 1.16)
               ) -> tuple[str, float, list[list[tuple[float, str]]], float] | None:
    """Read one straightened line: the cap band is measured, then a few scales around it are tried."""
    ink = _ink(strip)
    rows = ink.mean(axis=1)
    if rows.max() <= 0:
        return None
    on = np.nonzero(rows > 0.5 * rows.max())[0]
    top, bottom = int(on[0]), int(on[-1]) + 1
    if bottom - top < 6:
        return None
    cols = ink[top:bottom].mean(axis=0)
    ink_cols = np.nonzero(cols > 0.25 * cols.max())[0]
    x0, x1 = int(ink_cols[0]), int(ink_cols[-1]) + 1
    best = None
    for grow in grows:
        cap = (bottom - top) * grow
        mid = (top + bottom) / 2
        got = _read_band(ink, mid - cap / 2, cap, x0, x1, n, kinds)
        if got is not None and (best is None or got[1] > best[1]):
            best = (*got, grow)
    return best


def _read_band(ink: np.ndarray, cap_top: float, cap: float, x0: int, x1: int, n: int, kinds: str
               ) -> tuple[str, float, list[list[tuple[float, str]]]] | None:
    fy = (CAP_BOTTOM - CAP_TOP) / cap
    pitch = (x1 - x0) / (n - 0.3)
    fx = GLYPH_W / pitch
    y0 = cap_top - CAP_TOP / fy
    # the band, resampled so that the cap band is CAP_TOP..CAP_BOTTOM and the pitch is GLYPH_W
    m = np.array([[fx, 0, 0], [0, fy, -y0 * fy]], np.float32)
    width = max(GLYPH_W * 2, round(ink.shape[1] * fx))
    band = cv2.warpAffine(ink, m, (width, GLYPH_H), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE)
    if band.shape[1] < n * GLYPH_W * 0.8:
        return None
    win = np.lib.stride_tricks.sliding_window_view(band, (GLYPH_H, GLYPH_W))[0]  # (X, H, W)
    flat = _normalise(win.reshape(win.shape[0], -1).astype(np.float32))
    tmpl, _labels = _templates()
    corr = flat @ tmpl.T  # (X, K)
    per_char = corr.reshape(corr.shape[0], len(ALPHABET), -1).max(axis=2)  # templates are grouped by glyph
    kind_score = {kd: (per_char + mask).max(axis=1) for kd, mask in _MASKS.items()}
    x_count = per_char.shape[0]
    first = x0 * fx - GLYPH_W * 0.15  # window start of the first cell
    lo, hi = max(0, int(first - 0.35 * GLYPH_W)), min(x_count - 1, int(first + 0.35 * GLYPH_W))
    if hi < lo:
        return None
    neg = -1e9
    score = np.full(x_count, neg, np.float32)
    score[lo:hi + 1] = kind_score[kinds[0]][lo:hi + 1]
    back = np.zeros((n, x_count), np.int32)
    steps = range(GLYPH_W - 3, GLYPH_W + 4)
    for i in range(1, n):
        prev = np.full(x_count, neg, np.float32)
        arg = np.zeros(x_count, np.int32)
        for d in steps:
            shifted = np.full(x_count, neg, np.float32)
            shifted[d:] = score[:-d]
            better = shifted > prev
            prev[better] = shifted[better]
            arg[better] = d
        score = prev + kind_score[kinds[i]]
        back[i] = arg
    end = int(np.argmax(score))
    if score[end] < -1e8:
        return None
    pos = [end]
    for i in range(n - 1, 0, -1):
        pos.append(pos[-1] - int(back[i][pos[-1]]))
    pos.reverse()
    chars, alts, total = [], [], 0.0
    for i, x in enumerate(pos):
        row = per_char[x] + _MASKS[kinds[i]]
        top3 = np.argsort(-row)[:3]
        cand = [(float(row[j]), ALPHABET[j]) for j in top3]
        pick = cand[0]
        if kinds[i] == "x" and not pick[1].isdigit():
            # O/0, I/1, B/8, S/5, Z/2 look alike; numbers are far more common in number fields: a digit
            # close behind wins (the check digits still have to agree)
            digit = next((c for c in cand[1:] if c[1].isdigit() and pick[0] - c[0] < DIGIT_PREFERENCE), None)
            pick = digit or pick
        chars.append(pick[1])
        alts.append([(pick[0] - c[0], c[1]) for c in cand if c[1] != pick[1]])
        total += pick[0]
    return "".join(chars), total / n, alts


def _correct(text: list[str], alts: Alternatives, fmt: str, today: dt.date) -> list[str] | None:
    """Try the second-best glyph at the least certain positions until every check digit passes."""
    if not alts:
        return None
    unsure = [(margin, li, ci, ch) for li, line_alts in enumerate(alts)
              for ci, cand in enumerate(line_alts) for margin, ch in cand[:1]]
    unsure.sort()
    unsure = [u for u in unsure if u[0] < 0.12][:8]
    for r in (1, 2):
        for combo in itertools.combinations(unsure, r):
            lines = [list(ln) for ln in text]
            for _m, li, ci, ch in combo:
                lines[li][ci] = ch
            joined = ["".join(ln) for ln in lines]
            try:
                parse("\n".join(joined), today=today)
            except MrzInvalid:
                continue
            return joined
    return None


# ------------------------------------------------------------------ why it failed


def _diagnose(gray: np.ndarray, small: np.ndarray, lines: list[_Line], groups: list[list[_Line]],
              scale: float) -> str:
    h, w = small.shape
    zone = groups[0] if groups else None
    if zone is None:
        # no zone, but maybe what is left of one: the longest lines as long and thin as MRZ lines
        zone = sorted((ln for ln in lines if ln.length > 15 * ln.thickness), key=lambda ln: -ln.length)[:3] or None
    if zone is not None:
        ends = [ln.center + s * ln.u * ln.length / 2 for ln in zone for s in (-1, 1)]
        bottom = max(float(ln.center[1]) for ln in zone)
        spacing = float(np.median([ln.thickness for ln in zone])) * 2
        if bottom + 1.6 * spacing > h:
            return "cut_off_bottom"
        if groups and any(p[0] < 0.01 * w or p[0] > 0.99 * w for p in ends):
            return "cut_off_side"
        xs = [int(p[0]) for p in ends]
        ys = [int(ln.center[1]) for ln in zone]
        x_lo, x_hi = max(0, min(xs)), min(w, max(xs))
        y_lo, y_hi = max(0, min(ys) - int(spacing)), min(h, max(ys) + int(spacing))
        region = small[y_lo:y_hi, x_lo:x_hi]
        if region.size and float((region >= 245).mean()) > 0.04:
            return "glare"
    if float((small >= 248).mean()) > 0.03:
        return "glare"
    if float(np.percentile(small, 95)) < 60:
        return "too_dark"
    if float(cv2.Laplacian(small, cv2.CV_64F).var()) < 40:
        return "blurred"
    if _document_cut_at_bottom(small):
        return "cut_off_bottom"
    return "unreadable" if groups else "no_mrz"


def _document_cut_at_bottom(small: np.ndarray) -> bool:
    """The largest bright area (the document on a darker table) runs off the lower edge, not the upper."""
    blurred = cv2.GaussianBlur(small, (0, 0), 3)
    _t, mask = cv2.threshold(blurred, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    count, labels, stats, _c = cv2.connectedComponentsWithStats(mask)
    if count < 2:
        return False
    biggest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    if stats[biggest, cv2.CC_STAT_AREA] < 0.1 * small.size:
        return False
    doc = labels == biggest
    return bool(doc[-3:].mean() > 0.15 and doc[:3].mean() < 0.02)


class DocumentUnreadable(UnusableImage):
    """No MRZ with valid check digits in the photos; ``reason`` says what to do (or type the lines in)."""

    code = "document_unreadable"


TYPED = "MRZ typed in, not read from the photo: a person compares it with the document"


def check_document(images: list[bytes], typed: str | None, registration: dict[str, Any] | None,
                   today: dt.date, *, required: bool = True) -> dict[str, Any]:
    """The document step: read the MRZ from the photos (the back of an ID card first), compare it.

    Returns what ``IdCheck.document_check`` keeps: the fields read, where from, and the ``differences``
    (registration mismatches, an expired document, a typed MRZ) that send the check to a person. A typed
    MRZ is only a fallback: its check digits must pass (MrzInvalid otherwise) and it always means review.
    With nothing readable and nothing typed: DocumentUnreadable with the reason, or, when not
    ``required``, a note that nothing was read.
    """
    reading: Reading | None = None
    for data in images:
        reading = read_bytes(data, today=today)
        if reading.valid:
            break
    if reading is not None and reading.valid and reading.mrz is not None:
        return _compared(reading.mrz, "photo", registration, today)
    reason = reading.reason if reading is not None else "no_mrz"
    if typed and typed.strip():
        result = _compared(parse(typed, today=today), "typed", registration, today)
        result["differences"].append(TYPED)
        result["photo_reason"] = reason
        return result
    if required:
        raise DocumentUnreadable(f"mrz_{reason}", REASONS[reason or "unreadable"])
    return {"source": None, "photo_reason": reason, "differences": []}


def _compared(mrz: Mrz, source: str, registration: dict[str, Any] | None, today: dt.date) -> dict[str, Any]:
    differences = []
    if registration is not None:
        differences = matches_registration(mrz, registration["first_name"], registration["last_name"],
                                           registration["date_of_birth"])
        if mrz.document_number != (registration.get("id_document_number") or ""):
            differences.append("document number differs from the registration")
    if mrz.expiry_date < today:
        differences.append(f"the ID document expired on {mrz.expiry_date.isoformat()}")
    return {"mrz": mrz.kind, "source": source, "document_number": mrz.document_number, "surname": mrz.surname,
            "given_names": mrz.given_names, "birth_date": mrz.birth_date.isoformat(),
            "expiry_date": mrz.expiry_date.isoformat(), "nationality": mrz.nationality, "differences": differences}


def read_bytes(data: bytes, today: dt.date | None = None) -> Reading:
    """Decode an uploaded image (validated as the uploads are) and read its MRZ."""
    from idcheck.images import load_upload

    return read_image(load_upload(data), today=today)


def read_file_json(path: str, today: dt.date | None = None) -> str:
    """``flask idcheck read-document IMAGE``: one JSON line."""
    return json.dumps(read_bytes(Path(path).read_bytes(), today=today).to_json(), ensure_ascii=False)
