"""The proctoring AI under the EU AI Act: its technical documentation (public) and the oversight figures."""

from __future__ import annotations

from flask import Blueprint, Response, abort, render_template
from flask_babel import get_locale

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
