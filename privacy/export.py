"""Data export (GDPR Art. 15 and 20): one ZIP with all of a person's data, built in the background.

What goes in is decided by the inventory alone: every table's rows of the person (secrets such as
the password hash left out and said so), every stored file of the person still held, decrypted,
and a readable summary in German and English. The ZIP is stored encrypted like every other file
(category ``export``, deleted after 7 days); the download link is an unguessable token that
expires with it.
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import html
import json
import secrets
import zipfile
from typing import Any

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func, select

from accounts.models import User
from kernel.clock import utcnow
from kernel.db import db
from kernel.errors import Gone, NotFound, TooManyRequests
from kernel.jobs import enqueue_pending, exclusive, job, runner, stalled_before
from privacy import subject
from privacy.inventory import RECORDS, STORED_FILES, T
from privacy.models import DataExport
from privacy.settings import role_statement
from storage import vault
from storage.crypto import EncryptedReader
from storage.models import Blob, BlobState
from storage.retention import purge_blob_now

EXTENSIONS = {"video/webm": "webm", "image/jpeg": "jpg", "application/json": "json", "image/*": "img"}


def request_export(user: User, lang: str, now: dt.datetime) -> DataExport:
    """Queue an export of ``user``'s data; the page polls its progress."""
    per_day = int(current_app.config["EXPORTS_PER_DAY"])
    made = db.session.scalar(select(func.count()).select_from(DataExport).where(
        DataExport.user_id == user.id, DataExport.created_at > now - dt.timedelta(days=1))) or 0
    if made >= per_day:  # each export decrypts and zips every file of the person
        raise TooManyRequests(_("You have asked for %(n)d copies of your data today. Please download one of them "
                                "or ask again tomorrow.", n=per_day))
    days = int(current_app.config["EXPORT_RETENTION_DAYS"])
    exp = DataExport(user_id=user.id, token=secrets.token_urlsafe(32), status="queued", progress=0,
                     lang=lang if lang in ("de", "en") else "de", created_at=now,
                     expires_at=now + dt.timedelta(days=days))
    db.session.add(exp)
    db.session.commit()
    # Committed as queued: if the queue is down now, requeue_stalled_exports queues it later.
    enqueue_pending("privacy.build_export", export_id=exp.id, lang=exp.lang)
    return exp


def requeue_stalled_exports(now: dt.datetime) -> int:
    """Queue again every export still queued or running long after it was asked for (its job was lost: the
    queue was down, or a worker died mid-build); returns how many. A duplicate of a build under way does
    nothing (``build_export`` takes a lock)."""
    stalled = db.session.execute(select(DataExport.id, DataExport.lang).where(
        DataExport.status.in_(("queued", "running")), DataExport.created_at < stalled_before(now))
        .order_by(DataExport.id).limit(500)).all()
    for export_id, lang in stalled:
        runner().enqueue("privacy.build_export", export_id=export_id, lang=lang)
    return len(stalled)


def exports_of(user: User) -> list[DataExport]:
    """The person's exports, newest first."""
    return list(db.session.scalars(select(DataExport).where(DataExport.user_id == user.id)
                                   .order_by(DataExport.id.desc())))


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    return value


def collect(user_id: int) -> dict[str, Any]:
    """Every table's rows of the person, as the inventory lists them (secrets left out)."""
    tables: dict[str, Any] = {}
    for rec in RECORDS:
        rows = []
        for row in subject.rows(rec, user_id):
            rows.append({k: _jsonable(v) for k, v in row.items() if k not in rec.secret})
        tables[rec.table] = rows
    return tables


def _files(user_id: int) -> list[Blob]:
    categories = [f.category for f in STORED_FILES if f.category != "export"]
    return list(db.session.scalars(select(Blob).where(Blob.user_id == user_id, Blob.category.in_(categories),
                                                      Blob.state.in_([BlobState.COMPLETE, BlobState.CUT,
                                                                      BlobState.WRITING]))
                                   .order_by(Blob.id)))


@job("privacy.build_export")
def build_export(export_id: int, lang: str = "de") -> None:
    """Build the ZIP of one export, updating its progress; a failure marks it failed (and can be retried).

    Idempotent, as a job must be: a ready export is left as it is, a duplicate of a build under way does
    nothing, and a build cut off (worker killed, database gone) is started over, its partial ZIP deleted.
    """
    with exclusive(f"privacy.build_export:{export_id}") as mine:
        if mine:
            _build_export(export_id, lang)


def _build_export(export_id: int, lang: str) -> None:
    exp = db.session.get(DataExport, export_id)
    if exp is None or exp.status == "ready":
        return
    partial = db.session.get(Blob, exp.blob_id) if exp.blob_id else None
    exp.status, exp.progress = "running", 1
    db.session.commit()
    if partial is not None:
        purge_blob_now(partial, utcnow(), "data export: a build cut off, started over")
    user = db.session.get(User, exp.user_id)
    assert user is not None  # noqa: S101 - exports cascade with the user
    writer = vault.open_writer("export", content_type="application/zip", user_id=user.id,
                               institution_id=user.institution_id)
    try:
        exp.blob_id = writer.blob_id  # known from the start, so that a run after a crash can delete it
        db.session.commit()
        files = _files(user.id)
        with zipfile.ZipFile(writer, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            listed: list[dict[str, Any]] = []
            data = {"generated_at": utcnow().isoformat(), "user_id": user.id,
                    "controller": str(role_statement(user.institution_id, lang)),
                    "tables": collect(user.id), "files": listed}
            exp.progress = 10
            db.session.commit()
            for n, blob in enumerate(files, 1):
                name = f"files/{blob.category}-{blob.id}.{EXTENSIONS.get(blob.content_type, 'bin')}"
                try:
                    reader = vault.open_reader(blob)
                    with zf.open(name, "w", force_zip64=True) as out:
                        for chunk in reader.iter_chunks():
                            out.write(chunk)
                    listed.append({"file": name, "category": blob.category, "stored_at":
                                          _jsonable(blob.created_at), "incomplete": reader.truncated})
                except Exception as err:
                    listed.append({"category": blob.category, "blob_id": blob.id,
                                          "error": f"could not be read: {type(err).__name__}"})
                exp.progress = 10 + int(80 * n / max(1, len(files)))
                db.session.commit()
            zf.writestr("data.json", json.dumps(data, ensure_ascii=False, indent=1))
            zf.writestr("summary.html", summary_html(data, lang))
        writer.close()
    except Exception:
        writer.abort()
        db.session.rollback()  # (with the database gone, the next line raises too: the job is run again)
        exp.status = "failed"
        db.session.commit()
        raise
    exp.blob_id, exp.status, exp.progress = writer.blob_id, "ready", 100
    db.session.commit()


def summary_html(data: dict[str, Any], lang: str) -> str:
    """A readable summary: per table what it is, why we hold it and how long, and the values."""

    def t(text: T) -> str:
        return html.escape(text.de if lang == "de" else text.en)

    title = "Ihre Daten bei aufsicht" if lang == "de" else "Your data at aufsicht"
    out = [f"<!doctype html><meta charset='utf-8'><title>{title}</title><h1>{title}</h1>",
           f"<p>{html.escape(data['controller'])}</p>"]
    for rec in RECORDS:
        rows = data["tables"].get(rec.table) or []
        if not rows or not rec.fields:
            continue
        out.append(f"<h2>{html.escape(rec.table)}</h2><p>{t(rec.retention)}</p><table>")
        for row in rows:
            for col, item in rec.fields.items():
                if col in row and col not in rec.secret:
                    out.append(f"<tr><th>{t(item.what)}</th><td>{html.escape(str(row[col]))}</td>"
                               f"<td>{t(item.purpose)}; {t(item.basis)}</td></tr>")
        out.append("</table>")
    heading = "Dateien" if lang == "de" else "Files"
    out.append(f"<h2>{heading}</h2><ul>")
    out += [f"<li>{html.escape(str(f.get('file') or f.get('error')))}</li>" for f in data["files"]]
    out.append("</ul>")
    return "\n".join(out)


def download(token: str, user: User, now: dt.datetime) -> tuple[DataExport, EncryptedReader]:
    """A reader of the ZIP of a ready export of ``user`` (streamed segment by segment: an export with hours of
    recordings is never held in memory); an expired link is Gone."""
    exp = db.session.scalar(select(DataExport).where(DataExport.token == token, DataExport.user_id == user.id))
    if exp is None or exp.status != "ready" or exp.blob_id is None:
        raise NotFound()
    blob = db.session.get(Blob, exp.blob_id)
    if exp.expires_at <= now or blob is None or blob.state != BlobState.COMPLETE:
        raise Gone()
    return exp, vault.open_reader(blob)
