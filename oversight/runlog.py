"""The detector-run log (EU AI Act Art. 12, 19, 26(6)): every detector run that raised a flag, without any image.

``proctoring.flags`` calls its ``ON_FLAG`` listeners when a flag is raised or extended; :func:`register` (called
by the app factory) adds :func:`log_run`, which writes one ``DetectorRun`` per flag and moves its span's end as
the flag is extended, in the same transaction as the flag. Rows go after ``AIACT_LOG_RETENTION_DAYS`` (at least
six months) through the inventory's row retention (``privacy.retention``), apart from the recordings' rule.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import select

from kernel.db import db
from oversight.detectors import detector_for
from oversight.models import DetectorRun
from proctoring import flags
from proctoring.models import Flag

MIN_RETENTION_DAYS = 183  # Art. 19(1), 26(6): at least six months


def log_run(flag: Flag, new: bool) -> None:
    """Log the run that raised ``flag`` (``new``), or extend the logged span to the flag's last observation."""
    if not new:
        run = db.session.scalar(select(DetectorRun).where(DetectorRun.flag_id == flag.id).limit(1))
        if run is not None:
            run.span_end = flag.last_seen_at
        return
    detail = flag.detail or {}
    measure = {k: v for k, v in detail.items() if isinstance(v, int | float) and not isinstance(v, bool)}
    looked = float(measure.get("seconds", 0))  # how long the detector looked before it raised (no face)
    try:
        d = detector_for(flag.kind)
        key, model, version, thresholds = d.key, d.model, d.version, d.thresholds
    except KeyError:  # a flag kind without documentation still gets logged (and the registry test fails)
        key, model, version, thresholds = "undocumented", "-", "-", {}
    db.session.add(DetectorRun(
        at=flag.started_at, attempt_id=flag.attempt_id, flag_id=flag.id, detector=key, flag_kind=str(flag.kind.value),
        model=model, version=version, thresholds=thresholds, measure=measure, outcome="raised",
        span_start=flag.started_at - dt.timedelta(seconds=looked), span_end=flag.last_seen_at))


def register() -> None:
    """Have every raised or extended flag logged (idempotent)."""
    if log_run not in flags.ON_FLAG:
        flags.ON_FLAG.append(log_run)


def runs_of(attempt_id: int) -> Sequence[DetectorRun]:
    """The logged detector runs of an attempt, in time order."""
    return db.session.scalars(select(DetectorRun).where(DetectorRun.attempt_id == attempt_id)
                              .order_by(DetectorRun.at, DetectorRun.id)).all()
