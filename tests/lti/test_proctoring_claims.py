"""What aufsicht tells a platform in ``LtiStartAssessment`` and through Assessment Control (issue 28).

The messages are built by ``lti.proctoring`` and read back here; the real Open edX peer that checks their
signature is exercised in test_platform_interop.py.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from idcheck.models import IdCheck, IdCheckStatus
from kernel.db import db
from lti import proctoring, tool
from lti.models import LtiLink, LtiProctoring
from privacy.settings import update_settings
from proctoring.models import SystemCheck

AP = "https://purl.imsglobal.org/spec/lti-ap/claim/"


def _claims(jwt: str) -> dict[str, Any]:
    return json.loads(base64.urlsafe_b64decode(jwt.split(".")[1] + "=="))


@pytest.fixture
def proctored(make_institution: Any, make_exam: Any, make_user: Any) -> Any:
    """A platform attempt of a candidate at an exam (with or without identity check), the system check passed."""
    inst = make_institution("Uni")
    settings = tool.clean_platform_settings({
        "name": "Open edX", "issuer": "https://lms.example.org", "client_id": "c1",
        "auth_login_url": "https://lms.example.org/auth", "auth_token_url": "https://lms.example.org/token",
        "jwks_url": "https://lms.example.org/jwks.json", "deployment_ids": "1"})
    platform = tool.save_platform(inst, settings)

    def make(identity_check_required: bool, status: IdCheckStatus | None) -> LtiProctoring:
        exam = make_exam(institution=inst, identity_check_required=identity_check_required, proctoring_required=True)
        candidate = make_user("candidate", inst)
        link = LtiLink(platform_id=platform.id, exam_id=exam.id, deployment_id="1", resource_link_id=f"rl-{exam.id}")
        db.session.add(link)
        db.session.flush()
        session = LtiProctoring(link_id=link.id, user_id=candidate.id, attempt_number=1, session_data="sd",
                                start_assessment_url="https://lms.example.org/start", acs_actions=[])
        db.session.add(session)
        db.session.add(SystemCheck(user_id=candidate.id, exam_id=exam.id))
        if status is not None:
            db.session.add(IdCheck(user_id=candidate.id, exam_id=exam.id, status=status, biometric=True))
        db.session.commit()
        return session

    return inst, make


def test_verified_user_only_for_a_verified_identity(proctored: Any) -> None:
    inst, make = proctored
    verified = _claims(proctoring.start_assessment(make(True, IdCheckStatus.VERIFIED))[1])
    assert verified[AP + "verified_user"]["full_name"]

    # The exam may start while a person reviews the check, but nobody has verified the identity yet.
    update_settings(inst.id, role="processor", recording=True, biometric_matching=True, appeal_window_days=7,
                    start_during_identity_review=True)
    in_review = _claims(proctoring.start_assessment(make(True, IdCheckStatus.REVIEW))[1])
    assert AP + "verified_user" not in in_review
    no_check = _claims(proctoring.start_assessment(make(False, None))[1])
    assert AP + "verified_user" not in no_check
    # Not decided yet (a proctor still compares face and ID; a retake): no claim, whatever the state.
    for status in (IdCheckStatus.MANUAL, IdCheckStatus.RETAKE, IdCheckStatus.REJECTED):
        assert proctoring.verified_user(make(True, status)) is None
    assert proctoring.verified_user(make(True, None)) is None
