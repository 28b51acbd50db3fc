"""Per-institution privacy settings, within what the law allows."""

from __future__ import annotations

from flask import current_app
from sqlalchemy import select

from kernel.db import db
from kernel.errors import ValidationFailed
from privacy.inventory import T
from privacy.models import InstitutionSettings

ROLES = ("controller", "processor")
#: Which sessions a person must review before a result is released (and before the recording may go).
REVIEW_POLICIES = ("flagged", "all")
MAX_APPEAL_WINDOW_DAYS = 30


def settings_for(institution_id: int | None) -> InstitutionSettings:
    """The institution's settings (defaults if it never changed them; not added to the session)."""
    found = db.session.get(InstitutionSettings, institution_id) if institution_id is not None else None
    return found or InstitutionSettings(institution_id=institution_id, role="processor", recording=True,
                                        biometric_matching=True,
                                        appeal_window_days=int(current_app.config["APPEAL_WINDOW_DAYS"]),
                                        review_policy="flagged",
                                        keep_id_images_until_exam_end=bool(
                                            current_app.config.get("IDCHECK_KEEP_IMAGES_UNTIL_EXAM_END")),
                                        start_during_identity_review=False)


def appeal_window_days(institution_id: int | None) -> int:
    """Days after the result in which the institution's candidates may appeal."""
    return int(settings_for(institution_id).appeal_window_days)


def review_policy(institution_id: int | None) -> str:
    """"all": every recorded session is reviewed; "flagged" (default): only those with a flag, an identity
    doubt or a proctor's note."""
    return str(settings_for(institution_id).review_policy or "flagged")


def custom_appeal_windows() -> dict[int, list[int]]:
    """Institutions whose appeal window differs from the default, grouped by days (for the purge query)."""
    default = int(current_app.config["APPEAL_WINDOW_DAYS"])
    out: dict[int, list[int]] = {}
    for row in db.session.scalars(select(InstitutionSettings).where(
            InstitutionSettings.appeal_window_days != default)):
        out.setdefault(row.appeal_window_days, []).append(row.institution_id)
    return out


def update_settings(institution_id: int, *, role: str, recording: bool, biometric_matching: bool,
                    appeal_window_days: int, keep_id_images_until_exam_end: bool = False,
                    start_during_identity_review: bool = False,
                    review_policy: str | None = None) -> InstitutionSettings:
    """Change an institution's settings; out-of-range values are refused with the field named."""
    if role not in ROLES:
        raise ValidationFailed("role", fields={"role": "controller or processor"})
    if not 1 <= appeal_window_days <= MAX_APPEAL_WINDOW_DAYS:
        raise ValidationFailed("appeal window", fields={"appeal_window_days": f"1 to {MAX_APPEAL_WINDOW_DAYS} days"})
    if review_policy is not None and review_policy not in REVIEW_POLICIES:
        raise ValidationFailed("review policy", fields={"review_policy": "flagged or all"})
    found = db.session.get(InstitutionSettings, institution_id)
    if found is None:
        found = InstitutionSettings(institution_id=institution_id)
        db.session.add(found)
    found.role, found.recording, found.biometric_matching = role, recording, biometric_matching
    found.appeal_window_days = appeal_window_days
    found.keep_id_images_until_exam_end = keep_id_images_until_exam_end
    found.start_during_identity_review = start_during_identity_review
    if review_policy is not None:
        found.review_policy = review_policy
    elif found.review_policy is None:
        found.review_policy = "flagged"
    db.session.commit()
    return found


def role_statement(institution_id: int | None, lang: str | None = None) -> T | str:
    """Who is responsible for the data, as the notice and the export say it."""
    from accounts.models import Institution

    inst = db.session.get(Institution, institution_id) if institution_id is not None else None
    name = inst.name if inst else "aufsicht"
    if settings_for(institution_id).role == "controller":
        text = T(f"Verantwortlicher im Sinne der DSGVO ist der Betreiber von aufsicht; {name} nutzt die Plattform "
                 "für seine Prüfungen.",
                 f"The controller under the GDPR is the operator of aufsicht; {name} uses the platform for its "
                 "exams.")
    else:
        text = T(f"Verantwortlicher im Sinne der DSGVO ist {name}; aufsicht verarbeitet Ihre Daten in dessen "
                 "Auftrag (Art. 28 DSGVO).",
                 f"The controller under the GDPR is {name}; aufsicht processes your data on its behalf "
                 "(Art. 28 GDPR).")
    if lang is None:
        return text
    return text.de if lang == "de" else text.en
