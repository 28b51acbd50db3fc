"""Anonymised statistics for an institution: no figure ever describes fewer than ``STATISTICS_MIN_GROUP`` people.

A count is shown only if it and its complement in the group are both at least the minimum (a
pass rate of 9 out of 10 would single out the one who failed); otherwise it is suppressed.
"""

from __future__ import annotations

import dataclasses

from flask import current_app
from sqlalchemy import case, func, select

from exams.models import Attempt, AttemptStatus, Exam
from kernel.db import db
from proctoring.models import Flag


@dataclasses.dataclass(frozen=True)
class Figure:
    """A count and its share of the group, or suppressed (None) when the group is too small."""

    count: int | None
    percent: int | None


@dataclasses.dataclass(frozen=True)
class ExamStatistics:
    """One exam's figures (``candidates`` None when the whole group is too small)."""

    exam_id: int
    title: str
    candidates: int | None
    passed: Figure
    flagged: Figure
    review_clean: Figure
    review_findings: Figure


def _figure(count: int, group: int, k: int) -> Figure:
    if group < k or count < k or group - count < k:
        return Figure(None, None)
    return Figure(count, round(100 * count / group))


def institution_statistics(institution_id: int) -> list[ExamStatistics]:
    """Per exam of the institution: candidates, pass rate, share with flags, review outcomes."""
    k = int(current_app.config["STATISTICS_MIN_GROUP"])
    flagged = select(Flag.attempt_id).distinct().scalar_subquery()
    q = (select(Exam.id, Exam.title, func.count(Attempt.id),
                func.sum(case((Attempt.passed.is_(True), 1), else_=0)),
                func.sum(case((Attempt.id.in_(flagged), 1), else_=0)),
                func.sum(case((Attempt.review_outcome == "clean", 1), else_=0)),
                func.sum(case((Attempt.review_outcome == "findings", 1), else_=0)))
         .join(Attempt, Attempt.exam_id == Exam.id)
         .where(Exam.institution_id == institution_id, Attempt.status != AttemptStatus.IN_PROGRESS)
         .group_by(Exam.id, Exam.title).order_by(Exam.id))
    out = []
    for exam_id, title, n, passed, flags, clean, findings in db.session.execute(q):
        n = int(n)
        out.append(ExamStatistics(exam_id, title, n if n >= k else None,
                                  _figure(int(passed or 0), n, k), _figure(int(flags or 0), n, k),
                                  _figure(int(clean or 0), n, k), _figure(int(findings or 0), n, k)))
    return out
