"""Seekable copies of recording parts for the review player: remuxed, never re-encoded, never in plaintext on disk.

The recorder writes WebM to a non-seekable sink (the encrypted storage writer), so a part has no duration
and no index (cues): a player cannot seek in it. Once a part is finished, the job
``proctoring.remux_recordings`` copies its packets unchanged into a new WebM with duration and cues and
stores that as an encrypted blob of category ``playback``, owned like the part (same attempt, person and
institution, so the same retention rule purges it). The original part stays as it was recorded.

A WebM with cues needs a seekable output: the muxer goes back to the start to fill in the segment size, the
seek head and the duration. Storage is append-only and nothing may reach a disk unencrypted, so the remux
runs twice over the decrypted part (read segment by segment from storage, never all in memory): the first
run keeps only the first ``HEAD_LIMIT`` bytes, where every rewrite lands, and a hash of the rest; the second,
bit-exact, run streams the final head followed by the rest into the encrypted writer. Both runs must produce
the same bytes (the hash is compared before the copy is sealed), or the copy is discarded.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from typing import Any

import av
from sqlalchemy import select

from kernel.db import db
from kernel.errors import DomainError
from proctoring.models import RecordingPlayback
from storage import vault
from storage.crypto import EncryptedReader
from storage.errors import StorageIntegrityError
from storage.models import Blob, BlobState
from storage.retention import purge_blob_now

log = logging.getLogger(__name__)

#: Every place the WebM muxer rewrites lies in the first bytes (EBML header, seek head, info, tracks).
HEAD_LIMIT = 1024 * 1024
CATEGORY = "playback"
_OPTIONS = {"fflags": "+bitexact"}  # no random segment UID, no encoder tag: two runs give the same bytes


class RemuxFailed(DomainError):
    """The part could not be copied into a seekable WebM (the original stays playable as it is)."""

    status = 422
    code = "remux_failed"


class _PlainFile:
    """A read-only, seekable file over a decrypting reader; keeps one decrypted segment."""

    def __init__(self, reader: EncryptedReader) -> None:
        self._reader, self._pos = reader, 0
        self._size = reader.plaintext_size
        self._seg = reader.segment_size
        self._cached: tuple[int, bytes] = (-1, b"")

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            n = self._size - self._pos
        n = min(n, self._size - self._pos)
        if n <= 0:
            return b""
        index = self._pos // self._seg
        if self._cached[0] != index:
            self._cached = (index, self._reader.segment(index))
        start = self._pos - index * self._seg
        data = self._cached[1][start:start + n]
        self._pos += len(data)
        return data

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self._pos, 2: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def seekable(self) -> bool:
        return True


class _HeadCapture:
    """First run: a seekable output that keeps the head (where the muxer rewrites) and hashes the rest."""

    def __init__(self) -> None:
        self.head = bytearray()
        self.hash = hashlib.sha256()
        self.pos = self.size = 0

    def write(self, data: Any) -> int:
        data = bytes(data)
        end = self.pos + len(data)
        if self.pos > self.size:
            raise RemuxFailed("the muxer left a gap")
        if self.pos < self.size and end > HEAD_LIMIT:
            raise RemuxFailed("the muxer rewrote bytes beyond the head")
        if self.pos < HEAD_LIMIT:
            self.head[self.pos:min(end, HEAD_LIMIT)] = data[:HEAD_LIMIT - self.pos]
        if end > HEAD_LIMIT:
            self.hash.update(data[max(0, HEAD_LIMIT - self.pos):])
        self.pos = end
        self.size = max(self.size, end)
        return len(data)

    def seek(self, offset: int, whence: int = 0) -> int:
        self.pos = {0: 0, 1: self.pos, 2: self.size}[whence] + offset
        return self.pos

    def tell(self) -> int:
        return self.pos

    def seekable(self) -> bool:
        return True

    def flush(self) -> None:
        pass


class _Replay:
    """Second run: writes the first run's final head, then the rest as it comes, to the encrypted writer."""

    def __init__(self, sink: vault.BlobWriter, head: bytes) -> None:
        self._sink, self.hash = sink, hashlib.sha256()
        self.pos = self.size = 0
        self._sink.write(head)
        self._written = len(head)  # bytes of the output the sink has

    def write(self, data: Any) -> int:
        data = bytes(data)
        end = self.pos + len(data)
        if end > self._written:  # only the part beyond what the sink has is new; it must follow on directly
            if self.pos > self._written:
                raise RemuxFailed("the muxer left a gap")
            fresh = data[self._written - self.pos:]
            self._sink.write(fresh)
            self.hash.update(fresh)
            self._written = end
        elif self.pos >= HEAD_LIMIT:
            raise RemuxFailed("the muxer rewrote bytes beyond the head")
        self.pos = end
        self.size = max(self.size, end)
        return len(data)

    def seek(self, offset: int, whence: int = 0) -> int:
        self.pos = {0: 0, 1: self.pos, 2: self.size}[whence] + offset
        return self.pos

    def tell(self) -> int:
        return self.pos

    def seekable(self) -> bool:
        return True

    def flush(self) -> None:
        self._sink.flush()


def screen_stream(streams: Any) -> int | None:
    """The index of the candidate's screen among a part's streams: the track named "screen", or in a part
    written before tracks were named, the second video of the screen layout (camera, microphone, screen). The
    name is a track's title (aiortc's parts) or its TITLE tag (GStreamer's, the Janus plane)."""
    streams = list(streams)
    titles = [next((v for k, v in s.metadata.items() if k.lower() == "title"), None) for s in streams]
    named = [s.index for s, title in zip(streams, titles, strict=True) if title == "screen"]
    if named:
        return named[0]
    if not any(titles) and [s.type for s in streams] == ["video", "audio", "video"]:
        return streams[2].index
    return None


def _copy(reader: EncryptedReader, out_file: Any, screen: bool = False) -> tuple[int | None, str | None, int]:
    """Copy every packet of the part into a WebM on ``out_file``; (duration in ms, creation time of the part,
    0). ``screen``: its screen track only, moved to begin at 0 (the screen starts later than the camera, and
    a player's clock starts at a file's first picture); the third value is then where it began in the part
    (ms), so that the review puts it on the part's clock."""
    try:
        inp = av.open(_PlainFile(reader), mode="r")
    except av.FFmpegError as err:
        raise RemuxFailed(f"the part cannot be read: {err}") from err
    try:
        out = av.open(out_file, mode="w", format="webm", options=_OPTIONS)
        try:
            wanted = {screen_stream(inp.streams)} if screen else {
                s.index for s in inp.streams if s.type in ("video", "audio")}
            streams = {s.index: out.add_stream_from_template(s) for s in inp.streams if s.index in wanted}
            if not streams:
                raise RemuxFailed("the part has no audio or video")
            last, shift, offset = 0.0, None, 0.0
            try:
                for packet in inp.demux(*[s for s in inp.streams if s.index in streams]):
                    if packet.dts is None:
                        continue  # the flush packet at the end
                    if screen and packet.pts is not None:
                        if shift is None:
                            shift = packet.pts
                            offset = float(shift * packet.time_base) if packet.time_base is not None else 0.0
                        packet.pts -= shift
                        packet.dts -= shift
                    if packet.pts is not None and packet.time_base is not None:
                        end = float((packet.pts + (packet.duration or 0)) * packet.time_base)
                        last = max(last, end)
                    packet.stream = streams[packet.stream.index]
                    out.mux(packet)
            except (av.InvalidDataError, av.EOFError):
                pass  # a part cut by a crash: everything before the cut is copied
        finally:
            out.close()
        created = inp.metadata.get("creation_time")
        return round(last * 1000), created, round(offset * 1000)
    finally:
        inp.close()


def _wall_time(value: str | None, fallback: dt.datetime) -> dt.datetime:
    """The part's first frame in UTC (the recorder writes it as the WebM's date), else the part's creation."""
    if value:
        try:
            parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
            return parsed.astimezone(dt.UTC).replace(tzinfo=None)
        except ValueError:
            pass
    return fallback


def make_playback(part: Blob, now: dt.datetime) -> RecordingPlayback:
    """Remux one finished recording part into its encrypted, seekable copy (idempotent per part).

    StorageUnavailable leaves nothing behind, so the next run tries again; a part that cannot be remuxed
    gets a ``failed`` row with the reason (the review then plays the original).
    """
    existing = db.session.scalar(select(RecordingPlayback).where(RecordingPlayback.part_id == part.id))
    if existing is not None:
        return existing
    writers: list[vault.BlobWriter] = []
    try:
        copy_id, duration, created, _ = _remuxed(part, writers)
        screen = _screen_copy(part, now)
    except (RemuxFailed, StorageIntegrityError, av.FFmpegError) as err:  # this part will not remux: say why
        _discard(writers, now)
        row = RecordingPlayback(part_id=part.id, state="failed", error=str(err)[:200], made_at=now)
        db.session.add(row)
        db.session.commit()
        log.warning("recording part %s cannot be remuxed: %s", part.id, err)
        return row
    except Exception:
        _discard(writers, now)
        raise
    row = RecordingPlayback(part_id=part.id, copy_id=copy_id, screen_copy_id=screen[0] if screen else None,
                            screen_offset_ms=screen[1] if screen else None, state="ready", duration_ms=duration,
                            started_at=_wall_time(created, part.created_at), made_at=now)
    db.session.add(row)
    db.session.commit()
    return row


def _screen_copy(part: Blob, now: dt.datetime) -> tuple[int, int] | None:
    """The seekable copy of the part's screen track and where in the part it begins (ms), if it has one; a
    screen that will not remux leaves the camera's copy standing (the review then shows the camera alone)."""
    if not _has_screen(part):
        return None
    writers: list[vault.BlobWriter] = []
    try:
        blob_id, _duration, _created, offset = _remuxed(part, writers, screen=True)
        return blob_id, offset
    except (RemuxFailed, av.FFmpegError) as err:
        _discard(writers, now)
        log.warning("the screen of recording part %s cannot be remuxed: %s", part.id, err)
        return None
    except Exception:
        _discard(writers, now)
        raise


def _has_screen(part: Blob) -> bool:
    """Whether the part recorded the candidate's screen (a track of its own)."""
    try:
        inp = av.open(_PlainFile(vault.open_reader(part)), mode="r")
    except av.FFmpegError as err:
        raise RemuxFailed(f"the part cannot be read: {err}") from err
    try:
        return screen_stream(inp.streams) is not None
    finally:
        inp.close()


def _remuxed(part: Blob, writers: list[vault.BlobWriter],
             screen: bool = False) -> tuple[int, int | None, str | None, int]:
    """One seekable copy of the part (``screen``: its screen track alone), sealed in storage; (blob id,
    duration in ms, the part's creation time, where the copy begins in the part in ms). The writer goes into
    ``writers`` (discarded on a failure)."""
    first = _HeadCapture()
    _copy(vault.open_reader(part), first, screen)
    writer = vault.open_writer(CATEGORY, content_type="video/webm", attempt_id=part.attempt_id,
                               user_id=part.user_id, institution_id=part.institution_id,
                               retain_until=part.retain_until)
    writers.append(writer)
    second = _Replay(writer, bytes(first.head))
    duration, created, offset = _copy(vault.open_reader(part), second, screen)
    if second.size != first.size or second.hash.digest() != first.hash.digest():
        raise RemuxFailed("two runs of the remux gave different bytes")
    writer.close()
    return writer.blob_id, duration, created, offset


def _discard(writers: list[vault.BlobWriter], now: dt.datetime) -> None:
    """Copies of a part that did not finish are crypto-shredded at once (keys destroyed, bytes deleted)."""
    db.session.rollback()
    for writer in writers:
        blob = db.session.get(Blob, writer.blob_id)
        try:
            writer.abort()
        except Exception:  # storage is away, or the copy was sealed: the key goes anyway, the bytes with the purge
            log.warning("aborting the copy of a recording part failed", exc_info=True)
        if blob is not None:
            try:
                purge_blob_now(blob, now, "unfinished copy of a recording part for playback")
            except Exception:
                log.warning("purging the unfinished copy %s failed; its key is destroyed", blob.id, exc_info=True)


def pending_parts(limit: int = 50) -> list[Blob]:
    """Finished recording parts (closed, or finished up after a cut) without a playback copy yet."""
    done = select(RecordingPlayback.part_id)
    return list(db.session.scalars(select(Blob).where(
        Blob.category.in_(["recording", "phone_recording"]), Blob.id.not_in(done),  # the phone: proctoring.phone
        Blob.state.in_([BlobState.COMPLETE, BlobState.CUT]),
    ).order_by(Blob.id).limit(limit)))


def playback_of(part: Blob) -> RecordingPlayback | None:
    """The part's copy for the player, when one is ready."""
    return db.session.scalar(select(RecordingPlayback).where(RecordingPlayback.part_id == part.id,
                                                             RecordingPlayback.state == "ready"))
