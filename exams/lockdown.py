"""Lockdown with Safe Exam Browser (SEB): the exam's SEB settings, its Config Key, and the key check per request.

SEB locks the candidate's computer to the exam: no other application, window or web page. An exam that requires
it gets settings generated here (start page, quit link, a URL filter that allows only this platform, camera and
microphone for the proctoring stream) and their **Config Key**, computed as SEB computes it (SEB's developer
documentation, "Config Key": SHA-256 over the settings in SEB's own JSON form). While an attempt runs, every
request must carry ``X-SafeExamBrowser-ConfigKeyHash`` = SHA-256(absolute URL without fragment + Config Key), or
``X-SafeExamBrowser-RequestHash`` = SHA-256(URL + Browser Exam Key) for a SEB build the exam office allows.

Keys are compared in constant time. What SEB cannot do (screen sharing on iPad, key headers in macOS/iOS's
modern WebView) is said in the README ("Lockdown with Safe Exam Browser"), not hidden.
"""

from __future__ import annotations

import base64
import datetime as dt
import enum
import gzip
import hashlib
import hmac
import plistlib
import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from exams.models import Attempt, AttemptStatus, Exam
from kernel.db import db

CONFIG_KEY_HEADER = "X-SafeExamBrowser-ConfigKeyHash"
PAGE_PROOF_COOKIE = "aufsicht_seb"
REQUEST_HASH_HEADER = "X-SafeExamBrowser-RequestHash"
_HEX64 = re.compile(r"\A[0-9a-fA-F]{64}\Z")

# Attempt.seb_state: the attempt was opened in SEB and every request so far carried a valid key ("valid"), or a
# request without a valid key came in after that ("broken"). None: the exam does not require SEB.
SEB_VALID = "valid"
SEB_BROKEN = "broken"


# --- SEB-JSON and the Config Key -------------------------------------------------------------------------------


def _seb_json_value(value: Any) -> str | None:
    """One value in SEB-JSON; None for a value SEB leaves out (an empty dictionary)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)  # Python's shortest round-trip form: 0.10000000000000001 becomes 0.1
    if isinstance(value, str):
        return f'"{value}"'  # SEB-JSON escapes nothing, not even backslashes in URL filter rules
    if isinstance(value, bytes):
        return f'"{base64.b64encode(value).decode("ascii")}"'
    if isinstance(value, dt.datetime):
        return f'"{value.isoformat()}"'
    if isinstance(value, Mapping):
        if not value:
            return None
        parts = []
        for key in sorted(value, key=lambda k: str(k).lower()):
            text = _seb_json_value(value[key])
            if text is not None:
                parts.append(f'"{key}":{text}')
        return "{" + ",".join(parts) + "}"
    if isinstance(value, Sequence):
        items = [_seb_json_value(v) for v in value]
        return "[" + ",".join(i for i in items if i is not None) + "]"
    raise TypeError(f"SEB settings cannot hold a {type(value).__name__}")


def seb_json(settings: Mapping[str, Any]) -> str:
    """The settings in SEB's JSON form: keys sorted case-insensitively at every level, ``originatorVersion``
    dropped, empty dictionaries dropped, no whitespace and no escaping, data as Base64, dates in ISO 8601."""
    return _seb_json_value({k: v for k, v in settings.items() if k != "originatorVersion"}) or "{}"


def config_key(settings: Mapping[str, Any]) -> str:
    """The Config Key of these settings: SHA-256 of their SEB-JSON, lower-case hex (64 characters)."""
    return hashlib.sha256(seb_json(settings).encode("utf-8")).hexdigest()


def url_without_fragment(url: str) -> str:
    """The absolute URL as SEB hashes it: everything before a ``#``."""
    return url.split("#", 1)[0]


def config_key_hash(url: str, key: str) -> str:
    """What SEB sends in ``X-SafeExamBrowser-ConfigKeyHash`` for ``url`` (and what its JavaScript API shows as
    ``SafeExamBrowser.security.configKey``): SHA-256 of the URL without fragment followed by the key, hex."""
    return hashlib.sha256((url_without_fragment(url) + key).encode("utf-8")).hexdigest()


# --- the exam's settings ---------------------------------------------------------------------------------------


def exam_url(base_url: str, exam_id: int) -> str:
    """The exam's page: SEB's start URL."""
    return f"{base_url.rstrip('/')}/candidate/exams/{exam_id}"


def quit_url(base_url: str, exam_id: int) -> str:
    """The page after submission; SEB quits when it is opened."""
    return f"{exam_url(base_url, exam_id)}/seb-quit"


def url_filter_expression(base_url: str) -> str:
    """The one URL filter rule: this platform's own pages (scheme, host and port), nothing else."""
    parts = urlsplit(base_url)
    return f"{parts.scheme}://{parts.netloc}/*"


def exam_settings(exam: Exam, base_url: str) -> dict[str, Any]:
    """The SEB settings of an exam that requires SEB (plain values only, so the Config Key is reproducible)."""
    return {
        "sebConfigPurpose": 0,  # starting an exam (1 would reconfigure the client)
        "startURL": exam_url(base_url, exam.id),
        "quitURL": quit_url(base_url, exam.id),
        "quitURLConfirm": False,
        "allowQuit": True,
        "sendBrowserExamKey": True,  # the key headers on every request (SEB for Windows; classic WebView)
        "browserWindowWebView": 3,  # prefer the modern WebView (needed for camera and microphone on macOS/iPad)
        "URLFilterEnable": True,
        "URLFilterEnableContentFilter": False,  # a content filter forces the classic WebView on macOS/iOS
        "URLFilterRules": [{"action": 1, "active": True, "expression": url_filter_expression(base_url),
                            "regex": False}],
        "blockPopUpWindows": True,
        "newBrowserWindowByLinkPolicy": 0,  # links that open a window are blocked
        "newBrowserWindowByScriptPolicy": 0,
        "allowSwitchToApplications": False,  # no other applications
        "enableAppSwitcherCheck": True,
        "permittedProcesses": [],
        "monitorProcesses": True,
        "allowScreenSharing": False,  # no remote session or macOS screen sharing
        "allowDisplayMirroring": False,
        "allowedDisplaysMaxNumber": 1,
        "enablePrintScreen": False,
        "allowVirtualMachine": False,
        "allowDownUploads": False,
        "allowSpellCheck": False,
        "allowDictionaryLookup": False,
        "enableBrowserWindowToolbar": False,
        "allowPreferencesWindow": False,
        # Camera and microphone for the proctoring stream (WebRTC): SEB for macOS/iOS reads the
        # browserMediaCapture* keys (3.1.1 and later, modern WebView); SEB for Windows 3.2 and later allows them
        # without a setting; allowAudioCapture/allowVideoCapture are the older Windows keys.
        "browserMediaCaptureCamera": True,
        "browserMediaCaptureMicrophone": True,
        "browserMediaCaptureScreen": False,  # the screen is not recorded under SEB (see README)
        "allowAudioCapture": True,
        "allowVideoCapture": True,
    }


def exam_config_key(exam: Exam, base_url: str) -> str:
    """The exam's Config Key (changes when the platform's public address or the exam's id changes)."""
    return config_key(exam_settings(exam, base_url))


def seb_plist(settings: Mapping[str, Any]) -> bytes:
    """The settings as SEB's XML property list."""
    return plistlib.dumps(dict(settings), fmt=plistlib.FMT_XML, sort_keys=True)


def seb_file(settings: Mapping[str, Any]) -> bytes:
    """An unencrypted ``.seb`` file (SEB's "File Format": gzip of the prefix ``plnd`` and the gzip of the XML)."""
    return gzip.compress(b"plnd" + gzip.compress(seb_plist(settings), mtime=0), mtime=0)


def read_seb_file(data: bytes) -> dict[str, Any]:
    """The settings of an unencrypted ``.seb`` file (for tests and support); ValueError for anything else."""
    try:
        inner = gzip.decompress(data)
    except (OSError, EOFError) as err:
        raise ValueError("not a gzip-compressed .seb file") from err
    if inner[:4] != b"plnd":
        raise ValueError("not an unencrypted .seb file (prefix plnd)")
    body = inner[4:]
    if body[:2] == b"\x1f\x8b":
        body = gzip.decompress(body)
    parsed = plistlib.loads(body)
    if not isinstance(parsed, dict):
        raise ValueError("the .seb file holds no settings dictionary")
    return parsed


def sebs_link(file_url: str) -> str:
    """The ``sebs://`` (or ``seb://`` for plain http) link that opens SEB with the settings at ``file_url``."""
    parts = urlsplit(file_url)
    scheme = "sebs" if parts.scheme == "https" else "seb"
    return urlunsplit((scheme, parts.netloc, parts.path, parts.query, ""))


def config_token(exam_id: int, secret: bytes) -> str:
    """The unguessable part of the public ``.seb`` address (SEB downloads it without the candidate's login)."""
    return hmac.new(secret, f"seb-config:{exam_id}".encode(), hashlib.sha256).hexdigest()[:32]


def seb_file_path(exam: Exam) -> str:
    """The path of the exam's public ``.seb`` file (app.views.lockdown serves it; mails link to it)."""
    from flask import current_app

    token = config_token(exam.id, str(current_app.config["SECRET_KEY"]).encode())
    return f"/seb/exams/{exam.id}/{token}/exam.seb"


def normalize_browser_exam_keys(text: str) -> list[str]:
    """Browser Exam Keys pasted by the exam office (one per line or separated by commas or spaces), lower-case;
    ValueError naming the first one that is not 64 hexadecimal characters."""
    keys: list[str] = []
    for part in re.split(r"[\s,;]+", text.strip()):
        if not part:
            continue
        if not _HEX64.match(part):
            raise ValueError(part[:80])
        if part.lower() not in keys:
            keys.append(part.lower())
    return keys


# --- checking a request ----------------------------------------------------------------------------------------


class KeyProof(enum.StrEnum):
    """What one request proved about the browser it came from."""

    VALID = "valid"  # a key header that matches the exam's configuration and this URL
    MISSING = "missing"  # no key header at all (another browser)
    WRONG = "wrong"  # a well-formed key that does not match (other settings, or copied from another URL)
    MALFORMED = "malformed"  # a key header that is not 64 hexadecimal characters


def _equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.lower().encode("ascii"), b.lower().encode("ascii"))


def check_request(url: str, key: str, browser_exam_keys: Sequence[str],
                  config_key_header: str | None, request_hash_header: str | None) -> KeyProof:
    """Check the SEB key headers of one request to ``url`` (absolute) against the exam's Config Key and the
    allowed Browser Exam Keys. Every candidate is compared, in constant time, so timing says nothing."""
    headers = [h.strip() for h in (config_key_header, request_hash_header) if h is not None]
    if not headers:
        return KeyProof.MISSING
    if any(not _HEX64.match(h) for h in headers):
        return KeyProof.MALFORMED
    valid = False
    if config_key_header is not None:
        valid |= _equal(config_key_hash(url, key), config_key_header.strip())
    if request_hash_header is not None:
        for bek in browser_exam_keys:
            valid |= _equal(config_key_hash(url, bek), request_hash_header.strip())
    return KeyProof.VALID if valid else KeyProof.WRONG


def check_page_proof(url: str, key: str, page_proof: str | None) -> KeyProof:
    """Check the key that SEB's JavaScript API gave a page of ours (for SEB for macOS/iOS in the modern WebView
    and SEB for Windows from 3.3.2, which send no key headers there).

    ``SafeExamBrowser.security.configKey`` is SHA-256(page URL + Config Key); the page (static/js/seb.js) hands it
    on as ``<percent-encoded page URL>|<key>`` in the cookie ``PAGE_PROOF_COOKIE``, so navigations, form posts and
    fetches carry it. It proves the key for the page the request came from, which must be a page of this
    platform (same scheme, host and port as ``url``), not for the request's own URL.
    """
    if not page_proof:
        return KeyProof.MISSING
    page, sep, value = unquote(page_proof).rpartition("|")
    if not sep or not _HEX64.match(value) or len(page) > 4096:
        return KeyProof.MALFORMED
    here, there = urlsplit(url), urlsplit(page)
    if (here.scheme, here.netloc) != (there.scheme, there.netloc):
        return KeyProof.WRONG
    return check_request(page, key, [], value, None)


def prove(exam: Exam, base_url: str, url: str, config_key_header: str | None,
          request_hash_header: str | None, page_proof: str | None = None) -> KeyProof:
    """Check one request to ``url`` for this exam (the Config Key computed from the exam's settings): by SEB's
    key headers where the request has them, else by the key SEB's JavaScript API gave the page."""
    key = exam_config_key(exam, base_url)
    proof = check_request(url, key, exam.seb_browser_exam_keys or [], config_key_header, request_hash_header)
    if proof == KeyProof.MISSING:
        return check_page_proof(url, key, page_proof)
    return proof


def guards(attempt: Attempt) -> bool:
    """Whether this attempt's requests must carry a SEB key: the exam requires SEB and it has not ended."""
    return bool(attempt.exam.seb_required) and attempt.status == AttemptStatus.IN_PROGRESS


def opened_in_seb(attempt: Attempt) -> None:
    """The attempt was started (or resumed) by a request with a valid key: from now on it is "taken in SEB" as long
    as every request carries one. An attempt that already lost that keeps it lost."""
    if attempt.exam.seb_required and attempt.seb_state is None:
        attempt.seb_state = SEB_VALID
        db.session.commit()


def record_proof(attempt: Attempt, proof: KeyProof, now: dt.datetime) -> bool:
    """Note what a request of a running SEB attempt proved; True when it may go on.

    A request without a valid key after the attempt has run in SEB (the exam opened in another browser) is
    refused, marks the attempt for good, and raises a flag the proctor sees at once. Nothing saved is touched.
    """
    if proof == KeyProof.VALID:
        return True
    if attempt.seb_state is not None:
        from proctoring.flags import raise_flag
        from proctoring.models import FlagKind

        attempt.seb_state = SEB_BROKEN
        db.session.commit()
        raise_flag(attempt, FlagKind.SEB_KEY_MISSING, now, proof=proof.value)
    return False


def taken_in_seb(attempt: Attempt) -> bool:
    """True when the exam requires SEB and every request of the attempt carried a valid key."""
    return bool(attempt.exam.seb_required) and attempt.seb_state == SEB_VALID
