"""A real LTI 1.3 platform on loopback for the tests, run in its own virtualenv (.venv-lti-platform).

Two registry packages do the platform's work; this file only wires them to HTTP (stdlib ``wsgiref``) and keeps
what the tool sent so the test can look at it:

* Open edX's ``lti-consumer-xblock`` (``lti_consumer.lti_1p3.consumer``, with the smallest Django settings it
  needs: a local-memory cache and no database): the third-party login initiation, the launches
  (``LtiAdvantageConsumer`` for resource links and deep linking with the AGS and NRPS claims,
  ``LtiProctoringConsumer`` for ``LtiStartProctoring`` and ``LtiEndAssessment``), the check of the tool's deep
  linking answer, of its ``LtiStartAssessment`` (signature through the tool's published keys, ``session_data``,
  attempt, resource link) and the OAuth 2 token endpoint (client assertion checked against the tool's keys).
  Open edX's proctoring consumer accepts only the ACS scope at its token endpoint and its advantage consumer
  only the AGS/NRPS scopes, so the token endpoint hands each request to the one that takes its scope.
* ``lti1p3platform`` (PyPI): the Names and Role Provisioning and the Assignment and Grade Services endpoints
  (``NamesRoleProvisioningService.handle_get_members``, ``AssignmentsGradesService.handle_update_score``),
  which check the bearer token (the same key and issuer) and the scope.

Not from a package: the Assessment Control Service endpoint. Open edX sends the ACS claim but does not
implement the service, and lti1p3platform has none; ``/acs`` checks the bearer token with Open edX's
``check_token`` for the ACS scope and answers as the spec says, nothing more.

Usage: ``python lms.py CONFIG.json``; prints ``PORT <n>`` when it listens on 127.0.0.1.
"""

from __future__ import annotations

import base64
import html
import json
import secrets
import sys
import threading
import uuid
from socketserver import ThreadingMixIn
from typing import Any
from urllib.parse import parse_qs
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import django
from django.conf import settings

settings.configure(
    INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth"],
    CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}},
    DATABASES={}, USE_TZ=True, PLATFORM_NAME="Open edX test platform", SECRET_KEY=secrets.token_hex(16),
)
django.setup()

from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: E402
from lti1p3platform.ltiplatform import LTI1P3PlatformConfAbstract  # noqa: E402
from lti1p3platform.membership import Context  # noqa: E402
from lti1p3platform.registration import Registration  # noqa: E402
from lti1p3platform.request import Request as PlatformRequest  # noqa: E402
from lti1p3platform.score import UpdateScoreStatus  # noqa: E402
from lti1p3platform.service_connector import AssignmentsGradesService, NamesRoleProvisioningService  # noqa: E402
from lti_consumer.data import Lti1p3LaunchData, Lti1p3ProctoringLaunchData  # noqa: E402
from lti_consumer.lti_1p3.constants import LTI_1P3_ACS_SCOPE  # noqa: E402
from lti_consumer.lti_1p3.consumer import LtiAdvantageConsumer, LtiProctoringConsumer  # noqa: E402
from lti_consumer.utils import get_data_from_cache  # noqa: E402

CONFIG: dict[str, Any] = json.loads(open(sys.argv[1]).read())  # noqa: SIM115
# The signing key: the test's (so it can forge tokens that differ from the platform's in one claim), or a new one.
KEY = (serialization.load_pem_private_key(CONFIG["key_pem"].encode(), password=None) if CONFIG.get("key_pem")
       else rsa.generate_private_key(public_exponent=65537, key_size=2048))
KEY_PEM = KEY.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
PUBLIC_PEM = KEY.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
KID = CONFIG.get("kid") or "platform-" + secrets.token_hex(4)
CLIENT_ID = CONFIG["client_id"]
DEPLOYMENT = CONFIG["deployment_id"]
CONTEXT = {"id": "course-v1:Uni+Exam101+2026", "title": "Exam 101", "label": "EX101"}
BASE = ""  # http://127.0.0.1:<port>, set once listening
STATE: dict[str, Any] = {"content_items": [], "scores": [], "assessments": [], "acs": [], "launches": [],
                         "proctoring": {}, "custom": {}}
_lock = threading.Lock()


def consumer(kind: str = "advantage") -> LtiAdvantageConsumer | LtiProctoringConsumer:
    """Open edX's consumer, configured for the tool as the test registered it."""
    cls = LtiProctoringConsumer if kind == "proctoring" else LtiAdvantageConsumer
    return cls(iss=BASE, lti_oidc_url=CONFIG["tool_login_url"], lti_launch_url=CONFIG["tool_launch_url"],
               client_id=CLIENT_ID, deployment_id=DEPLOYMENT, rsa_key=KEY_PEM, rsa_key_id=KID,
               redirect_uris=[CONFIG["tool_launch_url"]], tool_keyset_url=CONFIG["tool_jwks_url"])


class PlatformConfig(LTI1P3PlatformConfAbstract):
    """lti1p3platform's view of the same registration (for its NRPS and AGS handlers)."""

    def init_platform_config(self, **kwargs: Any) -> None:
        """Nothing to load: the registration is built below."""

    def get_registration_by_params(self, **kwargs: Any) -> Registration:
        """The one registration of the tool."""
        return (Registration().set_iss(BASE).set_client_id(CLIENT_ID).set_deployment_id(DEPLOYMENT)
                .set_platform_public_key(PUBLIC_PEM).set_platform_private_key(KEY_PEM)
                .set_tool_key_set_url(CONFIG["tool_jwks_url"]).set_launch_url(CONFIG["tool_launch_url"])
                .set_oidc_login_url(CONFIG["tool_login_url"]))


class WsgiRequest(PlatformRequest):
    """lti1p3platform's request, read from a WSGI environ."""

    def build_metadata(self, request: Any) -> Any:
        """Method, query, form or JSON body, headers."""
        environ, body = request
        headers = {k[5:].replace("_", "-").title(): v for k, v in environ.items() if k.startswith("HTTP_")}
        ctype = environ.get("CONTENT_TYPE", "")
        return {"method": environ["REQUEST_METHOD"], "get_data": {k: v[0] for k, v in parse_qs(
                    environ.get("QUERY_STRING", "")).items()},
                "form_data": {}, "headers": headers, "content_type": ctype, "path": environ["PATH_INFO"],
                "json": json.loads(body or b"null") if "json" in ctype else None}


def platform_config() -> PlatformConfig:
    config = PlatformConfig()
    config.get_registration()
    return config


class Members(NamesRoleProvisioningService):
    """The course roster the test gave."""

    def get_member_data_page(self, page: int = 1, limit: Any = None, role: Any = None, since: Any = None,
                             **kwargs: Any) -> Any:
        return {"content": [dict(m) for m in CONFIG["members"]], "has_next": False, "next": None}

    def get_context_by_id(self) -> Context:
        return Context(id=CONTEXT["id"], label=CONTEXT["label"], title=CONTEXT["title"])


class Grades(AssignmentsGradesService):
    """One grade column per link; scores are kept for the test."""

    def find_lineitems(self, page: int = 1, limit: Any = None, **kwargs: Any) -> Any:
        return {"content": [], "has_next": False, "next": None}

    def find_lineitem(self, line_item_id: str) -> Any:
        return {"id": line_item_id}

    def create_lineitem(self, lineitem: Any) -> Any:
        return lineitem

    def update_lineitem(self, lineitem: Any) -> Any:
        return lineitem

    def delete_lineitem(self, line_item_id: str) -> None:
        return None

    def update_score(self, line_item_id: str, score: Any) -> UpdateScoreStatus:
        with _lock:
            STATE["scores"].append({"lineitem": line_item_id, **score})
        return UpdateScoreStatus.SUCCESS

    def get_results(self, line_item_id: str, page: int = 1, limit: Any = None, user_id: Any = None) -> Any:
        return {"content": [], "has_next": False, "next": None}


def _launch_data(q: dict[str, str]) -> Lti1p3LaunchData:
    kind = q.get("kind", "resource")
    message_type = {"resource": "LtiResourceLinkRequest", "deeplink": "LtiDeepLinkingRequest",
                    "proctoring": "LtiStartProctoring", "end": "LtiEndAssessment"}[kind]
    proctoring = None
    if kind in ("proctoring", "end"):
        attempt = int(q.get("attempt", "1"))
        proctoring = Lti1p3ProctoringLaunchData(
            attempt_number=attempt, start_assessment_url=f"{BASE}/start-assessment",
            assessment_control_url=f"{BASE}/acs" if q.get("acs", "yes") == "yes" else None,
            assessment_control_actions=["pause", "resume", "terminate", "update", "flag"])
    return Lti1p3LaunchData(
        user_id=q["user"], user_role=q.get("role", "student"), config_id=uuid.uuid4(),
        resource_link_id=q.get("rlid", "block-v1:Uni+Exam101+type@lti+block@exam"), name=q.get("name"),
        email=q.get("email"), message_type=message_type, context_id=CONTEXT["id"], context_title=CONTEXT["title"],
        context_label=CONTEXT["label"], proctoring_launch_data=proctoring,
        # custom parameters as a platform admin enters them in the tool's settings (Open edX: "LTI Custom
        # Parameters"), e.g. aufsicht_exam=<id> for a proctoring configuration
        custom_parameters={k[len("custom_"):]: v for k, v in q.items() if k.startswith("custom_")})


def _prepared(data: Lti1p3LaunchData) -> LtiAdvantageConsumer | LtiProctoringConsumer:
    """The consumer for one launch, set up as Open edX's launch view does for that message type."""
    if data.message_type in ("LtiStartProctoring", "LtiEndAssessment"):
        c = consumer("proctoring")
        p = data.proctoring_launch_data
        key = f"{data.user_id}:{data.resource_link_id}:{p.attempt_number}"
        with _lock:
            session_data = STATE["proctoring"].setdefault(key, secrets.token_urlsafe(16))
        c.set_proctoring_data(attempt_number=p.attempt_number, session_data=session_data,
                              start_assessment_url=p.start_assessment_url, resource_link_id=data.resource_link_id,
                              assessment_control_url=p.assessment_control_url,
                              assessment_control_actions=p.assessment_control_actions)
    else:
        c = consumer()
        c.enable_ags(lineitems_url=f"{BASE}/lineitems", lineitem_url=f"{BASE}/lineitems/{data.resource_link_id}",
                     allow_programmatic_grade_interaction=True)
        c.enable_nrps(f"{BASE}/memberships")
        c.enable_deep_linking(CONFIG["tool_launch_url"], f"{BASE}/deep-link-return")
        custom = STATE["custom"].get(data.resource_link_id)
        if custom:  # the content item the tool returned by deep linking, as Open edX keeps it
            c.set_dl_content_launch_parameters(custom=custom)
    if data.custom_parameters and not (data.message_type == "LtiResourceLinkRequest"
                                       and STATE["custom"].get(data.resource_link_id)):
        c.set_custom_parameters(data.custom_parameters)
    c.set_user_data(user_id=data.user_id, role=data.user_role, full_name=data.name, email_address=data.email)
    c.set_resource_link_claim(data.resource_link_id)
    c.set_context_claim(data.context_id, context_types=["course_offering"], context_title=data.context_title,
                        context_label=data.context_label)
    return c


def _form(action: str, fields: dict[str, str]) -> str:
    inputs = "".join(f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
                     for k, v in fields.items())
    return f'<html><body><form method="post" action="{html.escape(action)}">{inputs}</form></body></html>'


def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    """The platform's routes."""
    path, method = environ["PATH_INFO"], environ["REQUEST_METHOD"]
    size = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(size) if size else b""
    q = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
    form = {k: v[0] for k, v in parse_qs(body.decode()).items()} if "form" in environ.get("CONTENT_TYPE", "") else {}

    def reply(status: str, payload: Any, ctype: str = "application/json") -> list[bytes]:
        data = payload if isinstance(payload, bytes) else (
            payload.encode() if isinstance(payload, str) else json.dumps(payload).encode())
        start_response(status, [("Content-Type", ctype), ("Content-Length", str(len(data)))])
        return [data]

    try:
        if path == "/jwks.json":
            return reply("200 OK", consumer().get_public_keyset())
        if path == "/launch":  # a person clicks the course item
            data = _launch_data(q)
            c = consumer("proctoring" if data.proctoring_launch_data else "advantage")
            if data.message_type == "LtiDeepLinkingRequest":
                c.enable_deep_linking(CONFIG["tool_launch_url"], f"{BASE}/deep-link-return")
            url = c.prepare_preflight_url(data)
            start_response("302 Found", [("Location", url), ("Content-Length", "0")])
            return [b""]
        if path == "/auth":  # the tool answers the login initiation
            params = {**q, **form}
            data = get_data_from_cache(params.get("lti_message_hint"))
            if data is None:
                return reply("400 Bad Request", {"error": "unknown lti_message_hint"})
            launch = _prepared(data).generate_launch_request(params)
            with _lock:
                STATE["launches"].append(data.message_type)
            return reply("200 OK", _form(params["redirect_uri"], launch), "text/html")
        if path == "/deep-link-return" and method == "POST":
            c = consumer()
            c.enable_deep_linking(CONFIG["tool_launch_url"], f"{BASE}/deep-link-return")
            items = c.check_and_decode_deep_linking_token(form.get("JWT", ""))
            with _lock:
                STATE["content_items"].extend(items)
                for item in items:
                    STATE["custom"][q.get("rlid") or "block-v1:Uni+Exam101+type@lti+block@exam"] = item.get("custom")
            return reply("200 OK", "<html><body>Content saved</body></html>", "text/html")
        if path == "/token" and method == "POST":
            kind = "proctoring" if form.get("scope") == LTI_1P3_ACS_SCOPE else "advantage"
            return reply("200 OK", consumer(kind).access_token(form))
        if path == "/memberships":
            resp = Members(WsgiRequest((environ, body)), platform_config(), f"{BASE}/memberships").handle_get_members()
            return reply(f"{resp.code} X", resp.result if resp.result is not None else {"error": resp.message},
                         resp.media_type)
        if path.startswith("/lineitems/") and path.endswith("/scores"):
            line_item = path[len("/lineitems/"):-len("/scores")]
            service = Grades(WsgiRequest((environ, body)), platform_config(), f"{BASE}/lineitems",
                             f"{BASE}/lineitems/{line_item}")
            resp = service.handle_update_score(line_item)
            return reply(f"{resp.code} X", {"status": resp.message}, resp.media_type)
        if path == "/start-assessment" and method == "POST":
            token = form.get("JWT", "")
            unverified = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
            attempt = unverified.get("https://purl.imsglobal.org/spec/lti-ap/claim/attempt_number")
            rlid = (unverified.get("https://purl.imsglobal.org/spec/lti/claim/resource_link") or {}).get("id")
            user = next((k.split(":")[0] for k in STATE["proctoring"] if k.endswith(f":{rlid}:{attempt}")), None)
            c = consumer("proctoring")
            c.set_proctoring_data(attempt_number=attempt, resource_link_id=rlid,
                                  session_data=STATE["proctoring"].get(f"{user}:{rlid}:{attempt}", "?"))
            decoded = c.check_and_decode_token(token)
            with _lock:
                STATE["assessments"].append({**decoded, "user": user})
            return reply("200 OK", "<html><body>Assessment started</body></html>", "text/html")
        if path == "/acs" and method == "POST":
            auth = environ.get("HTTP_AUTHORIZATION", "").split()
            if len(auth) != 2 or not consumer("proctoring").check_token(auth[1], [LTI_1P3_ACS_SCOPE]):
                return reply("401 Unauthorized", {"error": "invalid token"})
            action = json.loads(body)
            with _lock:
                STATE["acs"].append(action)
            status = {"pause": "paused", "terminate": "terminated"}.get(action.get("action"), "active")
            return reply("200 OK", {"status": status, **({"extra_time": action["extra_time"]}
                                                         if "extra_time" in action else {})},
                         "application/vnd.ims.lti-ap.v1.control+json")
        if path == "/_state":
            with _lock:
                return reply("200 OK", STATE)
        return reply("404 Not Found", {"error": "not found"})
    except Exception as err:  # the test reads why the platform refused
        return reply("400 Bad Request", {"error": type(err).__name__, "message": str(err)})


class Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def main() -> None:
    global BASE
    server = make_server("127.0.0.1", 0, app, server_class=Server, handler_class=QuietHandler)
    BASE = f"http://127.0.0.1:{server.server_port}"
    print(f"PORT {server.server_port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
