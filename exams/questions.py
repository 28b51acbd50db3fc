"""Question types, grading and attempt scoring: pure functions on frozen dataclasses.

Scoring rules (shown to candidates and used in appeals, so they are kept simple):

* single choice: full points when the chosen option is the correct one, else 0.
* multiple choice: **all-or-nothing** -- full points only when the set of chosen
  options is exactly the set of correct options, else 0. No partial credit and no
  negative points, so guessing is never punished and a result is never below 0.
* numeric: full points when ``|answer - expected| <= tolerance`` (absolute, inclusive).
  Answers are parsed as decimals; "3,5" and "3.5" are the same answer.
* free text: graded by hand; ``grade`` reports ``needs_manual=True`` with 0 points
  until a proctor's points are passed to :func:`score_attempt`. An empty free-text
  answer is 0 points and needs no manual grading.
* gap text, matching, ordering, short text, hotspot, upload, essay and spoken: the rules in
  :mod:`exams.itemtypes` (partial credit rounded down, folding of typed answers).

Answers that are empty, of the wrong shape or name option ids that do not exist are
graded as wrong (0 points) rather than raising: a stored answer must always be gradable.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from fractions import Fraction

from exams.itemtypes import (
    Area,
    Criterion,
    Gap,
    Premise,
    gap_share,
    hotspot_right,
    matching_share,
    ordering_layout,
    ordering_share,
    share_points,
    short_text_right,
)
from kernel.errors import ValidationFailed

__all__ = [
    "Answer",
    "DrawRule",
    "ExamSpec",
    "Grade",
    "Option",
    "QuestionKind",
    "QuestionSpec",
    "Result",
    "ShuffledOrder",
    "Stimulus",
    "Window",
    "attempt_items",
    "draw_items",
    "grade",
    "parse_number",
    "rule_items",
    "score_attempt",
    "shuffled_order",
]

#: What a candidate may answer: an option id (single), option ids (multiple),
#: a number or numeric text (numeric), text (free text), or nothing.
Answer = str | Sequence[str] | int | float | Decimal | None


class QuestionKind(StrEnum):
    """The kinds of question an exam can hold."""

    SINGLE_CHOICE = "single_choice"
    MULTIPLE_CHOICE = "multiple_choice"
    NUMERIC = "numeric"
    FREE_TEXT = "free_text"
    ORAL = "oral"  # answered in the call with the examiner; graded by the examiner with points and a note
    GAP_TEXT = "gap_text"
    MATCHING = "matching"
    ORDERING = "ordering"
    SHORT_TEXT = "short_text"
    HOTSPOT = "hotspot"
    UPLOAD = "upload"
    ESSAY = "essay"
    SPOKEN = "spoken"  # recorded through the media engine in a span the server sets (exams.spoken)


#: Kinds a person grades by hand.
MANUAL_KINDS = (QuestionKind.FREE_TEXT, QuestionKind.ORAL, QuestionKind.UPLOAD, QuestionKind.ESSAY,
                QuestionKind.SPOKEN)
#: Kinds graded by hand in the grading page (oral items are graded by the examiner on the oral page; a spoken
#: answer is graded there too, with the player at its span of the recording).
WRITTEN_MANUAL_KINDS = (QuestionKind.FREE_TEXT, QuestionKind.UPLOAD, QuestionKind.ESSAY, QuestionKind.SPOKEN)


@dataclass(frozen=True)
class Option:
    """One answer option of a choice question; ``id`` is stable across shuffling."""

    id: str
    text: str
    correct: bool = False


@dataclass(frozen=True)
class Stimulus:
    """What an item shows or plays before its question: an image, audio or video the institution stored
    (``exams.itemmedia``), described in words; ``plays`` limits how often audio or video may be played."""

    id: str
    alt: str
    transcript: str = ""  # shown to staff (the grading page), never to the candidate
    plays: int | None = None


@dataclass(frozen=True)
class QuestionSpec:
    """One question. Fields that do not apply to its kind stay at their defaults."""

    id: str
    kind: QuestionKind
    prompt: str
    points: int = 1
    options: tuple[Option, ...] = ()
    answer: Decimal | None = None  # numeric: the expected value
    tolerance: Decimal = Decimal(0)  # numeric: absolute tolerance, inclusive
    text: str = ""  # gap text: the text with {{gap-id}} placeholders
    gaps: tuple[Gap, ...] = ()  # gap text
    premises: tuple[Premise, ...] = ()  # matching (the responses are ``options``)
    all_or_nothing: bool = False  # ordering: no partial credit (``options`` are in the correct order)
    accepted: tuple[str, ...] = ()  # short text: the accepted forms
    case_sensitive: bool = False  # short text
    image: str = ""  # hotspot: the item image's public id (exams.itemmedia)
    image_alt: str = ""  # hotspot: the image described in words
    areas: tuple[Area, ...] = ()  # hotspot
    min_words: int | None = None  # essay
    max_words: int | None = None  # essay
    rubric: tuple[Criterion, ...] = ()  # essay, spoken: criteria and levels; the points are the best levels' sum
    preparation_seconds: int = 0  # spoken: time to prepare before the answer is recorded
    answer_seconds: int = 0  # spoken: the length of the recorded answer
    retry: bool = False  # spoken: one more take allowed (the last take counts)
    topic: str = ""  # what the item tests ("grammar"); a draw rule picks pool items by it
    difficulty: str = ""  # "easy", "medium" or "hard" (or empty); a draw rule picks pool items by it
    media: Stimulus | None = None  # any kind: an image, audio or video shown with the prompt

    def option(self, option_id: str) -> Option | None:
        """The option with this id, or None."""
        return next((o for o in self.options if o.id == option_id), None)


@dataclass(frozen=True)
class Window:
    """When an exam may be taken: ``opens_at <= now < closes_at`` (aware datetimes)."""

    opens_at: dt.datetime
    closes_at: dt.datetime


DIFFICULTIES = ("easy", "medium", "hard")


@dataclass(frozen=True)
class DrawRule:
    """Draw ``count`` items per attempt from the pool items of this topic and difficulty (empty: any)."""

    count: int
    topic: str = ""
    difficulty: str = ""

    def takes(self, item: QuestionSpec) -> bool:
        """Whether this rule draws from ``item`` (every given criterion matches)."""
        return (not self.topic or item.topic == self.topic) and (not self.difficulty
                                                                  or item.difficulty == self.difficulty)


@dataclass(frozen=True)
class ExamSpec:
    """A whole exam as authored, independent of the database."""

    title: str
    duration_minutes: int
    window: Window
    pass_mark_percent: Decimal
    questions: tuple[QuestionSpec, ...]
    description: str = ""
    minimum_age: int | None = None
    identity_check_required: bool = True
    proctoring_required: bool = True
    shuffle_questions: bool = False
    shuffle_options: bool = False
    screen_capture: bool = False
    room_scan_required: bool = False  # a room scan before the start and when a proctor asks (proctoring.roomscan)
    seb_required: bool = False  # Safe Exam Browser required (exams.lockdown)
    second_camera: bool = False  # a phone as the second camera (proctoring.phone)
    seb_browser_exam_keys: tuple[str, ...] = ()
    proctors: tuple[str, ...] = ()
    # Items drawn per attempt (a few of them each) by the draw rules; ``questions`` every candidate gets.
    pool: tuple[QuestionSpec, ...] = ()
    draws: tuple[DrawRule, ...] = ()

    @property
    def items(self) -> tuple[QuestionSpec, ...]:
        """Every item of the exam: the questions all candidates get, then the pool."""
        return self.questions + self.pool

    @property
    def max_points(self) -> int:
        """The points an attempt can reach: its questions' and, per draw rule, the drawn items' (equal per rule)."""
        drawn = 0
        for rule in self.draws:
            taken = rule_items(self, rule)
            drawn += rule.count * (taken[0].points if taken else 0)
        return sum(q.points for q in self.questions) + drawn

    def question(self, question_id: str) -> QuestionSpec | None:
        """The item with this id (a question or a pool item), or None."""
        return next((q for q in self.items if q.id == question_id), None)


@dataclass(frozen=True)
class Grade:
    """Outcome of grading one answer."""

    points: int
    max_points: int
    needs_manual: bool = False


@dataclass(frozen=True)
class Result:
    """Outcome of a whole attempt.

    ``passed`` is None while manually graded questions are pending *and* their
    points could still change the outcome; otherwise it is final.
    """

    points: int
    max_points: int
    percent: Decimal
    passed: bool | None
    pending_manual: tuple[str, ...] = ()


@dataclass(frozen=True)
class ShuffledOrder:
    """Presentation order for one attempt: question ids and, per question, option ids."""

    question_ids: tuple[str, ...]
    option_ids: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


_NUMBER_RE = re.compile(r"[+-]?(\d+([.,]\d*)?|[.,]\d+)([eE][+-]?\d+)?")


def parse_number(text: str | int | float | Decimal) -> Decimal | None:
    """Parse a numeric answer ("3,5", "3.5", " -2 ", "1e3"); None if it is not a finite number."""
    if isinstance(text, bool):
        return None
    if isinstance(text, Decimal):
        return text if text.is_finite() else None
    if isinstance(text, int):
        return Decimal(text)
    if isinstance(text, float):
        return Decimal(repr(text)) if math.isfinite(text) else None
    cleaned = text.strip().replace("\u2212", "-")  # a typographic minus is still a minus
    if len(cleaned) > 100 or not _NUMBER_RE.fullmatch(cleaned):
        return None
    try:
        value = Decimal(cleaned.replace(",", "."))
    except InvalidOperation:  # pragma: no cover - the regex admits only valid decimals
        return None
    return value if value.is_finite() else None


def _chosen_ids(answer: Answer) -> frozenset[str] | None:
    if isinstance(answer, str):
        return frozenset([answer]) if answer else frozenset()
    if isinstance(answer, Sequence | set | frozenset) and all(isinstance(a, str) for a in answer):
        return frozenset(answer)
    return None


def grade(question: QuestionSpec, answer: Answer) -> Grade:
    """Grade one answer to one question by the rules in this module's docstring."""
    full = question.points
    if question.kind is QuestionKind.SINGLE_CHOICE:
        ok = isinstance(answer, str) and (opt := question.option(answer)) is not None and opt.correct
        return Grade(full if ok else 0, full)
    if question.kind is QuestionKind.MULTIPLE_CHOICE:
        chosen = _chosen_ids(answer)
        correct = frozenset(o.id for o in question.options if o.correct)
        return Grade(full if chosen is not None and chosen == correct else 0, full)
    if question.kind is QuestionKind.NUMERIC:
        if answer is None or (isinstance(answer, Sequence) and not isinstance(answer, str)):
            return Grade(0, full)
        value = parse_number(answer)
        if value is None or question.answer is None:
            return Grade(0, full)
        return Grade(full if abs(value - question.answer) <= question.tolerance else 0, full)
    if question.kind is QuestionKind.ORAL:  # performed in the call: the examiner always grades it
        return Grade(0, full, needs_manual=True)
    if question.kind is QuestionKind.GAP_TEXT:
        return Grade(share_points(full, *gap_share(question.gaps, answer)), full)
    if question.kind is QuestionKind.MATCHING:
        return Grade(share_points(full, *matching_share(question.premises, answer)), full)
    if question.kind is QuestionKind.ORDERING:
        solution = [o.id for o in question.options]
        return Grade(share_points(full, *ordering_share(solution, answer, question.all_or_nothing)), full)
    if question.kind is QuestionKind.SHORT_TEXT:
        return Grade(full if short_text_right(question.accepted, question.case_sensitive, answer) else 0, full)
    if question.kind is QuestionKind.HOTSPOT:
        return Grade(full if hotspot_right(question.areas, answer) else 0, full)
    if question.kind is QuestionKind.UPLOAD:  # a file to read: graded by hand; no file, nothing to read
        return Grade(0, full, needs_manual=isinstance(answer, Mapping) and bool(answer.get("file")))
    if question.kind is QuestionKind.SPOKEN:  # a span of the recording to hear: graded by hand; none, nothing to hear
        return Grade(0, full, needs_manual=isinstance(answer, Mapping) and bool(answer.get("started")))
    # Free text and essay: a human decides; an empty answer has nothing to read.
    if not isinstance(answer, str) or not answer.strip():
        return Grade(0, full)
    return Grade(0, full, needs_manual=True)


def score_attempt(
    spec: ExamSpec,
    answers: Mapping[str, Answer],
    manual_points: Mapping[str, int] | None = None,
) -> Result:
    """Score an attempt: answers and manual points are keyed by question id; unanswered is 0."""
    manual = dict(manual_points or {})
    for qid, pts in manual.items():
        question = spec.question(qid)
        if question is None or question.kind not in MANUAL_KINDS:
            raise ValidationFailed("Manual points given for a question that is not graded by hand.",
                                   fields={qid: "not a free-text question of this exam"})
        if isinstance(pts, bool) or not isinstance(pts, int) or not 0 <= pts <= question.points:
            raise ValidationFailed("Manual points out of range.",
                                   fields={qid: f"must be a whole number from 0 to {question.points}"})
    points = 0
    pending: list[str] = []
    pending_max = 0
    for question in spec.questions:
        result = grade(question, answers.get(question.id))
        if result.needs_manual:
            if question.id in manual:
                points += manual[question.id]
            else:
                pending.append(question.id)
                pending_max += question.points
        else:
            points += result.points
    max_points = spec.max_points
    percent = Decimal(0) if max_points == 0 else (Decimal(points) * 100 / Decimal(max_points)).quantize(Decimal("0.01"))
    # Decide pass/fail on exact fractions, never on the rounded percentage.
    mark = Fraction(spec.pass_mark_percent) / 100
    passes_now = max_points > 0 and Fraction(points, max_points) >= mark
    passes_best = max_points > 0 and Fraction(points + pending_max, max_points) >= mark
    passed: bool | None = passes_now if passes_now == passes_best else None
    return Result(points, max_points, percent, passed, tuple(pending))


def _shuffle(ids: Sequence[str], seed: str, scope: str) -> tuple[str, ...]:
    # Sorting by a keyed hash is a uniformly random permutation that is stable
    # across Python versions and processes (unlike random.Random's algorithm).
    def key(item: str) -> bytes:
        return hashlib.sha256(f"{seed}\x00{scope}\x00{item}".encode()).digest()

    return tuple(sorted(ids, key=key))


def shuffled_order(spec: ExamSpec, seed: str | int | bytes) -> ShuffledOrder:
    """The order to present questions and options in for the attempt with this seed."""
    seed_text = seed.hex() if isinstance(seed, bytes) else str(seed)
    qids = [q.id for q in spec.questions]
    question_ids = _shuffle(qids, seed_text, "questions") if spec.shuffle_questions else tuple(qids)
    option_ids: dict[str, tuple[str, ...]] = {}
    for q in spec.questions:
        oids = [o.id for o in q.options]
        if q.kind is QuestionKind.ORDERING:  # always shuffled: the authored order is the solution
            option_ids[q.id] = ordering_layout(oids, _shuffle(oids, seed_text, f"options\x00{q.id}"))
        elif oids:
            option_ids[q.id] = _shuffle(oids, seed_text, f"options\x00{q.id}") if spec.shuffle_options else tuple(oids)
    return ShuffledOrder(question_ids, option_ids)


def rule_items(spec: ExamSpec, rule: DrawRule) -> tuple[QuestionSpec, ...]:
    """The pool items ``rule`` draws from, in the file's order."""
    return tuple(q for q in spec.pool if rule.takes(q))


def draw_items(spec: ExamSpec, seed: str | int | bytes) -> tuple[str, ...]:
    """The pool item ids the attempt with this seed gets: per rule ``count`` of its items, in the file's order.

    The same seed gives the same draw in every process (a keyed hash, like the option shuffling), so a draw can
    always be checked again from the stored seed; the attempt stores the ids themselves all the same."""
    seed_text = seed.hex() if isinstance(seed, bytes) else str(seed)
    chosen: set[str] = set()
    for index, rule in enumerate(spec.draws):
        ids = [q.id for q in rule_items(spec, rule) if q.id not in chosen]
        chosen.update(_shuffle(ids, seed_text, f"draw\x00{index}")[:rule.count])
    return tuple(q.id for q in spec.pool if q.id in chosen)


def attempt_items(spec: ExamSpec, drawn: Sequence[str]) -> ExamSpec:
    """The exam as one attempt has it: its questions plus the pool items drawn for it (no pool left to draw)."""
    wanted = set(drawn)
    return replace(spec, questions=spec.questions + tuple(q for q in spec.pool if q.id in wanted), pool=(), draws=())
