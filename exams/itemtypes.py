"""The item types beyond choice, numeric, free text and oral: their parts, answer shapes, grading and folding.

Each type maps onto one QTI 3.0 interaction, so an exchange can translate it without loss:

=============  ==========================================  ================================================
type           answer (JSON, as the answer API stores it)  QTI interaction
=============  ==========================================  ================================================
gap_text       ``{"g1": "typed text", "g2": "option id"}``  textEntry (typed gap) / inlineChoice (drop-down)
matching       ``{"premise id": "response id", ...}``       match (directedPair premise -> response)
ordering       ``["option id", ...]`` (all, in order)       order
short_text     ``"text"``                                    textEntry (one response, mapping of accepted)
hotspot        ``{"x": 120, "y": 48}`` (image pixels)         selectPoint (areas: areaMapping rect/circle)
upload         ``{"file": id, "name", "size", "type"}``      upload (set only by the upload endpoint)
essay          ``"text"``                                    extendedText (rubric as a scoring rubric)
spoken         ``{"started", "ends", "prepared_from", ...}``  (none in QTI 3.0 core: exported as a rubric block)
=============  ==========================================  ================================================

Partial credit (points are whole numbers, so every share is rounded **down**; nothing is ever negative):

* gap text: ``floor(points x correct gaps / gaps)``; a gap counts once, typed or chosen.
* matching: ``floor(points x correct pairs / premises)``; a wrong pair costs nothing extra.
* ordering (``scoring: partial``, the default): ``floor(points x (L - 1) / (n - 1))`` where L is the longest
  subsequence of the answer in correct relative order (all in order: full points; fully reversed: 0).
  ``scoring: all_or_nothing``: full points only for exactly the right order.
* short text: full points when the folded answer equals one folded accepted form, else 0.
* hotspot: full points when the point lies inside (or on the edge of) a correct area, else 0.
* upload, essay and spoken: graded by hand; an essay or spoken answer with a rubric gets the sum of the chosen
  level per criterion. A spoken answer is a span of the attempt's encrypted recording that only the server sets
  (``exams.spoken``); the answer API never writes it.

Folding (short text and typed gaps): Unicode NFC, ä/ö/ü -> ae/oe/ue and ß -> ss (also capitals and ẞ), runs of
white space to one space, trimmed, and case folded unless the item says ``case_sensitive: true``.
"""

from __future__ import annotations

import bisect
import math
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

#: Placeholder for a gap in a gap text: ``{{gap-id}}``.
GAP_RE = re.compile(r"\{\{([A-Za-z0-9][A-Za-z0-9_.-]{0,63})\}\}")
_FOLD = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue", "ß": "ss", "ẞ": "SS"})
_SPACE = re.compile(r"\s+")
MAX_COORD = 100_000  # pixels; no image is wider


def fold(text: str, case_sensitive: bool = False) -> str:
    """The comparable form of a typed answer (see the module docstring)."""
    folded = _SPACE.sub(" ", unicodedata.normalize("NFC", text).translate(_FOLD)).strip()
    return folded if case_sensitive else folded.casefold()


@dataclass(frozen=True)
class Gap:
    """One gap of a gap text: typed (``accepted`` forms) or a drop-down (``options``, one correct)."""

    id: str
    accepted: tuple[str, ...] = ()
    options: tuple[tuple[str, str, bool], ...] = ()  # (id, text, correct)
    case_sensitive: bool = False

    @property
    def dropdown(self) -> bool:
        """Whether the candidate picks from a list rather than typing."""
        return bool(self.options)


@dataclass(frozen=True)
class Premise:
    """The left side of a matching item, with the id of the response it belongs to."""

    id: str
    text: str
    match: str


@dataclass(frozen=True)
class Area:
    """A hotspot area in image pixels: a rectangle (x, y, width, height) or a circle (centre x, y, radius r)."""

    shape: str
    x: Decimal
    y: Decimal
    width: Decimal = Decimal(0)
    height: Decimal = Decimal(0)
    r: Decimal = Decimal(0)
    correct: bool = True

    def contains(self, px: Decimal, py: Decimal) -> bool:
        """Whether the point lies inside or on the edge."""
        if self.shape == "circle":
            return (px - self.x) ** 2 + (py - self.y) ** 2 <= self.r ** 2
        return self.x <= px <= self.x + self.width and self.y <= py <= self.y + self.height


@dataclass(frozen=True)
class Level:
    """One level of a rubric criterion (e.g. "B1") with its points."""

    id: str
    label: str
    points: int


@dataclass(frozen=True)
class Criterion:
    """One rubric criterion (e.g. "range", "accuracy") with its levels."""

    id: str
    name: str
    levels: tuple[Level, ...]

    @property
    def max_points(self) -> int:
        """The points of the best level."""
        return max(level.points for level in self.levels)


def gap_share(gaps: Sequence[Gap], answer: Any) -> tuple[int, int]:
    """(correct gaps, gaps) for a gap-text answer."""
    given = answer if isinstance(answer, Mapping) else {}
    right = 0
    for gap in gaps:
        value = given.get(gap.id)
        if not isinstance(value, str):
            continue
        if gap.dropdown:
            right += any(oid == value and ok for oid, _text, ok in gap.options)
        else:
            right += fold(value, gap.case_sensitive) in {fold(a, gap.case_sensitive) for a in gap.accepted}
    return right, len(gaps)


def matching_share(premises: Sequence[Premise], answer: Any) -> tuple[int, int]:
    """(correct pairs, premises) for a matching answer."""
    given = answer if isinstance(answer, Mapping) else {}
    return sum(1 for p in premises if given.get(p.id) == p.match), len(premises)


def longest_ordered(correct: Sequence[str], answer: Sequence[str]) -> int:
    """Length of the longest subsequence of ``answer`` whose items stand in their correct relative order."""
    rank = {oid: i for i, oid in enumerate(correct)}
    tails: list[int] = []  # patience sorting: O(n log n) longest increasing subsequence of the ranks
    for oid in answer:
        if oid not in rank:
            continue
        at = bisect.bisect_left(tails, rank[oid])
        if at == len(tails):
            tails.append(rank[oid])
        else:
            tails[at] = rank[oid]
    return len(tails)


def ordering_share(correct: Sequence[str], answer: Any, all_or_nothing: bool) -> tuple[int, int]:
    """(achieved, possible) steps for an ordering answer (see the module docstring)."""
    n = len(correct)
    if not isinstance(answer, list) or sorted(answer) != sorted(correct) or n < 2:
        return 0, 1
    if all_or_nothing:
        return int(list(answer) == list(correct)), 1
    return longest_ordered(correct, answer) - 1, n - 1


def share_points(points: int, achieved: int, possible: int) -> int:
    """Whole points for a share, rounded down."""
    return 0 if possible <= 0 else (points * achieved) // possible


def short_text_right(accepted: Sequence[str], case_sensitive: bool, answer: Any) -> bool:
    """Whether a short-text answer equals one accepted form after folding."""
    return isinstance(answer, str) and bool(answer.strip()) and \
        fold(answer, case_sensitive) in {fold(a, case_sensitive) for a in accepted}


def hotspot_right(areas: Sequence[Area], answer: Any) -> bool:
    """Whether the chosen point lies in a correct area."""
    if not isinstance(answer, Mapping):
        return False
    x, y = answer.get("x"), answer.get("y")
    if not all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in (x, y)):
        return False
    px, py = Decimal(repr(x)), Decimal(repr(y))
    return any(a.correct and a.contains(px, py) for a in areas)


def word_count(text: str) -> int:
    """Words as the essay counter counts them: runs of non-space characters (the page counts the same way)."""
    return len(re.findall(r"[^\s]+", text or ""))


def ordering_layout(correct: Sequence[str], shuffled: Sequence[str]) -> tuple[str, ...]:
    """The starting order of an ordering item: the shuffle, but never already the solution."""
    out = tuple(shuffled)
    if len(out) > 1 and list(out) == list(correct):
        out = out[1:] + out[:1]
    return out
