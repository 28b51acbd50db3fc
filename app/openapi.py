"""The OpenAPI 3.1 description of the JSON API that browsers and verifiers call.

Served at ``/api/openapi.json``; ``tests/hostile/test_api_fuzz.py`` fuzzes every operation from
it (schemathesis) and checks that each ``/api/`` route of the app is described here, so the
description cannot drift from the code. Browser calls authenticate with the session cookie of a
login and send the page's CSRF token in ``X-CSRFToken``; certificate verification is public; an
institution's own systems call ``/api/v1/`` with an API token of the exam office (``Authorization: Bearer``).
The media engines' internal API (``/engine/``) is not part of it: only web workers call that.
"""

from __future__ import annotations

from typing import Any

from app.ids import MAX_ID
from proctoring.page_events import PAGE_EVENTS as PAGE_EVENT_KINDS

JSON = "application/json"
ERROR_STATUSES = {
    "400": "Malformed or invalid input (the body says which field).",
    "401": "Not logged in, or the session has ended.",
    "403": "Logged in, but not allowed (wrong role, or restricted processing).",
    "404": "No such resource, or not one of the caller's.",
    "409": "Clashes with the current state (e.g. the attempt has ended).",
    "413": "The upload is too large.",
    "422": "The upload is not a usable image (unreadable, or no face on it); take it again.",
    "429": "Too many requests; wait and try again.",
    "503": "A backing service (media engine, storage) is unavailable; try again.",
}

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object", "required": ["error"],
        "properties": {"error": {
            "type": "object", "required": ["code", "message"],
            "properties": {"code": {"type": "string"}, "message": {"type": "string"},
                           "fields": {"type": "object", "additionalProperties": {"type": "string"}}}}},
    },
    "AttemptState": {
        "type": "object", "required": ["id", "status", "remaining_seconds"],
        "properties": {"id": {"type": "integer"},
                       "status": {"type": "string", "enum": ["in_progress", "submitted", "terminated"]},
                       "remaining_seconds": {"type": "integer", "minimum": 0}},
    },
    "Sdp": {
        "type": "object", "required": ["sdp"],
        "properties": {"sdp": {"type": "string", "description": "A WebRTC offer (SDP text)."},
                       "type": {"type": "string", "enum": ["offer"]}},
    },
    "SdpAnswer": {
        "type": "object", "required": ["type", "sdp"],
        "properties": {"type": {"type": "string", "enum": ["answer"]}, "sdp": {"type": "string"},
                       "receive": {"type": "object", "required": ["type", "sdp"], "description":
                                   "A call's other side on a connection of its own (the Janus media plane): the "
                                   "media server's offer, answered at the call's ``receive`` route.",
                                   "properties": {"type": {"type": "string", "enum": ["offer"]},
                                                  "sdp": {"type": "string"}}}},
    },
    "Receive": {
        "type": "object", "description":
            "A call's other side on a connection of its own: the media server's offer (``type`` offer, ``sdp``), "
            "``receive`` false where it comes on the browser's own connection (the aiortc plane), ``wait`` true "
            "while nobody calls; after the browser's answer, ``started`` true.",
        "properties": {"type": {"type": "string", "enum": ["offer"]}, "sdp": {"type": "string"},
                       "receive": {"type": "boolean"}, "wait": {"type": "boolean"}, "started": {"type": "boolean"}},
    },
    "ReceiveAnswer": {
        "type": "object",
        "properties": {"sdp": {"type": "string", "description": "The browser's answer (SDP text) to the offer "
                                                                "``receive`` gave; without it, the offer is asked."}},
    },
    "SdpReply": {
        "type": "object", "required": ["type", "sdp"], "description": (
            "The media server's answer, or (on the Janus media plane) its own offer: the browser answers that at "
            "the matching live/answer."),
        "properties": {"type": {"type": "string", "enum": ["answer", "offer"]}, "sdp": {"type": "string"}},
    },
    "SdpOfAnswer": {
        "type": "object", "required": ["sdp"],
        "properties": {"sdp": {"type": "string", "description": "The browser's WebRTC answer (SDP text)."},
                       "type": {"type": "string", "enum": ["answer"]}},
    },
    "Started": {"type": "object", "required": ["started"], "properties": {"started": {"type": "boolean"}}},
    "PageEvents": {
        "type": "object", "required": ["events"],
        "properties": {"events": {"type": "array", "minItems": 1, "maxItems": 20, "items": {
            "type": "object", "required": ["type"],
            "properties": {"type": {"type": "string", "enum": sorted(PAGE_EVENT_KINDS)},
                           "at": {"type": "string", "description": "The page's clock (kept by the page; not used)."},
                           "surface": {"type": "string", "enum": ["window", "browser", "unknown"],
                                       "description": "What a refused screen share chose."}}}}}},
    "ChatText": {"type": "object", "required": ["text"],
                 "properties": {"text": {"type": "string", "minLength": 1, "maxLength": 1000}}},
    "ChatMessage": {
        "type": "object", "required": ["id", "from", "name", "text", "at"],
        "properties": {"id": {"type": "integer"}, "from": {"type": "string"}, "name": {"type": "string"},
                       "text": {"type": "string"}, "at": {"type": "string"}},
    },
    "ChatMessages": {"type": "object", "required": ["messages"], "properties": {
        "messages": {"type": "array", "items": {"$ref": "#/components/schemas/ChatMessage"}}}},
    "IdentityStatus": {
        "type": "object", "required": ["status"],
        "properties": {"status": {"type": ["string", "null"]}, "reason": {"type": ["string", "null"]},
                       "decision_reason": {"type": ["string", "null"]},
                       "has_id_photo": {"type": "boolean"},
                       "retakes_left": {"type": "integer", "minimum": 0,
                                        "description": "Selfie submissions the candidate still has."}},
    },
    "ManualCheck": {
        "type": "object", "required": ["check_id", "candidate", "exam", "waiting_since", "connected"],
        "properties": {"check_id": {"type": "integer"}, "candidate": {"type": "string"}, "exam": {"type": "string"},
                       "waiting_since": {"type": "string"},
                       "connected": {"type": "boolean", "description": "The candidate's camera reaches us."}},
    },
    "LivePrompt": {
        "type": "object", "required": ["phase", "move", "step", "steps"],
        "properties": {"phase": {"type": "string", "enum": ["straight", "move", "done"]},
                       "move": {"type": ["string", "null"], "enum": ["left", "right", "up", "down", None],
                                "description": "The move asked now; later moves are never sent ahead."},
                       "step": {"type": ["integer", "null"]}, "steps": {"type": "integer"},
                       "ms_left": {"type": "integer", "description": "Until this step's deadline (server clock)."}},
    },
    "Tile": {
        "type": "object", "required": ["attempt_id", "candidate", "exam", "remaining_seconds", "paused", "open_flags"],
        "properties": {"attempt_id": {"type": "integer"}, "candidate": {"type": "string"}, "exam": {"type": "string"},
                       "remaining_seconds": {"type": "integer"}, "paused": {"type": "boolean"},
                       "open_flags": {"type": "integer"}, "connection": {"type": ["string", "null"]},
                       "new_flags": {"type": "integer", "description": "Open flags raised in the last five minutes: "
                                     "such tiles come first, newest flag first."},
                       "snapshot_age_ms": {"type": ["integer", "null"]},
                       "snapshot_url": {"type": ["string", "null"]},
                       "screen": {"type": ["string", "null"], "enum": ["shared", "stopped", None],
                                  "description": "Exams that record the screen: whether the candidate shares it."},
                       "screen_url": {"type": ["string", "null"]},
                       "room_scan": {"type": ["string", "null"],
                                     "description": "A room scan running, requested or outstanding, in words."},
                       "phone": {"type": "string", "enum": ["streaming", "stopped"],
                                 "description": "Exams with a second camera: whether the paired phone sends."},
                       "phone_url": {"type": ["string", "null"]},
                       "flags": {"type": "array", "items": {
                           "type": "object", "required": ["id", "kind", "label", "started_at"],
                           "properties": {"id": {"type": "integer"}, "kind": {"type": "string"},
                                          "label": {"type": "string"}, "started_at": {"type": "string"}}}},
                       "accommodation": {"type": ["object", "null"], "properties": {
                           "extra_minutes": {"type": "integer"}, "reason": {"type": "string"},
                           "silenced": {"type": "array", "items": {"type": "string"}}}}},
    },
    "RoomScan": {
        "type": "object", "required": ["required", "due", "running", "step", "steps", "total_seconds"],
        "properties": {"required": {"type": "boolean"},
                       "due": {"type": ["string", "null"], "enum": ["before_start", "requested", None]},
                       "running": {"type": "boolean"}, "step": {"type": "integer", "minimum": 0,
                                                                "description": "Steps done in the running scan."},
                       "steps": {"type": "array", "items": {"type": "object", "properties": {
                           "key": {"type": "string"}, "seconds": {"type": "integer"}}}},
                       "total_seconds": {"type": "integer"}, "min_step_seconds": {"type": "integer"},
                       "step_seconds_left": {"type": ["integer", "null"]},
                       "seconds_left": {"type": ["integer", "null"]},
                       "proctor_state": {"type": ["string", "null"]}, "label": {"type": ["string", "null"]}},
    },
    "SpokenAnswer": {
        "type": "object", "required": ["question_id", "phase", "can_start", "take", "takes_allowed"],
        "properties": {"question_id": {"type": "string"},
                       "phase": {"type": "string", "enum": ["ready", "preparing", "recording", "done"]},
                       "can_start": {"type": "boolean"}, "take": {"type": "integer", "minimum": 0},
                       "takes_allowed": {"type": "integer", "minimum": 1, "maximum": 2},
                       "preparation_seconds": {"type": "integer"}, "answer_seconds": {"type": "integer"},
                       "seconds_to_answer": {"type": ["number", "null"],
                                             "description": "Until the recorded answer begins (server clock)."},
                       "seconds_left": {"type": ["number", "null"], "description": "Until the answer ends."},
                       "started": {"type": ["string", "null"]}, "ends": {"type": ["string", "null"]}},
    },
    "InstitutionExam": {
        "type": "object", "required": ["id", "title", "opens_at", "closes_at"],
        "properties": {"id": {"type": "integer"}, "title": {"type": "string"},
                       "opens_at": {"type": "string", "format": "date-time"},
                       "closes_at": {"type": "string", "format": "date-time"}},
    },
    "Result": {
        "type": "object",
        "required": ["attempt_id", "candidate", "points", "max_points", "percent", "passed", "items",
                     "identity_method", "review", "certificate_id", "released_at"],
        "properties": {
            "attempt_id": {"type": "integer"},
            "candidate": {"type": "object", "required": ["name", "email"],
                          "properties": {"name": {"type": "string"}, "email": {"type": "string"}}},
            "points": {"type": ["integer", "null"]}, "max_points": {"type": ["integer", "null"]},
            "percent": {"type": "string", "description": "The score in percent with two decimals, e.g. \"85.00\"."},
            "passed": {"type": ["boolean", "null"]},
            "items": {"type": "object", "additionalProperties": {"type": ["integer", "null"]},
                      "description": "Points per item id (null: an item the candidate was not given)."},
            "identity_method": {"type": "string", "enum": ["automatic", "person", "not_checked"]},
            "review": {"type": "string", "enum": ["clean", "findings", "not_reviewed"]},
            "certificate_id": {"type": ["string", "null"]},
            "released_at": {"type": "string", "format": "date-time"}},
    },
    "Enrolment": {
        "type": "object", "required": ["id", "email", "name", "session", "attempts_allowed", "enrolled_at"],
        "properties": {"id": {"type": "integer"}, "email": {"type": "string"}, "name": {"type": "string"},
                       "session": {"type": ["object", "null"], "required": ["id", "starts_at", "ends_at"],
                                   "properties": {"id": {"type": "integer"}, "starts_at": {"type": "string"},
                                                  "ends_at": {"type": "string"}}},
                       "attempts_allowed": {"type": "integer"},
                       "enrolled_at": {"type": ["string", "null"]}},
    },
    "Verification": {
        "type": "object", "required": ["valid", "reason", "claims", "status"],
        "properties": {"valid": {"type": "boolean"}, "reason": {"type": ["string", "null"]},
                       "message": {"type": "string"}, "claims": {"type": "object"}, "status": {"type": "string"},
                       "form": {"type": "string"}, "certificate_id": {"type": ["string", "null"]}},
    },
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _id(name: str, what: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "description": what,
            "schema": {"type": "integer", "minimum": 0, "maximum": MAX_ID}}


def _after() -> dict[str, Any]:
    return {"name": "after", "in": "query", "required": False, "description": "Only entries with a larger id.",
            "schema": {"type": "integer", "minimum": 0}}


def _op(summary: str, ok: dict[str, Any], *, params: list[dict[str, Any]] | None = None,
        body: dict[str, Any] | None = None, errors: tuple[str, ...] = ("400", "401", "403", "404", "409", "429"),
        public: bool = False, ok_type: str = JSON) -> dict[str, Any]:
    responses: dict[str, Any] = {"200": {"description": "OK", "content": {ok_type: {"schema": ok}}}}
    for status in errors:
        responses[status] = {"description": ERROR_STATUSES[status], "content": {JSON: {"schema": _ref("Error")}}}
    op: dict[str, Any] = {"summary": summary, "parameters": params or [], "responses": responses}
    if body is not None:
        op["requestBody"] = {"required": True, "content": body}
    if public:
        op["security"] = []
    return op


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {JSON: {"schema": schema}}


def _token_op(summary: str, ok: dict[str, Any], scope: str | None, *, params: list[dict[str, Any]] | None = None,
              body: dict[str, Any] | None = None, errors: tuple[str, ...] = ("401", "403", "404")) -> dict[str, Any]:
    """An operation of the institution API: an API token as ``Authorization: Bearer``, no session."""
    needs = f" Needs a token with the scope `{scope}`." if scope else " Any token of the institution."
    op = _op(summary + needs, ok, params=params, body=body, errors=errors)
    op["security"] = [{"bearer": []}]
    return op


INSTITUTION_EXAM = _id("exam_id", "An exam of the token's institution.")
ATTEMPT = _id("attempt_id", "An attempt of the logged-in candidate (or one the proctor supervises).")
EXAM = _id("exam_id", "An exam the logged-in candidate is registered for.")
CHECK = _id("check_id", "An identity check waiting for the proctor (of an exam the proctor supervises).")
LTI_SESSION = _id("session_id", "The logged-in candidate's supervision of a learning platform's assessment.")
UPLOAD_ERRORS = ("400", "401", "403", "404", "409", "413", "422", "429")
MEDIA_ERRORS = ("400", "401", "403", "404", "409", "429", "503")


def describe() -> dict[str, Any]:
    """The OpenAPI document (a fresh dict on each call)."""
    notices = {"allOf": [_ref("AttemptState"), {
        "type": "object", "required": ["paused", "notices"],
        "properties": {"paused": {"type": "boolean"}, "notices": {"type": "array", "items": {
            "type": "object", "required": ["id", "kind", "at"],
            "properties": {"id": {"type": "integer"}, "kind": {"type": "string"}, "at": {"type": "string"},
                           "detail": {}}}}}}]}
    saved = {"allOf": [_ref("AttemptState"), {
        "type": "object", "required": ["question_id", "saved_at"],
        "properties": {"question_id": {"type": "string"}, "saved_at": {"type": "string"}}}]}
    answer_body = {"type": "object", "required": ["value"],
                   "properties": {"value": {"description": "An option id, a list of them, text or a number; per "
                                                           "item type the shapes in exams/itemtypes.py."}}}
    paths: dict[str, Any] = {
        "/api/openapi.json": {"get": _op("This description.", {"type": "object"}, errors=(), public=True)},
        "/api/attempts/{attempt_id}": {"get": _op("Status and remaining time by the server's clock.",
                                                  _ref("AttemptState"), params=[ATTEMPT])},
        "/api/attempts/{attempt_id}/notices": {"get": _op(
            "Warnings, pauses, added time and termination since `after`.", notices, params=[ATTEMPT, _after()])},
        "/api/attempts/{attempt_id}/answers/{question_id}": {"put": _op(
            "Autosave one answer.", saved, body=_json(answer_body),
            params=[ATTEMPT, {"name": "question_id", "in": "path", "required": True, "schema": {"type": "string"}}])},
        "/api/attempts/{attempt_id}/files/{question_id}": {"post": _op(
            "Hand in the file of an upload item (one PDF, PNG or JPEG, at most 10 MiB, the type judged by its "
            "content); it replaces an earlier one.", saved, errors=UPLOAD_ERRORS,
            params=[ATTEMPT, {"name": "question_id", "in": "path", "required": True, "schema": {"type": "string"}}],
            body={"multipart/form-data": {"schema": {
                "type": "object", "required": ["file"],
                "properties": {"file": {"type": "string", "format": "binary"}}}}})},
        "/api/attempts/{attempt_id}/media/{question_id}/plays": {"post": _op(
            "Start the next play of an item's limited audio or video: the URL that streams this play only (with "
            "ranges; a newer play, the attempt's end or 20 minutes end it), and the plays allowed and left; 409 "
            "`plays_used_up` once every play is used.",
            {"type": "object", "required": ["url", "play", "plays", "left"], "properties": {
                "url": {"type": "string"}, "play": {"type": "integer"}, "plays": {"type": "integer"},
                "left": {"type": "integer"}}},
            params=[ATTEMPT, {"name": "question_id", "in": "path", "required": True, "schema": {"type": "string"}}])},
        "/api/attempts/{attempt_id}/submit": {"post": _op("Submit the attempt (idempotent).", _ref("AttemptState"),
                                                          params=[ATTEMPT])},
        "/api/attempts/{attempt_id}/room-scan": {
            "get": _op("The candidate's room scan: due, running, the step and the time left (server clock).",
                       _ref("RoomScan"), params=[ATTEMPT]),
            "post": _op("Begin the room scan, or report a step shown (in order; each shown for a few seconds).",
                        _ref("RoomScan"), params=[ATTEMPT],
                        body=_json({"type": "object", "properties": {
                            "action": {"type": "string", "enum": ["begin"]},
                            "step": {"type": "string", "enum": ["room", "desk", "floor", "screen_edges"]}}}))},
        "/api/attempts/{attempt_id}/spoken/{question_id}": {
            "get": _op("A spoken item: its phase and the seconds left by the server's clock.", _ref("SpokenAnswer"),
                       params=[ATTEMPT, {"name": "question_id", "in": "path", "required": True,
                                         "schema": {"type": "string"}}]),
            "post": _op("Start a take of a spoken item: preparation now, then the answer is recorded (once, or twice "
                        "where the item allows a retry; 409 media_not_live while the camera and microphone are not "
                        "recorded).", _ref("SpokenAnswer"),
                        params=[ATTEMPT, {"name": "question_id", "in": "path", "required": True,
                                          "schema": {"type": "string"}}],
                        body=_json({"type": "object", "required": ["action"],
                                    "properties": {"action": {"type": "string", "enum": ["start"]}}}))},
        "/api/attempts/{attempt_id}/chat": {
            "get": _op("The candidate's chat with the proctors.", _ref("ChatMessages"), params=[ATTEMPT, _after()]),
            "post": _op("Send a chat message to the proctors.", _ref("ChatMessage"), params=[ATTEMPT],
                        body=_json(_ref("ChatText")))},
        "/api/attempts/{attempt_id}/media/offer": {"post": _op(
            "WebRTC signalling: the webcam stream to record.", _ref("SdpAnswer"), params=[ATTEMPT],
            body=_json(_ref("Sdp")), errors=MEDIA_ERRORS)},
        "/api/attempts/{attempt_id}/media/receive": {"post": _op(
            "The proctor or examiner who calls, on a connection of its own where the media plane sends a call that "
            "way (Janus): ask for its offer, then post the answer.", _ref("Receive"), params=[ATTEMPT],
            body=_json(_ref("ReceiveAnswer")), errors=MEDIA_ERRORS)},
        "/api/attempts/{attempt_id}/events": {"post": _op(
            "The exam page's events (tab hidden, fullscreen left, copy, paste, ...) on planes whose data channel "
            "does not carry them, or while it is closed: recorded in order, at the server's time of arrival (the "
            "page's ``at`` is not used), with the same timeline entries and flags as over the data channel. "
            "One unknown event refuses the whole request; 409 once the attempt has ended; 429 past the events a "
            "minute (send them again later).",
            {"type": "object", "required": ["recorded"], "properties": {"recorded": {"type": "integer"}}},
            params=[ATTEMPT], body=_json(_ref("PageEvents")),
            errors=("400", "401", "403", "404", "409", "413", "429"))},
        "/api/exams/{exam_id}/system-check/offer": {"post": _op(
            "WebRTC signalling for the camera and connection test (nothing recorded).", _ref("SdpAnswer"),
            params=[EXAM], body=_json(_ref("Sdp")), errors=MEDIA_ERRORS)},
        "/api/exams/{exam_id}/system-check/confirm": {"post": _op(
            "Passes only when the media engine received video and audio; ``path``: which way the connection went "
            "(``direct``, or ``relay`` through TURN; null where the engine cannot tell).",
            {"type": "object", "required": ["passed"],
             "properties": {"passed": {"type": "boolean"},
                            "path": {"type": ["string", "null"], "enum": ["direct", "relay", None]}}},
            params=[EXAM], errors=MEDIA_ERRORS)},
        "/api/identity/{exam_id}": {"get": _op("The identity check's status.", _ref("IdentityStatus"),
                                               params=[EXAM])},
        "/api/identity/{exam_id}/document": {"post": _op(
            "Upload the photo of the ID document's photo page (JPEG, PNG or WebP, at most 8 MiB) and, for an ID "
            "card, of its back; the machine-readable zone is read from the photos (422 document_unreadable with "
            "what to do when it cannot be).",
            _ref("IdentityStatus"), params=[EXAM], errors=UPLOAD_ERRORS, body={"multipart/form-data": {"schema": {
                "type": "object", "required": ["file"],
                "properties": {"file": {"type": "string", "format": "binary"},
                               "back": {"type": "string", "format": "binary",
                                        "description": "The back of an ID card (with the MRZ); read, not kept."},
                               "mrz": {"type": "string", "description": "The machine-readable zone, typed: only "
                                       "when it cannot be read from the photo; a person then checks."}}}}})},
        "/api/identity/{exam_id}/camera/offer": {"post": _op(
            "WebRTC signalling: the camera for the live head-movement challenge (the media engine takes the "
            "frames from this video; nothing is recorded or uploaded).",
            _ref("SdpAnswer"), params=[EXAM], body=_json(_ref("Sdp")), errors=MEDIA_ERRORS)},
        "/api/identity/{exam_id}/liveness": {
            "post": _op("Start the challenge on the connected camera: the server draws the moves, times each "
                        "step and has the media engine take the frames; the check then runs in the background.",
                        _ref("LivePrompt"), params=[EXAM]),
            "get": _op("The move asked now (ask a few times a second while the challenge runs).",
                       _ref("LivePrompt"), params=[EXAM])},
        "/api/identity/{exam_id}/live/offer": {"post": _op(
            "WebRTC signalling: the camera for the proctor's comparison with the ID document (nothing recorded).",
            _ref("SdpAnswer"), params=[EXAM], body=_json(_ref("Sdp")), errors=MEDIA_ERRORS)},
        "/api/identity/{exam_id}/live/receive": {"post": _op(
            "The proctor who calls during the check by a proctor, on a connection of its own (Janus): ask for its "
            "offer, then post the answer.", _ref("Receive"), params=[EXAM], body=_json(_ref("ReceiveAnswer")),
            errors=MEDIA_ERRORS)},
        "/api/proctor/identity/{check_id}/call/receive": {"post": _op(
            "The proctor's answer to the offer of the waiting candidate on a connection of its own (Janus).",
            _ref("Receive"), params=[CHECK], body=_json(_ref("ReceiveAnswer")), errors=MEDIA_ERRORS)},
        "/api/proctor/identity": {"get": _op(
            "Candidates waiting for the identity check by a proctor, oldest first.",
            {"type": "object", "required": ["checks"],
             "properties": {"checks": {"type": "array", "items": _ref("ManualCheck")}}})},
        "/api/proctor/identity/{check_id}/live/offer": {"post": _op(
            "Watch a waiting candidate live for the identity check (the media engine relays the camera).",
            _ref("SdpReply"), params=[CHECK], body=_json(_ref("Sdp")), errors=MEDIA_ERRORS)},
        "/api/proctor/identity/{check_id}/live/answer": {"post": _op(
            "The browser's answer where live/offer replied with an offer (the Janus media plane).",
            _ref("Started"), params=[CHECK], body=_json(_ref("SdpOfAnswer")), errors=MEDIA_ERRORS)},
        "/api/proctor/identity/{check_id}/chat": {
            "get": _op("The chat with a candidate waiting for the check by a proctor (deleted at the decision).",
                       _ref("ChatMessages"), params=[CHECK, _after()]),
            "post": _op("Write to the waiting candidate.", _ref("ChatMessage"), params=[CHECK],
                        body=_json(_ref("ChatText")))},
        "/api/identity/{exam_id}/chat": {
            "get": _op("The candidate's chat with the proctor of the check by a proctor (deleted at the decision).",
                       _ref("ChatMessages"), params=[EXAM, _after()]),
            "post": _op("Write to the proctor of the check by a proctor.", _ref("ChatMessage"), params=[EXAM],
                        body=_json(_ref("ChatText")))},
        "/api/lti/proctoring/{session_id}": {"get": _op(
            "Whether the supervision of a learning platform's assessment is live and recording (the checks page "
            "enables the start with it).",
            {"type": "object", "required": ["status", "live"],
             "properties": {"status": {"type": "string", "enum": ["checks", "assessment", "ended"]},
                            "live": {"type": "boolean"}}}, params=[LTI_SESSION])},
        "/api/lti/proctoring/{session_id}/closed": {"post": _op(
            "The supervision window is closing: a flag while the supervision runs.",
            {"type": "object", "required": ["flagged"], "properties": {"flagged": {"type": "boolean"}}},
            params=[LTI_SESSION])},
        "/api/proctor/identity/{check_id}/call/offer": {"post": _op(
            "The proctor talks to a candidate waiting for the check by a proctor (camera and microphone both ways; "
            "nothing is recorded).", _ref("SdpAnswer"), params=[CHECK], body=_json(_ref("Sdp")), errors=MEDIA_ERRORS)},
        "/api/proctor/live": {"get": _op("Tiles of every live attempt the proctor supervises.", {
            "type": "object", "required": ["now", "attempts"],
            "properties": {"now": {"type": "string"}, "attempts": {"type": "array", "items": _ref("Tile")}}})},
        "/api/proctor/attempts/{attempt_id}/snapshot": {"get": _op(
            "The latest webcam snapshot of a live candidate.", {"type": "string", "format": "binary"},
            params=[ATTEMPT], ok_type="image/jpeg", errors=MEDIA_ERRORS)},
        "/api/proctor/attempts/{attempt_id}/screen": {"get": _op(
            "The latest thumbnail of a live candidate's shared screen (exams that record it).",
            {"type": "string", "format": "binary"}, params=[ATTEMPT], ok_type="image/jpeg", errors=MEDIA_ERRORS)},
        "/api/proctor/attempts/{attempt_id}/phone": {"get": _op(
            "The latest picture of a live candidate's phone, the second camera (exams that require one).",
            {"type": "string", "format": "binary"}, params=[ATTEMPT], ok_type="image/jpeg", errors=MEDIA_ERRORS)},
        "/api/exams/{exam_id}/phone/pairing": {"post": _op(
            "A new single-use pairing link for the candidate's phone as the second camera (valid a few minutes), "
            "with its QR code as an SVG data URI; 409 where the exam needs no phone.",
            {"type": "object", "required": ["qr", "link", "expires_in"],
             "properties": {"qr": {"type": "string"}, "link": {"type": "string"},
                            "expires_in": {"type": "integer"}}}, params=[EXAM])},
        "/api/exams/{exam_id}/phone": {"get": _op(
            "Whether a phone is paired as the second camera and the media engine receives its camera now.",
            {"type": "object", "required": ["required", "paired", "used", "streaming"],
             "properties": {"required": {"type": "boolean"}, "paired": {"type": "boolean"},
                            "used": {"type": "integer", "description": "Pairing codes used so far."},
                            "streaming": {"type": "boolean"}}}, params=[EXAM], errors=MEDIA_ERRORS)},
        "/api/proctor/attempts/{attempt_id}/oral/offer": {"post": _op(
            "The examiner joins an oral exam with camera and microphone (the media engine forwards both ways).",
            _ref("SdpAnswer"), params=[ATTEMPT], body=_json(_ref("Sdp")), errors=MEDIA_ERRORS)},
        "/api/proctor/attempts/{attempt_id}/call/offer": {"post": _op(
            "A proctor opens a two-way call (camera and microphone) with a candidate of a supervised exam; "
            "recorded with the attempt and marked on the timeline.",
            _ref("SdpAnswer"), params=[ATTEMPT], body=_json(_ref("Sdp")), errors=MEDIA_ERRORS)},
        "/api/proctor/attempts/{attempt_id}/oral/receive": {"post": _op(
            "The examiner's answer to the offer of the candidate on a connection of its own (Janus).",
            _ref("Receive"), params=[ATTEMPT], body=_json(_ref("ReceiveAnswer")), errors=MEDIA_ERRORS)},
        "/api/proctor/attempts/{attempt_id}/call/receive": {"post": _op(
            "The proctor's answer to the offer of the candidate on a connection of its own (Janus).",
            _ref("Receive"), params=[ATTEMPT], body=_json(_ref("ReceiveAnswer")), errors=MEDIA_ERRORS)},
        "/api/proctor/attempts/{attempt_id}/call/end": {"post": _op(
            "The proctor hangs up; the candidate's page is told.",
            {"type": "object", "required": ["ended"], "properties": {"ended": {"type": "boolean"}}},
            params=[ATTEMPT])},
        "/api/proctor/attempts/{attempt_id}/room-scan": {
            "get": _op("Whether the candidate's room scan runs, is asked for or outstanding (in words too).",
                       _ref("RoomScan"), params=[ATTEMPT]),
            "post": _op("Ask the candidate for a room scan now (exams with room scans; asking while one is due "
                        "changes nothing).", _ref("RoomScan"), params=[ATTEMPT],
                        body=_json({"type": "object"}))},
        "/api/proctor/attempts/{attempt_id}/chat": {
            "get": _op("The chat with one candidate.", _ref("ChatMessages"), params=[ATTEMPT, _after()]),
            "post": _op("Write to the candidate.", _ref("ChatMessage"), params=[ATTEMPT],
                        body=_json(_ref("ChatText")))},
        "/api/proctor/attempts/{attempt_id}/live/offer": {"post": _op(
            "Watch a candidate live (the media engine relays the stream).", _ref("SdpReply"), params=[ATTEMPT],
            body=_json(_ref("Sdp")), errors=MEDIA_ERRORS)},
        "/api/proctor/attempts/{attempt_id}/live/answer": {"post": _op(
            "The browser's answer where live/offer replied with an offer (the Janus media plane).", _ref("Started"),
            params=[ATTEMPT], body=_json(_ref("SdpOfAnswer")), errors=MEDIA_ERRORS)},
        "/api/proctor/attempts/{attempt_id}/flags/{flag_id}": {"post": _op(
            "Confirm (with a note: what was seen) or dismiss an open flag of a supervised attempt.",
            {"type": "object", "required": ["id", "status", "label"],
             "properties": {"id": {"type": "integer"}, "status": {"type": "string", "enum": ["confirmed", "dismissed"]},
                            "label": {"type": "string"}}},
            params=[ATTEMPT, _id("flag_id", "A flag of that attempt.")],
            body=_json({"type": "object", "required": ["decision"], "properties": {
                "decision": {"type": "string", "enum": ["confirm", "dismiss"]},
                "note": {"type": "string", "maxLength": 2000}}}))},
        "/api/proctor/attempts/{attempt_id}/{action}": {"post": _op(
            "Warn, pause, resume, add time or terminate.",
            {"type": "object", "required": ["ok", "status"],
             "properties": {"ok": {"type": "boolean"}, "status": {"type": "string"}}},
            params=[ATTEMPT, {"name": "action", "in": "path", "required": True, "schema": {
                "type": "string", "enum": ["warn", "pause", "resume", "add-time", "terminate"]}}],
            body=_json({"type": "object", "properties": {
                "message": {"type": "string"}, "reason": {"type": "string"},
                "minutes": {"type": "integer", "minimum": 1, "maximum": 240}}}))},
        "/api/v1/exams": {"get": _token_op(
            "The exams of the token's institution.",
            {"type": "object", "required": ["exams"],
             "properties": {"exams": {"type": "array", "items": _ref("InstitutionExam")}}}, None,
            errors=("401", "403"))},
        "/api/v1/exams/{exam_id}/results": {"get": _token_op(
            "The exam's released results (held, ungraded or reopened ones are left out and counted in "
            "`unreleased`); each reading is entered in the candidates' staff access log.",
            {"type": "object", "required": ["exam", "items", "unreleased", "results"],
             "properties": {"exam": {"type": "object", "required": ["id", "title"],
                                     "properties": {"id": {"type": "integer"}, "title": {"type": "string"}}},
                            "items": {"type": "array", "items": {
                                "type": "object", "required": ["id", "max_points"],
                                "properties": {"id": {"type": "string"}, "max_points": {"type": "integer"}}}},
                            "unreleased": {"type": "integer", "minimum": 0},
                            "results": {"type": "array", "items": _ref("Result")}}},
            "results:read", params=[INSTITUTION_EXAM])},
        "/api/v1/exams/{exam_id}/roster": {
            "get": _token_op("The exam's roster.", {
                "type": "object", "required": ["exam_id", "enrolments"],
                "properties": {"exam_id": {"type": "integer"},
                               "enrolments": {"type": "array", "items": _ref("Enrolment")}}},
                "rosters:manage", params=[INSTITUTION_EXAM]),
            "post": _token_op(
                "Enrol a registered candidate of the institution by email address, in a session of the exam if "
                "given (a full session answers 409); enrolling again changes nothing.", _ref("Enrolment"),
                "rosters:manage", params=[INSTITUTION_EXAM], errors=("400", "401", "403", "404", "409"),
                body=_json({"type": "object", "required": ["email"], "properties": {
                    "email": {"type": "string", "maxLength": 320},
                    "session_id": {"type": ["integer", "null"], "minimum": 0, "maximum": MAX_ID}}}))},
        "/api/verify/credential": {"post": _op(
            "Check a signed certificate credential (public; no login): the EdDSA JWS, the Open Badges ES256 JWT or "
            "the Open Badges JSON-LD credential with its Data Integrity proof. For the last two, ``status`` is one of "
            "valid, revoked, altered, unknown_issuer, unknown, malformed and ``form`` says which form was checked.",
            _ref("Verification"),
            body={JSON: {"schema": {"type": "object", "required": ["credential"],
                                    "properties": {"credential": {
                                        "oneOf": [{"type": "string", "description": "A JWS or JWT."},
                                                  {"type": "object", "description": "A JSON-LD credential."}]}}}},
                  "text/plain": {"schema": {"type": "string", "description": "The JWS itself."}}},
            errors=("400", "429"), public=True)},
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "aufsicht JSON API", "version": "1",
                 "description": __doc__.split("\n\n")[1].replace("\n", " ") if __doc__ else ""},
        "paths": paths,
        "components": {"schemas": SCHEMAS, "securitySchemes": {
            "session": {"type": "apiKey", "in": "cookie", "name": "session",
                        "description": "The session cookie a login sets."},
            "csrf": {"type": "apiKey", "in": "header", "name": "X-CSRFToken",
                     "description": "The page's CSRF token; needed on POST, PUT and DELETE."},
            "bearer": {"type": "http", "scheme": "bearer",
                       "description": "An institution API token (`afs_...`), made by the exam office on its page "
                                      "*API and webhooks*, scoped (`results:read`, `rosters:manage`); for "
                                      "`/api/v1/` only."}}},
        "security": [{"session": [], "csrf": []}],
    }
