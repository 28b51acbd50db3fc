"""The pictures of a running exam's items behind signed addresses, answered from memory.

The exam page names each picture (a hotspot item's image, an item's picture stimulus) by an address that carries
its own permission: the attempt, the item and the stored file, signed with the app's key and valid until the
attempt's deadline. Answering it needs no session and no database (the file's plaintext is kept in this process
for a minute, shared by every candidate of the exam): a 60-item exam with ten pictures asked ten times for the
candidate's session, attempt, exam, item and file, some 5 ms each, and 50 candidates starting at once waited for
that. The permission is the same as the session route's: only a page of a running attempt whose preconditions
were met names these addresses, for that attempt's own items. What an address cannot know: an attempt that
ended early (submitted, terminated) keeps its pictures' addresses working until the deadline, for whoever holds
them; the page's HTML, which holds them, is served ``no-store``, and so are the pictures.
"""

from __future__ import annotations

import datetime as dt
import threading
import time

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer

from exams.models import Attempt
from kernel.errors import NotFound

SALT = "aufsicht.item-picture"
KEEP_SECONDS = 60.0  # how long a file's plaintext stays in memory after it was read
MAX_CACHED_BYTES = 64 * 1024 * 1024

_lock = threading.Lock()
_cache: dict[int, tuple[float, str, bytes]] = {}  # blob id -> (read at, content type, plaintext)


def _signer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def picture_token(attempt_id: int, question_id: str, blob_id: int, until: dt.datetime) -> str:
    """The signed part of a picture's address: valid for this attempt's item and file until ``until``."""
    return str(_signer().dumps([attempt_id, question_id, blob_id, int(until.replace(tzinfo=dt.UTC).timestamp())]))


def picture_urls(attempt: Attempt, now: dt.datetime) -> dict[str, str]:
    """The signed addresses of the attempt's item pictures by question id (a hotspot's image, a picture stimulus),
    valid until the attempt's deadline; two queries for the page."""
    from flask import url_for

    from exams.attempts import attempt_spec, remaining_seconds
    from exams.questions import QuestionKind
    from exams.stimuli import stimulus_files

    wanted: dict[str, str] = {}
    for q in attempt_spec(attempt).questions:
        if q.kind is QuestionKind.HOTSPOT and q.image:
            wanted[q.id] = q.image
        elif q.media is not None:
            wanted[q.id] = q.media.id
    files = stimulus_files(set(wanted.values()), attempt.exam.institution_id)
    until = now + dt.timedelta(seconds=remaining_seconds(attempt, now) + 1800)  # added time, a pause
    return {qid: url_for("pictures.picture", token=picture_token(attempt.id, qid, found.blob_id, until))
            for qid, public_id in wanted.items()
            if (found := files.get(public_id)) is not None and found.kind == "image"}


def blob_of_token(token: str, now: dt.datetime) -> int:
    """The stored file a picture's address names; NotFound for a forged, altered or expired one."""
    try:
        payload = _signer().loads(token)
    except BadSignature:
        raise NotFound() from None
    if not (isinstance(payload, list) and len(payload) == 4 and all(isinstance(x, int) for x in payload[2:])):
        raise NotFound()
    if payload[3] < now.replace(tzinfo=dt.UTC).timestamp():
        raise NotFound()
    return int(payload[2])


def picture_bytes(blob_id: int) -> tuple[str, bytes]:
    """Content type and plaintext of a stored picture, from memory when read in the last minute."""
    from kernel.db import db
    from storage import vault
    from storage.models import Blob

    now = time.monotonic()
    cached = _cache.get(blob_id)
    if cached is not None and now - cached[0] < KEEP_SECONDS:
        return cached[1], cached[2]
    blob = db.session.get(Blob, blob_id)
    if blob is None or blob.category not in ("item_image", "item_media") or \
            not str(blob.content_type or "").startswith("image/"):  # deleted by the office, or not a picture
        raise NotFound()
    content_type, data = str(blob.content_type), vault.read(blob)
    with _lock:
        for old in [k for k, v in _cache.items() if now - v[0] >= KEEP_SECONDS]:
            del _cache[old]
        if sum(len(v[2]) for v in _cache.values()) + len(data) <= MAX_CACHED_BYTES:
            _cache[blob_id] = (now, content_type, data)
    return content_type, data


def forget() -> None:
    """Drop the pictures kept in memory (tests)."""
    with _lock:
        _cache.clear()
