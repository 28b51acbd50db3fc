"""LTI Advantage services the tool calls: deep linking answers, Names and Role Provisioning, Assignment and Grade
Services, and the OAuth 2 client credentials token they all need (1EdTech Security Framework: a JWT signed
with the tool's key as the client assertion).
"""

from __future__ import annotations

import dataclasses
import secrets
import threading
import time
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from flask_babel import gettext as _
from sqlalchemy import select

from exams.models import Attempt, Exam
from kernel import egress
from kernel.clock import utcnow
from kernel.db import db
from kernel.errors import Conflict, DomainError
from lti.models import LtiEnrolment, LtiLink, LtiPlatform, LtiProctoring
from lti.tool import DL, LTI, Launch, LaunchRefused, candidate_for, enrol, exam_of_platform, sign

NRPS_SCOPE = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
SCORE_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
NRPS_MEDIA = "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"
SCORE_MEDIA = "application/vnd.ims.lis.v1.score+json"
MAX_PAGES = 100  # a roster is read in at most this many pages
LEARNER = "Learner"


class PlatformServiceFailed(DomainError):
    """A call to the platform's service did not succeed (the message says which and why)."""

    status = 502
    code = "platform_service_failed"


# ------------------------------------------------------------------------------------------- deep linking


def deep_linking_context(launch: Launch) -> dict[str, Any]:
    """What the exam picker needs to answer an LtiDeepLinkingRequest later (kept signed by the web layer)."""
    if not launch.is_teacher:
        raise LaunchRefused(_("Only teachers of the course can pick an exam."))
    settings = launch.claims.get(DL + "deep_linking_settings") or {}
    if not isinstance(settings, dict) or not settings.get("deep_link_return_url"):
        raise LaunchRefused(_("The platform gave no address to return the chosen exam to."))
    accepted = settings.get("accept_types") or []
    if "ltiResourceLink" not in accepted:
        raise LaunchRefused(_("The platform does not accept links to an exam here."))
    return {"p": launch.platform.id, "d": launch.deployment_id, "r": str(settings["deep_link_return_url"]),
            "data": settings.get("data"), "multiple": bool(settings.get("accept_multiple", False))}


def exams_of(institution_id: int) -> list[Exam]:
    """The institution's exams, by title (what a platform may link to)."""
    return list(db.session.scalars(select(Exam).where(Exam.institution_id == institution_id).order_by(Exam.title)))


def deep_linking_exams(context: dict[str, Any]) -> list[Exam]:
    """The exams a teacher may pick: those of the platform's institution, by title."""
    platform = db.session.get(LtiPlatform, int(context["p"]))
    if platform is None:
        raise LaunchRefused(_("This learning platform is no longer registered."))
    return exams_of(platform.institution_id)


def deep_linking_response(context: dict[str, Any], exam_id: Any, launch_url: str) -> tuple[str, str]:
    """The signed LtiDeepLinkingResponse for the picked exam and the platform's return URL to post it to.

    The content item is an LTI resource link to our launch URL with the exam in the custom parameter
    ``aufsicht_exam`` and a grade column out of 100 (the released result in percent goes there).
    """
    platform = db.session.get(LtiPlatform, int(context["p"]))
    if platform is None:
        raise LaunchRefused(_("This learning platform is no longer registered."))
    exam = exam_of_platform(platform, exam_id)
    now = int(time.time())
    item = {"type": "ltiResourceLink", "title": exam.title, "url": launch_url,
            "custom": {"aufsicht_exam": str(exam.id)},
            "lineItem": {"scoreMaximum": 100, "label": exam.title, "resourceId": f"exam-{exam.id}"}}
    claims: dict[str, Any] = {
        "iss": platform.client_id, "aud": platform.issuer, "iat": now, "exp": now + 300,
        "nonce": secrets.token_urlsafe(16), "azp": platform.client_id,
        LTI + "deployment_id": context["d"], LTI + "message_type": "LtiDeepLinkingResponse",
        LTI + "version": "1.3.0", DL + "content_items": [item],
        DL + "msg": _("Exam “%(t)s” added.", t=exam.title),
    }
    if context.get("data") is not None:
        claims[DL + "data"] = context["data"]
    return str(context["r"]), sign(claims)


# ------------------------------------------------------------------------------------------- access tokens


_TOKENS: dict[tuple[int, str, str, str], tuple[float, str]] = {}
_token_lock = threading.Lock()


def access_token(platform: LtiPlatform, scopes: list[str]) -> str:
    """A bearer token for ``scopes`` from the platform's token endpoint (cached until shortly before expiry)."""
    scope = " ".join(sorted(scopes))
    with _token_lock:
        key = (platform.id, platform.client_id, platform.auth_token_url, scope)  # a changed registration asks anew
        cached = _TOKENS.get(key)
        if cached and cached[0] > time.monotonic():
            return cached[1]
    now = int(time.time())
    assertion = sign({"iss": platform.client_id, "sub": platform.client_id, "aud": platform.auth_token_url,
                      "iat": now, "exp": now + 300, "jti": secrets.token_urlsafe(16)})
    try:
        response = egress.fetch("POST", platform.auth_token_url, data={
            "grant_type": "client_credentials",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": assertion, "scope": scope})
        response.raise_for_status()
        doc = response.json()
        token = str(doc["access_token"])
        expires = int(doc.get("expires_in", 3600))
    except (egress.EgressError, ValueError, KeyError, TypeError) as err:
        raise PlatformServiceFailed(_("%(p)s did not give aufsicht access (token endpoint): %(e)s",
                                      p=platform.name, e=short_error(err))) from err
    granted = set(str(doc.get("scope") or scope).split())
    if not set(scopes) <= granted:
        raise PlatformServiceFailed(_("%(p)s did not grant the access aufsicht asked for (%(s)s).",
                                      p=platform.name, s=" ".join(sorted(set(scopes) - granted))))
    with _token_lock:
        _TOKENS[key] = (time.monotonic() + max(expires - 60, 0), token)
    return token


def short_error(err: Exception) -> str:
    """A failed call in a few words for a message to staff (``HTTP 500``, why the egress policy refused it);
    never the platform's answer itself."""
    if isinstance(err, egress.EgressError):
        return err.detail
    return _("no valid answer")


def platform_url(platform: LtiPlatform, url: str) -> str:
    """``url`` when it is on one of the platform's registered origins (its issuer, login, token or key URL).

    Service URLs (roster, grades, Assessment Control) come from a launch's claims: signed by the platform, but
    never trusted to point anywhere else."""
    registered = {egress.origin(u) for u in (platform.issuer, platform.auth_login_url, platform.auth_token_url,
                                             platform.jwks_url)} - {""}
    if egress.origin(url) not in registered:
        raise PlatformServiceFailed(_("%(p)s named a service address outside its registered addresses (%(u)s).",
                                      p=platform.name, u=(egress.origin(url) or url)[:100]))
    return url


# ------------------------------------------------------------------------------------------- roster (NRPS)


@dataclasses.dataclass(frozen=True)
class RosterReport:
    """What a roster sync did: students enrolled now, already enrolled, members skipped (teachers, inactive)."""

    enrolled: int
    already: int
    skipped: int


def _is_learner(roles: Any) -> bool:
    return isinstance(roles, list) and any(str(r).rsplit("#", 1)[-1] == LEARNER for r in roles)


def sync_roster(link: LtiLink) -> RosterReport:
    """Enrol the course's active students (Names and Role Provisioning Services 2.0) in the link's exam."""
    if not link.memberships_url:
        raise Conflict(_("The platform offers no course roster for this link (Names and Role Provisioning)."))
    platform = link.platform
    url: str | None = platform_url(platform, link.memberships_url)  # before a token is asked for
    token = access_token(platform, [NRPS_SCOPE])
    enrolled = already = skipped = 0
    for _page in range(MAX_PAGES):
        if url is None:
            break
        try:
            response = egress.fetch("GET", platform_url(platform, url),
                                    headers={"Authorization": f"Bearer {token}", "Accept": NRPS_MEDIA})
            response.raise_for_status()
            doc = response.json()
        except (egress.EgressError, ValueError) as err:
            raise PlatformServiceFailed(_("%(p)s did not give the course roster: %(e)s", p=platform.name,
                                          e=short_error(err))) from err
        for member in doc.get("members") or []:
            if (not isinstance(member, dict) or not member.get("user_id") or not _is_learner(member.get("roles"))
                    or member.get("status", "Active") != "Active"):
                skipped += 1
                continue
            subject = str(member["user_id"])
            user = candidate_for(platform, subject, member)
            known = db.session.scalar(select(LtiEnrolment.id).where(LtiEnrolment.link_id == link.id,
                                                                    LtiEnrolment.user_id == user.id))
            enrol(link, user, subject, "roster")
            already += known is not None
            enrolled += known is None
        url = response.links.get("next", {}).get("url") or doc.get("next") or None
    db.session.commit()
    return RosterReport(enrolled=enrolled, already=already, skipped=skipped)


# ------------------------------------------------------------------------------------------- grades (AGS)


@dataclasses.dataclass(frozen=True)
class GradeReport:
    """What sending results did: sent, unchanged since the last send, not released yet."""

    sent: int
    unchanged: int
    not_released: int
    verdicts: int = 0  # terminations and identity rejections told in a score's comment (no score)


def _scores_url(lineitem: str) -> str:
    parts = urlsplit(lineitem)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + "/scores"))


def send_results(link: LtiLink) -> GradeReport:
    """Send the link's released results (see ``_send_results``); a failure is kept on the link for the exam office."""
    try:
        report = _send_results(link)
    except DomainError as err:
        db.session.rollback()
        if link.results_error != err.message[:1000]:  # recorded once, not again on every retry
            link.results_error = err.message[:1000]
            db.session.commit()
        raise
    if link.results_error is not None:
        link.results_error = None
        db.session.commit()
    return report


def _send_results(link: LtiLink) -> GradeReport:
    """Send every released result of the link's enrolled candidates to the platform's grade column (AGS 2.0).

    Only released results go (the chain of trust decided them); the score is the result in percent of 100,
    ``FullyGraded``. A result sent before and unchanged is not sent again. A termination or identity rejection
    of the candidate's proctored attempt that the platform's Assessment Control Service did not take goes once
    as a score without points, ``Failed``, with the reason in its comment (the result stays held by the chain
    of trust).
    """
    if not link.lineitem_url:
        raise Conflict(_("The platform offers no grade column for this link (Assignment and Grade Services)."))
    if link.ags_scopes and SCORE_SCOPE not in link.ags_scopes:
        raise Conflict(_("The platform does not let aufsicht send scores for this link."))
    platform = link.platform
    scores_url = platform_url(platform, _scores_url(link.lineitem_url))
    sent = unchanged = not_released = verdicts = 0
    token: str | None = None
    enrolments = db.session.scalars(select(LtiEnrolment).where(LtiEnrolment.link_id == link.id))
    for enrolment in enrolments:
        verdict = _untold_verdict(link, enrolment)
        if verdict is not None:
            token = token or access_token(platform, [SCORE_SCOPE])
            _post_score(platform, scores_url, token, enrolment, {
                "userId": enrolment.subject, "scoreMaximum": 100, "activityProgress": "Completed",
                "gradingProgress": "Failed", "comment": _verdict_comment(verdict.verdict or {}),
                "timestamp": _timestamp()})
            verdict.verdict = {**(verdict.verdict or {}), "sent": True}
            verdicts += 1
            continue
        # A supervision of the platform's own assessment (lti.proctoring) has no result of ours: the platform grades.
        supervisions = select(LtiProctoring.attempt_id).where(LtiProctoring.attempt_id.is_not(None))
        attempt = db.session.scalar(select(Attempt).where(Attempt.exam_id == link.exam_id,
                                                          Attempt.user_id == enrolment.user_id,
                                                          Attempt.id.not_in(supervisions)))
        if attempt is None or attempt.result_released_at is None or attempt.percent is None:
            not_released += 1
            continue
        if enrolment.score_sent_at is not None and enrolment.score_sent_percent == attempt.percent:
            unchanged += 1
            continue
        token = token or access_token(platform, [SCORE_SCOPE])
        _post_score(platform, scores_url, token, enrolment, {
            "userId": enrolment.subject, "scoreGiven": attempt.percent, "scoreMaximum": 100,
            "activityProgress": "Completed", "gradingProgress": "FullyGraded", "timestamp": _timestamp()})
        enrolment.score_sent_at = utcnow()
        enrolment.score_sent_percent = attempt.percent
        sent += 1
    db.session.commit()
    return GradeReport(sent=sent, unchanged=unchanged, not_released=not_released, verdicts=verdicts)


def _timestamp() -> str:
    return utcnow().strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _post_score(platform: LtiPlatform, scores_url: str, token: str, enrolment: LtiEnrolment,
                score: dict[str, Any]) -> None:
    try:
        response = egress.fetch("POST", scores_url, json_body=score,
                                headers={"Authorization": f"Bearer {token}", "Content-Type": SCORE_MEDIA})
        response.raise_for_status()
    except egress.EgressError as err:
        db.session.commit()  # what was sent stays recorded
        raise PlatformServiceFailed(_("%(p)s did not take the result of %(n)s: %(e)s", p=platform.name,
                                      n=enrolment.user.display_name, e=short_error(err))) from err


def _untold_verdict(link: LtiLink, enrolment: LtiEnrolment) -> LtiProctoring | None:
    """The candidate's proctored attempt at the link's exam with a termination or rejection not yet told."""
    for session in db.session.scalars(select(LtiProctoring).join(LtiLink).where(
            LtiLink.exam_id == link.exam_id, LtiProctoring.user_id == enrolment.user_id).order_by(LtiProctoring.id)):
        if isinstance(session.verdict, dict) and session.verdict.get("event") and not session.verdict.get("sent"):
            return session
    return None


def _verdict_comment(verdict: dict[str, Any]) -> str:
    """The comment for the platform's grade book (its teachers read it; English, as the platform's protocol)."""
    what = ("aufsicht: the identity of the candidate was rejected; no result." if verdict.get("event") ==
            "identity_rejected" else "aufsicht: the proctored attempt was terminated by the proctor; no result.")
    reason = str(verdict.get("reason") or "")
    return f"{what} {reason}".strip()[:1000]
