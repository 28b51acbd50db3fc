"""Exam office: grading free-text answers, releasing results, deciding appeals, revoking certificates."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from werkzeug.wrappers import Response

from accounts.models import Role
from app.access import role_required, user
from exams import itemmedia, stimuli
from exams.appeals import appeals_of, decide_appeal, get_appeal_for_staff, open_appeals
from exams.catalog import get_exam_for
from exams.certificates import certificate_for_attempt, get_certificate_for, revoke_certificate
from exams.grading import (
    get_attempt_for_staff,
    give_points,
    grading_queue,
    held_for,
    held_results,
    manual_items,
    releasable,
    release_all,
    release_result,
)
from exams.itemreview import answer_overview
from exams.trust import Action, appeal_window, holds
from kernel.clock import utcnow
from kernel.errors import ValidationFailed

bp = Blueprint("grading", __name__, url_prefix="/staff")


@bp.get("/grading")
@role_required(Role.STAFF)
def queue() -> str:
    """Attempts waiting for manual points, and open appeals."""
    return render_template("staff/grading.html", attempts=grading_queue(user()), appeals=open_appeals(user()))


@bp.get("/attempts/<int:attempt_id>")
@role_required(Role.STAFF)
def attempt(attempt_id: int) -> str:
    """One ended attempt: free-text answers to grade, result, release, appeals, certificate."""
    a = get_attempt_for_staff(user(), attempt_id)
    held = holds(a, Action.RELEASE) if a.result_released_at is None else []
    return render_template("staff/attempt.html", attempt=a, items=manual_items(a), appeals=appeals_of(a),
                           answers=answer_overview(a), stimuli=stimuli.review_of(a),
                           certificate=certificate_for_attempt(a), held=held, window=appeal_window(a), now=utcnow())


@bp.post("/attempts/<int:attempt_id>/points")
@role_required(Role.STAFF)
def points(attempt_id: int) -> Response:
    """Give points to one free-text answer."""
    a = get_attempt_for_staff(user(), attempt_id)
    levels = {k.removeprefix("level-"): v for k, v in request.form.items() if k.startswith("level-")}
    value = request.form.get("points", type=int)
    if value is None and not levels:
        raise ValidationFailed(_("Enter the points as a whole number."), fields={"points": "not a number"})
    give_points(a, user(), request.form.get("question_id", ""), value, utcnow(), levels=levels or None,
                note=request.form.get("note"))
    flash(_("Points saved."))
    return redirect(url_for("grading.attempt", attempt_id=attempt_id))


@bp.get("/answer-files/<int:file_id>")
@role_required(Role.STAFF)
def answer_file(file_id: int) -> Response:
    """A file a candidate handed in, always as a download (never shown inline in our origin)."""
    row = itemmedia.answer_file_for_staff(user(), file_id)
    name = f"answer-{row.attempt_id}-{row.question_id}.{itemmedia.extension(row.content_type)}"
    return Response(itemmedia.answer_file_bytes(row), mimetype=row.content_type, headers={
        "Content-Disposition": f'attachment; filename="{name}"', "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "sandbox; default-src 'none'", "Cache-Control": "private, no-store"})


@bp.get("/attempts/<int:attempt_id>/images/<question_id>")
@role_required(Role.STAFF)
def item_image(attempt_id: int, question_id: str) -> Response:
    """The image of a hotspot item, for the grader's and the appeal's view of the answer."""
    image = itemmedia.image_of_attempt(get_attempt_for_staff(user(), attempt_id), question_id)
    return Response(itemmedia.image_bytes(image), mimetype=image.content_type,
                    headers={"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"})


@bp.get("/attempts/<int:attempt_id>/release")
@role_required(Role.STAFF)
def confirm_release(attempt_id: int) -> str:
    """Ask once before releasing one result, saying what follows (or why it is held)."""
    a = get_attempt_for_staff(user(), attempt_id)
    found = holds(a, Action.RELEASE) if a.result_released_at is None else []
    consequences = [_("%(name)s sees the result (%(points)s of %(max)s points) on their home page.",
                      name=a.user.display_name, points=a.points, max=a.max_points)]
    if a.passed:
        consequences.append(_("The pass gets its certificate; it is mailed to the candidate when the appeal "
                              "window closes, or sooner if they ask for it (which ends their appeal window)."))
    consequences += [_("The appeal window opens: the candidate may appeal until it closes."),
                     _("A release cannot be taken back; only an upheld appeal reopens the result.")]
    return render_template("staff/confirm_release.html", title=_("Release the result of %(name)s?",
                                                                   name=a.user.display_name),
                           consequences=consequences, held=[(a, found)] if found else [],
                           action=url_for("grading.release", attempt_id=a.id),
                           back=url_for("grading.attempt", attempt_id=a.id), count=0 if found else 1)


@bp.post("/attempts/<int:attempt_id>/release")
@role_required(Role.STAFF)
def release(attempt_id: int) -> Response:
    """Release the result to the candidate (a pass gets its certificate); a held result is a 409 saying why."""
    release_result(get_attempt_for_staff(user(), attempt_id), user(), utcnow())
    flash(_("Result released."))
    return redirect(url_for("grading.attempt", attempt_id=attempt_id))


@bp.get("/exams/<int:exam_id>/release")
@role_required(Role.STAFF)
def confirm_release_exam(exam_id: int) -> str:
    """Ask once before releasing every result the chain of trust lets go, saying what follows."""
    ex = get_exam_for(user(), exam_id)
    ready = releasable(user(), ex)
    passes = sum(1 for a in ready if a.passed)
    consequences = [ngettext("%(num)d candidate sees the result on their home page.",
                             "%(num)d candidates see their results on their home page.", len(ready)),
                    ngettext("%(num)d certificate of a pass is issued; it is mailed when the appeal window closes, "
                             "or sooner if the candidate asks for it (which ends their appeal window).",
                             "%(num)d certificates of passes are issued; each is mailed when its appeal window "
                             "closes, or sooner if the candidate asks for it (which ends their appeal window).",
                             passes),
                    _("The appeal window opens for each of them."),
                    _("A release cannot be taken back; only an upheld appeal reopens a result.")]
    held = held_results(ex)
    if held:
        consequences.append(ngettext("%(num)d held result stays held (listed below, with the reason).",
                                     "%(num)d held results stay held (listed below, each with the reason).",
                                     len(held)))
    return render_template("staff/confirm_release.html", title=_("Release the results of %(exam)s?", exam=ex.title),
                           consequences=consequences, held=held, count=len(ready),
                           action=url_for("grading.release_exam", exam_id=ex.id),
                           back=url_for("staff.exam", exam_id=ex.id))


@bp.post("/exams/<int:exam_id>/release")
@role_required(Role.STAFF)
def release_exam(exam_id: int) -> Response:
    """Release every result the chain of trust lets go; the exam page lists the held ones and why."""
    report = release_all(user(), get_exam_for(user(), exam_id), utcnow())
    flash(_("%(n)d results released.", n=len(report.released)))
    if report.held:
        flash(_("%(n)d results are held; see the list below.", n=len(report.held)))
    return redirect(url_for("staff.exam", exam_id=exam_id))


@bp.get("/held")
@role_required(Role.STAFF)
def held() -> str:
    """Results held by the chain of trust across the institution, each with why and where the work waits."""
    return render_template("staff/held.html", held=held_for(user()))


@bp.get("/appeals")
@role_required(Role.STAFF)
def appeals() -> str:
    """Open appeals of the institution."""
    return render_template("staff/appeals.html", appeals=open_appeals(user()))


@bp.post("/appeals/<int:appeal_id>/decide")
@role_required(Role.STAFF)
def decide(appeal_id: int) -> Response:
    """Uphold or reject an appeal with a reason."""
    appeal = get_appeal_for_staff(user(), appeal_id)
    decide_appeal(appeal, user(), request.form.get("outcome", ""), request.form.get("reason", ""), utcnow())
    flash(_("Decision saved."))
    return redirect(url_for("grading.attempt", attempt_id=appeal.attempt_id))


@bp.post("/certificates/<public_id>/revoke")
@role_required(Role.STAFF)
def revoke(public_id: str) -> Response | tuple[str, int]:
    """Revoke a certificate with a reason, after asking once (it cannot be undone)."""
    cert = get_certificate_for(user(), public_id)
    reason = request.form.get("reason", "")
    if request.form.get("confirm") != "yes" and reason.strip() and cert.revoked_at is None:
        return render_template(
            "confirm.html", title=_("Revoke this certificate for good?"),
            consequences=[_("Anyone who checks it (on the verification page, by QR code or its signed file) is told "
                            "at once that it is revoked, with your reason: %(reason)s", reason=reason.strip()),
                          _("A revocation cannot be undone: the candidate would need a new certificate.")],
            action=url_for("grading.revoke", public_id=cert.public_id), fields={"reason": reason},
            button=_("Revoke certificate"), back=url_for("grading.attempt", attempt_id=cert.attempt_id)), 200
    revoke_certificate(cert, user(), reason, utcnow())
    flash(_("Certificate revoked."))
    return redirect(url_for("grading.attempt", attempt_id=cert.attempt_id))
