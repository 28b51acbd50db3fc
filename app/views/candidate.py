"""Candidates: their home page, profile and consents."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from accounts.models import Role
from accounts.services import consent_state, current_consent, record_consent
from app.access import role_required, user
from exams.appeals import decided_appeals_of
from exams.catalog import exams_for
from exams.certificates import get_certificate_for, reissuable_certificates, reissue_on_request
from kernel.clock import utcnow
from privacy.rights import withdraw_biometric_consent

bp = Blueprint("candidate", __name__, url_prefix="/candidate")


@bp.get("/")
@role_required(Role.CANDIDATE)
def home() -> str:
    """Profile summary and the institution's exams."""
    me = user()
    from exams.rosters import exams_of_candidate
    from storage.retention import receipts_for

    return render_template("candidate/home.html", me=me, profile=me.profile, exams=exams_for(me),
                           mine=exams_of_candidate(me, utcnow()),
                           biometrics=current_consent(me, "biometrics"),
                           biometrics_state=consent_state(me, "biometrics"), receipts=receipts_for(user_id=me.id),
                           appeals=decided_appeals_of(me), reissuable=reissuable_certificates(me))


@bp.post("/consent/biometrics")
@role_required(Role.CANDIDATE)
def biometrics_consent() -> Response:
    """Give or withdraw consent to biometric processing (the non-biometric path stays open)."""
    granted = request.form.get("granted") == "yes"
    was_granted = consent_state(user(), "biometrics") == "granted"
    if granted:
        record_consent(user(), "biometrics", current_app.config["PRIVACY_NOTICE_VERSION"], True)
    else:  # face templates and selfies are destroyed at once
        withdraw_biometric_consent(user(), utcnow())
    if granted or not was_granted:  # declining a consent never given is no withdrawal
        flash(_("Your choice has been saved.") if granted else
              _("Your choice has been saved. A proctor will compare your face with your ID during the exam."))
    else:
        flash(_("Consent withdrawn. A proctor will compare your face with your ID during the exam instead."))
    return redirect(url_for("candidate.home"))


@bp.post("/certificates/<public_id>/reissue")
@role_required(Role.CANDIDATE)
def reissue(public_id: str) -> Response:
    """Reissue a certificate with the corrected (approved) name or birth date, on the holder's request."""
    reissue_on_request(get_certificate_for(user(), public_id), user(), utcnow())
    flash(_("Your certificate has been reissued with your corrected details. The old one is revoked."))
    return redirect(url_for("candidate.home"))
