"""The detector-run log (EU AI Act Art. 12, 19, 26(6)): every detector run that raised or cleared a flag, no image.

``proctoring.flags`` calls its ``ON_FLAG`` listeners when a flag is raised, extended or cleared (a detector saw
its condition end); :func:`register` (called by the app factory) adds :func:`log_run`, which writes one
``DetectorRun`` per flag raised, moves its span's end as the flag is extended, and writes one more when a run
cleared it, in the same transaction as the flag. Rows go after ``AIACT_LOG_RETENTION_DAYS`` (at least
six months) through the inventory's row retention (``privacy.retention``), apart from the recordings' rule.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select

from kernel.clock import utcnow
from kernel.db import db
from oversight.detectors import detector_for
from oversight.models import DetectorRun
from proctoring import flags
from proctoring.models import Flag

MIN_RETENTION_DAYS = 183  # Art. 19(1), 26(6): at least six months


def log_run(flag: Flag, outcome: str) -> None:
    """Log the run that raised ``flag``, extend the logged span to the flag's last observation, or log the run that
    cleared it (``outcome``: raised, extended, cleared; one clearing run per flag)."""
    if outcome == "extended":
        run = db.session.scalar(select(DetectorRun).where(DetectorRun.flag_id == flag.id,
                                                          DetectorRun.outcome == "raised").limit(1))
        if run is not None:
            run.span_end = flag.last_seen_at
        return
    if outcome == "cleared":
        if db.session.scalar(select(DetectorRun.id).where(DetectorRun.flag_id == flag.id,
                                                          DetectorRun.outcome == "cleared").limit(1)) is None:
            _add(flag, "cleared", {}, flag.last_seen_at, utcnow())
        return
    detail = flag.detail or {}
    measure = {k: v for k, v in detail.items() if isinstance(v, int | float) and not isinstance(v, bool)}
    looked = float(measure.get("seconds", 0))  # how long the detector looked before it raised (no face)
    _add(flag, "raised", measure, flag.started_at - dt.timedelta(seconds=looked), flag.last_seen_at)


def _add(flag: Flag, outcome: str, measure: dict[str, Any], start: dt.datetime, end: dt.datetime) -> None:
    try:
        d = detector_for(flag.kind)
        key, model, version, thresholds = d.key, d.model, d.version, d.thresholds
    except KeyError:  # a flag kind without documentation still gets logged (and the registry test fails)
        key, model, version, thresholds = "undocumented", "-", "-", {}
    db.session.add(DetectorRun(
        at=flag.started_at if outcome == "raised" else end, attempt_id=flag.attempt_id, flag_id=flag.id,
        detector=key, flag_kind=str(flag.kind.value), model=model, version=version, thresholds=thresholds,
        measure=measure, outcome=outcome, span_start=start, span_end=max(start, end)))


def register() -> None:
    """Have every raised, extended or cleared flag logged (idempotent)."""
    if log_run not in flags.ON_FLAG:
        flags.ON_FLAG.append(log_run)


def runs_of(attempt_id: int) -> Sequence[DetectorRun]:
    """The logged detector runs of an attempt, in time order."""
    return db.session.scalars(select(DetectorRun).where(DetectorRun.attempt_id == attempt_id)
                              .order_by(DetectorRun.at, DetectorRun.id)).all()
