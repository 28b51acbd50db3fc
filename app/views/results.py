"""Exam office: the results file of an exam (CSV, XLSX), API tokens, webhook endpoints and their delivery log."""

from __future__ import annotations

from flask import Blueprint, Response, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from werkzeug.wrappers import Response as BaseResponse

from accounts.models import Role
from app.access import role_required, user
from app.labels import label
from exams.catalog import get_exam_for
from kernel.clock import utcnow
from kernel.errors import DomainError, NotFound
from results import export, tokens, webhooks

bp = Blueprint("results", __name__, url_prefix="/staff")

TYPES = {"csv": "text/csv; charset=utf-8",
         "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


@bp.get("/exams/<int:exam_id>/results.<fmt>")
@role_required(Role.STAFF)
def download(exam_id: int, fmt: str) -> Response:
    """The exam's released results as a file (csv or xlsx); the download is entered in each candidate's access log."""
    if fmt not in TYPES:
        raise NotFound()
    table = export.released_results(get_exam_for(user(), exam_id))
    export.log_reading(table, user(), export.WHY_DOWNLOAD, utcnow())
    data = export.to_csv(table, label, str(get_locale() or "de")) if fmt == "csv" else export.to_xlsx(table, label)
    return Response(data, mimetype=TYPES[fmt], headers={
        "Content-Disposition": f'attachment; filename="results-exam-{exam_id}.{fmt}"'})


def _page(status: int = 200, **shown: object) -> tuple[str, int]:
    institution_id = user().institution_id or 0
    return render_template("staff/api.html", tokens=tokens.tokens_of(institution_id),
                           endpoints=webhooks.endpoints_of(institution_id), scopes=list(tokens.Scope),
                           events=list(webhooks.Event), **shown), status


@bp.get("/api")
@role_required(Role.STAFF)
def page() -> tuple[str, int]:
    """API tokens and webhook endpoints of the institution."""
    return _page()


@bp.post("/api/tokens")
@role_required(Role.STAFF)
def create_token() -> tuple[str, int]:
    """Create a token; it is shown on this answer only."""
    try:
        new = tokens.create_token(user(), request.form.get("name", ""), request.form.getlist("scopes"), utcnow())
    except DomainError as err:
        return _page(err.status, token_error=err.message)
    return _page(new_token=new)


@bp.post("/api/tokens/<int:token_id>/revoke")
@role_required(Role.STAFF)
def revoke_token(token_id: int) -> BaseResponse | str:
    """Revoke a token, after asking once."""
    row = tokens.get_token_for(user(), token_id)
    if request.form.get("confirm") != "yes":
        return render_template("confirm.html", title=_("Revoke the API token “%(name)s”?", name=row.name),
                               consequences=[_("Systems that use this token are refused from now on."),
                                             _("This cannot be undone; a new token must be created and given "
                                               "to them.")],
                               action=url_for("results.revoke_token", token_id=row.id), button=_("Revoke token"),
                               back=url_for("results.page"))
    tokens.revoke_token(row, user(), utcnow())
    return redirect(url_for("results.page"))


@bp.post("/api/webhooks")
@role_required(Role.STAFF)
def add_endpoint() -> tuple[str, int]:
    """Register a webhook endpoint; its signing secret is shown on this answer only."""
    try:
        new = webhooks.register_endpoint(user(), request.form.get("url", ""), request.form.getlist("events"),
                                         utcnow())
    except DomainError as err:
        return _page(err.status, endpoint_error=err.message, url=request.form.get("url", "")[:500])
    return _page(new_endpoint=new)


@bp.post("/api/webhooks/<int:endpoint_id>/remove")
@role_required(Role.STAFF)
def remove_endpoint(endpoint_id: int) -> BaseResponse | str:
    """Stop sending to an endpoint, after asking once."""
    row = webhooks.get_endpoint_for(user(), endpoint_id)
    if request.form.get("confirm") != "yes":
        return render_template("confirm.html", title=_("Remove the webhook endpoint?"),
                               consequences=[row.url, _("Nothing more is sent to it; deliveries waiting for a retry "
                                                        "are given up. Its delivery log stays.")],
                               action=url_for("results.remove_endpoint", endpoint_id=row.id),
                               button=_("Remove endpoint"), back=url_for("results.page"))
    webhooks.remove_endpoint(row, utcnow())
    return redirect(url_for("results.page"))


@bp.get("/api/deliveries")
@role_required(Role.STAFF)
def deliveries() -> str:
    """The delivery log: every webhook sent lately, with its status, tries and the receiver's answer."""
    return render_template("staff/deliveries.html", deliveries=webhooks.deliveries_of(user().institution_id or 0))
