"""Staff authoring of exams: create or replace an exam from its YAML/JSON text, export it again.

The exam file (see exams/examples/demo-exam.yaml) is the exchange format: uploads and ``flask exams
import`` read it, export writes it, and it can be edited as text. The form-based editor
(``exams.editor``) builds the same :class:`ExamSpec` and saves it with :func:`save_exam`. Every problem
is reported with its line. Proctors are matched by email within the exam's institution.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence

from flask_babel import gettext as _
from sqlalchemy import func, select

from accounts.models import Institution, Role, User
from exams.attempts import exam_spec
from exams.models import Attempt, Exam, ItemImage, ItemMedia
from exams.questions import ExamSpec
from exams.schema import ExamImportError, Format, ImportProblem, dump_exam, exam_to_data, load_exam
from kernel.db import db
from kernel.errors import Conflict

TEMPLATE = """\
title: "Neue Prüfung"
description: ""
duration_minutes: 30
window:
  opens_at: "2026-12-01T08:00:00+01:00"
  closes_at: "2026-12-31T20:00:00+01:00"
pass_mark_percent: 60
identity_check_required: true
proctoring_required: true
shuffle_questions: false
shuffle_options: false
screen_capture: false
room_scan_required: false
seb_required: false
second_camera: false
proctors: []
questions:
  - id: q1
    type: single_choice
    prompt: "Frage?"
    points: 1
    options:
      - {id: a, text: "Richtig", correct: true}
      - {id: b, text: "Falsch"}
"""


def _naive_utc(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.UTC).replace(tzinfo=None) if moment.tzinfo else moment


def _line_of(text: str, needle: str) -> int:
    for number, line in enumerate(text.splitlines(), start=1):
        if needle.lower() in line.lower():
            return number
    return 1


def _proctors(institution: Institution, spec: ExamSpec, text: str) -> list[User]:
    found = []
    problems = []
    for index, email in enumerate(spec.proctors):
        user = db.session.scalar(select(User).where(func.lower(User.email) == email.lower(),
                                                    User.institution_id == institution.id,
                                                    User.role == Role.PROCTOR))
        if user is None:
            problems.append(ImportProblem(_line_of(text, email), f"proctors[{index}]",
                                          f"no proctor with the email {email} in this institution"))
        else:
            found.append(user)
    problems += _missing_images(institution, spec, text)
    problems += _missing_media(institution, spec, text)
    if problems:
        raise ExamImportError(problems)
    return found


def _missing_images(institution: Institution, spec: ExamSpec, text: str) -> list[ImportProblem]:
    """Hotspot items must name an image the institution stored (exams.itemmedia)."""
    wanted = {q.image for q in spec.items if q.image}
    have = set(db.session.scalars(select(ItemImage.public_id).where(
        ItemImage.institution_id == institution.id, ItemImage.public_id.in_(wanted)))) if wanted else set()
    return [ImportProblem(_line_of(text, q.image), f"{where}[{i}].image",
                          f"no image {q.image} stored for this institution (upload it on the exam editor's page)")
            for where, items in (("questions", spec.questions), ("pool", spec.pool))
            for i, q in enumerate(items) if q.image and q.image not in have]


def _missing_media(institution: Institution, spec: ExamSpec, text: str) -> list[ImportProblem]:
    """A stimulus (``media``) must name an image, audio or video the institution stored; only audio and video
    can have a play limit."""
    wanted = {q.media.id for q in spec.questions if q.media is not None}
    if not wanted:
        return []
    sounds = set(db.session.scalars(select(ItemMedia.public_id).where(
        ItemMedia.institution_id == institution.id, ItemMedia.public_id.in_(wanted))))
    images = set(db.session.scalars(select(ItemImage.public_id).where(
        ItemImage.institution_id == institution.id, ItemImage.public_id.in_(wanted))))
    problems = []
    for i, q in enumerate(spec.questions):
        if q.media is None:
            continue
        if q.media.id not in sounds | images:
            problems.append(ImportProblem(_line_of(text, q.media.id), f"questions[{i}].media.id",
                                          f"no image, audio or video {q.media.id} stored for this institution "
                                          "(upload it on the exam editor's page)"))
        elif q.media.plays is not None and q.media.id in images:
            problems.append(ImportProblem(_line_of(text, q.media.id), f"questions[{i}].media.plays",
                                          "an image has no play limit; plays is for audio and video"))
    return problems


def _apply(exam: Exam, spec: ExamSpec, proctors: Sequence[User]) -> None:
    exam.title = spec.title
    exam.description = spec.description
    exam.duration_minutes = spec.duration_minutes
    exam.opens_at = _naive_utc(spec.window.opens_at)
    exam.closes_at = _naive_utc(spec.window.closes_at)
    exam.pass_mark_percent = spec.pass_mark_percent
    exam.minimum_age = spec.minimum_age
    exam.identity_check_required = spec.identity_check_required
    exam.proctoring_required = spec.proctoring_required
    exam.shuffle_questions = spec.shuffle_questions
    exam.shuffle_options = spec.shuffle_options
    exam.screen_capture = spec.screen_capture
    exam.room_scan_required = spec.room_scan_required
    exam.seb_required = spec.seb_required
    exam.second_camera = spec.second_camera
    exam.seb_browser_exam_keys = list(spec.seb_browser_exam_keys)
    data = exam_to_data(spec)
    exam.questions = data["questions"]
    exam.pool, exam.draws = data.get("pool", []), data.get("draw", [])
    exam.proctors = list(proctors)


def pool_in_file_only() -> str:
    """Why the form-based editor does not change an exam with a pool."""
    return _("This exam draws items from a pool, which the form does not show; change it in its exam file.")


def has_attempts(exam: Exam) -> bool:
    """True once any candidate has started the exam (it can then no longer be edited)."""
    return db.session.scalar(select(Attempt.id).where(Attempt.exam_id == exam.id).limit(1)) is not None


def create_exam(institution: Institution, text: str, fmt: Format) -> Exam:
    """Create an exam of ``institution`` from exam-file text; raises ExamImportError with every problem."""
    spec = load_exam(text, fmt)
    exam = Exam(institution=institution)
    _apply(exam, spec, _proctors(institution, spec, text))
    db.session.add(exam)
    db.session.commit()
    return exam


def update_exam(exam: Exam, text: str, fmt: Format) -> Exam:
    """Replace the exam's settings and questions from exam-file text (refused once attempts exist)."""
    spec = load_exam(text, fmt)
    if has_attempts(exam):
        raise Conflict(_("Candidates have already started this exam; it can no longer be changed."))
    _apply(exam, spec, _proctors(exam.institution, spec, text))
    db.session.commit()
    return exam


def save_exam(institution: Institution, exam: Exam | None, spec: ExamSpec) -> Exam:
    """Create (``exam`` None) or replace an exam from a checked spec, e.g. the editor's form.

    Proctors are matched by email in the institution; refused once candidates have started the exam.
    """
    if exam is not None and has_attempts(exam):
        raise Conflict(_("Candidates have already started this exam; it can no longer be changed."))
    if exam is not None and exam.pool and not spec.pool:  # the form has no pool: saving it would drop the pool
        raise Conflict(pool_in_file_only())
    proctors = _proctors(institution, spec, "")
    if exam is None:
        exam = Exam(institution=institution)
        db.session.add(exam)
    _apply(exam, spec, proctors)
    db.session.commit()
    return exam


def authored_spec(exam: Exam) -> ExamSpec:
    """The exam as authored, its proctors by email (what the editor and the export start from)."""
    return dataclasses.replace(exam_spec(exam), proctors=tuple(p.email for p in exam.proctors))


def export_exam(exam: Exam, fmt: Format) -> str:
    """The exam as a YAML or JSON exam file, proctors by email."""
    return dump_exam(authored_spec(exam), fmt)
