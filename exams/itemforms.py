"""The exam editor's form fields for the item types of exams.itemtypes, in a short plain-text syntax.

Each type is a few text fields that people can type without knowing the exam file (ids are numbered for them):

* gap text: the text with each gap in brackets: ``[komme|kam]`` is a typed gap with its accepted forms,
  ``[*in|nach]`` a drop-down whose starred option is the correct one.
* matching: one pair per line, ``Hund = dog``; extra responses (distractors) one per line.
* ordering: the entries one per line, in the correct order (the page shuffles them).
* short text: the accepted forms, one per line.
* hotspot: the image (one of the institution's item images), its description, and the areas one per line in image
  pixels: ``rect X Y WIDTH HEIGHT`` or ``circle X Y R``; a leading ``-`` marks a wrong area.
* essay: least and most words, and the rubric one criterion per line: ``Inhalt: A1 = 1; A2 = 3``.
* spoken: seconds to prepare and to answer, whether one retry is allowed, and a rubric as for essays.
"""

from __future__ import annotations

import re
from typing import Any

from flask_babel import gettext as _

from exams.questions import QuestionKind, QuestionSpec

#: The form's text fields (and check boxes) of the item types, by type.
FIELDS: dict[str, tuple[str, ...]] = {
    "gap_text": ("text",), "matching": ("pairs", "distractors"), "ordering": ("lines", "all_or_nothing"),
    "short_text": ("accepted", "case_sensitive"), "hotspot": ("image", "image_alt", "areas"), "upload": (),
    "essay": ("min_words", "max_words", "rubric"),
    "spoken": ("preparation_seconds", "answer_seconds", "retry", "rubric"),
}
CHECKBOXES = ("all_or_nothing", "case_sensitive", "retry")
_BRACKET = re.compile(r"\[([^\[\]]*)\]")
_NUM = r"(\d+(?:[.,]\d+)?)"
_AREA = re.compile(rf"^(-?)\s*(rect|circle)\s+{_NUM}\s+{_NUM}\s+{_NUM}(?:\s+{_NUM})?$", re.IGNORECASE)
_LEVEL = re.compile(r"^(.+?)\s*=\s*(\d{1,3})$")


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _num(text: str) -> int | float:
    value = float(text.replace(",", "."))
    return int(value) if value.is_integer() else value


def fields_from_spec(q: QuestionSpec) -> dict[str, Any]:
    """The form's fields for an item as authored (the inverse of :func:`item_data`)."""
    kind = q.kind
    if kind is QuestionKind.GAP_TEXT:
        text = q.text
        for gap in q.gaps:
            inner = "|".join(("*" if ok else "") + t for _i, t, ok in gap.options) if gap.dropdown \
                else "|".join(gap.accepted)
            text = text.replace("{{" + gap.id + "}}", f"[{inner}]")
        return {"text": text}
    if kind is QuestionKind.MATCHING:
        texts = {o.id: o.text for o in q.options}
        used = {p.match for p in q.premises}
        return {"pairs": "\n".join(f"{p.text} = {texts.get(p.match, '')}" for p in q.premises),
                "distractors": "\n".join(o.text for o in q.options if o.id not in used)}
    if kind is QuestionKind.ORDERING:
        return {"lines": "\n".join(o.text for o in q.options), "all_or_nothing": q.all_or_nothing}
    if kind is QuestionKind.SHORT_TEXT:
        return {"accepted": "\n".join(q.accepted), "case_sensitive": q.case_sensitive}
    if kind is QuestionKind.HOTSPOT:
        areas = []
        for a in q.areas:
            sizes = [a.r] if a.shape == "circle" else [a.width, a.height]
            numbers = " ".join(format(v.normalize(), "f") for v in (a.x, a.y, *sizes))
            areas.append(f"{'' if a.correct else '- '}{a.shape} {numbers}")
        return {"image": q.image, "image_alt": q.image_alt, "areas": "\n".join(areas)}
    rubric = "\n".join(f"{c.name}: " + "; ".join(f"{lv.label} = {lv.points}" for lv in c.levels) for c in q.rubric)
    if kind is QuestionKind.ESSAY:
        return {"min_words": "" if q.min_words is None else str(q.min_words),
                "max_words": "" if q.max_words is None else str(q.max_words), "rubric": rubric}
    if kind is QuestionKind.SPOKEN:
        return {"preparation_seconds": str(q.preparation_seconds), "answer_seconds": str(q.answer_seconds),
                "retry": q.retry, "rubric": rubric}
    return {}


def item_data(kind: str, fields: dict[str, Any], prefix: str, errors: dict[str, str]) -> dict[str, Any]:
    """The item's fields in exam-file layout; a problem is put at its field in ``errors`` (name: prefix+field)."""
    if kind == "gap_text":
        return _gap_text(str(fields.get("text", "")), prefix, errors)
    if kind == "matching":
        return _matching(str(fields.get("pairs", "")), str(fields.get("distractors", "")), prefix, errors)
    if kind == "ordering":
        lines = _lines(str(fields.get("lines", "")))
        if len(lines) < 2:
            errors[prefix + "lines"] = _("Enter at least two entries, one per line, in the correct order.")
        elif len({line.casefold() for line in lines}) != len(lines):
            errors[prefix + "lines"] = _("Two entries have the same text.")
        return {"options": [{"id": f"o{i}", "text": t} for i, t in enumerate(lines, start=1)],
                "scoring": "all_or_nothing" if fields.get("all_or_nothing") else "partial"}
    if kind == "short_text":
        accepted = _lines(str(fields.get("accepted", "")))
        if not accepted:
            errors[prefix + "accepted"] = _("Enter at least one accepted answer.")
        return {"accepted": accepted, "case_sensitive": bool(fields.get("case_sensitive"))}
    if kind == "hotspot":
        return _hotspot(fields, prefix, errors)
    if kind == "essay":
        return _essay(fields, prefix, errors)
    if kind == "spoken":
        return _spoken(fields, prefix, errors)
    return {}


def _gap_text(text: str, prefix: str, errors: dict[str, str]) -> dict[str, Any]:
    gaps: list[dict[str, Any]] = []

    def replace(match: re.Match[str]) -> str:
        parts = [p.strip() for p in match.group(1).split("|") if p.strip()]
        number = len(gaps) + 1
        if not parts:
            errors[prefix + "text"] = _("Gap %(n)d is empty: write the accepted answers inside the brackets.", n=number)
        starred = [p for p in parts if p.startswith("*")]
        if starred:
            if len(starred) != 1 or len(parts) < 2:
                errors[prefix + "text"] = _("Gap %(n)d: a drop-down gap has at least two choices and exactly one "
                                            "marked with *.", n=number)
            gaps.append({"id": f"g{number}", "options": [
                {"id": f"g{number}o{i}", "text": p.lstrip("*").strip() or "?", "correct": p.startswith("*")}
                for i, p in enumerate(parts, start=1)]})
        else:
            gaps.append({"id": f"g{number}", "accepted": parts or ["?"]})
        return f"{{{{g{number}}}}}"

    converted = _BRACKET.sub(replace, text)
    if not gaps and prefix + "text" not in errors:
        errors[prefix + "text"] = _("Mark at least one gap with brackets, e.g. Ich [komme] aus Köln.")
    return {"text": converted or "?", "gaps": gaps}


def _matching(pairs_text: str, distractors: str, prefix: str, errors: dict[str, str]) -> dict[str, Any]:
    responses: dict[str, str] = {}  # text -> id
    premises = []
    for i, line in enumerate(_lines(pairs_text), start=1):
        left, sep, right = line.partition("=")
        if not sep or not left.strip() or not right.strip():
            errors[prefix + "pairs"] = _("Line %(n)d: write a pair as “left = right”.", n=i)
            continue
        rid = responses.setdefault(right.strip(), f"r{len(responses) + 1}")
        premises.append({"id": f"p{i}", "text": left.strip(), "match": rid})
    for extra in _lines(distractors):
        responses.setdefault(extra, f"r{len(responses) + 1}")
    if len(premises) < 2 and prefix + "pairs" not in errors:
        errors[prefix + "pairs"] = _("Enter at least two pairs, one per line.")
    return {"premises": premises, "options": [{"id": rid, "text": t} for t, rid in responses.items()]}


def _hotspot(fields: dict[str, Any], prefix: str, errors: dict[str, str]) -> dict[str, Any]:
    image, alt = str(fields.get("image", "")).strip(), str(fields.get("image_alt", "")).strip()
    if not image:
        errors[prefix + "image"] = _("Choose the image (store one on the exam-file page first).")
    if not alt:
        errors[prefix + "image_alt"] = _("Describe the image in words for those who cannot see it.")
    areas = []
    for i, line in enumerate(_lines(str(fields.get("areas", ""))), start=1):
        m = _AREA.match(line)
        if m is None or (m.group(2).lower() == "rect") != (m.group(6) is not None):
            errors[prefix + "areas"] = _("Line %(n)d: write “rect X Y WIDTH HEIGHT” or “circle X Y R” (a leading "
                                         "- marks a wrong area).", n=i)
            continue
        area: dict[str, Any] = {"shape": m.group(2).lower(), "x": _num(m.group(3)), "y": _num(m.group(4))}
        if area["shape"] == "rect":
            area.update(width=_num(m.group(5)), height=_num(m.group(6)))
        else:
            area["r"] = _num(m.group(5))
        area["correct"] = not m.group(1)
        areas.append(area)
    if not any(a["correct"] for a in areas) and prefix + "areas" not in errors:
        errors[prefix + "areas"] = _("Enter at least one correct area.")
    return {"image": image or "missing-image-id0", "image_alt": alt or "?", "areas": areas}


def _essay(fields: dict[str, Any], prefix: str, errors: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in ("min_words", "max_words"):
        text = str(fields.get(key, "")).strip()
        if text:
            if not text.isdigit() or not 0 <= int(text) <= 100000:
                errors[prefix + key] = _("Enter a whole number of words, or leave it empty.")
            else:
                out[key] = int(text)
    if "min_words" in out and "max_words" in out and out["min_words"] > out["max_words"]:
        errors[prefix + "max_words"] = _("The most words must not be fewer than the least.")
    if out.get("max_words") == 0:
        errors[prefix + "max_words"] = _("Enter a whole number of words, or leave it empty.")
    rubric = _rubric(str(fields.get("rubric", "")), prefix, errors)
    if rubric:
        out["rubric"] = rubric
    return out


def _spoken(fields: dict[str, Any], prefix: str, errors: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {"retry": bool(fields.get("retry"))}
    for key, low, default in (("preparation_seconds", 0, 30), ("answer_seconds", 5, 60)):
        text = str(fields.get(key, "")).strip()
        if not text:
            out[key] = default
        elif not text.isdigit() or not low <= int(text) <= 1800:
            errors[prefix + key] = _("Enter a whole number of seconds from %(low)d to %(high)d.", low=low, high=1800)
            out[key] = default
        else:
            out[key] = int(text)
    rubric = _rubric(str(fields.get("rubric", "")), prefix, errors)
    if rubric:
        out["rubric"] = rubric
    return out


def _rubric(text: str, prefix: str, errors: dict[str, str]) -> list[dict[str, Any]]:
    rubric = []
    for ci, line in enumerate(_lines(text), start=1):
        name, sep, rest = line.partition(":")
        levels = []
        for li, part in enumerate([p.strip() for p in rest.split(";") if p.strip()], start=1):
            m = _LEVEL.match(part)
            if m is None:
                break
            levels.append({"id": f"l{li}", "label": m.group(1).strip(), "points": int(m.group(2))})
        if not sep or not name.strip() or len(levels) < 2 or len(levels) != len([p for p in rest.split(";")
                                                                                if p.strip()]):
            errors[prefix + "rubric"] = _("Line %(n)d: write a criterion as “Name: level = points; level = "
                                          "points” with at least two levels.", n=ci)
            continue
        rubric.append({"id": f"c{ci}", "name": name.strip(), "levels": levels})
    return rubric
