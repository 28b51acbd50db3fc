"""The proctoring AI under the EU AI Act: its technical documentation (public) and the oversight figures."""

from __future__ import annotations

from flask import Blueprint, Response, abort, render_template
from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy import select

from accounts.models import Role
from app.access import role_required, same_institution, user
from exams.models import Exam
from kernel.db import db

bp = Blueprint("oversight", __name__)


@bp.get("/ai-act")
def documentation() -> str:
    """The technical documentation and instructions for use, generated from the detector registry."""
    from oversight.detectors import DETECTORS, OBSERVABLES, PROHIBITED, THRESHOLD_LABELS

    return render_template("oversight/documentation.html", detectors=DETECTORS, observables=sorted(OBSERVABLES),
                           prohibited=sorted(PROHIBITED), threshold_labels=THRESHOLD_LABELS,
                           lang=str(get_locale() or "de"))


@bp.get("/ai-act/technical-documentation.<lang>.md")
def download(lang: str) -> Response:
    """The same documentation as a Markdown download (German or English)."""
    from oversight.documentation import LANGS, technical_documentation

    if lang not in LANGS:
        abort(404)
    return Response(technical_documentation(lang), mimetype="text/markdown; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="aufsicht-ai-act-{lang}.md"'})


def _exam(exam_id: int) -> Exam:
    exam = db.session.get(Exam, exam_id)
    if exam is None:
        abort(404)
    same_institution(exam.institution_id)
    return exam


@bp.get("/staff/oversight")
@role_required(Role.STAFF)
def institution() -> str:
    """The AI oversight page of the exam office: the institution's figures per flag kind, and its exams."""
    from oversight.accuracy import figures

    me = user()
    exams = db.session.scalars(select(Exam).where(Exam.institution_id == me.institution_id)
                               .order_by(Exam.opens_at.desc())).all()
    return render_template("oversight/figures.html", rows=figures(institution_id=me.institution_id), exams=exams,
                           scope=_("your institution"), exam=None)


@bp.get("/staff/oversight/exams/<int:exam_id>")
@role_required(Role.STAFF)
def exam(exam_id: int) -> str:
    """One exam's figures per flag kind, with its PDF report."""
    from oversight.accuracy import figures

    found = _exam(exam_id)
    return render_template("oversight/figures.html", rows=figures(exam_id=found.id), exams=[], scope=found.title,
                           exam=found)


@bp.get("/staff/oversight/exams/<int:exam_id>/report.pdf")
@role_required(Role.STAFF)
def exam_report(exam_id: int) -> Response:
    """The exam's oversight report as a PDF."""
    from oversight.report import exam_report_pdf

    found = _exam(exam_id)
    return Response(exam_report_pdf(found), mimetype="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="ai-oversight-exam-{found.id}.pdf"'})


@bp.get("/admin/oversight")
@role_required(Role.ADMIN)
def platform() -> str:
    """The AI oversight page of the platform's administration: figures over every institution."""
    from oversight.accuracy import figures

    return render_template("oversight/figures.html", rows=figures(), exams=[], scope=_("the whole platform"),
                           exam=None)


@bp.get("/staff/oversight/exams/<int:exam_id>/impact-assessment.<lang>.md")
@role_required(Role.STAFF)
def impact_assessment(exam_id: int, lang: str) -> Response:
    """The exam's fundamental-rights impact assessment (Art. 27), prefilled from its settings, as Markdown."""
    from oversight.fria import impact_assessment as template

    if lang not in ("de", "en"):
        abort(404)
    found = _exam(exam_id)
    return Response(template(found, lang), mimetype="text/markdown; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="impact-assessment-exam-{found.id}-{lang}.md"'})


@bp.get("/candidate/attempts/<int:attempt_id>/flags")
@role_required(Role.CANDIDATE)
def my_flags(attempt_id: int) -> str:
    """After the exam, the candidate sees the flags of their session, what each check can notice, and the decisions."""
    from exams.attempts import get_attempt_for
    from exams.models import AttemptStatus
    from exams.trust import appeal_window
    from kernel.clock import utcnow
    from oversight.detectors import detector_for
    from proctoring.flags import flags_of

    attempt = get_attempt_for(user(), attempt_id)
    if attempt.status == AttemptStatus.IN_PROGRESS:
        abort(404)
    window = appeal_window(attempt)  # an appeal is mentioned only while one can be filed
    return render_template("oversight/my_flags.html", attempt=attempt,
                           rows=[(f, detector_for(f.kind)) for f in flags_of(attempt)],
                           appeal_until=window.closes_at if window is not None and window.is_open(utcnow()) else None)
