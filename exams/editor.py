"""The exam editor's form: flat form fields to an exam and back, with a message per field.

The form holds the same content as an exam file (``exams.schema``); this module reads it from the
flat fields a browser posts (``title``, ``q0-prompt``, ``q0-o1-text`` ...), checks every field with
a message in the reader's language, and builds the :class:`ExamSpec` that ``exams.authoring`` saves.
The exam-file schema is checked as well, so nothing the form accepts could not be imported as a file.

Times in the form are local wall-clock times (``datetime-local``) in the institution's time zone.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import gettext as _

from exams.itemanswers import candidate_parts
from exams.itemforms import CHECKBOXES, FIELDS, fields_from_spec, item_data
from exams.lockdown import normalize_browser_exam_keys
from exams.questions import ExamSpec, QuestionKind, Stimulus, shuffled_order
from exams.schema import MAX_YEAR, MIN_YEAR, exam_from_data, schema_problems

CHOICE = (QuestionKind.SINGLE_CHOICE.value, QuestionKind.MULTIPLE_CHOICE.value)
KINDS = tuple(k.value for k in QuestionKind)
MAX_QUESTIONS = 500
MAX_OPTIONS = 26
_LOCAL_FORMAT = "%Y-%m-%dT%H:%M"
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")

#: Reads one posted field ("" when absent) and, for multi-valued fields, all of them.
Get = Callable[[str], str]
GetList = Callable[[str], list[str]]


@dataclasses.dataclass
class OptionForm:
    """One answer option as the form shows it."""

    id: str = ""
    text: str = ""
    correct: bool = False


@dataclasses.dataclass
class QuestionForm:
    """One question as the form shows it (every field as typed)."""

    kind: str
    id: str = ""
    prompt: str = ""
    points: str = "1"
    answer: str = ""
    tolerance: str = "0"
    options: list[OptionForm] = dataclasses.field(default_factory=list)
    item: dict[str, Any] = dataclasses.field(default_factory=dict)  # the fields of exams.itemforms, as typed
    # The stimulus (any kind): media_id, media_alt, media_transcript, media_plays, as typed.
    media: dict[str, str] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class ExamForm:
    """The whole editor form: the fields as typed, and after :func:`check` the problems per field."""

    title: str = ""
    description: str = ""
    duration_minutes: str = "30"
    opens_at: str = ""
    closes_at: str = ""
    pass_mark_percent: str = "60"  # noqa: S105 - a percentage, not a password
    minimum_age: str = ""
    identity_check_required: bool = True
    proctoring_required: bool = True
    shuffle_questions: bool = False
    shuffle_options: bool = False
    seb_required: bool = False  # Safe Exam Browser required (exams.lockdown)
    room_scan_required: bool = False  # a room scan before the start and when a proctor asks
    second_camera: bool = False  # a phone as the second camera (proctoring.phone)
    seb_browser_exam_keys: str = ""  # as pasted: one Browser Exam Key per line
    proctors: list[str] = dataclasses.field(default_factory=list)
    questions: list[QuestionForm] = dataclasses.field(default_factory=list)
    errors: dict[str, str] = dataclasses.field(default_factory=dict)


def new_question(kind: str) -> QuestionForm:
    """An empty question of ``kind`` (choice questions start with two empty options)."""
    if kind not in KINDS:
        kind = QuestionKind.SINGLE_CHOICE.value
    options = [OptionForm(), OptionForm()] if kind in CHOICE else []
    return QuestionForm(kind=kind, options=options)


def blank_form(zone: ZoneInfo, now: dt.datetime) -> ExamForm:
    """A new exam: open from tomorrow 08:00 for a week (local time), one single-choice question."""
    start = (now.replace(tzinfo=dt.UTC).astimezone(zone) + dt.timedelta(days=1)).replace(
        hour=8, minute=0, second=0, microsecond=0)
    return ExamForm(opens_at=start.strftime(_LOCAL_FORMAT),
                    closes_at=(start + dt.timedelta(days=7, hours=12)).strftime(_LOCAL_FORMAT),
                    questions=[new_question(QuestionKind.SINGLE_CHOICE.value)])


def _number_text(value: Decimal | None) -> str:
    if value is None:
        return ""
    text = format(value.normalize(), "f")
    return text


def form_from_spec(spec: ExamSpec, zone: ZoneInfo) -> ExamForm:
    """The editor form filled in from an existing exam."""
    questions = [QuestionForm(kind=q.kind.value, id=q.id, prompt=q.prompt, points=str(q.points),
                              answer=_number_text(q.answer), tolerance=_number_text(q.tolerance),
                              options=[OptionForm(o.id, o.text, o.correct) for o in q.options]
                              if q.kind.value in CHOICE else [], item=fields_from_spec(q),
                              media=_media_fields(q.media))
                 for q in spec.questions]
    return ExamForm(
        title=spec.title, description=spec.description, duration_minutes=str(spec.duration_minutes),
        opens_at=spec.window.opens_at.astimezone(zone).strftime(_LOCAL_FORMAT),
        closes_at=spec.window.closes_at.astimezone(zone).strftime(_LOCAL_FORMAT),
        pass_mark_percent=_number_text(spec.pass_mark_percent),
        minimum_age="" if spec.minimum_age is None else str(spec.minimum_age),
        identity_check_required=spec.identity_check_required, proctoring_required=spec.proctoring_required,
        shuffle_questions=spec.shuffle_questions, shuffle_options=spec.shuffle_options,
        seb_required=spec.seb_required, seb_browser_exam_keys="\n".join(spec.seb_browser_exam_keys),
        room_scan_required=spec.room_scan_required,
        second_camera=spec.second_camera,
        proctors=list(spec.proctors), questions=questions)


def _count(get: Get, name: str, limit: int) -> int:
    text = get(name).strip()
    return min(int(text), limit) if text.isdigit() else 0


def read_form(get: Get, get_list: GetList) -> ExamForm:
    """The form as posted, without judging it (every value kept as typed, so nothing is lost)."""
    form = ExamForm(
        title=get("title").strip(), description=get("description").strip(),
        duration_minutes=get("duration_minutes").strip(), opens_at=get("opens_at").strip(),
        closes_at=get("closes_at").strip(), pass_mark_percent=get("pass_mark_percent").strip(),
        minimum_age=get("minimum_age").strip(),
        identity_check_required=get("identity_check_required") == "on",
        proctoring_required=get("proctoring_required") == "on",
        shuffle_questions=get("shuffle_questions") == "on", shuffle_options=get("shuffle_options") == "on",
        seb_required=get("seb_required") == "on", seb_browser_exam_keys=get("seb_browser_exam_keys").strip(),
        room_scan_required=get("room_scan_required") == "on",
        second_camera=get("second_camera") == "on",
        proctors=[p for p in get_list("proctors") if p.strip()],
    )
    for qi in range(_count(get, "questions", MAX_QUESTIONS)):
        p = f"q{qi}-"
        kind = get(p + "kind")
        if kind not in KINDS:
            continue
        question = QuestionForm(kind=kind, id=get(p + "id").strip(), prompt=get(p + "prompt").strip(),
                                points=get(p + "points").strip(), answer=get(p + "answer").strip(),
                                tolerance=get(p + "tolerance").strip())
        for name in FIELDS.get(kind, ()):
            question.item[name] = get(p + name) == "on" if name in CHECKBOXES else get(p + name).strip()
        question.media = {name: get(p + name).strip() for name in MEDIA_FIELDS if get(p + name).strip()}
        if kind in CHOICE:
            single_correct = get(p + "correct")
            for oi in range(_count(get, p + "options", MAX_OPTIONS)):
                o = f"{p}o{oi}-"
                correct = (single_correct == str(oi)) if kind == CHOICE[0] else get(o + "correct") == "on"
                question.options.append(OptionForm(get(o + "id").strip(), get(o + "text").strip(), correct))
        form.questions.append(question)
    return form


def _whole(text: str, low: int, high: int) -> int | None:
    return int(text) if re.fullmatch(r"\d{1,7}", text) and low <= int(text) <= high else None


def _decimal(text: str) -> Decimal | None:
    from exams.questions import parse_number

    return parse_number(text) if text else None


def _local(text: str, zone: ZoneInfo) -> dt.datetime | None:
    try:
        moment = dt.datetime.strptime(text, _LOCAL_FORMAT).replace(tzinfo=zone)
    except ValueError:
        return None
    return moment if MIN_YEAR <= moment.year <= MAX_YEAR else None


def _assign_ids(form: ExamForm) -> None:
    """Give new questions and options ids, and a fresh one to a repeated id (kept stable once saved: answers and
    appeals refer to them)."""
    taken = {q.id for q in form.questions if q.id and _ID.fullmatch(q.id)}
    seen: set[str] = set()
    number = 1
    for q in form.questions:
        if not q.id or not _ID.fullmatch(q.id) or q.id in seen:
            while f"q{number}" in taken:
                number += 1
            q.id = f"q{number}"
            taken.add(q.id)
        seen.add(q.id)
        used = {o.id for o in q.options if o.id and _ID.fullmatch(o.id)}
        kept: set[str] = set()
        letters = iter([*"abcdefghijklmnopqrstuvwxyz", *(f"o{n}" for n in range(MAX_OPTIONS + 1))])
        for o in q.options:
            if not o.id or not _ID.fullmatch(o.id) or o.id in kept:
                o.id = next(letter for letter in letters if letter not in used)
                used.add(o.id)
            kept.add(o.id)


def check(form: ExamForm, zone: ZoneInfo, known_proctors: Sequence[str]) -> ExamSpec | None:
    """Check every field; fills ``form.errors`` (field name to message) and returns the exam when all is well."""
    errors = form.errors
    errors.clear()
    if not form.title:
        errors["title"] = _("Please enter a title.")
    elif len(form.title) > 200:
        errors["title"] = _("The title may have at most %(n)d characters.", n=200)
    if len(form.description) > 20000:
        errors["description"] = _("The description may have at most %(n)d characters.", n=20000)
    duration = _whole(form.duration_minutes, 1, 10080)
    if duration is None:
        errors["duration_minutes"] = _("Enter the duration in whole minutes, from 1 to 10080.")
    opens, closes = _local(form.opens_at, zone), _local(form.closes_at, zone)
    for name, moment in (("opens_at", opens), ("closes_at", closes)):
        if moment is None:
            errors[name] = _("Enter a date and time (between %(a)d and %(b)d).", a=MIN_YEAR, b=MAX_YEAR)
    if opens and closes:
        if closes <= opens:
            errors["closes_at"] = _("The exam must close after it opens.")
        elif duration is not None and closes - opens < dt.timedelta(minutes=duration):
            errors["duration_minutes"] = _("The exam takes %(n)d minutes but is open for only %(m)d minutes.",
                                           n=duration, m=int((closes - opens).total_seconds() // 60))
    mark = _decimal(form.pass_mark_percent)
    if mark is None or not 0 <= mark <= 100:
        errors["pass_mark_percent"] = _("Enter the pass mark as a percentage from 0 to 100.")
    age = None
    if form.minimum_age:
        age = _whole(form.minimum_age, 0, 130)
        if age is None:
            errors["minimum_age"] = _("Enter the minimum age in whole years (0 to 130), or leave it empty.")
    unknown = [p for p in form.proctors if p.lower() not in {k.lower() for k in known_proctors}]
    if unknown:
        errors["proctors"] = _("Choose proctors of this institution only.")
    try:
        bek = normalize_browser_exam_keys(form.seb_browser_exam_keys)
    except ValueError as bad:
        bek = []
        errors["seb_browser_exam_keys"] = _("“%(key)s” is not a Browser Exam Key: each has 64 characters 0-9 and "
                                            "a-f (SEB shows it in its settings, Exam tab).", key=str(bad))
    if len(bek) > 50:
        errors["seb_browser_exam_keys"] = _("At most %(n)d Browser Exam Keys.", n=50)
    if not form.questions:
        errors["questions"] = _("Add at least one question.")
    _assign_ids(form)
    for qi, q in enumerate(form.questions):
        _check_question(q, f"q{qi}-", errors)
    if errors:
        return None
    data = _data(form, zone, duration, mark, age)
    data["seb_required"], data["seb_browser_exam_keys"] = form.seb_required, bek
    data["second_camera"] = form.second_camera
    leftover = list(schema_problems(data))  # the exam-file rules; the checks above should leave nothing
    if leftover:
        errors["form"] = "; ".join(f"{p.path}: {p.message}" for p in leftover)
        return None
    return exam_from_data(data)


def _check_question(q: QuestionForm, prefix: str, errors: dict[str, str]) -> None:
    if not q.prompt:
        errors[prefix + "prompt"] = _("Please enter the question.")
    elif len(q.prompt) > 20000:
        errors[prefix + "prompt"] = _("The question may have at most %(n)d characters.", n=20000)
    if _whole(q.points, 1, 1000) is None:
        errors[prefix + "points"] = _("Enter the points as a whole number from 1 to 1000.")
    if q.kind in CHOICE:
        if len(q.options) < 2:
            errors[prefix + "options"] = _("A choice question needs at least two options.")
        seen: dict[str, int] = {}
        for oi, o in enumerate(q.options):
            name = f"{prefix}o{oi}-text"
            if not o.text:
                errors[name] = _("Please enter the option's text (or remove the option).")
            elif len(o.text) > 2000:
                errors[name] = _("The option may have at most %(n)d characters.", n=2000)
            elif o.text.casefold() in seen:
                errors[name] = _("Option %(n)d has the same text.", n=seen[o.text.casefold()] + 1)
            seen.setdefault(o.text.casefold(), oi)
        correct = sum(1 for o in q.options if o.correct)
        if q.kind == CHOICE[0] and correct != 1 and prefix + "options" not in errors:
            errors[prefix + "options"] = _("Mark exactly one option as correct.")
        if q.kind == CHOICE[1] and correct == 0 and prefix + "options" not in errors:
            errors[prefix + "options"] = _("Mark at least one option as correct.")
    if q.kind == QuestionKind.NUMERIC.value:
        if _decimal(q.answer) is None:
            errors[prefix + "answer"] = _("Enter the expected answer as a number (e.g. 3.5 or 3,5).")
        tolerance = _decimal(q.tolerance or "0")
        if tolerance is None or tolerance < 0:
            errors[prefix + "tolerance"] = _("Enter the tolerance as a number of 0 or more.")
    item_data(q.kind, q.item, prefix, errors)
    _media_data(q.media, prefix, errors)


MEDIA_FIELDS = ("media_id", "media_alt", "media_transcript", "media_plays")


def _media_fields(media: Stimulus | None) -> dict[str, str]:
    if media is None:
        return {}
    plays = "" if media.plays is None else str(media.plays)
    return {"media_id": media.id, "media_alt": media.alt, "media_transcript": media.transcript, "media_plays": plays}


def _media_data(fields: dict[str, str], prefix: str, errors: dict[str, str]) -> dict[str, Any] | None:
    """The item's ``media`` in file layout from the form's fields (None without one); problems into ``errors``."""
    media_id = fields.get("media_id", "")
    if not media_id:
        return None
    out: dict[str, Any] = {"id": media_id, "alt": fields.get("media_alt", "")}
    if not re.fullmatch(r"[A-Za-z0-9_-]{16,64}", media_id):
        errors[prefix + "media_id"] = _("Choose an image, audio or video stored for your institution.")
    if not out["alt"] or len(out["alt"]) > 2000:
        errors[prefix + "media_alt"] = _("Describe the image, audio or video in words (at most 2000 characters).")
    if fields.get("media_transcript"):
        out["transcript"] = fields["media_transcript"][:20000]
    if fields.get("media_plays"):
        plays = _whole(fields["media_plays"], 1, 20)
        if plays is None:
            errors[prefix + "media_plays"] = _("Enter how often it may be played (1 to 20), or leave it empty.")
        out["plays"] = plays or 1
    return out


def _plain(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def _data(form: ExamForm, zone: ZoneInfo, duration: int | None, mark: Decimal | None,
          age: int | None) -> dict[str, Any]:
    opens, closes = _local(form.opens_at, zone), _local(form.closes_at, zone)
    assert opens and closes and duration is not None and mark is not None  # noqa: S101 - checked by the caller
    questions: list[dict[str, Any]] = []
    for q in form.questions:
        item: dict[str, Any] = {"id": q.id, "type": q.kind, "prompt": q.prompt, "points": int(q.points)}
        if q.kind in CHOICE:
            item["options"] = [{"id": o.id, "text": o.text, "correct": o.correct} for o in q.options]
        if q.kind == QuestionKind.NUMERIC.value:
            item["answer"] = _plain(_decimal(q.answer) or Decimal(0))
            item["tolerance"] = _plain(_decimal(q.tolerance or "0") or Decimal(0))
        item.update(item_data(q.kind, q.item, "", {}))
        media = _media_data(q.media, "", {})
        if media is not None:
            item["media"] = media
        if item.get("rubric"):  # an essay graded by its rubric gets the best levels' sum
            item.pop("points")
        questions.append(item)
    data: dict[str, Any] = {
        "title": form.title, "description": form.description, "duration_minutes": duration,
        "window": {"opens_at": opens.isoformat(), "closes_at": closes.isoformat()},
        "pass_mark_percent": _plain(mark),
        "identity_check_required": form.identity_check_required, "proctoring_required": form.proctoring_required,
        "shuffle_questions": form.shuffle_questions, "shuffle_options": form.shuffle_options,
        "room_scan_required": form.room_scan_required,
        "proctors": list(form.proctors), "questions": questions,
    }
    if age is not None:
        data["minimum_age"] = age
    return data


@dataclasses.dataclass(frozen=True)
class PreviewQuestion:
    """A question as the candidate will see it: prompt, points, options in a candidate's order, no solutions."""

    id: str
    kind: str
    prompt: str
    points: int
    options: list[tuple[str, str]]
    parts: dict[str, Any] = dataclasses.field(default_factory=dict)  # exams.itemanswers.candidate_parts
    answer: Any = None
    media: Stimulus | None = None


def preview(spec: ExamSpec, seed: str = "preview") -> list[PreviewQuestion]:
    """The questions in the order one candidate would get them (shuffled when the exam shuffles)."""
    order = shuffled_order(spec, seed)
    out = []
    for qid in order.question_ids:
        q = spec.question(qid)
        if q is None:  # pragma: no cover - the order is built from the spec
            continue
        texts = {o.id: o.text for o in q.options}
        out.append(PreviewQuestion(q.id, q.kind.value, q.prompt, q.points,
                                   [(oid, texts[oid]) for oid in order.option_ids.get(qid, ())],
                                   candidate_parts(q), media=q.media))
    return out


def apply_action(form: ExamForm, action: str) -> bool:
    """Apply an editing button (add a question of a type, add or remove an option or a question).

    Returns True when ``action`` was such a button (the form is shown again, nothing is saved).
    """
    kind = action.removeprefix("add:")
    if action.startswith("add:") and kind in KINDS:
        if len(form.questions) < MAX_QUESTIONS:
            form.questions.append(new_question(kind))
        return True
    match = re.fullmatch(r"(remove|add-option|up):(\d+)(?::(\d+))?", action)
    if match is None:
        return False
    verb, qi = match.group(1), int(match.group(2))
    if qi >= len(form.questions):
        return True
    q = form.questions[qi]
    if verb == "remove" and match.group(3) is None:
        del form.questions[qi]
    elif verb == "remove" and match.group(3) is not None:
        oi = int(match.group(3))
        if oi < len(q.options):
            del q.options[oi]
    elif verb == "add-option" and q.kind in CHOICE and len(q.options) < MAX_OPTIONS:
        q.options.append(OptionForm())
    elif verb == "up" and qi > 0:
        form.questions[qi - 1], form.questions[qi] = q, form.questions[qi - 1]
    return True
