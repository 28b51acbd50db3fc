"""QTI packages in and out of the exam office: export an exam, import a package as a new exam, all or nothing.

An import reads and checks the whole package first (:func:`qti.reader.read_package`); if any item cannot come
in, nothing is stored and :class:`QtiImportError` lists every item with its reason. Only then are the hotspot
images and the exam stored, in one transaction (the vault commits each image's encrypted blob as it writes it;
a storage failure half-way leaves at most unused images, never a partial exam). The new exam gets the office's
defaults for what QTI does not carry (window, pass mark, proctoring) and is edited afterwards.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select

from accounts.models import Institution, User
from exams import itemmedia
from exams.authoring import authored_spec, save_exam
from exams.models import Exam, ItemImage
from exams.questions import QuestionKind
from exams.schema import exam_from_data, schema_problems
from kernel.clock import utcnow
from kernel.db import db
from kernel.errors import ValidationFailed
from qti.reader import Problem, ReadResult, read_package
from qti.writer import ExportResult, Media, export_package

__all__ = ["QtiImportError", "export_exam_package", "import_exam_package"]

#: The largest package the office may upload.
MAX_PACKAGE = 50 * 1024 * 1024
DEFAULT_DAYS_OPEN = 30


class QtiImportError(ValidationFailed):
    """The package cannot be imported; ``problems`` names every item that cannot come in, and why."""

    code = "qti_import_failed"

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        count = len(problems)
        super().__init__(f"The QTI package has {count} problem{'s' if count != 1 else ''}:\n"
                         + "\n".join(str(p) for p in problems), fields={"package": "not importable"})


def export_exam_package(exam: Exam) -> ExportResult:
    """The exam as a QTI 3.0 content package, with its hotspot images; oral items are listed as skipped."""
    spec = authored_spec(exam)
    wanted = {q.image for q in spec.questions if q.kind is QuestionKind.HOTSPOT and q.image}
    media: dict[str, Media] = {}
    if wanted:
        for image in db.session.scalars(select(ItemImage).where(ItemImage.institution_id == exam.institution_id,
                                                                ItemImage.public_id.in_(wanted))):
            media[image.public_id] = Media(itemmedia.image_bytes(image), image.content_type, image.width,
                                           image.height)
    missing = [q for q in spec.questions if q.kind is QuestionKind.HOTSPOT and q.image not in media]
    if missing:  # authoring refuses such exams; a deleted image is the only way here
        spec = dataclasses.replace(spec, questions=tuple(q for q in spec.questions if q not in missing))
    result = export_package(spec, media)
    result.skipped += [(q.id, _("its image is no longer stored")) for q in missing]
    return result


def _exam_data(read: ReadResult, now: dt.datetime) -> dict[str, Any]:
    opens = now.replace(second=0, microsecond=0, tzinfo=dt.UTC)
    return {
        "title": (read.title or "QTI")[:200], "duration_minutes": 60, "pass_mark_percent": 60,
        "window": {"opens_at": opens.isoformat(),
                   "closes_at": (opens + dt.timedelta(days=DEFAULT_DAYS_OPEN)).isoformat()},
        "questions": read.questions,
    }


def import_exam_package(institution: Institution, staff: User | None, data: bytes) -> Exam:
    """Create an exam from a QTI 2.x or 3.0 package, all or nothing; raises QtiImportError with every problem."""
    if len(data) > MAX_PACKAGE:
        raise QtiImportError([Problem("", _("the package is larger than %(n)d MB", n=MAX_PACKAGE // 2**20))])
    read = read_package(data)
    if read.problems:
        raise QtiImportError(read.problems)
    exam_data = _exam_data(read, utcnow())
    left = schema_problems(exam_data)
    if left:  # pragma: no cover - read_package runs the same checks per item
        raise QtiImportError([Problem("", str(p)) for p in left])
    spec = exam_from_data(exam_data)
    try:
        for public_id, image in read.images.items():
            itemmedia.add_item_image(institution.id, image, public_id, staff.id if staff else None)
        return save_exam(institution, None, spec)
    except Exception:
        db.session.rollback()
        raise
