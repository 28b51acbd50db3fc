"""Another tenant's ids in every URL: walked from ``app.url_map``, so a new route is covered automatically.

Institution A's staff, proctor and candidate request every route with institution B's object ids (and mixed
A/B ids where a route takes two). Nothing of B may come back, nothing of B may change, nothing may crash.
CSRF is off in the test app so that every POST reaches the access check instead of stopping at the token.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.routing import Rule

from exams.models import Answer, Appeal, Attempt, AttemptEvent, Certificate, Exam, ExtraTime, exam_proctor
from idcheck.models import IdCheck
from kernel.db import db
from lti.models import LtiPlatform, LtiProctoring
from proctoring.models import Flag
from results.models import ApiToken, WebhookEndpoint
from storage.models import Blob
from tests.conftest import login
from tests.hostile.conftest import Tenant

# Routes that take an id but are public on purpose; each with the reason it may show what it shows.
PUBLIC_WITH_IDS = {
    "static": "stylesheets and scripts; no tenant data",
    "auth.register": "registration with an institution by its public slug; shows only the institution's name",
    "verify.certificate": "the public page behind a certificate's QR code; shows the minimum a verifier needs",
    "sso.start": "the login page's 'Sign in with ...' link: sends the browser to that provider, shows nothing",
    "saml.metadata": "our SP metadata for one IdP connection: the URLs and public certificates its IdP loads",
    "saml.start": "the login page's 'Sign in with ...' link: sends the browser to that IdP, shows nothing",
    "saml.acs": "the IdP's POST back: a signed response for a request of this browser, else refused",
    "saml.slo": "the end of logout at the IdP: ends this browser's SAML session, shows nothing",
    "saml.discover": "the login page's list of a federation's home organisations (public names from its metadata)",
    "badges.institution_did_document": "an issuer's did:web document: only the keys certificates are signed with",
    "badges.status_list": "an issuer's revocation list: one bit per certificate at a random position, no names",
    "badges.single_jwk": "one public key of the JWT form",
    "oversight.download": "the AI Act technical documentation of the platform, the same for everyone (no tenant data)",
    "auth.verify_email": "a mailed link; its signed token names the account (tests/accounts/test_recovery.py)",
    "auth.password_reset": "a mailed link; its signed token names the account (tests/accounts/test_recovery.py)",
    "account.confirm_email": "a mailed link; its signed token names the account (tests/accounts/test_recovery.py)",
    "phone.pair": "the QR code's pairing link: a random single-use token, no id; anything else is refused in words "
                  "(tests/proctoring/test_phone.py)",
}
# The media engine's internal API: not served by web processes at all (404), grant-protected in engines
# (tests/proctoring/test_media_engines.py).
PUBLIC_WITH_IDS.update({r: "media engine internal API" for r in (
    "engine_api.offer", "engine_api.watch", "engine_api.stats", "engine_api.close", "engine_api.snapshot",
    "engine_api.liveness", "engine_api.join", "engine_api.screen_snapshot", "engine_api.phone_snapshot",
    "engine_api.receive")})
PUBLIC_WITH_IDS["engine_api.watch_answer"] = "media engine internal API (tests/proctoring/test_janus.py)"
# Routes where an id of the person's own institution is theirs to use whatever exams they are assigned to (the
# unassigned proctor of B below); another institution's id answers 404 (the other rows of the test).
OWN_INSTITUTION = {
    "sso.start_link": "links the person's own account to their institution's sign-in provider",
}
# Pages without ids that show other institutions on purpose.
PUBLIC_LISTS = {
    "auth.choose_institution": "lists every institution's public name so that a candidate can pick theirs",
    "auth.login": "offers every institution's sign-in provider by its name, so that a person can pick theirs",
}
# Path arguments that are not tenant objects: every value is tried as is.
NEUTRAL = {
    "question_id": ["q1", "q2"],
    "which": ["id", "selfie"],
    "action": ["warn", "pause", "resume", "add-time", "terminate"],
    "lang": ["de", "en"],
    "fmt": ["csv", "xlsx"],
}
# A body that would make each action succeed if the access check were missing.
FORM = {"reason": "x", "text": "Hallo", "message": "Hallo", "minutes": "5", "points": "0", "question_id": "q2",
        "outcome": "rejected", "verified": "yes", "granted": "yes", "note": "x", "format": "yaml", "source": "x",
        "email": "neu@example.org", "password": "correct horse battery", "name": "X"}
ROLES = ("staff", "proctor", "candidate")
REFUSED = {403, 404, 405}


def tenant_values(t: Tenant) -> dict[str, list[Any]]:
    """The tenant's object ids by the path argument name routes use for them."""
    return {
        "exam_id": [t.exam_done.id, t.exam_live.id],
        "attempt_id": [t.attempt_done.id, t.attempt_live.id],
        "check_id": [t.check.id],
        "appeal_id": [t.appeal.id],
        "public_id": [t.cert.public_id],
        "blob_id": [t.recording.id],
        "institution_id": [t.inst.id],
        "slug": [t.inst.slug],
        "export_id": [t.export.id],
        "token": [t.export.token],
        "change_id": [t.change.id],
        "provider_id": [t.provider.id],
        "platform_id": [t.lti_platform.id],
        "link_id": [t.lti_link.id],
        "session_id": [t.lti_session.id, t.session.id],
        "user_id": [t.staff.id, t.proctor.id, t.candidate.id],
        "flag_id": [t.flag.id],
        "enrolment_id": [t.enrolment.id],
        "file_id": [t.answer_file.id],
        "image_id": [t.item_image.public_id],
        "token_id": [t.token.id],
        "endpoint_id": [t.webhook.id],
        "media_id": [t.item_media.public_id],
    }


def id_rules(app: Flask) -> list[Rule]:
    """Every non-public rule with path arguments."""
    return sorted((r for r in app.url_map.iter_rules() if r.arguments and r.endpoint not in PUBLIC_WITH_IDS),
                  key=lambda r: r.rule)


def paths(rule: Rule, a: Tenant, b: Tenant, *, foreign: bool = True) -> list[str]:
    """URLs of ``rule`` with at least one of B's ids (``foreign``), or with A's ids only."""
    va, vb = tenant_values(a), tenant_values(b)
    options: list[list[tuple[bool, Any]]] = []
    for arg in sorted(rule.arguments):
        if arg in NEUTRAL:
            options.append([(False, v) for v in NEUTRAL[arg]])
        else:
            assert arg in va, f"{rule.endpoint} ({rule.rule}): add B's value for <{arg}> to tenant_values()"
            options.append([(False, v) for v in va[arg]] + ([(True, v) for v in vb[arg]] if foreign else []))
    out = []
    for combo in itertools.product(*options):
        if foreign != any(is_b for is_b, _v in combo):
            continue
        values = {arg: v for arg, (_b, v) in zip(sorted(rule.arguments), combo, strict=True)}
        out.append(rule.build(values, append_unknown=False)[1])
    return out


def methods(rule: Rule) -> list[str]:
    """The methods worth sending (HEAD and OPTIONS are answered by Werkzeug itself)."""
    return sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})


def send(client: FlaskClient, method: str, path: str, headers: dict[str, str] | None = None) -> list[Any]:
    """One GET, or a POST/PUT both as a form and as JSON."""
    if method == "GET":
        return [client.get(path, headers=headers)]
    return [client.open(path, method=method, data=FORM, headers=headers),
            client.open(path, method=method, json={**FORM, "value": "Geändert", "sdp": "v=0"}, headers=headers)]


def token_of(a: Tenant, rule: Rule) -> dict[str, str] | None:
    """The institution API (bearer tokens, no session) is called with A's own API token (both scopes)."""
    return {"Authorization": f"Bearer {a.api_token}"} if rule.endpoint.startswith("institution_api.") else None


def fingerprint(t: Tenant) -> dict[str, Any]:
    """Everything of B an action through another tenant could change."""
    db.session.rollback()
    db.session.expire_all()
    attempts = [t.attempt_done.id, t.attempt_live.id]
    exams = [t.exam_done.id, t.exam_live.id]
    return {
        "attempts": [(a.status, a.paused_at, a.deadline_at, a.points, a.result_released_at, a.review_outcome)
                     for a in db.session.scalars(select(Attempt).where(Attempt.id.in_(attempts)).order_by(Attempt.id))],
        "answers": [(a.attempt_id, a.question_id, a.value, a.manual_points)
                    for a in db.session.scalars(select(Answer).where(Answer.attempt_id.in_(attempts))
                                                .order_by(Answer.id))],
        "events": db.session.scalars(select(AttemptEvent.kind).where(AttemptEvent.attempt_id.in_(attempts))
                                     .order_by(AttemptEvent.id)).all(),
        "certs": [(c.public_id, c.revoked_at) for c in db.session.scalars(
            select(Certificate).where(Certificate.attempt_id.in_(attempts)))],
        "appeals": [(ap.status, ap.decision_reason) for ap in db.session.scalars(
            select(Appeal).where(Appeal.attempt_id.in_(attempts)))],
        "checks": [(c.status, c.decision_reason) for c in db.session.scalars(
            select(IdCheck).where(IdCheck.user_id == t.candidate.id))],
        "blobs": [(bl.id, bl.category, bl.state) for bl in db.session.scalars(
            select(Blob).where(Blob.institution_id == t.inst.id).order_by(Blob.id))],
        "exams": [(e.title, e.questions) for e in db.session.scalars(select(Exam).where(Exam.id.in_(exams)))],
        "flags": [(f.status, f.note) for f in db.session.scalars(
            select(Flag).where(Flag.attempt_id.in_(attempts)).order_by(Flag.id))],
        "extra_time": [(x.user_id, x.extra_minutes, x.reason) for x in db.session.scalars(
            select(ExtraTime).where(ExtraTime.exam_id.in_(exams)).order_by(ExtraTime.id))],
        "proctors": sorted(db.session.execute(select(exam_proctor.c.exam_id, exam_proctor.c.user_id)
                                              .where(exam_proctor.c.exam_id.in_(exams))).all()),
        "tokens": [(r.id, r.revoked_at) for r in db.session.scalars(
            select(ApiToken).where(ApiToken.institution_id == t.inst.id))],
        "webhooks": [(w.id, w.disabled_at) for w in db.session.scalars(
            select(WebhookEndpoint).where(WebhookEndpoint.institution_id == t.inst.id))],
        "lti": [(p.id, p.name, p.deployment_ids) for p in db.session.scalars(
            select(LtiPlatform).where(LtiPlatform.institution_id == t.inst.id))]
        + [(s.id, s.status, s.last_control) for s in db.session.scalars(
            select(LtiProctoring).where(LtiProctoring.user_id == t.candidate.id))],
    }


@pytest.fixture
def tenants(make_tenant) -> tuple[Tenant, Tenant]:
    """Institutions A and B, each with everything a route can take an id of."""
    return make_tenant("Aaaland"), make_tenant("Geheimberg")


def _client(app: Flask, user: Any) -> FlaskClient:
    client = app.test_client()
    login(client, user)
    return client


def _leaks(resp: Any, b: Tenant, path: str = "") -> bool:
    """B's marker (in every name, title and text of B) or B's certificate id, beyond the echoed request path."""
    body = resp.get_data().replace(path.encode(), b"")
    return b.marker.encode() in body or b.cert.public_id.encode() in body


@pytest.mark.parametrize("role", [*ROLES, "unassigned_proctor_of_b"])
def test_foreign_ids_in_every_route_are_refused(app, tenants, role, make_user):
    """A's staff, proctor and candidate (and, inside B, a proctor not assigned to B's exams) get nowhere."""
    a, b = tenants
    client = _client(app, make_user("proctor", b.inst) if role == "unassigned_proctor_of_b" else getattr(a, role))
    before = fingerprint(b)
    failures, seen = [], 0
    for rule in id_rules(app):
        if role == "unassigned_proctor_of_b" and rule.endpoint in OWN_INSTITUTION:
            continue
        for method in methods(rule):
            for path in paths(rule, a, b):
                for resp in send(client, method, path, token_of(a, rule)):
                    seen += 1
                    location = resp.headers.get("Location", "")
                    if resp.status_code == 302 and "/login" in location:
                        failures.append((method, path, "logged out"))
                    elif resp.status_code not in REFUSED or _leaks(resp, b, path):
                        failures.append((method, path, resp.status_code, resp.get_data(as_text=True)[:200]))
    assert seen > 60
    assert not failures, failures
    assert fingerprint(b) == before, "a request with B's ids changed B's data"


@pytest.mark.parametrize("role", ROLES)
def test_own_ids_open_the_same_routes(app, tenants, role):
    """The control: with A's own ids the GET routes do open for A, so the refusals above are about tenancy."""
    a, b = tenants
    client = _client(app, getattr(a, role))
    opened = []
    for rule in id_rules(app):
        if "GET" not in methods(rule):
            continue
        for path in paths(rule, a, b, foreign=False):
            resp = client.get(path, headers=token_of(a, rule))
            assert resp.status_code < 500, (path, resp.status_code)
            assert not _leaks(resp, b, path), path
            if resp.status_code == 200:
                opened.append(rule.endpoint)
    expected = {
        "staff": {"staff.exam", "grading.attempt", "proctor.attempt", "proctor.review", "proctor.recording",
                  "identity.review", "identity.image", "certificates.pdf", "proctor_api.chat", "sso.providers",
                  "sso.edit_provider", "results.download", "institution_api.results", "institution_api.roster"},
        "proctor": {"proctor.attempt", "proctor.review", "proctor.recording", "identity.review", "identity.image",
                    "proctor_api.chat"},
        "candidate": {"attempts.exam", "attempts.take", "attempts.result", "attempts.state", "attempts.chat",
                      "identity.page", "certificates.pdf", "certificates.credential"},
    }[role]
    assert expected <= set(opened), expected - set(opened)


@pytest.mark.parametrize("role", ROLES)
def test_pages_without_ids_never_list_another_tenant(app, tenants, role):
    """Dashboards, queues and list APIs show A's data only."""
    a, b = tenants
    client = _client(app, getattr(a, role))
    for rule in app.url_map.iter_rules():
        if rule.arguments or "GET" not in methods(rule) or rule.endpoint in PUBLIC_LISTS:
            continue
        resp = client.get(rule.rule)
        assert resp.status_code < 500, (rule.rule, resp.status_code)
        assert not _leaks(resp, b, rule.rule), rule.rule


def test_mixed_ids_never_reach_the_other_tenants_object(app, tenants):
    """A's own attempt with B's recording part: the second id is checked against the first."""
    a, b = tenants
    client = _client(app, a.staff)
    resp = client.get(f"/proctor/attempts/{a.attempt_live.id}/recordings/{b.recording.id}")
    assert resp.status_code == 404 and b"webm" not in resp.data
    assert client.get(f"/proctor/attempts/{a.attempt_live.id}/recordings/{a.recording.id}").data == b"webm Aaaland"
