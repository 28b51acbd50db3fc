"""The machine's notes on an identity check (``IdCheck.reason``), in the reader's language.

``IdCheck.reason`` is written by the job runner in English, piece by piece ("faces differ: a person will review;
ID document: ...; liveness: step 2 (left): first clear movement went right"); it stays so in the database and the
logs. The reviewer's pages show ``reason_words`` instead: each piece in words, numbers and dates in the reader's
format; a piece this table does not know (a newer engine's) is shown as it is.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

from flask_babel import get_locale, pgettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString

from idcheck.document_labels import difference_words
from kernel.clock import DEFAULT_TIMEZONE, to_local

WHOLE: dict[str, LazyString] = {
    "same person": _l("the same person"),
    "faces differ: a person will review": _l("the faces differ: a person decides"),
    "uncertain: a person will review": _l("the faces are not clearly the same: a person decides"),
    "no retakes left": _l("no retakes left"),
    "the camera picture did not arrive during the head movements":
        _l("the camera picture did not arrive during the head movements"),
    "challenge followed by a live head": _l("head movements followed by a live head"),
    "challenge steps overlap": _l("the head movements were asked at overlapping times"),
    "no frame with a face before the first prompt": _l("no picture with a face before the first movement was asked"),
    "face not visible in enough frames": _l("the face was not visible in enough pictures"),
    "no challenge with step times": _l("no head movements were asked"),
    "movement not along the asked axis": _l("the movement was not in the asked direction"),
    "moves like a flat or bent picture, not a head": _l("moves like a flat or bent picture, not like a head"),
}
IMAGE_REASONS: dict[str, LazyString] = {
    "no_face": _l("no face found"), "two_faces": _l("two faces found"), "face_too_small": _l("face too small"),
    "too_blurred": _l("too blurred"), "too_dark": _l("too dark"), "too_bright": _l("too bright"),
    "corrupt": _l("the file is damaged"), "too_many_pixels": _l("too many pixels"), "too_small": _l("too small"),
    "empty": _l("the file is empty"), "too_large": _l("the file is too large"),
    "not_an_image": _l("not a JPEG, PNG or WebP image"),
}


def _move(word: str) -> str:
    moves = {"left": pgettext("head move", "left"), "right": pgettext("head move", "right"),
             "up": pgettext("head move", "up"), "down": pgettext("head move", "down")}
    return moves.get(word, word)


def _when(stamp: str, tz: str) -> str:
    """A time ``reopen_check`` wrote (UTC, "2026-12-24 13:05") in ``tz``, as the reader's dates are written."""
    moment = dt.datetime.strptime(stamp, "%Y-%m-%d %H:%M")
    day = "%d.%m.%Y" if str(get_locale() or "de").startswith("de") else "%Y-%m-%d"
    return to_local(moment, tz).strftime(f"{day} %H:%M")


_REOPENED = re.compile(r"reopened by (.*?) (\d{4}-\d{2}-\d{2} \d{2}:\d{2}): (.*) \((?:rejected "
                       r"(\d{4}-\d{2}-\d{2} \d{2}:\d{2}): (.*))?\)", re.DOTALL)


def _reopened(reason: str, tz: str) -> str:
    m = _REOPENED.fullmatch(reason)
    if m is None:
        return reason
    if m.group(4) is None:
        return _("reopened by %(who)s on %(when)s: %(why)s", who=m.group(1), when=_when(m.group(2), tz),
                 why=m.group(3))
    return _("reopened by %(who)s on %(when)s: %(why)s (rejected on %(earlier)s: %(before)s)", who=m.group(1),
             when=_when(m.group(2), tz), why=m.group(3), earlier=_when(m.group(4), tz), before=m.group(5))


PATTERNS: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = [
    (re.compile(r"(ID photo|selfie): (\w+): .*"), lambda m: _(
        "ID photo: %(what)s", what=_image(m.group(2))) if m.group(1) == "ID photo" else _(
        "selfie: %(what)s", what=_image(m.group(2)))),
    (re.compile(r"ID document: (.*)"), lambda m: " ".join(_differences(m.group(1)))),
    (re.compile(r"liveness: (.*)"), lambda m: _("head movements: %(what)s", what=piece_words(m.group(1)))),
    (re.compile(r"step (\d+) \((\w+)\): (.*)"), lambda m: _(
        "movement %(n)s (%(move)s): %(what)s", n=m.group(1), move=_move(m.group(2)), what=piece_words(m.group(3)))),
    (re.compile(r"first clear movement at (\d+) ms, after the deadline"),
     lambda m: _("the first clear movement came after the deadline")),
    (re.compile(r"first clear movement went (\w+)"),
     lambda m: _("the first clear movement went %(move)s", move=_move(m.group(1)))),
    (re.compile(r"no clear movement (\w+) within the deadline"),
     lambda m: _("no clear movement %(move)s within the deadline", move=_move(m.group(1)))),
    (re.compile(r"two faces at (\d+) ms"), lambda m: _("two faces in the picture")),
    (re.compile(r"another person at (\d+) ms \(face distance ([\d.]+)\)"),
     lambda m: _("another person in the picture")),
    (re.compile(r"moves like a warped still picture, not a head: .*"),
     lambda m: _("moves like a warped still picture, not like a head: the light on the face did not change")),
    (re.compile(r"consent withdrawn during review; automatic result: (.*)", re.DOTALL), lambda m: _(
        "the candidate withdrew the biometric consent during the review; the automatic result: %(what)s",
        what="; ".join(piece_words(p) for p in m.group(1).split("; ")))),
    (re.compile(r"too many pixels for the automatic check .*"),
     lambda m: _("the pictures are too large for the automatic check: a person decides")),
    (re.compile(r"challenge must be at least .*"), lambda m: _("too few head movements were asked")),
]


def _differences(text: str) -> list[str]:
    """The document step's differences, which the job joined with ", " (a difference may hold one itself)."""
    out, held = [], ""
    for part in text.split(", "):
        held = f"{held}, {part}" if held else part
        words = difference_words(held)
        if words != held:
            out.append(words)
            held = ""
    return [*out, held] if held else out


def _image(code: str) -> str:
    found = IMAGE_REASONS.get(code)
    return str(found) if found is not None else code


def piece_words(piece: str) -> str:
    """One note of the machine in words (as it is when unknown)."""
    piece = piece.strip()
    found = WHOLE.get(piece)
    if found is not None:
        return str(found)
    for pattern, words in PATTERNS:
        m = pattern.fullmatch(piece)
        if m:
            return words(m)
    return piece


def reason_words(reason: str | None, tz: str = DEFAULT_TIMEZONE) -> list[str]:
    """The machine's notes on a check, one entry per note, in the reader's language (empty: none); times in ``tz``."""
    if not reason:
        return []
    if reason.startswith("reopened by "):  # a person's words inside: never split at their semicolons
        return [_reopened(reason, tz)]
    if reason.startswith("consent withdrawn during review; "):  # the notes before the withdrawal follow
        return [piece_words(reason)]
    return [piece_words(p) for p in reason.split("; ") if p.strip()]
