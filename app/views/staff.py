"""Institution staff: their exams and proctors."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select
from werkzeug.wrappers import Response

from accounts.models import Institution, Role, User
from accounts.services import create_user
from app.access import role_required, user
from app.ids import id_arg
from app.streaming import byte_range, stream_inline
from exams import editor, itemmedia, stimuli
from exams.authoring import (
    TEMPLATE,
    authored_spec,
    create_exam,
    export_exam,
    has_attempts,
    pool_in_file_only,
    save_exam,
    update_exam,
)
from exams.catalog import assign_proctor, exams_for, get_exam_for
from exams.editor import ExamForm, PreviewQuestion
from exams.grading import exam_attempts, held_for, held_results
from exams.models import Exam
from exams.overview import overview
from exams.schema import ExamImportError, Format, ImportProblem, format_for_filename
from kernel.clock import utcnow
from kernel.db import db
from kernel.errors import DomainError, NotFound, ValidationFailed

bp = Blueprint("staff", __name__, url_prefix="/staff")


@bp.get("/")
@role_required(Role.STAFF)
def home() -> str:
    """The institution's exams and proctors."""
    me = user()
    proctors = db.session.scalars(
        select(User).where(User.role == Role.PROCTOR, User.institution_id == me.institution_id).order_by(User.email)
    ).all()
    from storage.retention import receipts_for

    restricted = db.session.scalars(
        select(User).where(User.institution_id == me.institution_id, User.restricted_at.is_not(None),
                           User.erased_at.is_(None)).order_by(User.restricted_at)).all()
    from exams.evidence import backstop_at
    from idcheck.manual import waiting_count
    from idcheck.verification import review_queue
    from privacy.rights import requested_changes
    from proctoring.review import review_queue as sessions_to_review

    now = utcnow()
    to_review = [(row, backstop_at(row.attempt)) for row in sessions_to_review(me, now)]
    to_review.sort(key=lambda pair: pair[1] or now)  # the nearest backstop first
    return render_template("staff/home.html", exams=overview(exams_for(me), now), proctors=proctors,
                           restricted=restricted, held=held_for(me), to_review=to_review, now=now,
                           receipts=receipts_for(institution_id=me.institution_id)[:100],
                           identity_review=len(review_queue(me)), identity_manual=waiting_count(me, now),
                           corrections_count=len(requested_changes(me)))


@bp.get("/exams/<int:exam_id>")
@role_required(Role.STAFF)
def exam(exam_id: int) -> str:
    """One exam of the institution."""
    me = user()
    ex = get_exam_for(me, exam_id)
    proctors = db.session.scalars(
        select(User).where(User.role == Role.PROCTOR, User.institution_id == me.institution_id)
    ).all()
    seb = None
    if ex.seb_required:
        from app.views.lockdown import base_url, seb_links
        from exams.lockdown import exam_config_key

        seb = {**seb_links(ex), "config_key": exam_config_key(ex, base_url())}
    return render_template("staff/exam.html", exam=ex, proctors=proctors, attempts=exam_attempts(ex),
                           locked=has_attempts(ex), held=held_results(ex), seb=seb)


@bp.post("/exams/<int:exam_id>/proctors")
@role_required(Role.STAFF)
def add_proctor(exam_id: int) -> Response:
    """Assign a proctor to an exam."""
    me = user()
    ex = get_exam_for(me, exam_id)
    proctor = db.session.get(User, request.form.get("user_id", type=id_arg) or 0)
    if proctor is None:
        raise NotFound()
    assign_proctor(ex, proctor)
    flash(_("Proctor assigned."))
    return redirect(url_for("staff.exam", exam_id=exam_id))


@bp.post("/proctors")
@role_required(Role.STAFF)
def new_proctor() -> Response:
    """Create a proctor account in the staff member's institution."""
    me = user()
    create_user(request.form["email"], request.form["password"], Role.PROCTOR, request.form.get("name", ""),
                me.institution)
    flash(_("Account created."))
    return redirect(url_for("staff.home"))


# --- authoring in the form-based editor -------------------------------------------------------------------------


def _zone() -> ZoneInfo:
    """The institution's time zone, in which the editor's times are typed (Europe/Berlin unless set)."""
    return ZoneInfo(getattr(_institution(), "time_zone", None) or "Europe/Berlin")


def _proctor_emails() -> list[str]:
    return list(db.session.scalars(select(User.email).where(
        User.role == Role.PROCTOR, User.institution_id == user().institution_id).order_by(User.email)))


def _compose(exam: Exam | None, form: ExamForm, preview_of: list[PreviewQuestion] | None = None,
             status: int = 200) -> tuple[str, int]:
    return render_template("staff/exam_form.html", exam=exam, form=form, preview=preview_of,
                           proctors=_proctor_emails(), kinds=editor.KINDS, zone=str(_zone()),
                           images=itemmedia.images_of(user().institution_id or 0), **_media_lists()), status


def _media_lists() -> dict[str, Any]:
    """The institution's audio and video, and the kind of every stimulus it can name (for the preview)."""
    inst = user().institution_id or 0
    media = stimuli.media_of(inst)
    kinds = {m.public_id: stimuli.kind_of(m.content_type) for m in media}
    kinds.update({im.public_id: "image" for im in itemmedia.images_of(inst)})
    return {"media": media, "media_kinds": kinds}


def _compose_post(exam: Exam | None) -> Response | tuple[str, int]:
    """One press of a button in the editor: edit the form, preview it, or save it."""
    form = editor.read_form(lambda name: request.form.get(name, ""), request.form.getlist)
    action = request.form.get("action", "save")
    if editor.apply_action(form, action):
        return _compose(exam, form)
    spec = editor.check(form, _zone(), _proctor_emails())
    if spec is None:
        return _compose(exam, form, status=400)
    if action == "preview":
        return _compose(exam, form, editor.preview(spec))
    try:
        saved = save_exam(_institution(), exam, spec)
    except DomainError as err:
        form.errors["form"] = err.message
        return _compose(exam, form, status=err.status)
    flash(_("Exam saved."))
    return redirect(url_for("staff.exam", exam_id=saved.id))


@bp.route("/exams/compose", methods=["GET", "POST"])
@role_required(Role.STAFF)
def compose_exam() -> Response | tuple[str, int]:
    """Write a new exam in the form-based editor (questions of every type, preview, a message per field)."""
    if request.method == "GET":
        return _compose(None, editor.blank_form(_zone(), utcnow()))
    return _compose_post(None)


@bp.route("/exams/<int:exam_id>/compose", methods=["GET", "POST"])
@role_required(Role.STAFF)
def compose_edit(exam_id: int) -> Response | tuple[str, int]:
    """Change an exam in the form-based editor (refused once candidates have started it)."""
    ex = get_exam_for(user(), exam_id)
    if ex.pool:
        flash(pool_in_file_only())
        return redirect(url_for("staff.edit_exam", exam_id=ex.id))
    if request.method == "GET":
        return _compose(ex, editor.form_from_spec(authored_spec(ex), _zone()))
    return _compose_post(ex)


# --- authoring: the exam file (YAML/JSON) as text --------------------------------------------------------------


def _source() -> tuple[str, Format]:
    """The exam text from an uploaded file, else from the textarea, with its format."""
    upload = request.files.get("file")
    if upload is not None and upload.filename:
        fmt = format_for_filename(upload.filename)
        try:
            return upload.read().decode("utf-8"), fmt
        except UnicodeDecodeError:
            raise ValidationFailed(_("The file is not UTF-8 text."), fields={"file": "not UTF-8"}) from None
    fmt_name = request.form.get("format", "yaml")
    if fmt_name not in ("yaml", "json"):
        raise ValidationFailed(_("Choose YAML or JSON."), fields={"format": "invalid"})
    source = request.form.get("source", "")
    if not source.strip():
        raise ValidationFailed(_("Enter the exam or upload a file."), fields={"source": "missing"})
    return source, "json" if fmt_name == "json" else "yaml"


def _editor(exam: Exam | None, source: str, fmt: str, problems: list[ImportProblem] | None = None,
            error: str | None = None, status: int = 200) -> tuple[str, int]:
    return render_template("staff/exam_edit.html", exam=exam, source=source, fmt=fmt, problems=problems or [],
                           error=error, images=itemmedia.images_of(user().institution_id or 0),
                           **_media_lists()), status


@bp.post("/item-images")
@role_required(Role.STAFF)
def upload_item_image() -> Response:
    """Store an image for hotspot items (PNG or JPEG); the page shows the id an item names it by."""
    upload = request.files.get("image")
    if upload is None:
        raise ValidationFailed(_("Choose an image."), fields={"image": "missing"})
    with upload.stream:  # a large upload is spooled to a temporary file: closed at once
        data = upload.read(itemmedia.MAX_ITEM_IMAGE + 1)
    image = itemmedia.store_item_image(user(), data)
    flash(_("Image stored. Items name it as image: %(id)s", id=image.public_id))
    back = request.form.get("back", "")
    return redirect(back if back.startswith("/staff/") and "//" not in back else url_for("staff.new_exam"))


@bp.get("/item-images/<image_id>")
@role_required(Role.STAFF)
def item_image(image_id: str) -> Response:
    """An item image of the staff member's institution (``image_id``: its public id)."""
    image = itemmedia.item_image(image_id, user().institution_id or 0)
    return Response(itemmedia.image_bytes(image), mimetype=image.content_type,
                    headers={"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"})


@bp.post("/item-media")
@role_required(Role.STAFF)
def upload_item_media() -> Response:
    """Store audio or video for items (type by content); the page shows the id an item names it by."""
    upload = request.files.get("media")
    if upload is None:
        raise ValidationFailed(_("Choose an audio or video file."), fields={"media": "missing"})
    with upload.stream:  # a large upload is spooled to a temporary file: closed at once
        data = upload.read(stimuli.MAX_ITEM_MEDIA + 1)
    media = stimuli.store_item_media(user(), data)
    flash(_("Stored. Items name it as media: {id: %(id)s, alt: …}", id=media.public_id))
    back = request.form.get("back", "")
    return redirect(back if back.startswith("/staff/") and "//" not in back else url_for("staff.new_exam"))


@bp.get("/item-media/<media_id>")
@role_required(Role.STAFF)
def item_media(media_id: str) -> Response:
    """An image, audio or video of the staff member's institution by its public id, with ranges for seeking
    (staff may hear it any time; candidates only in their running attempt)."""
    found = stimuli.stimulus_file(media_id, user().institution_id or 0)
    reader = stimuli.open_file(found)
    start, stop, partial = byte_range(request.range, reader.plaintext_size)
    return stream_inline(reader, found.content_type, start, stop, partial)


@bp.route("/exams/new", methods=["GET", "POST"])
@role_required(Role.STAFF)
def new_exam() -> Response | tuple[str, int]:
    """Create an exam from the exam file typed or uploaded."""
    if request.method == "GET":
        return _editor(None, TEMPLATE, "yaml")
    source, fmt = request.form.get("source", ""), request.form.get("format", "yaml")
    try:
        source, fmt = _source()
        ex = create_exam(_institution(), source, fmt)
    except ExamImportError as err:
        return _editor(None, source, fmt, err.problems, status=400)
    except DomainError as err:
        return _editor(None, source, fmt, error=err.message, status=err.status)
    flash(_("Exam saved."))
    return redirect(url_for("staff.exam", exam_id=ex.id))


@bp.route("/exams/<int:exam_id>/edit", methods=["GET", "POST"])
@role_required(Role.STAFF)
def edit_exam(exam_id: int) -> Response | tuple[str, int]:
    """Edit the exam as its exam file; every problem is shown with its line."""
    ex = get_exam_for(user(), exam_id)
    if request.method == "GET":
        return _editor(ex, export_exam(ex, "yaml"), "yaml")
    source, fmt = request.form.get("source", ""), request.form.get("format", "yaml")
    try:
        source, fmt = _source()
        update_exam(ex, source, fmt)
    except ExamImportError as err:
        return _editor(ex, source, fmt, err.problems, status=400)
    except DomainError as err:
        return _editor(ex, source, fmt, error=err.message, status=err.status)
    flash(_("Exam saved."))
    return redirect(url_for("staff.exam", exam_id=ex.id))


@bp.get("/exams/<int:exam_id>/export")
@role_required(Role.STAFF)
def export(exam_id: int) -> Response:
    """Download the exam as a YAML or JSON exam file."""
    ex = get_exam_for(user(), exam_id)
    fmt: Format = "json" if request.args.get("format") == "json" else "yaml"
    mimetype = "application/json" if fmt == "json" else "application/yaml"
    return Response(export_exam(ex, fmt), mimetype=mimetype,
                    headers={"Content-Disposition": f'attachment; filename="exam-{ex.id}.{fmt}"'})


def _institution() -> Institution:
    inst = user().institution
    if inst is None:
        raise NotFound()
    return inst


@bp.get("/corrections")
@role_required(Role.STAFF)
def corrections() -> str:
    """Requested changes of name or birth date after a verified identity, waiting for the exam office."""
    from privacy.rights import requested_changes

    return render_template("staff/corrections.html", changes=requested_changes(user()))


@bp.post("/corrections/<int:change_id>")
@role_required(Role.STAFF)
def decide_correction(change_id: int) -> Response:
    """Approve or refuse one requested change."""
    from kernel.clock import utcnow
    from privacy.rights import decide_change

    approved = request.form.get("decision") == "approve"
    decide_change(user(), change_id, approved, utcnow())
    flash(_("Change approved.") if approved else _("Change refused."))
    return redirect(url_for("staff.corrections"))
