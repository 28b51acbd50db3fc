"""Byte ranges of stored files: the one range a media player asks for, and the response that streams it."""

from __future__ import annotations

from werkzeug.datastructures import Range
from werkzeug.exceptions import RequestedRangeNotSatisfiable
from werkzeug.wrappers import Response

from storage.crypto import EncryptedReader


def byte_range(rng: Range | None, size: int) -> tuple[int, int, bool]:
    """``(start, stop, partial)`` of the request's range; one byte range (a suffix too) is served as asked, other
    units or several ranges get the whole file; a range past the end is 416."""
    partial = rng is not None and rng.units == "bytes" and len(rng.ranges) == 1
    start, stop = 0, size
    if partial:
        first, end = rng.ranges[0]  # type: ignore[union-attr]
        start = max(0, size + first) if first < 0 else first  # a suffix longer than the file is all of it
        stop = size if end is None else min(end, size)
        if start >= stop:
            raise RequestedRangeNotSatisfiable(length=size)
    return start, stop, partial


def stream_inline(reader: EncryptedReader, content_type: str, start: int, stop: int, partial: bool) -> Response:
    """Stream plaintext ``[start, stop)`` to be shown in the page, never stored (no file name, no caching)."""
    resp = Response(reader.iter_range(start, stop - start), 206 if partial else 200, mimetype=content_type,
                    direct_passthrough=True)
    resp.headers["Content-Length"] = str(stop - start)
    resp.headers["Accept-Ranges"] = "bytes"
    resp.headers["Cache-Control"] = "private, no-store"
    resp.headers["Content-Disposition"] = "inline"
    resp.headers["X-Content-Type-Options"] = "nosniff"
    if partial:
        resp.headers["Content-Range"] = f"bytes {start}-{stop - 1}/{reader.plaintext_size}"
    return resp
