"""Files of items: the images hotspot items show, and the files candidates hand in for upload items.

Both are stored encrypted (``storage.vault``) like every other file. A type is decided from the file's first
bytes, never from its name or the browser's claim. Handed-in files are served to graders only, always as a
download (``Content-Disposition: attachment``), never shown inline in our origin.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import secrets

from flask_babel import gettext as _
from PIL import Image, UnidentifiedImageError
from sqlalchemy import select

from accounts.models import Role, User
from exams.attempts import AttemptClosed, attempt_spec, record_event
from exams.models import Answer, AnswerFile, Attempt, AttemptStatus, Exam, ItemImage
from exams.questions import QuestionKind
from kernel.db import db
from kernel.errors import NotFound, ValidationFailed
from storage import vault

#: The largest file a candidate may hand in for one upload item (the app's ANSWER_FILE_MAX_BYTES), and the
#: largest item image.
MAX_ANSWER_FILE = 10 * 1024 * 1024
MAX_ITEM_IMAGE = 5 * 1024 * 1024
_EXTENSIONS = {"application/pdf": "pdf", "image/png": "png", "image/jpeg": "jpg"}


def sniff(data: bytes) -> str | None:
    """The content type by the file's first bytes: PDF, PNG or JPEG; None for anything else."""
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    return None


def image_size(data: bytes) -> tuple[int, int] | None:
    """Width and height of a PNG or JPEG that decodes; None for anything else."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.verify()
        with Image.open(io.BytesIO(data)) as img:
            return img.size
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return None


def extension(content_type: str) -> str:
    """The file name extension for a content type we accept."""
    return _EXTENSIONS.get(content_type, "bin")


def store_item_image(staff: User, data: bytes) -> ItemImage:
    """Store an image (PNG or JPEG) for the staff member's institution's items; its public id names it in items."""
    image = add_item_image(staff.institution_id or 0, data, secrets.token_urlsafe(18), staff.id)
    db.session.commit()
    return image


def add_item_image(institution_id: int, data: bytes, public_id: str, created_by_id: int | None) -> ItemImage:
    """Add an item image to the session without committing it (an import commits its images with its exam).

    The vault commits the image's blob row on its own; a caller that must store all or nothing checks every
    image first (:func:`image_size`, :data:`MAX_ITEM_IMAGE`).
    """
    if len(data) > MAX_ITEM_IMAGE:
        raise ValidationFailed(_("The image is larger than %(n)d MB.", n=MAX_ITEM_IMAGE // 2**20),
                               fields={"image": "too large"})
    kind = sniff(data)
    size = image_size(data) if kind in ("image/png", "image/jpeg") else None
    if kind is None or size is None:
        raise ValidationFailed(_("Item images must be PNG or JPEG files."), fields={"image": "not an image"})
    blob = vault.store("item_image", data, content_type=kind, institution_id=institution_id)
    image = ItemImage(public_id=public_id, institution_id=institution_id, blob_id=blob.id,
                      content_type=kind, width=size[0], height=size[1], created_by_id=created_by_id)
    db.session.add(image)
    db.session.flush()
    return image


def images_of(institution_id: int) -> list[ItemImage]:
    """The institution's item images, newest first."""
    return list(db.session.scalars(select(ItemImage).where(ItemImage.institution_id == institution_id)
                                   .order_by(ItemImage.id.desc())))


def item_image(public_id: str, institution_id: int) -> ItemImage:
    """An image of the institution by its public id; anything else is NotFound."""
    image = db.session.scalar(select(ItemImage).where(ItemImage.public_id == public_id,
                                                      ItemImage.institution_id == institution_id))
    if image is None:
        raise NotFound()
    return image


def image_of_attempt(attempt: Attempt, question_id: str) -> ItemImage:
    """The image a hotspot item of the attempt's exam shows."""
    question = attempt_spec(attempt).question(question_id)
    if question is None or question.kind is not QuestionKind.HOTSPOT:
        raise NotFound()
    return item_image(question.image, attempt.exam.institution_id)


def image_bytes(image: ItemImage) -> bytes:
    """The plaintext of an item image."""
    from storage.models import Blob

    blob = db.session.get(Blob, image.blob_id)
    if blob is None:  # pragma: no cover - the row refers to it
        raise NotFound()
    return vault.read(blob)


def hand_in_file(attempt: Attempt, question_id: str, data: bytes, name: str, now: dt.datetime, *,
                 max_bytes: int = MAX_ANSWER_FILE) -> Answer:
    """Store a candidate's file for an upload item (one per item: a new one replaces the old) as the answer."""
    from exams.attempts import save_answer  # the same checks (open, not paused, deadline) as every answer

    if attempt.status != AttemptStatus.IN_PROGRESS:
        raise AttemptClosed(_("This attempt has ended; answers can no longer be changed."))
    question = attempt_spec(attempt).question(question_id)
    if question is None or question.kind is not QuestionKind.UPLOAD:
        raise NotFound(_("This exam has no such upload item."))
    if not data:
        raise ValidationFailed(_("The file is empty."), fields={"file": "empty"})
    if len(data) > max_bytes:
        raise ValidationFailed(_("The file is larger than %(n)s MB.", n=f"{max_bytes / 2**20:.3g}"),
                               fields={"file": "too large"})
    kind = sniff(data)
    if kind is None or (kind != "application/pdf" and image_size(data) is None):
        raise ValidationFailed(_("Hand in a PDF or an image (PNG or JPEG). This file is neither, whatever its "
                                 "name says."), fields={"file": "wrong type"})
    save_answer(attempt, question_id, None, now)  # refuses a closed, paused or late attempt before storing
    blob = vault.store("answer_file", data, content_type=kind, attempt_id=attempt.id, user_id=attempt.user_id,
                       institution_id=attempt.exam.institution_id)
    row = AnswerFile(attempt_id=attempt.id, question_id=question_id, blob_id=blob.id, content_type=kind,
                     size=len(data), name=(name or "file")[:200], sha256=hashlib.sha256(data).hexdigest(),
                     uploaded_at=now)
    db.session.add(row)
    db.session.flush()
    answer = db.session.scalars(select(Answer).where(Answer.attempt_id == attempt.id,
                                                     Answer.question_id == question_id)).one()
    answer.value = {"file": row.id, "name": row.name, "size": row.size, "type": kind}
    answer.saved_at = now
    record_event(attempt, "file_handed_in", now, question_id=question_id, size=row.size)
    db.session.commit()
    return answer


def answer_file_for_staff(staff: User, file_id: int) -> AnswerFile:
    """A handed-in file of an ended attempt of the staff member's institution; anything else is NotFound."""
    row = db.session.get(AnswerFile, file_id)
    if row is None:
        raise NotFound()
    attempt = db.session.get(Attempt, row.attempt_id)
    exam = db.session.get(Exam, attempt.exam_id) if attempt else None
    if attempt is None or exam is None or attempt.status == AttemptStatus.IN_PROGRESS:
        raise NotFound()
    if staff.role != Role.ADMIN and exam.institution_id != staff.institution_id:
        raise NotFound()
    return row


def answer_file_bytes(row: AnswerFile) -> bytes:
    """The plaintext of a handed-in file."""
    from storage.models import Blob

    blob = db.session.get(Blob, row.blob_id)
    if blob is None:  # pragma: no cover - the row refers to it
        raise NotFound()
    return vault.read(blob)
