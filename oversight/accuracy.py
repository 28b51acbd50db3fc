"""Accuracy measured in use (EU AI Act Art. 15, 72): how often people confirm what each detector flags.

Per flag kind, for one exam, one institution or the whole platform: how many flags, the share people confirmed
and dismissed, the median time to a decision, how many decisions were taken without the evidence opened
(automation bias), and a warning when a kind's confirmation rate falls well below its usual level on the platform.
A kind whose flags concern fewer than ``STATISTICS_MIN_GROUP`` candidates shows no figures (the statistics rule).
"""

from __future__ import annotations

import dataclasses
import statistics
from collections import defaultdict
from typing import Any

from flask import current_app
from sqlalchemy import select

from exams.models import Attempt, AttemptEvent, Exam
from kernel.db import db
from proctoring.models import Flag, FlagKind, FlagStatus

WARN_BELOW = 0.5  # a confirmation rate under half the platform's usual rate for the kind is "well below"
MIN_DECIDED = 5  # decisions needed in the group and on the platform before a rate is compared


@dataclasses.dataclass(frozen=True)
class KindFigures:
    """One flag kind's figures in a scope; every figure None when the group is too small (``suppressed``)."""

    kind: FlagKind
    suppressed: bool
    flags: int | None = None
    confirmed: int | None = None
    dismissed: int | None = None
    open: int | None = None
    median_minutes: float | None = None
    without_evidence: int | None = None
    usual_rate: float | None = None  # the platform's confirmation rate of this kind
    warning: bool = False

    @property
    def decided(self) -> int:
        """Flags people decided."""
        return (self.confirmed or 0) + (self.dismissed or 0)

    @property
    def confirmed_percent(self) -> int | None:
        """The share of decided flags people confirmed, in percent."""
        return round(100 * (self.confirmed or 0) / self.decided) if self.decided else None

    @property
    def dismissed_percent(self) -> int | None:
        """The share of decided flags people dismissed, in percent."""
        return round(100 * (self.dismissed or 0) / self.decided) if self.decided else None


def _rows(exam_id: int | None, institution_id: int | None) -> list[Any]:
    q = select(Flag, Attempt.user_id).join(Attempt, Attempt.id == Flag.attempt_id)
    if exam_id is not None:
        q = q.where(Attempt.exam_id == exam_id)
    if institution_id is not None:
        q = q.join(Exam, Exam.id == Attempt.exam_id).where(Exam.institution_id == institution_id)
    return list(db.session.execute(q).all())


def _unseen(flag_ids: set[int], attempt_ids: set[int]) -> set[int]:
    """Ids of the flags decided without the evidence opened (from the decisions on the timelines)."""
    if not attempt_ids:
        return set()
    events = db.session.scalars(select(AttemptEvent).where(
        AttemptEvent.attempt_id.in_(attempt_ids), AttemptEvent.kind.in_(("flag_confirmed", "flag_dismissed")))).all()
    return {int(e.detail["flag_id"]) for e in events
            if (e.detail or {}).get("evidence_opened") is False and (e.detail or {}).get("flag_id") in flag_ids}


def _rates() -> dict[FlagKind, float]:
    counts: dict[FlagKind, list[int]] = defaultdict(lambda: [0, 0])
    for flag, _user in _rows(None, None):
        if flag.status != FlagStatus.OPEN:
            counts[flag.kind][0] += flag.status == FlagStatus.CONFIRMED
            counts[flag.kind][1] += 1
    return {k: c / n for k, (c, n) in counts.items() if n >= MIN_DECIDED}


def figures(exam_id: int | None = None, institution_id: int | None = None) -> list[KindFigures]:
    """Per flag kind (every kind, in the registry's order), the figures of the exam, institution or platform."""
    k = int(current_app.config["STATISTICS_MIN_GROUP"])
    rows = _rows(exam_id, institution_id)
    unseen = _unseen({f.id for f, _u in rows}, {f.attempt_id for f, _u in rows})
    usual = _rates()
    out = []
    for kind in FlagKind:
        mine = [(f, u) for f, u in rows if f.kind == kind]
        if len({u for _f, u in mine}) < k:
            out.append(KindFigures(kind, True))
            continue
        flags = [f for f, _u in mine]
        confirmed = sum(f.status == FlagStatus.CONFIRMED for f in flags)
        dismissed = sum(f.status == FlagStatus.DISMISSED for f in flags)
        waits = [(f.reviewed_at - f.last_seen_at).total_seconds() / 60 for f in flags
                 if f.reviewed_at is not None and f.reviewed_at >= f.last_seen_at]
        rate = usual.get(kind)
        decided = confirmed + dismissed
        warning = rate is not None and decided >= MIN_DECIDED and confirmed / decided < WARN_BELOW * rate
        out.append(KindFigures(kind, False, len(flags), confirmed, dismissed, len(flags) - decided,
                               round(statistics.median(waits), 1) if waits else None,
                               sum(f.id in unseen for f in flags), rate, warning))
    return out
