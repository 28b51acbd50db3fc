"""Every answer of an attempt in words, as graders and appeal deciders read it: what was given, what was right.

Staff see the solution beside each answer (the candidate's result page shows only the points).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select

from exams.attempts import attempt_spec
from exams.itemtypes import fold, hotspot_right
from exams.models import Answer, Attempt
from exams.questions import MANUAL_KINDS, QuestionKind, QuestionSpec, grade
from exams.spoken import span_of
from kernel.db import db


@dataclasses.dataclass(frozen=True)
class AnswerLine:
    """One part of an answer: what was asked, what was given, whether it was right (None: a person decides)."""

    label: str
    given: str
    right: bool | None = None
    expected: str = ""


@dataclasses.dataclass(frozen=True)
class AnswerRow:
    """One item of an attempt with the answer in words and the points it got."""

    question_id: str
    kind: str
    prompt: str
    points: int | None
    max_points: int
    lines: list[AnswerLine]
    file: dict[str, Any] | None = None  # upload: id, name, size, type
    point: dict[str, float] | None = None  # hotspot: the chosen point in image pixels


def _none() -> str:
    return _("(no answer)")


def _lines(q: QuestionSpec, value: Any) -> list[AnswerLine]:
    texts = {o.id: o.text for o in q.options}
    if q.kind is QuestionKind.GAP_TEXT:
        given = value if isinstance(value, dict) else {}
        out = []
        for n, gap in enumerate(q.gaps, start=1):
            v = given.get(gap.id)
            if gap.dropdown:
                shown = dict((i, t) for i, t, _c in gap.options)
                right = next((t for _i, t, c in gap.options if c), "")
                picked = shown.get(v, _none()) if isinstance(v, str) else _none()
                out.append(AnswerLine(_("Gap %(n)d", n=n), picked, picked == right, right))
            else:
                ok = isinstance(v, str) and fold(v, gap.case_sensitive) in {fold(a, gap.case_sensitive)
                                                                            for a in gap.accepted}
                out.append(AnswerLine(_("Gap %(n)d", n=n), v or _none(), ok, " / ".join(gap.accepted)))
        return out
    if q.kind is QuestionKind.MATCHING:
        given = value if isinstance(value, dict) else {}
        return [AnswerLine(p.text, texts.get(given.get(p.id, ""), _none()), given.get(p.id) == p.match,
                           texts.get(p.match, "")) for p in q.premises]
    if q.kind is QuestionKind.ORDERING:
        order = [str(i) for i in value] if isinstance(value, list) else []
        return [AnswerLine(_("Order given"), " → ".join(texts.get(i, i) for i in order) or _none(),
                           order == [o.id for o in q.options], " → ".join(o.text for o in q.options))]
    if q.kind is QuestionKind.SHORT_TEXT:
        return [AnswerLine(_("Answer"), value or _none(), grade(q, value).points == q.points,
                           " / ".join(q.accepted))]
    if q.kind is QuestionKind.HOTSPOT:
        if not isinstance(value, dict):
            return [AnswerLine(_("Point chosen"), _none(), False)]
        return [AnswerLine(_("Point chosen"), f"x {value.get('x')}, y {value.get('y')}",
                           hotspot_right(q.areas, value))]
    if q.kind is QuestionKind.UPLOAD:
        return [] if isinstance(value, dict) else [AnswerLine(_("File"), _none())]
    if q.kind in (QuestionKind.SINGLE_CHOICE, QuestionKind.MULTIPLE_CHOICE):
        chosen = [value] if isinstance(value, str) else value if isinstance(value, list) else []
        return [AnswerLine(_("Chosen"), ", ".join(texts.get(c, c) for c in chosen) or _none(),
                           grade(q, value).points == q.points, ", ".join(o.text for o in q.options if o.correct))]
    if q.kind is QuestionKind.NUMERIC:
        return [AnswerLine(_("Answer"), str(value) if value is not None else _none(),
                           grade(q, value).points == q.points, str(q.answer))]
    if q.kind is QuestionKind.ORAL:
        return []
    if q.kind is QuestionKind.SPOKEN:
        span = span_of(value)
        return [AnswerLine(_("Recorded"), _none() if span is None else
                           _("take %(take)d, %(seconds)d seconds (in the recording)", take=span.take,
                             seconds=int((span.ends - span.started).total_seconds())))]
    return [AnswerLine(_("Answer"), value if isinstance(value, str) and value else _none())]


def answer_overview(attempt: Attempt) -> list[AnswerRow]:
    """Every item of the attempt (in the exam's order) with the answer in words and its points."""
    spec = attempt_spec(attempt)
    rows = {a.question_id: a for a in db.session.scalars(select(Answer).where(Answer.attempt_id == attempt.id))}
    out = []
    for q in spec.questions:
        row = rows.get(q.id)
        value = row.value if row else None
        if q.kind in MANUAL_KINDS:
            points = row.manual_points if row else None
            if points is None and not grade(q, value).needs_manual:
                points = 0
        else:
            points = grade(q, value).points
        out.append(AnswerRow(q.id, q.kind.value, q.prompt, points, q.points, _lines(q, value),
                             value if q.kind is QuestionKind.UPLOAD and isinstance(value, dict) else None,
                             value if q.kind is QuestionKind.HOTSPOT and isinstance(value, dict) else None))
    return out
