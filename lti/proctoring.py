"""1EdTech LTI Proctoring Services 1.0: aufsicht as the proctoring tool of an assessment platform.

The flow: the platform launches ``LtiStartProctoring``; the candidate passes our identity check and system check
for the exam the link stands for and opens the supervision window, whose recorded camera session (and screen,
where the exam records it) is an exam attempt of that exam (``open_supervision``: the grid, flags, chat, actions,
recording, retention and purge are an attempt's); once that session is live and recording we send
``LtiStartAssessment`` (signed with the tool's key, the platform's ``session_data`` and attempt number echoed) to
the platform's start URL; the platform later launches ``LtiEndAssessment`` and the supervision ends (the attempt
is submitted, its recording part finished). Proctor actions reach the platform through its Assessment
Control Service where the launch offered one, and only the actions it lists.

Safety rule: the assessment starts only after both checks pass and the supervision is live and recording, for the
same account, link and attempt the platform named; ``session_data`` is sent back unchanged so the platform can
refuse a start it did not ask for.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import logging
import secrets
import time
from typing import Any

from flask import current_app, has_request_context
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select

from accounts.models import User
from exams.attempts import GateNotPassed, extra_minutes_for, record_event, submit_attempt, terminate_attempt
from exams.models import Attempt, AttemptStatus
from kernel import egress
from kernel.clock import utcnow
from kernel.db import db
from kernel.errors import Conflict, DomainError, NotFound, ValidationFailed
from lti.models import LtiEnrolment, LtiLink, LtiPlatform, LtiProctoring
from lti.services import PlatformServiceFailed, access_token, platform_url, short_error
from lti.tool import AP, LTI, Launch, LaunchRefused, candidate_for, enrol, link_for, sign

ACS_SCOPE = "https://purl.imsglobal.org/spec/lti-ap/scope/control.all"
ACS_MEDIA = "application/vnd.ims.lti-ap.v1.control+json"
ACTIONS = ("pause", "resume", "terminate", "update", "flag")
#: What aufsicht's own supervision tells the platform: a proctor's pause or termination, a flag of the candidate's
#: session (closing the supervision, losing the camera), and an identity rejected by a person.
VERDICTS = ("terminate", "identity_rejected")

log = logging.getLogger(__name__)


def start_proctoring(launch: Launch) -> LtiProctoring:
    """Accept an LtiStartProctoring launch: the candidate's account, enrolment and the proctoring record."""
    start_url = launch.claims.get(AP + "start_assessment_url")
    session_data = launch.claims.get(AP + "session_data")
    try:
        attempt_number = int(launch.claims.get(AP + "attempt_number"))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        attempt_number = 0
    if not start_url or not isinstance(start_url, str) or not session_data or attempt_number < 1:
        raise LaunchRefused(_("The platform's proctoring launch is incomplete (start_assessment_url, session_data, "
                              "attempt_number)."))
    if launch.is_teacher:
        raise LaunchRefused(_("Only candidates take a proctored assessment."))
    link = link_for(launch)
    user = candidate_for(launch.platform, launch.subject, launch.claims)
    enrol(link, user, launch.subject, "launch")
    acs = launch.claims.get(AP + "acs") or {}
    session = LtiProctoring(link_id=link.id, user_id=user.id, attempt_number=attempt_number,
                            session_data=str(session_data), start_assessment_url=start_url[:500],
                            acs_url=(str(acs.get("assessment_control_url") or "")[:500] or None)
                            if isinstance(acs, dict) else None,
                            acs_actions=[str(a) for a in acs.get("actions") or [] if str(a) in ACTIONS]
                            if isinstance(acs, dict) else [])
    db.session.add(session)
    db.session.commit()
    return session


def get_session(session_id: int, user: User) -> LtiProctoring:
    """A proctoring record of ``user`` (404 for anyone else's)."""
    session = db.session.get(LtiProctoring, session_id)
    if session is None or session.user_id != user.id:
        raise NotFound()
    return session


@dataclasses.dataclass(frozen=True)
class Check:
    """One check before the assessment: its gate name, whether it is passed, and what to do otherwise."""

    gate: str
    passed: bool
    message: str


def checks(session: LtiProctoring) -> list[Check]:
    """The identity check and the system check for the link's exam, as they stand now."""
    from idcheck.verification import identity_gate
    from proctoring.systemcheck import proctoring_gate

    result = []
    for gate_name, gate in (("identity", identity_gate), ("system", proctoring_gate)):
        try:
            gate(session.user, session.link.exam)
            result.append(Check(gate_name, True, ""))
        except GateNotPassed as err:
            result.append(Check(gate_name, False, err.message))
    return result


def verified_user(session: LtiProctoring) -> dict[str, Any] | None:
    """The ``verified_user`` claim: the person's name, only when their identity is verified for the exam.

    ``None`` (the claim is left out) for an exam without identity check, a check in review (even where the exam
    may start during review), a check a proctor has not decided yet, and every other state: the platform is never
    told that an identity was verified when nobody verified it.
    """
    from idcheck.models import IdCheckStatus
    from idcheck.verification import check_for

    exam = session.link.exam
    if not exam.identity_check_required:
        return None
    check = check_for(session.user, exam)
    if check is None or check.status != IdCheckStatus.VERIFIED:
        return None
    user = session.user
    claim: dict[str, Any] = {"full_name": user.display_name}
    if user.profile is not None:
        claim.update({"given_name": user.profile.first_name, "family_name": user.profile.last_name})
    return claim


def start_assessment(session: LtiProctoring) -> tuple[str, str]:
    """The signed LtiStartAssessment and the platform's URL to post it to (only once every check passed)."""
    if session.status == "ended":
        raise Conflict(_("This proctored attempt has ended."))
    missing = [c.message for c in checks(session) if not c.passed]
    if missing:
        raise Conflict(" ".join(missing))
    if not supervision_live(session):
        raise Conflict(_("The supervision window is not live yet. Open it, allow camera and microphone (and share "
                         "your screen where asked), and start the assessment once it says that the supervision "
                         "is connected."))
    platform = session.link.platform
    now = int(time.time())
    claims = {
        "iss": platform.client_id, "aud": platform.issuer, "iat": now, "exp": now + 300,
        "nonce": secrets.token_urlsafe(16), LTI + "deployment_id": session.link.deployment_id,
        LTI + "message_type": "LtiStartAssessment", LTI + "version": "1.3.0",
        LTI + "resource_link": {"id": session.link.resource_link_id},
        AP + "session_data": session.session_data, AP + "attempt_number": session.attempt_number,
        AP + "end_assessment_return": True,
    }
    verified = verified_user(session)
    if verified is not None:
        claims[AP + "verified_user"] = verified
    token = sign(claims)
    if session.status == "checks":
        session.status = "assessment"
        session.assessment_started_at = utcnow()
        if session.attempt is not None:
            record_event(session.attempt, "assessment_started", session.assessment_started_at,
                         platform=platform.name, attempt_number=session.attempt_number)
    db.session.commit()
    return session.start_assessment_url, token


# ------------------------------------------------------------------------------------------- the supervision window


def open_supervision(session: LtiProctoring, now: dt.datetime) -> Attempt:
    """The exam attempt that holds the supervision window's camera session, started once both checks pass.

    It is an attempt of the link's exam (a candidate's attempt already in progress there is used), so the proctor's
    grid, flags, chat, actions, the encrypted recording and its retention, purge and export are an attempt's. Its
    layout holds no questions: the platform's assessment is the exam, the attempt only its supervision.
    """
    if session.status == "ended":
        raise Conflict(_("This proctored attempt has ended."))
    attempt = session.attempt
    if attempt is not None:
        if attempt.status != AttemptStatus.IN_PROGRESS:
            raise Conflict(_("The supervision of this assessment has ended."))
        return attempt
    missing = [c.message for c in checks(session) if not c.passed]
    if missing:
        raise Conflict(" ".join(missing))
    exam, user = session.link.exam, session.user
    attempt = db.session.scalar(select(Attempt).where(Attempt.exam_id == exam.id, Attempt.user_id == user.id,
                                                      Attempt.status == AttemptStatus.IN_PROGRESS))
    if attempt is None:
        attempt = Attempt(exam=exam, user=user, started_at=now, seed=0,
                          deadline_at=now + dt.timedelta(minutes=exam.duration_minutes + extra_minutes_for(user, exam)),
                          layout={"questions": [], "options": {}, "supervision": "lti"})
        db.session.add(attempt)
        db.session.flush()
    record_event(attempt, "supervision_started", now, platform=session.link.platform.name,
                 attempt_number=session.attempt_number)
    session.attempt_id = attempt.id
    db.session.commit()
    return attempt


def supervision_live(session: LtiProctoring) -> bool:
    """Whether the supervision window's session is live and recording: the engine holds its media connection and
    its recording part has started (an encrypted part exists, where the institution records)."""
    from privacy.settings import settings_for
    from proctoring.media import MediaUnavailable, media
    from storage import vault

    attempt = session.attempt
    if attempt is None or attempt.status != AttemptStatus.IN_PROGRESS:
        return False
    try:
        live = media().live([attempt.id]).get(attempt.id) or {}
    except MediaUnavailable:
        return False
    if live.get("state") != "connected" or live.get("recording") != "recording":
        return False
    if not settings_for(attempt.exam.institution_id).recording:
        return True  # the institution switched recording off: live supervision only
    return bool(vault.blobs_of(attempt_id=attempt.id, category="recording"))


def supervision_closed(session: LtiProctoring, now: dt.datetime) -> bool:
    """The candidate closed the supervision window while the supervision runs: a flag (camera lost, the window),
    which reaches the platform like every flag. Returns whether a flag was raised."""
    from proctoring.flags import raise_flag
    from proctoring.models import FlagKind

    attempt = session.attempt
    if session.status == "ended" or attempt is None or attempt.status != AttemptStatus.IN_PROGRESS:
        return False
    return raise_flag(attempt, FlagKind.MEDIA_LOST, now, source="browser", device="window") is not None


def _end_supervision(session: LtiProctoring, now: dt.datetime) -> None:
    """The supervision attempt ends with the platform's assessment: submitted, its media session hung up (the
    recording part is finished)."""
    attempt = session.attempt
    if attempt is None:
        return
    if attempt.status == AttemptStatus.IN_PROGRESS:
        submit_attempt(attempt, now, reason="supervision_ended")
    _hang_up(attempt)


def _hang_up(attempt: Attempt) -> None:
    from proctoring.media import MediaUnavailable, media
    from proctoring.sessions import session_id

    with contextlib.suppress(MediaUnavailable):  # an engine that is gone left the part readable
        media().close(session_id(attempt.id))


def _on_attempt(session: LtiProctoring, action: str, proctor: User, reason: str, extra_time: int,
                now: dt.datetime) -> None:
    """A proctor's action from the platform assessments page, taken on aufsicht's supervision attempt too (on
    its timeline, the grid and the candidate's window; a termination ends the recording). Not announced again:
    the platform has it already."""
    attempt = session.attempt
    if attempt is None or attempt.status != AttemptStatus.IN_PROGRESS:
        return
    if action == "pause" and attempt.paused_at is None:
        attempt.paused_at = now
        record_event(attempt, "paused", now, actor=proctor, reason=reason[:500], via="platform")
    elif action == "resume" and attempt.paused_at is not None:
        paused_for = now - attempt.paused_at
        attempt.deadline_at += paused_for
        attempt.paused_at = None
        record_event(attempt, "resumed", now, actor=proctor, paused_seconds=int(paused_for.total_seconds()))
    elif action == "update":
        attempt.deadline_at += dt.timedelta(seconds=extra_time)
        record_event(attempt, "time_added", now, actor=proctor, minutes=-(-extra_time // 60), reason=reason[:500])
    elif action == "terminate":
        terminate_attempt(attempt, proctor, reason[:500] or _("Terminated at the learning platform"), now)
        _hang_up(attempt)
    db.session.commit()


def end_assessment(launch: Launch) -> LtiProctoring:
    """Accept an LtiEndAssessment launch: the supervision of that attempt ends."""
    link = link_for(launch)
    user = candidate_for(launch.platform, launch.subject, launch.claims)
    try:
        attempt_number = int(launch.claims.get(AP + "attempt_number"))  # type: ignore[arg-type]
    except (TypeError, ValueError) as err:
        raise LaunchRefused(_("The platform's end of assessment names no attempt.")) from err
    session = db.session.scalar(select(LtiProctoring).where(
        LtiProctoring.link_id == link.id, LtiProctoring.user_id == user.id,
        LtiProctoring.attempt_number == attempt_number).order_by(LtiProctoring.id.desc()).limit(1))
    if session is None:
        raise LaunchRefused(_("This attempt was never started under aufsicht's supervision."))
    if session.status != "ended":
        session.status = "ended"
        session.ended_at = utcnow()
    db.session.commit()
    _end_supervision(session, utcnow())
    return session


def open_sessions(institution_id: int) -> list[LtiProctoring]:
    """Proctored attempts of the institution's platforms that have not ended, newest first."""
    return list(db.session.scalars(select(LtiProctoring).join(LtiLink).join(LtiPlatform).where(
        LtiPlatform.institution_id == institution_id, LtiProctoring.status != "ended")
        .order_by(LtiProctoring.started_at.desc())))


def open_sessions_for_proctor(proctor: User) -> list[LtiProctoring]:
    """Proctored platform attempts, not ended, of the exams ``proctor`` is assigned to."""
    from exams.models import exam_proctor

    return list(db.session.scalars(select(LtiProctoring).join(LtiLink).join(
        exam_proctor, exam_proctor.c.exam_id == LtiLink.exam_id).where(
        exam_proctor.c.user_id == proctor.id, LtiProctoring.status != "ended").order_by(
        LtiProctoring.started_at.desc())))


def control(session: LtiProctoring, action: str, *, reason: str = "", extra_time: int = 0,
            severity: float = 0.5, proctor: User | None = None) -> str:
    """Send a proctor's action to the platform's Assessment Control Service; returns the platform's status.

    ``proctor``: a person acting on the platform assessments page; their pause, resume, extra time or termination
    is then taken on aufsicht's supervision attempt too (``None``: aufsicht's own supervision decided it)."""
    if not session.acs_url:
        raise Conflict(_("The platform offers no assessment control for this attempt."))
    if action not in ACTIONS or action not in session.acs_actions:
        raise ValidationFailed(_("The platform does not offer this action."), fields={"action": action})
    if action == "update" and extra_time <= 0:
        raise ValidationFailed(_("Please enter the extra time in seconds."), fields={"extra_time": "required"})
    if session.status == "ended":
        raise Conflict(_("This proctored attempt has ended."))
    platform = session.link.platform
    identity_sub = db.session.scalar(select(LtiEnrolment.subject).where(
        LtiEnrolment.link_id == session.link_id, LtiEnrolment.user_id == session.user_id))
    body: dict[str, Any] = {
        "user": {"iss": platform.issuer, "sub": identity_sub},
        "resource_link": {"id": session.link.resource_link_id}, "attempt_number": session.attempt_number,
        "action": action, "incident_time": utcnow().strftime("%Y-%m-%dT%H:%M:%SZ"),
        "incident_severity": max(0.0, min(1.0, severity)),
    }
    if extra_time > 0:
        body["extra_time"] = int(extra_time)
    if reason:
        body["reason_msg"] = reason[:500]
    acs_url = platform_url(platform, session.acs_url)  # before a token is asked for
    token = access_token(platform, [ACS_SCOPE])
    try:
        response = egress.fetch("POST", acs_url, json_body=body,
                                headers={"Authorization": f"Bearer {token}", "Content-Type": ACS_MEDIA,
                                         "Accept": ACS_MEDIA})
        response.raise_for_status()
        status = str(response.json().get("status") or "")
    except (egress.EgressError, ValueError, AttributeError) as err:
        detail = short_error(err)
        raise PlatformServiceFailed(_("%(p)s did not take the action: %(e)s", p=platform.name, e=detail)) from err
    session.last_control = {"action": action, "status": status, "at": utcnow().isoformat()}
    if action == "terminate" and not (session.verdict or {}).get("event"):  # the platform has it already
        session.verdict = {"event": "terminate", "reason": reason[:500], "at": utcnow().isoformat(), "sent": True}
    if status in ("terminated", "complete"):
        session.status = "ended"
        session.ended_at = utcnow()
    db.session.commit()
    if proctor is not None:
        _on_attempt(session, action, proctor, reason, extra_time, utcnow())
    return status



def tell_platform(user_id: int, exam_id: int, event: str, reason: str = "", severity: float = 0.5) -> int:
    """Tell the platform of every running proctored attempt of ``user_id`` at ``exam_id`` what aufsicht's own
    supervision decided: ``pause``, ``terminate``, ``flag`` (a flag of the candidate's session) or
    ``identity_rejected`` (a person rejected the identity).

    It goes to the platform's Assessment Control Service where the launch offered the action (an identity
    rejection is a ``terminate`` there). A termination or rejection the Assessment Control Service cannot take
    (not offered, or the assessment had ended) is kept on the attempt and goes with the grade passback's comment
    (``lti.services``). Never raises: the proctor's action stands whatever the platform answers; a failure is
    logged and kept on the attempt for the exam office. Returns how many platform attempts took it by ACS.
    """
    if not has_request_context():  # a job or the CLI: the platform's messages in the default language
        with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):
            return _tell_platform(user_id, exam_id, event, reason, severity)
    return _tell_platform(user_id, exam_id, event, reason, severity)


def _tell_platform(user_id: int, exam_id: int, event: str, reason: str, severity: float) -> int:
    action = "terminate" if event == "identity_rejected" else event
    sessions = list(db.session.scalars(select(LtiProctoring).join(LtiLink).where(
        LtiProctoring.user_id == user_id, LtiLink.exam_id == exam_id,
        LtiProctoring.status != "checks").order_by(LtiProctoring.id)))
    told = 0
    for session in sessions:
        by_acs = False
        if session.status == "assessment" and session.acs_url and action in session.acs_actions:
            try:
                control(session, action, reason=reason, severity=severity)
                by_acs = True
                told += 1
            except DomainError as err:
                db.session.rollback()
                log.warning("LTI proctoring %s: %s not taken by the platform: %s", session.id, action, err.message)
        if event in VERDICTS and (by_acs or not (session.verdict or {}).get("event")):
            # sent: True once the platform has it (by ACS now, or later with the grade passback's comment)
            session.verdict = {"event": event, "reason": reason[:500], "at": utcnow().isoformat(), "sent": by_acs}
            db.session.commit()
    return told
