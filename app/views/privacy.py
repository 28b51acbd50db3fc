"""The candidate's privacy page (export, rectification, restriction, objection, erasure) and the
institution's privacy settings and anonymised statistics."""

from __future__ import annotations

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import logout_user
from werkzeug.wrappers import Response

from accounts.models import Role
from accounts.services import confirm_password
from app.access import role_required, user
from app.views.auth import client_address, login_limits
from kernel.clock import utcnow
from kernel.db import db
from kernel.errors import NotFound, ValidationFailed
from privacy import export as exports
from privacy import rights
from privacy.erasure import erase_account, kept_after_erasure
from privacy.inventory import record
from privacy.models import DataExport
from privacy.settings import settings_for, update_settings
from privacy.statistics import institution_statistics

bp = Blueprint("privacy", __name__)


def _page(status: int = 200, errors: dict[str, str] | None = None) -> tuple[str, int]:
    me = user()
    return render_template("privacy/account.html", me=me, profile=me.profile, exports=exports.exports_of(me),
                           changes=rights.changes_of(me), access=rights.access_log_of(me.id),
                           kept=kept_after_erasure(me.id), editable=rights.EDITABLE, errors=errors or {},
                           labels={f: str(i.what) for f, i in record("candidate_profile").fields.items()}), status


@bp.get("/account/privacy")
@role_required(Role.CANDIDATE)
def account() -> tuple[str, int]:
    """Everything the candidate can do about their data, on one page."""
    return _page()


@bp.post("/account/privacy/export")
@role_required(Role.CANDIDATE)
def request_export() -> Response:
    """Start building the ZIP in the background; the page shows its progress."""
    exports.request_export(user(), str(get_locale() or "de"), utcnow())
    flash(_("Your data export is being prepared. This page shows its progress."))
    return redirect(url_for("privacy.account"))


@bp.get("/account/privacy/exports/<int:export_id>")
@role_required(Role.CANDIDATE)
def export_status(export_id: int) -> Response:
    """Progress of one export (polled by the page)."""
    exp = db.session.get(DataExport, export_id)
    if exp is None or exp.user_id != user().id:
        raise NotFound()
    url = url_for("privacy.download", token=exp.token) if exp.status == "ready" else None
    return jsonify({"status": exp.status, "progress": exp.progress, "download": url,
                    "expires_at": exp.expires_at.isoformat()})


@bp.get("/account/privacy/download/<token>")
@role_required(Role.CANDIDATE)
def download(token: str) -> Response:
    """The ZIP, decrypted for its owner only, while the link is valid."""
    exp, reader = exports.download(token, user(), utcnow())
    # Decrypted and verified segment by segment as it goes out; a segment failing its check cuts the
    # download short (the ZIP is then visibly incomplete) rather than sending altered bytes.
    resp = Response(reader.iter_chunks(), mimetype="application/zip")
    resp.headers["Content-Length"] = str(reader.plaintext_size)
    resp.headers["Content-Disposition"] = f'attachment; filename="aufsicht-export-{exp.created_at:%Y%m%d}.zip"'
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.post("/account/privacy/profile")
@role_required(Role.CANDIDATE)
def rectify() -> Response | tuple[str, int]:
    """Correct profile data (Art. 16); each change is kept in the trail shown below the form."""
    try:
        changed = rights.rectify(user(), request.form.to_dict(), utcnow().date())
    except ValidationFailed as err:
        db.session.rollback()
        return _page(400, err.fields)
    flash(_("Your details have been corrected.") if changed else _("Nothing changed."))
    if rights.pending_fields(user()):
        flash(_("Your identity has been verified: a change of name or date of birth takes effect once the exam "
                "office approves it."))
    return redirect(url_for("privacy.account"))


@bp.post("/account/privacy/restriction")
@role_required(Role.CANDIDATE)
def restriction() -> Response:
    """Restrict processing (Art. 18) or lift the restriction."""
    on = request.form.get("restrict") == "yes"
    rights.set_restriction(user(), on, utcnow())
    flash(_("Processing of your data is restricted. The exam office sees this.") if on else
          _("The restriction has been lifted."))
    return redirect(url_for("privacy.account"))


@bp.post("/account/privacy/objection")
@role_required(Role.CANDIDATE)
def objection() -> Response:
    """Object to processing (Art. 21): recorded, and processing restricted until the exam office decides."""
    rights.object_to_processing(user(), utcnow())
    flash(_("Your objection has been recorded; processing is restricted until the exam office has decided."))
    return redirect(url_for("privacy.account"))


@bp.post("/account/privacy/erase")
@role_required(Role.CANDIDATE)
def erase() -> Response | tuple[str, int]:
    """Delete the account (Art. 17) after the password is confirmed; what must be kept was listed."""
    me = user()
    if request.form.get("confirm") != "yes" or not confirm_password(me, request.form.get("password") or "",
                                                                    client_address(), login_limits()):
        return _page(400, {"erase": _("Please confirm with your password.")})
    kept = erase_account(me, utcnow())
    logout_user()
    flash(_("Your account has been deleted."))
    return render_template("privacy/erased.html", kept=kept)  # type: ignore[return-value]


@bp.route("/staff/privacy", methods=["GET", "POST"])
@role_required(Role.STAFF)
def institution_settings() -> tuple[str, int] | Response:
    """The institution's privacy settings."""
    me = user()
    assert me.institution_id is not None  # noqa: S101 - staff belong to an institution
    errors: dict[str, str] = {}
    if request.method == "POST":
        f = request.form
        try:
            update_settings(me.institution_id, role=f.get("role", ""), recording=f.get("recording") == "on",
                            biometric_matching=f.get("biometric_matching") == "on",
                            appeal_window_days=int(f.get("appeal_window_days") or 0),
                            keep_id_images_until_exam_end=f.get("keep_id_images") == "on",
                            start_during_identity_review=f.get("start_during_identity_review") == "on",
                            review_policy=f.get("review_policy") or None)
            flash(_("Settings saved."))
            return redirect(url_for("privacy.institution_settings"))
        except ValueError:
            errors = {"appeal_window_days": _("Please enter a number of days.")}
        except ValidationFailed as err:
            errors = {k: _("Please check this value.") for k in err.fields}
    return render_template("privacy/settings.html", s=settings_for(me.institution_id), errors=errors), (
        400 if errors else 200)


@bp.get("/staff/statistics")
@role_required(Role.STAFF)
def statistics() -> str:
    """Pass rates, flag rates and review outcomes per exam, never for fewer than 5 people."""
    me = user()
    assert me.institution_id is not None  # noqa: S101
    return render_template("privacy/statistics.html", rows=institution_statistics(me.institution_id))
