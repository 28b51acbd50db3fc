"""Exam office: item analysis of an exam's released results (linked from the exam's staff page)."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_babel import format_decimal
from flask_babel import gettext as _

from accounts.models import Role
from app.access import role_required, user
from exams.catalog import get_exam_for
from items.plots import difficulty_discrimination, score_histogram
from items.statistics import item_analysis

bp = Blueprint("items", __name__, url_prefix="/staff")


def decimal(value: float | None, digits: int = 2) -> str:
    """A number in the reader's locale ("0,67" on German pages); a dash for none."""
    if value is None:
        return "–"
    return str(format_decimal(round(value, digits), format="#,##0." + "0" * digits))


def percent(value: float | None) -> str:
    """A share (0..1) as a whole percentage in the reader's locale."""
    return "–" if value is None else f"{format_decimal(round(value * 100), format='#,##0')} %"


@bp.get("/exams/<int:exam_id>/items")
@role_required(Role.STAFF)
def analysis(exam_id: int) -> str:
    """Difficulty, discrimination, option shares, alpha and plots for the exam's released results."""
    exam = get_exam_for(user(), exam_id)
    result = item_analysis(exam)
    plots = None
    if not result.suppressed:
        plots = (score_histogram(result.histogram, _("Score distribution"), _("Share of the points"),
                                 _("Candidates")),
                 difficulty_discrimination([(f"{n}. {i.prompt[:40]}", i.difficulty or 0.0, i.discrimination,
                                             bool(i.warnings)) for n, i in enumerate(result.items, 1)
                                           if i.difficulty is not None],
                                           _("Difficulty against discrimination"), _("Difficulty (share solved)"),
                                           _("Discrimination"), decimal))
    return render_template("staff/items.html", exam=exam, result=result, plots=plots, decimal=decimal,
                           percent=percent)
