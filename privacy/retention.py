"""Age-based retention of rows, as the inventory declares it (login audit, access log, exports)."""

from __future__ import annotations

import datetime as dt
import logging

from flask import current_app
from sqlalchemy import delete, select

from kernel.db import db
from privacy import subject
from privacy.inventory import RECORDS

log = logging.getLogger(__name__)


def purge_aged_rows(now: dt.datetime, tables: tuple[str, ...] | None = None, batch: int = 5000) -> dict[str, int]:
    """Delete rows older than their table's configured retention, in batches; returns counts per table."""
    counts = {}
    for rec in RECORDS:
        if rec.age_days_config is None or rec.age_column is None or (tables and rec.table not in tables):
            continue
        t = subject.table(rec)
        pk = t.c.id
        cutoff = now - dt.timedelta(days=int(current_app.config[rec.age_days_config]))
        total = 0
        while ids := db.session.scalars(select(pk).where(t.c[rec.age_column] < cutoff).limit(batch)).all():
            db.session.execute(delete(t).where(pk.in_(ids)))
            db.session.commit()
            total += len(ids)
        counts[rec.table] = total
        log.info("purged %d %s rows older than %s", total, rec.table, cutoff.isoformat())
    return counts
