"""Scripts, style sheets and pictures of ``app/static`` served before Flask, with names a browser may cache.

Every page names its scripts and styles with the file's content hash (``url_for('static', ...)`` adds
``?v=<hash>``); such a URL never changes its bytes, so it is served ``immutable`` for a year and a browser fetches
it once, not on every page and reload. A URL without the current hash (an old page, a hand-typed address) is
served with ``no-cache`` and an ETag, so a changed file is never stale. These files are public and the same for
everyone: answering them needs no session, no database and none of the app's request hooks (a 60-item exam page
named six of them, each going through all of that under a start of 50 candidates).
"""

from __future__ import annotations

import hashlib
import mimetypes
import os
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from flask import Flask

PREFIX = "/static/"
FOREVER = "public, max-age=31536000, immutable"
RECHECK_SECONDS = 2.0  # a file edited under ``make run`` gets its new name within this
MAX_NAMES = 4096
# The headers every answer of the app carries (app/__init__.py sets them on Flask's responses).
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
        "script-src 'self'; style-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"),
}


@dataclass(frozen=True)
class _File:
    body: bytes
    version: str
    content_type: str
    mtime_ns: int
    checked: float  # monotonic time of the last look at the file


class StaticFiles:
    """WSGI middleware: GET and HEAD of an existing file under ``/static/`` are answered from memory (read once,
    read again when the file changes); anything else goes on to the app (a missing file gets its 404 there)."""

    def __init__(self, wsgi_app: Any, folder: str, extra_headers: dict[str, str] | None = None) -> None:
        self.wsgi_app = wsgi_app
        self.folder = os.path.realpath(folder)
        self.extra_headers = dict(extra_headers or {})
        self._files: dict[str, _File] = {}
        self._lock = threading.Lock()

    def version(self, filename: str) -> str | None:
        """The content hash of ``filename`` (relative to the folder), None if there is no such file."""
        found = self._file(filename)
        return found.version if found is not None else None

    def _file(self, filename: str) -> _File | None:
        now = time.monotonic()
        cached = self._files.get(filename)
        if cached is not None and now - cached.checked < RECHECK_SECONDS:
            return cached  # each page names several: resolving and stat-ing each every time was 7 % of a start
        path = os.path.realpath(os.path.join(self.folder, filename))
        if not path.startswith(self.folder + os.sep):
            return None
        try:
            stat = os.stat(path)
        except (OSError, ValueError):
            return None
        if not os.path.isfile(path):
            return None
        if cached is not None and cached.mtime_ns == stat.st_mtime_ns:
            found = _File(cached.body, cached.version, cached.content_type, cached.mtime_ns, now)
            with self._lock:
                self._files[filename] = found
            return found
        with open(path, "rb") as f:
            body = f.read()
        kind = mimetypes.guess_type(path)[0] or "application/octet-stream"
        if kind.startswith("text/") or kind in ("application/javascript", "text/javascript"):
            kind += "; charset=utf-8"
        found = _File(body, hashlib.sha256(body).hexdigest()[:16], kind, stat.st_mtime_ns, now)
        with self._lock:
            if len(self._files) > MAX_NAMES:  # only names of existing files are kept: a bound all the same
                self._files.clear()
            self._files[filename] = found
        return found

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        """Answer a static file, or pass the request on."""
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "")
        if not path.startswith(PREFIX) or method not in ("GET", "HEAD"):
            return self.wsgi_app(environ, start_response)
        found = self._file(path[len(PREFIX):])
        if found is None:
            return self.wsgi_app(environ, start_response)
        etag = f'"{found.version}"'
        asked = parse_qs(environ.get("QUERY_STRING", "")).get("v", [""])[0]
        headers = [("Cache-Control", FOREVER if asked == found.version else "no-cache"), ("ETag", etag),
                   *SECURITY_HEADERS.items(), *self.extra_headers.items()]
        if etag in environ.get("HTTP_IF_NONE_MATCH", ""):
            start_response("304 Not Modified", headers)
            return [b""]
        headers += [("Content-Type", found.content_type), ("Content-Length", str(len(found.body)))]
        start_response("200 OK", headers)
        return [b""] if method == "HEAD" else [found.body]


def install(app: Flask) -> StaticFiles:
    """Serve ``app``'s static folder before the app and version every ``url_for('static', ...)``."""
    extra = ({"Strict-Transport-Security": "max-age=31536000; includeSubDomains"}
             if app.config.get("SESSION_COOKIE_SECURE") else {})
    files = StaticFiles(app.wsgi_app, str(app.static_folder), extra)

    @app.url_defaults
    def _versioned(endpoint: str, values: dict[str, Any]) -> None:
        if endpoint == "static" and "v" not in values:
            version = files.version(str(values.get("filename", "")))
            if version is not None:
                values["v"] = version

    app.wsgi_app = files  # type: ignore[method-assign]
    return files
