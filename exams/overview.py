"""Where each exam of an institution stands, for the exam office's home page.

An exam is *scheduled* before its window opens, *running* while it is open and *closed* after; on top of
that it has work waiting: attempts *to grade* (free-text answers without points), results *to release*
(the chain of trust lets them go), results *held* (with the reasons, see :mod:`exams.trust`) and
*appeals open*. An exam with nothing waiting after its window is *done*.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence

from sqlalchemy import func, select

from exams import trust
from exams.grading import ENDED, unreleased
from exams.models import Appeal, AppealStatus, Attempt, AttemptStatus, Exam
from kernel.db import db


@dataclasses.dataclass(frozen=True)
class ExamOverview:
    """One exam's phase and the work waiting on it."""

    exam: Exam
    phase: str  # "scheduled" | "running" | "closed"
    in_progress: int
    to_grade: int
    to_release: int
    held: int
    appeals_open: int

    @property
    def states(self) -> list[tuple[str, int | None]]:
        """The states to show, each with its count (None: no count), in the order work is done."""
        out: list[tuple[str, int | None]] = [(self.phase, None)]
        for name, count in (("in_progress", self.in_progress), ("to_grade", self.to_grade),
                            ("to_release", self.to_release),
                            ("appeals_open", self.appeals_open)):
            if count:
                out.append((name, count))
        if self.phase == "closed" and len(out) == 1 and not self.held:
            out = [("done", None)]
        return out


def _phase(exam: Exam, now: dt.datetime) -> str:
    if now < exam.opens_at:
        return "scheduled"
    return "running" if now < exam.closes_at else "closed"


def overview(exams: Sequence[Exam], now: dt.datetime) -> list[ExamOverview]:
    """The phase and waiting work of each exam (already access-checked), in the given order."""
    out = []
    for exam in exams:
        running = db.session.scalar(select(func.count(Attempt.id)).where(
            Attempt.exam_id == exam.id, Attempt.status == AttemptStatus.IN_PROGRESS)) or 0
        to_grade = db.session.scalar(select(func.count(Attempt.id)).where(
            Attempt.exam_id == exam.id, Attempt.status.in_(ENDED), Attempt.pending_manual.is_(True))) or 0
        appeals = db.session.scalar(select(func.count(Appeal.id)).join(Attempt).where(
            Attempt.exam_id == exam.id, Appeal.status == AppealStatus.OPEN)) or 0
        waiting = [trust.holds(a, trust.Action.RELEASE) for a in unreleased(exam)]
        held = sum(1 for found in waiting if found and not _only_grading(found))
        free = sum(1 for found in waiting if not found)
        out.append(ExamOverview(exam, _phase(exam, now), running, to_grade, free, held, appeals))
    return out


def _only_grading(found: list[trust.Hold]) -> bool:
    """A result waiting only for points is counted under "to grade", not as held."""
    return all(h.code == "grading" for h in found)
