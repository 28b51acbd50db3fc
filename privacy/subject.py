"""Which rows of a table belong to a person, by the inventory's ``owner`` of that table."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Table, select

from kernel.db import db
from privacy.inventory import Record


def table(rec: Record) -> Table:
    """The SQLAlchemy table of an inventory record."""
    return db.metadata.tables[rec.table]


def owned_by(rec: Record, user_id: int) -> ColumnElement[bool]:
    """SQL condition: rows of ``rec``'s table that belong to ``user_id``."""
    t = table(rec)
    if rec.owner == "attempt":
        attempts = db.metadata.tables["attempt"]
        return t.c.attempt_id.in_(select(attempts.c.id).where(attempts.c.user_id == user_id))
    return t.c[rec.owner] == user_id


def rows(rec: Record, user_id: int) -> list[dict[str, Any]]:
    """The person's rows of one table, every column (ordered by primary key)."""
    t = table(rec)
    q = select(t).where(owned_by(rec, user_id)).order_by(*t.primary_key.columns)
    return [dict(r._mapping) for r in db.session.execute(q)]
