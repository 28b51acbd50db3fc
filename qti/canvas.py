"""QTI 1.2 as Canvas writes it (and text2qti and qti-package-maker, which write for Canvas): items into exam data.

Canvas names each item's type in its metadata (``question_type``) and puts the question as HTML text in
``mattext``; the right answers are the ``varequal`` conditions that set the score. Mapped: multiple choice and
true/false (single choice), multiple answers (multiple choice, all or nothing as in Canvas), numerical (answer and
tolerance from the range), short answer, essay and file upload. Every other type is a problem of its item.
"""

from __future__ import annotations

import math
from typing import Any

from flask_babel import gettext as _
from lxml import etree, html

from qti.safety import PackageError
from qti.text import text_of

__all__ = ["NS", "read_items"]

NS = "http://www.imsglobal.org/xsd/ims_qtiasiv1p2"
_SINGLE = {"multiple_choice_question", "true_false_question"}


class CanvasItemError(Exception):
    """One Canvas item cannot be mapped; the message says why."""


def _local(node: etree._Element) -> str:
    return etree.QName(node).localname if isinstance(node.tag, str) else ""


def _find(node: etree._Element, name: str) -> list[etree._Element]:
    return [el for el in node.iter() if _local(el) == name]


def _html_text(text: str) -> str:
    """The readable text of Canvas's HTML (an HTML parser: no entities, no network, scripts are only text)."""
    if not text.strip():
        return ""
    try:
        fragment = html.fragment_fromstring(text, create_parent="div")
    except (etree.ParserError, ValueError):
        return text.strip()
    return text_of(fragment)


def _material(node: etree._Element) -> str:
    return "\n".join(_html_text(m.text or "") if m.get("texttype", "text/plain") == "text/html"
                     else (m.text or "").strip() for m in _find(node, "mattext"))


def _meta(item: etree._Element) -> dict[str, str]:
    out = {}
    for field in _find(item, "qtimetadatafield"):
        label, entry = [c for c in field if _local(c) == "fieldlabel"], [c for c in field if _local(c) == "fieldentry"]
        if label and entry:
            out[(label[0].text or "").strip()] = (entry[0].text or "").strip()
    return out


def _scoring_values(item: etree._Element) -> list[str]:
    """The values of ``varequal`` conditions that give points (not under ``not``)."""
    values = []
    for condition in _find(item, "respcondition"):
        setvar = [s for s in _find(condition, "setvar") if (s.text or "").strip() not in ("", "0")]
        if not setvar:
            continue
        for equal in _find(condition, "varequal"):
            if not any(_local(a) == "not" for a in equal.iterancestors()):
                values.append((equal.text or "").strip())
    return values


def _number(text: str) -> float:
    try:
        number = float(text)
    except ValueError:
        raise CanvasItemError(_("%(value)s is not a number", value=repr(text[:40]))) from None
    if not math.isfinite(number):
        raise CanvasItemError(_("%(value)s is not a finite number", value=repr(text[:40])))
    return number


def _plain(value: float) -> int | float:
    return int(value) if value == int(value) else round(value, 10)


def _item(item: etree._Element) -> dict[str, Any]:
    meta = _meta(item)
    kind = meta.get("question_type", "")
    presentation = next(iter(_find(item, "presentation")), None)
    if presentation is None:
        raise CanvasItemError(_("the item has no presentation"))
    prompt_parts = [c for c in presentation if _local(c) == "material"]
    prompt = "\n".join(_material(m) for m in prompt_parts)
    question: dict[str, Any] = {"prompt": prompt}
    if kind in _SINGLE or kind == "multiple_answers_question":
        right = set(_scoring_values(item))
        options = [{"id": label.get("ident", ""), "text": _material(label) or label.get("ident", ""),
                    "correct": label.get("ident", "") in right} for label in _find(presentation, "response_label")]
        if not any(o["correct"] for o in options):
            raise CanvasItemError(_("no option is marked correct"))
        question.update(type="single_choice" if kind in _SINGLE else "multiple_choice", options=options)
    elif kind == "numerical_question":
        exact = [_number(v) for v in _scoring_values(item)]
        low = [_number((e.text or "").strip()) for e in _find(item, "vargte")]
        high = [_number((e.text or "").strip()) for e in _find(item, "varlte")]
        if exact:
            answer = exact[0]
            tolerance = max(answer - low[0], high[0] - answer) if low and high else 0.0
        elif low and high:
            answer, tolerance = (low[0] + high[0]) / 2, (high[0] - low[0]) / 2
        else:
            raise CanvasItemError(_("a numerical item without an answer or a closed range"))
        question.update(type="numeric", answer=_plain(answer), tolerance=_plain(max(tolerance, 0.0)))
    elif kind == "short_answer_question":
        accepted = [v for v in _scoring_values(item) if v]
        if not accepted:
            raise CanvasItemError(_("a short answer without an accepted answer"))
        question.update(type="short_text", accepted=accepted)
    elif kind == "essay_question":
        question["type"] = "essay"
    elif kind == "file_upload_question":
        question["type"] = "upload"
    else:
        name = kind.replace("_question", "").replace("_", " ") or "untyped"
        raise CanvasItemError(_("a Canvas %(type)s item has no aufsicht item type here", type=name))
    points = meta.get("points_possible")
    if points:
        value = _number(points)
        if value != int(value) or not 1 <= value <= 1000:
            raise CanvasItemError(_("the item is worth %(points)s points; aufsicht gives whole points from 1 to 1000",
                                    points=f"{value:g}"))
        question["points"] = int(value)
    return question


def read_items(root: etree._Element, path: str) -> tuple[str, list[tuple[str, dict[str, Any] | None, str]]]:
    """The assessment's title and, per item, (label, question data or None, the reason it cannot come in)."""
    if etree.QName(root).namespace != NS or _local(root) != "questestinterop":
        raise PackageError(_("%(file)s: not a QTI 1.2 assessment", file=path))
    assessment = next(iter(_find(root, "assessment")), None)
    title = assessment.get("title", "") if assessment is not None else ""
    out: list[tuple[str, dict[str, Any] | None, str]] = []
    for index, item in enumerate(_find(root, "item"), start=1):
        label = f"{path} #{index} ({item.get('title') or item.get('ident', '')})"
        try:
            question = _item(item)
        except CanvasItemError as err:
            out.append((label, None, str(err)))
            continue
        question["id"] = f"q{index}"
        out.append((label, question, ""))
    return title, out
