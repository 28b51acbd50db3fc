"""What aufsicht tells a platform in ``LtiStartAssessment`` and through Assessment Control (issue 28).

The messages are built by ``lti.proctoring`` and read back here; the real Open edX peer that checks their
signature is exercised in test_platform_interop.py. ``LtiStartAssessment`` is made only while the supervision
window's camera session is live and recording: a camera (an aiortc peer) streams through the real endpoint.
"""

from __future__ import annotations

import base64
import contextlib
import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from idcheck.models import IdCheck, IdCheckStatus
from kernel.clock import utcnow
from kernel.db import db
from kernel.errors import Conflict
from lti import proctoring, tool
from lti.models import LtiLink, LtiProctoring
from privacy.settings import update_settings
from proctoring.models import SystemCheck
from tests.browser import live_server  # noqa: F401  (fixture)
from tests.conftest import PASSWORD
from tests.lti_peer import camera, wait_live

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


@contextlib.contextmanager
def _supervised(session: LtiProctoring, base: str) -> Iterator[None]:
    """The candidate's supervision window live: its attempt opened, a camera streaming through the real endpoint."""
    proctoring.open_supervision(session, utcnow())
    browser = requests.Session()
    assert browser.post(f"{base}/login", data={"email": session.user.email, "password": PASSWORD},
                        timeout=20).status_code == 200
    with camera(browser, base, session.attempt_id):
        assert wait_live(browser, base, session.id)
        yield


def test_start_assessment_is_refused_until_the_supervision_is_live(proctored: Any, live_server: str,  # noqa: F811
                                                                   app: Any) -> None:
    _inst, make = proctored
    session = make(False, None)
    assert all(c.passed for c in proctoring.checks(session))
    with app.test_request_context(), pytest.raises(Conflict, match="noch nicht verbunden"):
        proctoring.start_assessment(session)  # no supervision window yet
    attempt = proctoring.open_supervision(session, utcnow())
    assert attempt.layout["questions"] == [] and session.attempt_id == attempt.id
    with app.test_request_context(), pytest.raises(Conflict, match="noch nicht verbunden"):
        proctoring.start_assessment(session)  # the window is open, but no camera reached the engine
    assert session.status == "checks" and session.assessment_started_at is None
    with _supervised(session, live_server):
        url, _jwt = proctoring.start_assessment(session)
    assert url == "https://lms.example.org/start" and session.status == "assessment"


def test_verified_user_only_for_a_verified_identity(proctored: Any, live_server: str) -> None:  # noqa: F811
    inst, make = proctored
    session = make(True, IdCheckStatus.VERIFIED)
    with _supervised(session, live_server):
        verified = _claims(proctoring.start_assessment(session)[1])
    assert verified[AP + "verified_user"]["full_name"]

    # The exam may start while a person reviews the check, but nobody has verified the identity yet.
    update_settings(inst.id, role="processor", recording=True, biometric_matching=True, appeal_window_days=7,
                    start_during_identity_review=True)
    session = make(True, IdCheckStatus.REVIEW)
    with _supervised(session, live_server):
        in_review = _claims(proctoring.start_assessment(session)[1])
    assert AP + "verified_user" not in in_review
    assert proctoring.verified_user(make(False, None)) is None  # an exam without identity check
    # Not decided yet (a proctor still compares face and ID; a retake): no claim, whatever the state.
    for status in (IdCheckStatus.MANUAL, IdCheckStatus.RETAKE, IdCheckStatus.REJECTED):
        assert proctoring.verified_user(make(True, status)) is None
    assert proctoring.verified_user(make(True, None)) is None
