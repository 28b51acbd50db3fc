"""Exam office: QTI packages in (a new exam, all or nothing, every refused item named) and out."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from accounts.models import Role
from app.access import role_required, user
from exams.catalog import get_exam_for
from kernel.errors import NotFound, ValidationFailed
from qti.services import MAX_PACKAGE, QtiImportError, export_exam_package, import_exam_package

bp = Blueprint("qti", __name__, url_prefix="/staff")


@bp.route("/exams/import-qti", methods=["GET", "POST"])
@role_required(Role.STAFF)
def import_package() -> Response | tuple[str, int]:
    """Upload a QTI 3.0 or 2.x content package; it becomes a new exam, or nothing and every problem is shown."""
    if request.method == "GET":
        return render_template("staff/qti_import.html", problems=[]), 200
    request.max_content_length = MAX_PACKAGE + 1024 * 1024  # a package may be larger than other uploads
    upload = request.files.get("package")
    if upload is None or not upload.filename:
        raise ValidationFailed(_("Choose a QTI package (.zip)."), fields={"package": "missing"})
    with upload.stream:
        data = upload.read(MAX_PACKAGE + 1)
    staff = user()
    if staff.institution is None:
        raise NotFound()
    try:
        exam = import_exam_package(staff.institution, staff, data)
    except QtiImportError as err:
        return render_template("staff/qti_import.html", problems=err.problems, filename=upload.filename), 400
    flash(_("QTI package imported: %(n)d items. Set the window, the pass mark and the proctoring before you "
            "enrol candidates.", n=len(exam.questions)))
    return redirect(url_for("staff.exam", exam_id=exam.id))


@bp.get("/exams/<int:exam_id>/export.qti.zip")
@role_required(Role.STAFF)
def export_package(exam_id: int) -> Response:
    """Download the exam as a QTI 3.0 content package."""
    exam = get_exam_for(user(), exam_id)
    result = export_exam_package(exam)
    headers = {"Content-Disposition": f'attachment; filename="exam-{exam.id}-qti3.zip"'}
    if result.skipped:  # oral items, named for a script
        headers["X-QTI-Skipped"] = ",".join(item for item, _why in result.skipped)[:1000]
    return Response(result.package, mimetype="application/zip", headers=headers)
