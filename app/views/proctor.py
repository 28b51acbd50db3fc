"""Proctors: the exams assigned to them."""

from __future__ import annotations

from flask import Blueprint, render_template

from accounts.models import Role
from app.access import role_required, user
from exams.catalog import exams_for

bp = Blueprint("proctor", __name__, url_prefix="/proctor")


@bp.get("/")
@role_required(Role.PROCTOR)
def home() -> str:
    """Assigned exams."""
    return render_template("proctor/home.html", exams=exams_for(user()))
