"""The exam office grants accommodations (extra time, silenced flag types) per candidate before the exam."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from accounts.models import Role
from app.access import role_required, user
from exams.catalog import get_exam_for
from kernel.errors import DomainError
from proctoring import accommodations as service
from proctoring.flag_labels import FLAG_KIND_LABELS

bp = Blueprint("accommodations", __name__, url_prefix="/staff/exams")


def _page(exam_id: int, error: str | None = None, status: int = 200) -> tuple[str, int]:
    ex = get_exam_for(user(), exam_id)
    return render_template("staff/accommodations.html", exam=ex, rows=service.accommodations_in(user(), ex),
                           kinds=FLAG_KIND_LABELS, error=error, form=request.form if error else {}), status


@bp.get("/<int:exam_id>/accommodations")
@role_required(Role.STAFF)
def page(exam_id: int) -> tuple[str, int]:
    """The exam's accommodations and the form to grant one."""
    return _page(exam_id)


@bp.post("/<int:exam_id>/accommodations")
@role_required(Role.STAFF)
def grant(exam_id: int) -> Response | tuple[str, int]:
    """Grant or replace one candidate's accommodation; a refusal keeps what was typed and says why."""
    ex = get_exam_for(user(), exam_id)
    f = request.form
    try:
        acc = service.set_accommodation(user(), ex, f.get("email", ""), f.get("amount", ""), f.get("unit", ""),
                                        f.getlist("kinds"), f.get("reason", ""))
    except DomainError as err:
        return _page(exam_id, err.message, err.status)
    flash(_("Accommodation saved for %(name)s.", name=acc.user.display_name))
    return redirect(url_for("accommodations.page", exam_id=ex.id))


@bp.post("/<int:exam_id>/accommodations/<int:user_id>/remove")
@role_required(Role.STAFF)
def remove(exam_id: int, user_id: int) -> Response | tuple[str, int]:
    """Withdraw a candidate's accommodation (only before the attempt starts)."""
    ex = get_exam_for(user(), exam_id)
    try:
        service.remove_accommodation(user(), ex, user_id)
    except DomainError as err:
        return _page(exam_id, err.message, err.status)
    flash(_("Accommodation withdrawn."))
    return redirect(url_for("accommodations.page", exam_id=ex.id))
