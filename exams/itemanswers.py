"""The shape of an answer to each item type, checked before it is stored (a malformed answer is a 400).

Every stored answer must stay gradable (exams.questions.grade never raises), so the answer API refuses what
does not fit the item, says why in words, and leaves the answer stored before untouched.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from flask_babel import gettext as _

from exams.itemtypes import GAP_RE, MAX_COORD
from exams.questions import QuestionKind, QuestionSpec
from kernel.errors import ValidationFailed

MAX_TEXT_ANSWER = 20_000
MAX_GAP_ANSWER = 500


def _bad(message: str, why: str = "wrong shape") -> ValidationFailed:
    return ValidationFailed(message, fields={"value": why})


def clean_answer(question: QuestionSpec, value: Any) -> Any:
    """The answer in its stored form, or ValidationFailed saying what does not fit."""
    if question.kind is QuestionKind.SPOKEN:
        # Its span of the recording is set by the server alone (exams.spoken); not even clearing it goes through
        # here, or a candidate could clear a take and so start another one.
        raise _bad(_("A spoken answer is recorded with its start button, not sent as a typed answer."), "spoken item")
    if value is None:
        return None
    kind = question.kind
    option_ids = {o.id for o in question.options}
    bad = _bad(_("This answer does not fit the question."))
    if kind is QuestionKind.SINGLE_CHOICE:
        if not isinstance(value, str) or value not in option_ids:
            raise bad
    elif kind is QuestionKind.MULTIPLE_CHOICE:
        if not isinstance(value, list) or not all(isinstance(v, str) and v in option_ids for v in value):
            raise bad
        value = sorted(set(value))
    elif kind is QuestionKind.NUMERIC:
        if isinstance(value, bool) or not isinstance(value, str | int | float) or len(str(value)) > 64:
            raise bad
        value = str(value)
    elif kind is QuestionKind.ORAL:
        raise _bad(_("This item is answered in the call with the examiner."), "oral item")
    elif kind in (QuestionKind.FREE_TEXT, QuestionKind.ESSAY, QuestionKind.SHORT_TEXT):
        if not isinstance(value, str):
            raise _bad(_("The answer must be text."))
        if len(value) > MAX_TEXT_ANSWER:
            raise _bad(_("Answers are limited to %(n)d characters.", n=MAX_TEXT_ANSWER), "too long")
    elif kind is QuestionKind.GAP_TEXT:
        value = _clean_gaps(question, value)
    elif kind is QuestionKind.MATCHING:
        value = _clean_pairs(question, value, option_ids)
    elif kind is QuestionKind.ORDERING:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value) \
                or sorted(value) != sorted(option_ids):
            raise _bad(_("An ordering answer lists every item of the item exactly once."))
    elif kind is QuestionKind.HOTSPOT:
        value = _clean_point(value)
    elif kind is QuestionKind.UPLOAD:
        # The file comes through the upload endpoint; the answer API may only take it away again (None).
        raise _bad(_("A file is handed in with the upload field, not as a typed answer."), "upload item")
    return value


def _clean_gaps(question: QuestionSpec, value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise _bad(_("A gap-text answer maps each gap to its text or chosen option."))
    gaps = {g.id: g for g in question.gaps}
    out: dict[str, str] = {}
    for gap_id, text in value.items():
        gap = gaps.get(gap_id)
        if gap is None:
            raise _bad(_("This item has no gap %(gap)s.", gap=str(gap_id)[:64]), "unknown gap")
        if text is None or text == "":
            continue
        if not isinstance(text, str):
            raise _bad(_("Each gap takes text."))
        if gap.dropdown and text not in {oid for oid, _t, _c in gap.options}:
            raise _bad(_("The choice in gap %(gap)s is not one of its options.", gap=gap_id), "unknown option")
        if len(text) > MAX_GAP_ANSWER:
            raise _bad(_("A gap takes at most %(n)d characters.", n=MAX_GAP_ANSWER), "too long")
        out[gap_id] = text
    return out


def _clean_pairs(question: QuestionSpec, value: Any, option_ids: set[str]) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise _bad(_("A matching answer maps each item on the left to one on the right."))
    premises = {p.id for p in question.premises}
    out: dict[str, str] = {}
    for premise, response in value.items():
        if premise not in premises:
            raise _bad(_("This item has no entry %(id)s on the left.", id=str(premise)[:64]), "unknown premise")
        if response is None or response == "":
            continue
        if not isinstance(response, str) or response not in option_ids:
            raise _bad(_("The match for %(id)s is not one of the entries on the right.", id=premise),
                       "unknown response")
        out[premise] = response
    return out


def _clean_point(value: Any) -> dict[str, float]:
    if not isinstance(value, Mapping) or set(value) != {"x", "y"}:
        raise _bad(_("A hotspot answer is one point with x and y."))
    point: dict[str, float] = {}
    for axis in ("x", "y"):
        v = value[axis]
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) or not 0 <= v <= MAX_COORD:
            raise _bad(_("The point must lie on the image."), "outside")
        point[axis] = round(float(v), 1)
    return point


def candidate_parts(question: QuestionSpec) -> dict[str, Any]:
    """What the exam page needs to show an item beyond prompt and options; never a solution."""
    kind = question.kind
    if kind is QuestionKind.GAP_TEXT:
        segments: list[dict[str, Any]] = []
        pos = 0
        gaps = {g.id: g for g in question.gaps}
        for number, match in enumerate(GAP_RE.finditer(question.text), start=1):
            segments.append({"text": question.text[pos:match.start()]})
            gap = gaps[match.group(1)]
            segments.append({"gap": gap.id, "number": number,
                             "options": [(oid, text) for oid, text, _ok in gap.options]})
            pos = match.end()
        segments.append({"text": question.text[pos:]})
        return {"segments": segments}
    if kind is QuestionKind.MATCHING:
        return {"premises": [(p.id, p.text) for p in question.premises]}
    if kind is QuestionKind.HOTSPOT:
        return {"image": question.image, "image_alt": question.image_alt}
    if kind is QuestionKind.ESSAY:
        return {"min_words": question.min_words, "max_words": question.max_words,
                "rubric": [(c.name, [lv.label for lv in c.levels]) for c in question.rubric]}
    if kind is QuestionKind.SPOKEN:
        return {"preparation_seconds": question.preparation_seconds, "answer_seconds": question.answer_seconds,
                "retry": question.retry, "rubric": [(c.name, [lv.label for lv in c.levels]) for c in question.rubric]}
    return {}
