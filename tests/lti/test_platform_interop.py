"""aufsicht as an LTI 1.3 tool against a real platform on loopback (tests/lti_peer.py says which and why).

Against the real peer: the login initiation and every launch (Open edX's ``LtiAdvantageConsumer`` and
``LtiProctoringConsumer`` make and sign them), the deep linking answer (Open edX checks our signature through our
key set URL and reads the content item), the token endpoint (Open edX checks our client assertion), the roster
and the score (lti1p3platform's NRPS and AGS handlers check the token and scope), ``LtiStartAssessment`` (Open
edX checks signature, ``session_data``, attempt and resource link) and ``LtiEndAssessment``. The Assessment
Control Service endpoint is the test platform's own (neither package implements one); it checks the bearer
token through Open edX's ``check_token``. The identity and system checks are set as passed in the database, as
other proctoring tests do; their own flows are tested in tests/idcheck and tests/proctoring.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import pytest
import requests
from joserfc.jwk import RSAKey
from sqlalchemy import select

from accounts.models import LoginEvent
from exams.models import Attempt, AttemptEvent, AttemptStatus
from idcheck.models import IdCheck, IdCheckStatus
from kernel.clock import clock
from kernel.db import db
from lti import tool
from lti.models import LtiEnrolment, LtiIdentity, LtiLink, LtiPlatform, LtiProctoring
from proctoring.models import SystemCheck
from tests.browser import live_server  # noqa: F401  (fixture)
from tests.conftest import login
from tests.lti_peer import (
    CLIENT_ID,
    DEPLOYMENT_ID,
    RESOURCE_LINK,
    Platform,
    camera,
    form_of,
    launch,
    post_form,
    start_platform,
    wait_live,
)

NOT_LIVE = "Das Aufsichtsfenster ist noch nicht verbunden"  # the refusal, in the default language (German)
LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"
MEMBERS = [
    {"user_id": "student-1", "roles": [LEARNER], "name": "Lena Schmidt", "email": "lena@uni.example"},
    {"user_id": "student-2", "roles": [LEARNER], "name": "Jonas Weber", "given_name": "Jonas",
     "family_name": "Weber"},
    {"user_id": "teacher-1", "roles": [INSTRUCTOR], "name": "Prof. Kern"},
    {"user_id": "student-3", "roles": [LEARNER], "name": "Gone Away", "status": "Inactive"},
]
PROFILE = {"salutation": "ms", "first_name": "Lena", "last_name": "Schmidt", "date_of_birth": "1998-04-03",
           "place_of_birth": "Ulm", "id_document_number": "T22000129", "street": "Bahnhofstraße 3",
           "postal_code": "89073", "city": "Ulm", "country": "DE", "phone": "0731 123456", "privacy": "yes"}


@pytest.fixture
def lms(live_server: str, tmp_path: Path, make_institution: Any) -> Any:  # noqa: F811
    """The platform running and registered with the tool (as the exam office does on the settings page)."""
    inst = make_institution("Uni Beispiel")
    with start_platform(tmp_path, live_server, MEMBERS) as platform:
        settings = tool.clean_platform_settings({
            "name": "Open edX Uni", "issuer": platform.base, "client_id": CLIENT_ID,
            "auth_login_url": f"{platform.base}/auth", "auth_token_url": f"{platform.base}/token",
            "jwks_url": f"{platform.base}/jwks.json", "deployment_ids": DEPLOYMENT_ID})
        registration = tool.save_platform(inst, settings)
        yield inst, platform, registration, live_server


def _deep_link(platform: Platform, exam_id: int) -> dict[str, Any]:
    """A teacher adds the exam to the course through deep linking; returns the content item the platform kept."""
    teacher = requests.Session()
    picker = launch(teacher, platform, kind="deeplink", user="teacher-1", role="instructor", name="Prof. Kern")
    assert picker.status_code == 200 and 'id="lti-pick"' in picker.text, picker.text[:1500]
    action, fields = form_of(picker.text)
    answer = teacher.post(urljoin(picker.url, action), data={**fields, "exam_id": str(exam_id)}, timeout=20)
    assert answer.status_code == 200 and "data-autopost" in answer.text, answer.text[:1500]
    assert f"form-action 'self' {platform.base}" in answer.headers["Content-Security-Policy"]
    assert answer.headers["Content-Type"].startswith("text/html")  # a browser posts it (not shown as text)
    saved = post_form(teacher, answer)
    assert saved.status_code == 200 and "Content saved" in saved.text, saved.text
    account = teacher.get(urljoin(picker.url, "/account/security"), allow_redirects=False, timeout=20)
    assert account.status_code == 302 and "/login" in account.headers["Location"]  # teachers are not logged in
    return platform.state()["content_items"][-1]


def test_deep_link_launch_roster_and_grades(lms, make_exam, make_user, app):
    inst, platform, _registration, base = lms
    exam = make_exam(institution=inst, title="Grundlagen Recht", identity_check_required=False,
                     proctoring_required=False)
    make_exam(title="Other institution's exam")  # never offered to this platform's teachers

    item = _deep_link(platform, exam.id)
    assert item["type"] == "ltiResourceLink" and item["title"] == "Grundlagen Recht"
    assert item["custom"] == {"aufsicht_exam": str(exam.id)} and item["url"] == f"{base}/lti/launch"
    assert item["lineItem"]["scoreMaximum"] == 100

    # A student opens the item: an account for (platform, sub), enrolled, logged in, asked for the profile once.
    student = requests.Session()
    landed = launch(student, platform, kind="resource", user="student-1", role="student", name="Lena Schmidt",
                    email="lena@uni.example")
    assert landed.status_code == 200 and landed.url.endswith("/candidate/profile"), landed.url
    identity = db.session.scalar(select(LtiIdentity).where(LtiIdentity.subject == "student-1"))
    assert identity is not None and identity.user.display_name == "Lena Schmidt"
    assert identity.user.email == "lena@uni.example" and identity.user.email_verified_at is None
    link = db.session.scalar(select(LtiLink))
    assert link.exam_id == exam.id and link.context_title == "Exam 101"
    assert link.memberships_url == f"{platform.base}/memberships"
    assert link.lineitem_url == f"{platform.base}/lineitems/{RESOURCE_LINK}"
    audit = db.session.scalar(select(LoginEvent).where(LoginEvent.user_id == identity.user_id))
    assert audit.provider == "Open edX Uni" and audit.success
    # The same person launching again is the same account (no second one).
    launch(requests.Session(), platform, kind="resource", user="student-1", role="student")
    assert db.session.scalar(select(db.func.count()).select_from(LtiIdentity)) == 1

    # The exam office enrols the course's students from the platform's roster (NRPS).
    staff = make_user("staff", inst)
    office = app.test_client()
    login(office, staff)
    page = office.get(f"/institutions/{inst.id}/lti")
    assert page.status_code == 200 and "Grundlagen Recht" in page.get_data(as_text=True)
    done = office.post(f"/institutions/{inst.id}/lti/links/{link.id}/roster", follow_redirects=True)
    assert done.status_code == 200
    enrolled = {e.subject for e in db.session.scalars(select(LtiEnrolment))}
    assert enrolled == {"student-1", "student-2"}  # the teacher and the inactive student are not enrolled
    jonas = db.session.scalar(select(LtiIdentity).where(LtiIdentity.subject == "student-2")).user
    assert jonas.display_name == "Jonas Weber" and jonas.email.endswith("@lti.invalid")

    # Released results go to the grade column (AGS); unreleased ones do not; unchanged ones are not sent twice.
    now = clock.now()
    for who, percent, released in ((identity.user, 80, True), (jonas, 40, False)):
        db.session.add(Attempt(exam_id=exam.id, user_id=who.id, status=AttemptStatus.SUBMITTED, seed=1, layout={},
                               started_at=now - dt.timedelta(hours=1), deadline_at=now, ended_at=now,
                               percent=percent, passed=percent >= 60, result_released_at=now if released else None))
    db.session.commit()
    from lti.services import send_results, sync_roster

    report = send_results(link)
    assert (report.sent, report.unchanged, report.not_released) == (1, 0, 1)
    scores = platform.state()["scores"]
    assert len(scores) == 1 and scores[0]["userId"] == "student-1" and scores[0]["scoreGiven"] == 80
    assert scores[0]["scoreMaximum"] == 100 and scores[0]["gradingProgress"] == "FullyGraded"
    assert scores[0]["lineitem"] == RESOURCE_LINK
    again = office.post(f"/institutions/{inst.id}/lti/links/{link.id}/grades", follow_redirects=True)
    assert again.status_code == 200 and len(platform.state()["scores"]) == 1
    assert sync_roster(link).already == 2  # a second roster read enrols no one twice

    # Released later: the periodic job sends it without a click (and nothing else again).
    from lti.jobs import send_released_results_job

    late = db.session.scalar(select(Attempt).where(Attempt.user_id == jonas.id))
    late.result_released_at = clock.now()
    db.session.commit()
    assert send_released_results_job() == 1 and send_released_results_job() == 0
    assert [s["userId"] for s in platform.state()["scores"]] == ["student-1", "student-2"]


def test_proctoring_start_assessment_end_and_control(lms, make_exam, make_user, app):
    inst, platform, _registration, base = lms
    exam = make_exam(institution=inst, title="Aufsichtsprüfung", identity_check_required=True,
                     proctoring_required=True)
    proctor = make_user("proctor", inst)
    exam.proctors.append(proctor)
    db.session.commit()

    # The platform's proctoring configuration names the exam as a custom parameter (no deep linking there).
    candidate = requests.Session()
    landed = launch(candidate, platform, kind="proctoring", user="student-1", role="student", name="Lena Schmidt",
                    attempt="1", custom_aufsicht_exam=str(exam.id))
    assert landed.url.endswith("/candidate/profile"), landed.text[-1500:]
    session = db.session.scalar(select(LtiProctoring))
    assert session.status == "checks" and session.attempt_number == 1
    assert session.acs_url == f"{platform.base}/acs" and "update" in session.acs_actions
    # Neither check is passed: the page says what to do, and the start is refused.
    checks_url = f"{base}/lti/proctoring/{session.id}"
    completed = candidate.post(f"{base}/candidate/profile", data=PROFILE, timeout=20)
    assert completed.status_code == 200 and completed.url == checks_url  # back to the checks after the profile
    page = candidate.get(checks_url, timeout=20).text
    assert page.count('data-passed="no"') == 2 and 'id="lti-start"' not in page
    refused = candidate.post(f"{checks_url}/start", timeout=20)
    assert refused.url == checks_url and not platform.state()["assessments"]

    user_id = session.user_id
    db.session.add(IdCheck(user_id=user_id, exam_id=exam.id, status=IdCheckStatus.VERIFIED, biometric=True))
    db.session.add(SystemCheck(user_id=user_id, exam_id=exam.id))
    db.session.commit()
    page = candidate.get(checks_url, timeout=20).text
    assert page.count('data-passed="yes"') == 2 and 'id="lti-start"' in page
    assert 'id="lti-supervision-open"' in page and 'data-live="no"' in page

    # Both checks passed, but no supervision runs yet: LtiStartAssessment is refused and never sent.
    refused = candidate.post(f"{checks_url}/start", timeout=20)
    assert refused.url == checks_url and NOT_LIVE in refused.text and not platform.state()["assessments"]
    # The supervision window opens an attempt of the exam (no questions: the platform's assessment is the exam) ...
    window = candidate.post(f"{checks_url}/supervision", timeout=20)
    assert window.url == f"{checks_url}/supervision" and 'data-window="supervision"' in window.text
    db.session.expire_all()
    attempt = db.session.get(LtiProctoring, session.id).attempt
    assert attempt.status == AttemptStatus.IN_PROGRESS and attempt.layout["questions"] == []
    # ... but until its camera is connected and recording, the start is still refused.
    refused = candidate.post(f"{checks_url}/start", timeout=20)
    assert NOT_LIVE in refused.text and not platform.state()["assessments"]
    stream = camera(candidate, base, attempt.id)
    stream.__enter__()
    assert wait_live(candidate, base, session.id)
    from tests.proctoring.conftest import recordings

    assert recordings(attempt.id), "live means a recording part has started"

    # LtiStartAssessment: the platform checks our signature, its session_data, the attempt and the link.
    handoff = candidate.post(f"{checks_url}/start", timeout=20)
    assert handoff.status_code == 200 and f'action="{platform.base}/start-assessment"' in handoff.text
    started = post_form(candidate, handoff)
    assert started.status_code == 200 and "Assessment started" in started.text, started.text
    assessment = platform.state()["assessments"][0]
    assert assessment["user"] == "student-1" and assessment["attempt_number"] == 1
    assert assessment["resource_link"] == {"id": RESOURCE_LINK}
    assert assessment["verified_user"]["family_name"] == "Schmidt" and assessment["end_assessment_return"] is True
    db.session.expire_all()
    assert db.session.get(LtiProctoring, session.id).status == "assessment"

    # The proctor adds ten minutes, then pauses: both reach the platform's Assessment Control Service.
    desk = app.test_client()
    login(desk, proctor)
    home = desk.get("/proctor/").get_data(as_text=True)
    assert 'id="to-lti-sessions"' in home and "(1)" in home
    listed = desk.get("/proctor/lti").get_data(as_text=True)
    assert "Lena Schmidt" in listed and 'value="update"' in listed
    desk.post(f"/lti/proctoring/{session.id}/control", data={"action": "update", "extra_time": "600",
                                                              "reason": "Verbindung abgebrochen"})
    desk.post(f"/lti/proctoring/{session.id}/control", data={"action": "pause"})
    actions = platform.state()["acs"]
    assert [a["action"] for a in actions] == ["update", "pause"]
    assert actions[0]["extra_time"] == 600 and actions[0]["user"] == {"iss": platform.base, "sub": "student-1"}
    assert actions[0]["attempt_number"] == 1 and actions[0]["reason_msg"] == "Verbindung abgebrochen"
    db.session.expire_all()
    assert db.session.get(LtiProctoring, session.id).last_control["status"] == "paused"
    # Both are taken on aufsicht's supervision attempt too (its timeline, the grid, the candidate's window).
    supervised = db.session.get(Attempt, attempt.id)
    assert supervised.paused_at is not None
    assert {"time_added", "paused"} <= {e.kind for e in db.session.scalars(
        select(AttemptEvent).where(AttemptEvent.attempt_id == attempt.id))}
    assert db.session.get(LtiProctoring, session.id).verdict is None  # a pause is no verdict
    other = make_user("proctor", inst)  # a proctor not assigned to the exam cannot act on it
    outsider = app.test_client()
    login(outsider, other)
    assert outsider.post(f"/lti/proctoring/{session.id}/control", data={"action": "pause"}).status_code == 404
    # The proctor terminates: the platform has it by ACS, so no grade passback comment repeats it.
    desk.post(f"/lti/proctoring/{session.id}/control", data={"action": "terminate", "reason": "Handy"})
    assert platform.state()["acs"][-1]["action"] == "terminate"
    db.session.expire_all()
    verdict = db.session.get(LtiProctoring, session.id).verdict
    assert verdict["event"] == "terminate" and verdict["sent"] is True
    # aufsicht's own attempt is terminated with it (the chain of trust holds its result); the recording ends.
    assert db.session.get(Attempt, attempt.id).status == AttemptStatus.TERMINATED
    stream.__exit__(None, None, None)

    # LtiEndAssessment ends the supervision.
    ended = launch(candidate, platform, kind="end", user="student-1", role="student", attempt="1",
                   custom_aufsicht_exam=str(exam.id))
    assert ended.status_code == 200 and 'id="lti-ended"' in ended.text
    db.session.expire_all()
    assert db.session.get(LtiProctoring, session.id).status == "ended"
    assert platform.state()["launches"] == ["LtiStartProctoring", "LtiEndAssessment"]


def test_a_tampered_start_assessment_is_refused_by_the_platform(lms, make_exam, app):
    """The platform's own check: a session_data that is not the platform's is refused (our echo matters)."""
    inst, platform, _registration, base = lms
    exam = make_exam(institution=inst, identity_check_required=False, proctoring_required=False)
    candidate = requests.Session()
    launch(candidate, platform, kind="proctoring", user="student-9", role="student", attempt="1",
           custom_aufsicht_exam=str(exam.id))
    session = db.session.scalar(select(LtiProctoring))
    session.session_data = "not-the-platforms"
    db.session.commit()
    candidate.post(f"{base}/candidate/profile", data=PROFILE, timeout=20)
    candidate.post(f"{base}/lti/proctoring/{session.id}/supervision", timeout=20)
    db.session.expire_all()
    with camera(candidate, base, db.session.get(LtiProctoring, session.id).attempt_id):
        assert wait_live(candidate, base, session.id)
        handoff = candidate.post(f"{base}/lti/proctoring/{session.id}/start", timeout=20)
    answer = post_form(candidate, handoff)
    assert answer.status_code == 400 and "InvalidClaimValue" in answer.text
    assert not platform.state()["assessments"]


def _login_form(browser: requests.Session, platform: Platform, **query: str) -> tuple[str, dict[str, str]]:
    auth = browser.get(f"{platform.base}/launch", params=query, timeout=20)
    return form_of(auth.text)


def test_launches_that_are_refused(lms, make_exam):
    inst, platform, _registration, base = lms
    exam = make_exam(institution=inst, identity_check_required=False, proctoring_required=False)
    browser = requests.Session()

    # No exam picked for the item yet.
    first = launch(browser, platform, kind="resource", user="student-1", role="student")
    assert first.status_code == 400 and 'id="lti-error"' in first.text
    _deep_link(platform, exam.id)

    # Replay: the same launch posted twice.
    action, fields = _login_form(browser, platform, kind="resource", user="student-1", role="student")
    assert browser.post(action, data=fields, timeout=20).status_code == 200
    replay = browser.post(action, data=fields, timeout=20)
    assert replay.status_code == 400 and 'id="lti-error"' in replay.text

    # Another browser posts a launch it did not start (no state cookie): login CSRF refused.
    action, fields = _login_form(browser, platform, kind="resource", user="student-1", role="student")
    stranger = requests.post(action, data=fields, timeout=20)
    assert stranger.status_code == 400 and 'id="lti-error"' in stranger.text

    # Forged tokens: wrong signature, wrong audience, expired, unregistered deployment, wrong nonce.
    def forged(**claims: Any) -> requests.Response:
        page = browser.get(f"{platform.base}/launch", params={"kind": "resource", "user": "student-1"}, timeout=20)
        action, fields = form_of(page.text)
        import base64
        import json

        real = json.loads(base64.urlsafe_b64decode(fields["id_token"].split(".")[1] + "=="))
        key = claims.pop("_key", None)
        token = platform.forge({"sub": "student-1", "nonce": real["nonce"],
                                "https://purl.imsglobal.org/spec/lti/claim/custom": {"aufsicht_exam": str(exam.id)},
                                **claims}, key)
        return browser.post(action, data={"state": fields["state"], "id_token": token}, timeout=20)

    assert forged().status_code == 200  # the forger's key is the platform's own: the control case
    other_key = RSAKey.generate_key(2048)
    for claims in ({"_key": other_key}, {"aud": "another-tool"}, {"exp": 1000, "iat": 900},
                   {"https://purl.imsglobal.org/spec/lti/claim/deployment_id": "99"}, {"nonce": "made-up"},
                   {"iss": "https://evil.example"},
                   {"https://purl.imsglobal.org/spec/lti/claim/message_type": "LtiSubmissionReview"}):
        refused = forged(**claims)
        assert refused.status_code == 400 and 'id="lti-error"' in refused.text, claims

    # A login initiation from an unregistered deployment or platform.
    bad = browser.get(f"{base}/lti/login", params={"iss": platform.base, "login_hint": "x", "client_id": CLIENT_ID,
                                                   "target_link_uri": f"{base}/lti/launch",
                                                   "lti_deployment_id": "99"}, timeout=20)
    assert bad.status_code == 400
    unknown = browser.get(f"{base}/lti/login", params={"iss": "https://moodle.elsewhere", "login_hint": "x",
                                                       "target_link_uri": f"{base}/lti/launch"}, timeout=20)
    assert unknown.status_code == 400
    assert db.session.scalar(select(db.func.count()).select_from(LtiPlatform)) == 1


def _started(platform: Platform, base: str, exam: Any, user: str, **query: str) -> tuple[LtiProctoring, Attempt]:
    """A candidate launched by the platform, identity check in review, the assessment started; their exam attempt."""
    candidate = requests.Session()
    launch(candidate, platform, kind="proctoring", user=user, role="student", name="Lena Schmidt", attempt="1",
           custom_aufsicht_exam=str(exam.id), **query)
    session = db.session.scalar(select(LtiProctoring).order_by(LtiProctoring.id.desc()).limit(1))
    candidate.post(f"{base}/candidate/profile", data=PROFILE, timeout=20)
    db.session.add(IdCheck(user_id=session.user_id, exam_id=exam.id, status=IdCheckStatus.REVIEW, biometric=True))
    db.session.add(SystemCheck(user_id=session.user_id, exam_id=exam.id))
    now = clock.now()
    attempt = Attempt(exam_id=exam.id, user_id=session.user_id, status=AttemptStatus.IN_PROGRESS, seed=1, layout={},
                      started_at=now, deadline_at=now + dt.timedelta(hours=1))
    db.session.add(attempt)
    db.session.commit()
    # The supervision window's camera session is this attempt (one already in progress is the one supervised).
    candidate.post(f"{base}/lti/proctoring/{session.id}/supervision", timeout=20)
    db.session.expire_all()
    assert db.session.get(LtiProctoring, session.id).attempt_id == attempt.id
    with camera(candidate, base, attempt.id):
        assert wait_live(candidate, base, session.id)
        started = post_form(candidate, candidate.post(f"{base}/lti/proctoring/{session.id}/start", timeout=20))
    assert started.status_code == 200 and "Assessment started" in started.text, started.text
    return session, attempt


def test_supervision_events_and_later_verdicts_reach_the_platform(lms, make_exam, make_user, app):
    """Issue 28: flags, a proctor's pause and termination, an identity rejected later reach the platform."""
    from exams import trust
    from idcheck.verification import check_for, decide
    from lti.services import send_results
    from privacy.settings import update_settings
    from proctoring import actions
    from proctoring.flags import raise_flag
    from proctoring.models import FlagKind

    inst, platform, _registration, base = lms
    update_settings(inst.id, role="processor", recording=True, biometric_matching=True, appeal_window_days=7,
                    start_during_identity_review=True)
    exam = make_exam(institution=inst, identity_check_required=True, proctoring_required=True)
    proctor = make_user("proctor", inst)
    exam.proctors.append(proctor)
    db.session.commit()

    # Started while the identity is in review: the platform is not told it was verified.
    session, attempt = _started(platform, base, exam, "student-1")
    assert platform.state()["assessments"][0]["verified_user"] == {}
    # The candidate's camera stops (a flag), the proctor pauses: both reach the Assessment Control Service.
    raise_flag(attempt, FlagKind.MEDIA_LOST, clock.now())
    actions.pause(attempt, proctor, clock.now(), reason="Kamera aus")
    assert [(a["action"], a.get("reason_msg")) for a in platform.state()["acs"]] == [
        ("flag", "media_lost"), ("pause", "Kamera aus")]
    # A person rejects the identity later: the platform terminates the assessment; aufsicht holds its result.
    decide(check_for(attempt.user, exam), proctor, False, "Eine andere Person", clock.now())
    sent = platform.state()["acs"][-1]
    assert sent["action"] == "terminate" and "Eine andere Person" not in sent.get("reason_msg", "")
    db.session.expire_all()
    assert db.session.get(LtiProctoring, session.id).status == "ended"
    assert db.session.get(LtiProctoring, session.id).verdict == {
        "event": "identity_rejected", "reason": "identity not confirmed", "sent": True,
        "at": db.session.get(LtiProctoring, session.id).verdict["at"]}
    assert "identity_rejected" in {h.code for h in trust.holds(db.session.get(Attempt, attempt.id))}

    # A platform that offers no Assessment Control: the proctor's termination goes with the grade passback.
    second, attempt2 = _started(platform, base, exam, "student-2", acs="no",
                                rlid="block-v1:Uni+Exam101+type@lti+block@other")
    assert second.acs_url is None
    actions.terminate(attempt2, proctor, "Unerlaubte Hilfsmittel", clock.now())
    assert len(platform.state()["acs"]) == 3  # nothing more went by ACS
    link = db.session.get(LtiProctoring, second.id).link
    link.lineitem_url = f"{platform.base}/lineitems/{link.resource_link_id}"
    db.session.commit()
    report = send_results(link)
    assert report.verdicts == 1 and report.sent == 0
    score = platform.state()["scores"][-1]
    assert score["userId"] == "student-2" and "scoreGiven" not in score and score["gradingProgress"] == "Failed"
    assert "terminated" in score["comment"] and "Unerlaubte Hilfsmittel" in score["comment"]
    assert send_results(link).verdicts == 0 and len(platform.state()["scores"]) == 1  # told once
    assert "terminated" in {h.code for h in trust.holds(db.session.get(Attempt, attempt2.id))}


def test_closing_the_supervision_window_is_a_flag_and_the_end_stops_the_recording(lms, make_exam, make_user, app):
    """Issue 28 point 5: a closed supervision window is a flag on aufsicht's attempt and reaches the platform's
    Assessment Control Service; LtiEndAssessment submits the supervision attempt and its recording part ends."""
    from proctoring.models import Flag, FlagKind
    from storage import vault
    from tests.proctoring.conftest import probe, recordings, wait_parts_closed

    inst, platform, _registration, base = lms
    exam = make_exam(institution=inst, identity_check_required=False, proctoring_required=True)
    proctor = make_user("proctor", inst)
    exam.proctors.append(proctor)
    db.session.commit()
    candidate = requests.Session()
    launch(candidate, platform, kind="proctoring", user="student-4", role="student", name="Lena Schmidt",
           attempt="1", custom_aufsicht_exam=str(exam.id))
    session = db.session.scalar(select(LtiProctoring))
    candidate.post(f"{base}/candidate/profile", data=PROFILE, timeout=20)
    checks_url = f"{base}/lti/proctoring/{session.id}"
    # The supervision window cannot open before the checks pass (here: the system check).
    assert candidate.post(f"{checks_url}/supervision", timeout=20).url == checks_url
    db.session.expire_all()
    assert db.session.get(LtiProctoring, session.id).attempt_id is None
    db.session.add(SystemCheck(user_id=session.user_id, exam_id=exam.id))
    db.session.commit()
    candidate.post(f"{checks_url}/supervision", timeout=20)
    db.session.expire_all()
    attempt_id = db.session.get(LtiProctoring, session.id).attempt_id
    # Closing the window before the assessment started is a flag on the attempt, but nothing for the platform yet.
    with camera(candidate, base, attempt_id):
        assert wait_live(candidate, base, session.id)
        started = post_form(candidate, candidate.post(f"{checks_url}/start", timeout=20))
        assert started.status_code == 200 and "Assessment started" in started.text
        # The proctor sees the candidate on the same live grid as an exam's.
        desk = app.test_client()
        login(desk, proctor)
        tiles = desk.get("/api/proctor/live").get_json()["attempts"]
        assert [t["candidate"] for t in tiles if t["attempt_id"] == attempt_id] == ["Lena Schmidt"]
        # The candidate closes the supervision window: its page tells the server on the way out.
        closed = candidate.post(f"{base}/api/lti/proctoring/{session.id}/closed", timeout=20)
        assert closed.json() == {"flagged": True}
    flag = db.session.scalar(select(Flag).where(Flag.attempt_id == attempt_id))
    assert flag.kind == FlagKind.MEDIA_LOST and flag.detail["device"] == "window"
    assert [(a["action"], a.get("reason_msg")) for a in platform.state()["acs"]] == [("flag", "media_lost")]
    page = desk.get(f"/proctor/attempts/{attempt_id}")
    assert page.status_code == 200 and "Aufsichtsfenster geschlossen" in page.get_data(as_text=True)
    # Another user cannot flag or read this supervision.
    other = requests.Session()
    launch(other, platform, kind="proctoring", user="student-5", role="student", attempt="1",
           custom_aufsicht_exam=str(exam.id))
    assert other.post(f"{base}/api/lti/proctoring/{session.id}/closed", timeout=20).status_code == 404

    # The candidate reopens it (the camera again), then the platform ends the assessment.
    candidate.post(f"{checks_url}/supervision", timeout=20)
    with camera(candidate, base, attempt_id):
        assert wait_live(candidate, base, session.id)
        ended = launch(candidate, platform, kind="end", user="student-4", role="student", attempt="1",
                       custom_aufsicht_exam=str(exam.id))
        assert ended.status_code == 200 and 'id="lti-ended"' in ended.text
        db.session.expire_all()
        attempt = db.session.get(Attempt, attempt_id)
        assert attempt.status == AttemptStatus.SUBMITTED
        assert db.session.scalar(select(AttemptEvent.kind).where(AttemptEvent.attempt_id == attempt_id).order_by(
            AttemptEvent.id.desc()).limit(1)) == "supervision_ended"
        wait_parts_closed(attempt_id)  # hung up by the tool although the candidate's camera still sends
        assert not wait_live(candidate, base, session.id, timeout=1)
        # Closing the window after the end is no flag.
        assert candidate.post(f"{base}/api/lti/proctoring/{session.id}/closed", timeout=20).json() == {
            "flagged": False}
    # Each opening of the window recorded its own encrypted part; each decrypts to WebM with the camera's video.
    parts = recordings(attempt_id)
    assert len(parts) == 2
    for part in parts:
        info = probe(vault.read(part))
        assert ("video", "vp8") in info["streams"] and info["decoded_frames"] > 10, info
    # No result of ours goes to the platform for a supervision (the platform grades its own assessment).
    assert platform.state()["scores"] == []
