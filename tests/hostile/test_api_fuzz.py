"""Fuzz every operation of the JSON API from its own OpenAPI description (schemathesis).

The description is the one the app serves (``/api/openapi.json``). Each operation gets generated
inputs, valid and invalid by the description, sent with the session of a real candidate or proctor
of a complete tenant; path ids are mostly that tenant's real ids (so bodies and query strings reach
the services) and sometimes generated ones. Every response must be no server error, carry a
documented status and content type, and match the documented schema.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import Case
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app.openapi import describe
from tests.conftest import login

AGENT = "aufsicht-fuzz"
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture
def app_config() -> dict[str, Any]:
    """No certificate emails in the background."""
    return {}


@pytest.fixture
def tenant(app, make_tenant, make_exam):
    """A complete tenant, plus a supervised exam with an identity check the candidate has consented to."""
    from accounts.services import record_consent

    t = make_tenant("Fuzz")
    t.exam_checked = make_exam(institution=t.inst, title="Geprüft", identity_check_required=True,
                               proctoring_required=True)
    with app.test_request_context():
        record_consent(t.candidate, "biometrics", app.config["PRIVACY_NOTICE_VERSION"], True)
    return t


def _session_cookie(app, user) -> str:
    client = app.test_client()
    login(client, user, headers={"User-Agent": AGENT})  # the proctor answers the second factor too
    cookie = client.get_cookie("session", domain=app.config["SERVER_NAME"])
    assert cookie is not None
    return cookie.value


@pytest.fixture
def sessions(app, tenant) -> dict[str, str]:
    return {"candidate": _session_cookie(app, tenant.candidate), "proctor": _session_cookie(app, tenant.proctor)}


schema = schemathesis.openapi.from_dict(describe())


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_operation(case: Case, app, tenant, sessions) -> None:
    role = "proctor" if case.path.startswith("/api/proctor/") else "candidate"
    headers = {"User-Agent": AGENT}
    ids = {"attempt_id": tenant.attempt_live.id, "exam_id": tenant.exam_checked.id}
    if case.path.startswith("/api/v1/"):  # the institution API: the tenant's API token (both scopes), no session
        headers["Authorization"] = f"Bearer {tenant.api_token}"
        ids["exam_id"] = tenant.exam_done.id  # an exam with a released result
    for name, real in ids.items():
        generated = (case.path_parameters or {}).get(name)
        if generated is not None and not (isinstance(generated, int) and generated % 4 == 1):
            case.path_parameters[name] = real  # most cases reach a real resource; the rest try other ids
    with app.app_context():  # each request in its own context, as in production
        case.call_and_validate(headers=headers, cookies={"session": sessions[role]}, checks=CHECKS,
                               app=app, environ_base={"REMOTE_ADDR": "127.0.0.1"})


def test_the_app_serves_the_description(client) -> None:
    resp = client.get("/api/openapi.json")
    assert resp.status_code == 200
    assert resp.get_json() == describe()


def test_every_api_route_is_described(app) -> None:
    """The description and the URL map name the same operations (the fuzz above covers all of them)."""
    import re

    described = {(path, method.upper()) for path, ops in describe()["paths"].items() for method in ops}
    routed = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/"):
            continue
        path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule)
        routed |= {(path, m) for m in rule.methods or () if m not in ("HEAD", "OPTIONS")}
    assert described == routed
