"""Item analysis of an exam's released results: difficulty, discrimination, option shares, Cronbach's alpha.

Only released results count (a result still being graded or held may change), and nothing is computed for
fewer than ``STATISTICS_MIN_GROUP`` of them: the statistics rule of ``privacy/`` (a figure never describes
fewer than that many people). The arithmetic (:func:`analyse`) is pure numpy on a score matrix; the loading
(:func:`item_analysis`) reads the attempts and answers in two queries.

Definitions (as in classical test theory, and shown on the page in words):

* difficulty of an item: the mean share of its points achieved (1.0 = everyone had it right);
* discrimination: the corrected item-total correlation, i.e. the Pearson correlation of the item's points with
  the points on the *other* items (None where either does not vary);
* Cronbach's alpha: ``k/(k-1) * (1 - sum(item variances) / variance of the totals)`` with sample variances
  (None for fewer than two items or totals that do not vary);
* option shares: per choice item, the share of attempts that chose each option (for multiple choice the shares
  add up to more than 100 %), plus the share that left the item unanswered.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from flask import current_app
from sqlalchemy import select

from exams.attempts import exam_spec
from exams.models import Answer, Attempt, AttemptStatus, Exam
from exams.questions import MANUAL_KINDS, QuestionKind, QuestionSpec, grade
from kernel.db import db

#: Attempts whose results count: ended and released.
ENDED = (AttemptStatus.SUBMITTED, AttemptStatus.TERMINATED)
#: Score histogram bins (percent of the maximum): 0-9, 10-19, ..., 90-100.
HISTOGRAM_BINS = 10


class ItemWarning(enum.StrEnum):
    """What the office should look at in an item."""

    NEGATIVE_DISCRIMINATION = "negative_discrimination"
    OPTION_UNCHOSEN = "option_unchosen"


@dataclasses.dataclass(frozen=True)
class OptionShare:
    """One option of a choice item: how many attempts chose it and their share (0..1)."""

    option_id: str
    text: str
    correct: bool
    count: int
    share: float


@dataclasses.dataclass(frozen=True)
class ItemStatistics:
    """One item's figures."""

    question_id: str
    prompt: str
    kind: QuestionKind
    max_points: int
    difficulty: float | None
    discrimination: float | None
    options: tuple[OptionShare, ...]
    unanswered_share: float | None
    warnings: tuple[ItemWarning, ...]
    unchosen: tuple[str, ...] = ()
    given: int | None = None  # how many of the attempts got the item (pool items are drawn per attempt)


@dataclasses.dataclass(frozen=True)
class ItemAnalysis:
    """An exam's item analysis; ``suppressed`` when fewer than ``min_group`` released results exist."""

    exam_id: int
    attempts: int
    min_group: int
    suppressed: bool
    alpha: float | None = None
    mean_percent: float | None = None
    items: tuple[ItemStatistics, ...] = ()
    histogram: tuple[int, ...] = ()

    @property
    def warning_count(self) -> int:
        """How many warnings the items carry together."""
        return sum(len(i.warnings) for i in self.items)


def _corr(x: np.ndarray, y: np.ndarray) -> float | None:
    sx, sy = float(x.std()), float(y.std())
    if sx == 0.0 or sy == 0.0:
        return None
    return float(((x - x.mean()) * (y - y.mean())).mean() / (sx * sy))


def cronbach_alpha(scores: np.ndarray) -> float | None:
    """Cronbach's alpha of an attempts x items score matrix (None for < 2 items or constant totals)."""
    n, k = scores.shape
    if k < 2 or n < 2:
        return None
    total_var = float(scores.sum(axis=1).var(ddof=1))
    if total_var == 0.0:
        return None
    return float(k / (k - 1) * (1.0 - float(scores.var(axis=0, ddof=1).sum()) / total_var))


def corrected_item_total(scores: np.ndarray) -> list[float | None]:
    """Per item, the correlation of its points with the sum of the other items' points."""
    totals = scores.sum(axis=1)
    return [_corr(scores[:, j], totals - scores[:, j]) for j in range(scores.shape[1])]


def analyse(exam_id: int, questions: Sequence[QuestionSpec], scores: np.ndarray,
            choices: Sequence[Mapping[str, int]], answered: Sequence[int], min_group: int,
            given: np.ndarray | None = None) -> ItemAnalysis:
    """The item analysis of a score matrix (attempts x ``questions``), with per item option counts and answers.

    ``given`` (attempts x questions, boolean) says which attempt got which item (pool items are drawn per attempt;
    None: every attempt got every item). An item counts over the attempts that got it only, and its figures are
    left out where fewer than ``min_group`` got it; alpha is taken over the items every attempt got."""
    n = int(scores.shape[0])
    if n < min_group:
        return ItemAnalysis(exam_id, n, min_group, suppressed=True)
    mask = np.ones(scores.shape, dtype=bool) if given is None else given.astype(bool)
    max_points = np.array([max(q.points, 1) for q in questions], dtype=float)
    totals = (scores * mask).sum(axis=1)
    items = []
    for j, q in enumerate(questions):
        rows = mask[:, j]
        got = int(rows.sum())
        if got < min_group:  # the statistics rule holds per item too
            items.append(ItemStatistics(q.id, q.prompt, q.kind, q.points, None, None, (), None, (), (), got))
            continue
        column = scores[rows, j]
        discrimination = _corr(column, totals[rows] - column)
        options: tuple[OptionShare, ...] = ()
        unchosen: tuple[str, ...] = ()
        warnings: list[ItemWarning] = []
        if discrimination is not None and discrimination < 0:
            warnings.append(ItemWarning.NEGATIVE_DISCRIMINATION)
        if q.kind in (QuestionKind.SINGLE_CHOICE, QuestionKind.MULTIPLE_CHOICE):
            options = tuple(OptionShare(o.id, o.text, o.correct, choices[j].get(o.id, 0),
                                        choices[j].get(o.id, 0) / got) for o in q.options)
            unchosen = tuple(o.option_id for o in options if o.count == 0)
            if unchosen:
                warnings.append(ItemWarning.OPTION_UNCHOSEN)
        items.append(ItemStatistics(q.id, q.prompt, q.kind, q.points, float(column.mean() / max_points[j]),
                                    discrimination, options, (got - answered[j]) / got, tuple(warnings), unchosen,
                                    got))
    attempt_max = (mask * max_points).sum(axis=1)
    percents = totals / np.where(attempt_max > 0, attempt_max, 1.0) * 100.0
    bins = np.minimum((percents // (100 / HISTOGRAM_BINS)).astype(int), HISTOGRAM_BINS - 1)
    histogram = tuple(int(c) for c in np.bincount(bins, minlength=HISTOGRAM_BINS))
    common = mask.all(axis=0)
    return ItemAnalysis(exam_id, n, min_group, suppressed=False, alpha=cronbach_alpha(scores[:, common]),
                        mean_percent=float(percents.mean()), items=tuple(items), histogram=histogram)


def _chosen(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


def item_analysis(exam: Exam) -> ItemAnalysis:
    """The item analysis of ``exam`` (already access-checked) over its released results."""
    min_group = int(current_app.config["STATISTICS_MIN_GROUP"])
    released = (select(Attempt.id).where(Attempt.exam_id == exam.id, Attempt.status.in_(ENDED),
                                         Attempt.result_released_at.is_not(None)).order_by(Attempt.id))
    attempt_ids = list(db.session.scalars(released))
    spec = exam_spec(exam)
    questions = list(spec.items)
    n, m = len(attempt_ids), len(questions)
    if n < min_group:
        return ItemAnalysis(exam.id, n, min_group, suppressed=True)
    row_of = {a: i for i, a in enumerate(attempt_ids)}
    col_of = {q.id: j for j, q in enumerate(questions)}
    given = np.ones((n, m), dtype=bool)
    pool_ids = {q.id for q in spec.pool}
    pool = [j for j, q in enumerate(questions) if q.id in pool_ids]
    if pool:  # each attempt got only the pool items drawn for it (stored in its layout at the start)
        given[:, pool] = False
        for attempt_id, layout in db.session.execute(select(Attempt.id, Attempt.layout)
                                                     .where(Attempt.id.in_(attempt_ids))):
            for item_id in (layout or {}).get("drawn") or []:
                if item_id in col_of:
                    given[row_of[attempt_id], col_of[item_id]] = True
    scores = np.zeros((n, m), dtype=float)
    choices: list[dict[str, int]] = [{} for _ in questions]
    answered = [0] * m
    rows = db.session.execute(
        select(Answer.attempt_id, Answer.question_id, Answer.value, Answer.manual_points)
        .where(Answer.attempt_id.in_(released.scalar_subquery())))
    for attempt_id, question_id, value, manual in rows:
        j = col_of.get(question_id)
        if j is None or not given[row_of[attempt_id], j]:
            continue
        q = questions[j]
        i = row_of[attempt_id]
        if q.kind in MANUAL_KINDS:
            scores[i, j] = manual or 0
        else:
            scores[i, j] = grade(q, value).points
        if (value is not None and value not in ("", [], {})) or (q.kind is QuestionKind.ORAL and manual is not None):
            answered[j] += 1
        if q.kind in (QuestionKind.SINGLE_CHOICE, QuestionKind.MULTIPLE_CHOICE):
            for option_id in set(_chosen(value)):
                choices[j][option_id] = choices[j].get(option_id, 0) + 1
    return analyse(exam.id, questions, scores, choices, answered, min_group, given)
