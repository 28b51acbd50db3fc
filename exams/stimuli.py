"""Stimuli of items: the image, audio or video an item shows with its prompt, and the plays of limited ones.

Exam media are confidential until the exam is over. They are stored encrypted (``storage.vault``) like every
other file; a type is decided from the file's first bytes, never from its name. A candidate gets them only
through the attempt that is running (the item names the file, the URL names only the attempt and the item, so
there is no id to guess); staff of the institution get them by the file's public id.

A play limit (``media: {plays: 2}``) is the server's: each play is granted by :func:`grant_play`, which counts
the plays of the attempt's item in the database (a unique number per play, so two requests racing for the last
play end with one play) and hands out a ticket. Only that ticket streams the file, with ranges for seeking, for
a limited time and at most about twice the file's bytes; a newer play, the end of the attempt or the expiry ends
it. What a browser already holds in memory cannot be taken back: the page drops its copy when a play ends.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from accounts.models import User
from exams.attempts import AttemptPaused, attempt_spec, record_event, remaining_seconds
from exams.models import Attempt, AttemptStatus, ItemImage, ItemMedia, MediaPlay
from kernel.db import db
from kernel.errors import Conflict, Gone, NotFound, ValidationFailed
from storage import vault
from storage.crypto import EncryptedReader
from storage.models import Blob

#: The largest audio or video file (below the app's MAX_CONTENT_LENGTH of 16 MB).
MAX_ITEM_MEDIA = 15 * 1024 * 1024
#: How long a play's ticket streams after it was granted.
PLAY_SECONDS = 20 * 60
#: Bytes a ticket may stream beyond twice the file (the player's probing requests), at most.
PLAY_SLACK_BYTES = 256 * 1024


def play_budget(size: int) -> int:
    """Bytes one play may stream: the file twice (seeking back) and half of it more, up to the slack."""
    return 2 * size + min(size // 2, PLAY_SLACK_BYTES)


class PlaysUsedUp(Conflict):
    """The item's audio or video has been played as often as it may be."""

    code = "plays_used_up"


class PlayEnded(Gone):
    """The ticket's play is over (used up, expired, superseded, or the attempt ended)."""

    code = "play_ended"


def sniff_media(data: bytes) -> str | None:
    """The content type of audio or video by its first bytes (what browsers play); None for anything else.

    Ogg (Opus or Vorbis), MP3, WAV and M4A are audio; WebM and MP4 are video.
    """
    head = data[:4096]
    if head.startswith(b"OggS") and (b"OpusHead" in head or b"\x01vorbis" in head):
        return "audio/ogg"
    if head.startswith(b"RIFF") and head[8:12] == b"WAVE":
        return "audio/wav"
    if head.startswith(b"ID3") or (len(head) > 2 and head[0] == 0xFF and (head[1] & 0xE6) == 0xE2):
        return "audio/mpeg"  # an ID3 tag, or the frame sync of MPEG audio layer III
    if head.startswith(b"\x1a\x45\xdf\xa3") and b"webm" in head[:64]:
        return "video/webm"
    if head[4:8] == b"ftyp":
        return "audio/mp4" if head[8:12] in (b"M4A ", b"M4B ") else "video/mp4"
    return None


def kind_of(content_type: str) -> str:
    """``image``, ``audio`` or ``video`` for a stored type."""
    return content_type.split("/", 1)[0]


def store_item_media(staff: User, data: bytes) -> ItemMedia:
    """Store audio or video for the staff member's institution's items; its public id names it in items."""
    if len(data) > MAX_ITEM_MEDIA:
        raise ValidationFailed(_("The file is larger than %(n)d MB.", n=MAX_ITEM_MEDIA // 2**20),
                               fields={"media": "too large"})
    kind = sniff_media(data)
    if kind is None:
        raise ValidationFailed(_("Audio must be Ogg (Opus or Vorbis), MP3, WAV or M4A, and video WebM or MP4. "
                                 "This file is none of them, whatever its name says."), fields={"media": "wrong type"})
    blob = vault.store("item_media", data, content_type=kind, institution_id=staff.institution_id)
    media = ItemMedia(public_id=secrets.token_urlsafe(18), institution_id=staff.institution_id, blob_id=blob.id,
                      content_type=kind, size=len(data), created_by_id=staff.id)
    db.session.add(media)
    db.session.commit()
    return media


def media_of(institution_id: int) -> list[ItemMedia]:
    """The institution's audio and video, newest first."""
    return list(db.session.scalars(select(ItemMedia).where(ItemMedia.institution_id == institution_id)
                                   .order_by(ItemMedia.id.desc())))


@dataclass(frozen=True)
class StimulusFile:
    """A stored stimulus: its type, size and encrypted blob."""

    public_id: str
    content_type: str
    blob_id: int

    @property
    def kind(self) -> str:
        """``image``, ``audio`` or ``video``."""
        return kind_of(self.content_type)


def stimulus_file(public_id: str, institution_id: int) -> StimulusFile:
    """An image, audio or video of the institution by its public id; anything else is NotFound."""
    media = db.session.scalar(select(ItemMedia).where(ItemMedia.public_id == public_id,
                                                      ItemMedia.institution_id == institution_id))
    if media is not None:
        return StimulusFile(media.public_id, media.content_type, media.blob_id)
    image = db.session.scalar(select(ItemImage).where(ItemImage.public_id == public_id,
                                                      ItemImage.institution_id == institution_id))
    if image is None:
        raise NotFound()
    return StimulusFile(image.public_id, image.content_type, image.blob_id)


def open_file(stimulus: StimulusFile) -> EncryptedReader:
    """A random-access reader of the stimulus's plaintext."""
    blob = db.session.get(Blob, stimulus.blob_id)
    if blob is None:  # pragma: no cover - the row refers to it
        raise NotFound()
    return vault.open_reader(blob)


@dataclass(frozen=True)
class StimulusView:
    """A stimulus as the exam page shows it: kind, words, and the plays allowed and used."""

    kind: str
    alt: str
    plays: int | None
    used: int

    @property
    def left(self) -> int | None:
        """Plays left (None: no limit)."""
        return None if self.plays is None else max(0, self.plays - self.used)


def _plays_used(attempt_id: int, question_id: str) -> int:
    return db.session.scalar(select(func.count(MediaPlay.id)).where(
        MediaPlay.attempt_id == attempt_id, MediaPlay.question_id == question_id)) or 0


def stimulus_files(public_ids: set[str], institution_id: int) -> dict[str, StimulusFile]:
    """The institution's images, audio and video of ``public_ids`` by public id (two queries for all; an id
    that names nothing of the institution is left out)."""
    if not public_ids:
        return {}
    found = {}
    for model in (ItemImage, ItemMedia):  # a public id names one or the other; media win as in stimulus_file
        rows = db.session.execute(select(model.public_id, model.content_type, model.blob_id).where(
            model.public_id.in_(public_ids), model.institution_id == institution_id))
        found.update({row.public_id: StimulusFile(row.public_id, row.content_type, row.blob_id) for row in rows})
    return found


def stimuli_for(attempt: Attempt) -> dict[str, StimulusView]:
    """The stimuli of the attempt's items by question id, with the plays used so far (three queries for the
    page, whatever its number of items)."""
    items = [q for q in attempt_spec(attempt).questions if q.media is not None]
    files = stimulus_files({q.media.id for q in items if q.media is not None}, attempt.exam.institution_id)
    used = {row.question_id: int(row.plays) for row in db.session.execute(
        select(MediaPlay.question_id, func.count(MediaPlay.id).label("plays"))
        .where(MediaPlay.attempt_id == attempt.id).group_by(MediaPlay.question_id))} if items else {}
    out = {}
    for q in items:
        found = files.get(q.media.id) if q.media is not None else None
        if found is None or q.media is None:  # deleted with nothing left to show: the item is shown without it
            continue
        plays = used.get(q.id, 0) if q.media.plays is not None else 0
        out[q.id] = StimulusView(found.kind, q.media.alt, q.media.plays, plays)
    return out


@dataclass(frozen=True)
class StimulusReview:
    """A stimulus as the grader sees it: the file, its words, the transcript and how often the candidate played it."""

    public_id: str
    kind: str
    alt: str
    transcript: str
    plays: int | None
    used: int


def review_of(attempt: Attempt) -> dict[str, StimulusReview]:
    """The stimuli of the attempt's items by question id, for staff (after the exam as during it)."""
    out = {}
    for q in attempt_spec(attempt).questions:
        if q.media is None:
            continue
        try:
            found = stimulus_file(q.media.id, attempt.exam.institution_id)
        except NotFound:
            continue
        out[q.id] = StimulusReview(found.public_id, found.kind, q.media.alt, q.media.transcript, q.media.plays,
                                   _plays_used(attempt.id, q.id))
    return out


def _running(attempt: Attempt, now: dt.datetime) -> None:
    if attempt.status != AttemptStatus.IN_PROGRESS or remaining_seconds(attempt, now) <= 0:
        raise NotFound(_("This exam has ended; its media can no longer be played."))


def _stimulus_of(attempt: Attempt, question_id: str) -> tuple[StimulusFile, int | None]:
    question = attempt_spec(attempt).question(question_id)
    if question is None or question.media is None:
        raise NotFound()
    return stimulus_file(question.media.id, attempt.exam.institution_id), question.media.plays


@dataclass(frozen=True)
class Play:
    """A granted play: the ticket that streams it, and the plays allowed and left."""

    ticket: str
    number: int
    allowed: int

    @property
    def left(self) -> int:
        """Plays left after this one."""
        return self.allowed - self.number


def _sha(ticket: str) -> str:
    return hashlib.sha256(ticket.encode()).hexdigest()


def grant_play(attempt: Attempt, question_id: str, now: dt.datetime) -> Play:
    """Grant the next play of an item's limited audio or video, or refuse it once the limit is reached (or while
    the supervision has paused the attempt).

    Race-safe: the play's number is unique per attempt and item, so of two requests for the last play one
    inserts it and the other finds the limit reached.
    """
    _running(attempt, now)
    if attempt.paused_at is not None:  # a play would run while the candidate may not work: none is spent
        raise AttemptPaused(_("The supervision has paused your exam. Your time is stopped; please wait."))
    stimulus, allowed = _stimulus_of(attempt, question_id)
    if allowed is None or stimulus.kind == "image":
        raise NotFound(_("This item's media has no play limit; it needs no ticket."))
    size = open_file(stimulus).plaintext_size
    for _try in range(3):
        number = _plays_used(attempt.id, question_id) + 1
        if number > allowed:
            break
        ticket = secrets.token_urlsafe(32)
        try:
            with db.session.begin_nested():
                db.session.add(MediaPlay(attempt_id=attempt.id, question_id=question_id, number=number,
                                         ticket_sha256=_sha(ticket), issued_at=now,
                                         expires_at=now + dt.timedelta(seconds=PLAY_SECONDS),
                                         bytes_served=0, byte_budget=play_budget(size)))
        except IntegrityError:  # another request took this number: count again
            continue
        record_event(attempt, "media_played", now, question_id=question_id, play=number, of=allowed)
        db.session.commit()
        return Play(ticket, number, allowed)
    db.session.rollback()
    raise PlaysUsedUp(_("You have played this recording %(n)d times, as often as it may be played.", n=allowed))


@dataclass(frozen=True)
class CandidateStream:
    """What the candidate's request may stream: the file and, for a limited one, the play it is charged to."""

    stimulus: StimulusFile
    play_id: int | None


def open_for_candidate(attempt: Attempt, question_id: str, ticket: str | None, now: dt.datetime) -> CandidateStream:
    """The stimulus of an item of the candidate's running attempt; a limited one only with the current play's
    ticket (not expired, not superseded by a newer play)."""
    _running(attempt, now)
    stimulus, allowed = _stimulus_of(attempt, question_id)
    if allowed is None or stimulus.kind == "image":
        return CandidateStream(stimulus, None)
    play = db.session.scalar(select(MediaPlay).where(
        MediaPlay.attempt_id == attempt.id, MediaPlay.question_id == question_id,
        MediaPlay.ticket_sha256 == _sha(ticket or "")))
    if play is None:
        raise PlayEnded(_("Press the play button to hear the recording."))
    newest = db.session.scalar(select(func.max(MediaPlay.number)).where(
        MediaPlay.attempt_id == attempt.id, MediaPlay.question_id == question_id))
    if play.number != newest or play.expires_at <= now or play.bytes_served >= play.byte_budget:
        raise PlayEnded(_("This play has ended. Press the play button again if plays are left."))
    return CandidateStream(stimulus, play.id)


def charge_play(play_id: int, nbytes: int) -> None:
    """Count ``nbytes`` against the play's budget in one atomic update; refuse what would go past it."""
    done = db.session.execute(update(MediaPlay).where(
        MediaPlay.id == play_id, MediaPlay.bytes_served + nbytes <= MediaPlay.byte_budget)
        .values(bytes_served=MediaPlay.bytes_served + nbytes))
    db.session.commit()
    if done.rowcount != 1:  # type: ignore[attr-defined]
        raise PlayEnded(_("This play has ended. Press the play button again if plays are left."))
