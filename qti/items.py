"""One QTI item (in QTI 3.0 names) mapped onto one aufsicht item type, in exam-file layout.

The interaction decides the type (the table in :mod:`exams.itemtypes`); the right answers come from the correct
response and the mappings, the points from ``MAXSCORE``. What has no aufsicht type raises :class:`ItemError` with
the reason, which the reader lists for the item.
"""

from __future__ import annotations

import math
import posixpath
import re
import secrets
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from flask_babel import gettext as _
from lxml import etree

from exams.itemmedia import MAX_ITEM_IMAGE, image_size, sniff
from exams.itemtypes import fold
from qti.safety import Package
from qti.text import text_of as _text
from qti.writer import ID_PREFIX

__all__ = ["ID_RE", "ItemError", "map_item"]

#: An id aufsicht takes (exams.schema).
ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_FEEDBACK = ("qti-feedback-inline", "qti-feedback-block", "qti-modal-feedback", "qti-rubric-block")
_WORDS = re.compile(r"^aufsicht-(min|max)-words-(\d{1,6})$")


def _finite(text: str, what: str) -> float:
    """A number from the item's text; anything else (also inf and nan) is the item's problem."""
    try:
        number = float(text)
    except ValueError:
        raise ItemError(_("%(what)s %(value)s is not a number", what=what, value=repr(text[:40]))) from None
    if not math.isfinite(number):
        raise ItemError(_("%(what)s %(value)s is not a finite number", what=what, value=repr(text[:40])))
    return number


class ItemError(Exception):
    """One item cannot be mapped; the message says why."""


def _aufsicht_id(value: str) -> str:
    value = value.strip()
    if value.startswith(ID_PREFIX) and value[len(ID_PREFIX):][:1].isdigit():
        return value[len(ID_PREFIX):]
    return value


@dataclass
class _Declaration:
    cardinality: str
    base_type: str
    correct: list[str]
    mapping: list[tuple[str, float, bool]]
    areas: list[tuple[str, str, float]]


def _declarations(item: etree._Element) -> dict[str, _Declaration]:
    out: dict[str, _Declaration] = {}
    for decl in item.iter("qti-response-declaration"):
        mapping = []
        for entry in decl.iter("qti-map-entry"):
            try:
                mapping.append((entry.get("map-key", ""), _finite(entry.get("mapped-value", "0"), _("a mapped value")),
                                entry.get("case-sensitive", "true") == "true"))
            except ValueError:
                raise ItemError(_("a mapping value is not a number")) from None
        areas = []
        for entry in decl.iter("qti-area-map-entry"):
            try:
                areas.append((entry.get("shape", ""), entry.get("coords", ""),
                              _finite(entry.get("mapped-value", "0"), _("an area's value"))))
            except ValueError:
                raise ItemError(_("an area's value is not a number")) from None
        correct = [(v.text or "").strip() for v in decl.iterfind("qti-correct-response/qti-value")]
        out[decl.get("identifier", "")] = _Declaration(decl.get("cardinality", "single"), decl.get("base-type", ""),
                                                       correct, mapping, areas)
    return out


def _points(item: etree._Element) -> int | None:
    for decl in item.iter("qti-outcome-declaration"):
        if decl.get("identifier") != "MAXSCORE":
            continue
        value = decl.find("qti-default-value/qti-value")
        if value is None or not (value.text or "").strip():
            return None
        try:
            number = _finite((value.text or "").strip(), _("MAXSCORE"))
        except ValueError:
            raise ItemError(_("MAXSCORE is not a number")) from None
        if number != int(number) or not 1 <= number <= 1000:
            raise ItemError(_("the item is worth %(points)s points; aufsicht gives whole points from 1 to 1000",
                              points=f"{number:g}"))
        return int(number)
    return None


def _decl(decls: dict[str, _Declaration], interaction: etree._Element) -> _Declaration:
    ident = interaction.get("response-identifier", "")
    if ident not in decls:
        raise ItemError(_("the interaction's response %(id)s is not declared", id=repr(ident)))
    return decls[ident]


def _options(parent: etree._Element, tag: str) -> list[dict[str, Any]]:
    return [{"id": _aufsicht_id(c.get("identifier", "")), "text": _text(c, _FEEDBACK) or c.get("identifier", "")}
            for c in parent.iter(tag)]


def _ours(box: etree._Element) -> str:
    """The text of a box we wrote (one ``p`` per line), exactly."""
    return "\n".join("".join(p.itertext()) for p in box.iterfind("p"))


def _prompt(body: etree._Element, interaction: etree._Element | None) -> str:
    mine = body.find("div[@class='aufsicht-prompt']")
    if mine is not None:
        return _ours(mine)
    text = _text(body, skip=(*_FEEDBACK, "qti-simple-choice", "qti-simple-match-set", "qti-inline-choice",
                             "qti-hotspot-choice"))
    return text or (interaction.get("title", "") if interaction is not None else "")


def _typed(decl: _Declaration) -> tuple[list[str], bool]:
    forms = list(decl.correct) + [key for key, value, _cs in decl.mapping if value > 0]
    case_sensitive = all(cs for _k, v, cs in decl.mapping if v > 0) if decl.mapping else False
    unique: list[str] = []
    for form in forms:
        if form and fold(form, case_sensitive) not in {fold(u, case_sensitive) for u in unique}:
            unique.append(form)
    if not unique:
        raise ItemError(_("a typed answer has no accepted form (no correct response, no mapping)"))
    return unique, case_sensitive


def _choices(decl: _Declaration, interaction: etree._Element) -> dict[str, Any]:
    options = _options(interaction, "qti-simple-choice")
    right = set(decl.correct) or {key for key, value, _cs in decl.mapping if value > 0}
    single = decl.cardinality == "single" or interaction.get("max-choices") == "1"
    for option in options:
        option["correct"] = option["id"] in {_aufsicht_id(r) for r in right}
    correct = sum(o["correct"] for o in options)
    if correct == 0:
        raise ItemError(_("no option is marked correct"))
    if single and correct != 1:
        raise ItemError(_("a single-choice item has more than one correct option"))
    return {"type": "single_choice" if single else "multiple_choice", "options": options}


def _gap_text(item: etree._Element, body: etree._Element, decls: dict[str, _Declaration],
              inline: list[etree._Element]) -> dict[str, Any]:
    holders: list[etree._Element] = []
    for interaction in inline:
        holder = interaction.getparent()
        while holder is not None and holder.getparent() is not body:
            holder = holder.getparent()
        if holder is None:
            raise ItemError(_("a gap is not inside the item body's text"))
        if holder not in holders:
            holders.append(holder)
    gaps: list[dict[str, Any]] = []
    for interaction in inline:
        decl = _decl(decls, interaction)
        gap_id = _aufsicht_id(interaction.get("response-identifier", "").removeprefix("RESPONSE-"))
        if interaction.tag == "qti-inline-choice-interaction":
            options = _options(interaction, "qti-inline-choice")
            right = {_aufsicht_id(r) for r in (decl.correct or [k for k, v, _c in decl.mapping if v > 0])}
            for option in options:
                option["correct"] = option["id"] in right
            gaps.append({"id": gap_id, "options": options})
        else:
            accepted, case_sensitive = _typed(decl)
            gaps.append({"id": gap_id, "accepted": accepted, "case_sensitive": case_sensitive})
        marker = etree.Element("span")
        marker.text = "{{" + gap_id + "}}"
        marker.tail = interaction.tail
        parent = interaction.getparent()
        assert parent is not None  # noqa: S101 - found inside the body
        parent.replace(interaction, marker)
    text = "\n".join(_ours(h) if h.get("class") == "aufsicht-gap-text" else _text(h) for h in holders)
    for holder in holders:
        body.remove(holder)
    return {"type": "gap_text", "text": text.strip(), "gaps": gaps, "prompt": _prompt(body, None)}


def _matching(decl: _Declaration, interaction: etree._Element) -> dict[str, Any]:
    sets = interaction.findall("qti-simple-match-set")
    if len(sets) != 2:
        raise ItemError(_("a match interaction needs two sets"))
    premises = _options(sets[0], "qti-simple-associable-choice")
    responses = _options(sets[1], "qti-simple-associable-choice")
    pairs = decl.correct or [k for k, v, _c in decl.mapping if v > 0]
    matches: dict[str, str] = {}
    for pair in pairs:
        left, _sep, right = pair.partition(" ")
        left, right = _aufsicht_id(left), _aufsicht_id(right.strip())
        if left in matches and matches[left] != right:
            raise ItemError(_("%(id)s has more than one right partner; aufsicht matches each premise once",
                              id=repr(left)))
        matches[left] = right
    for premise in premises:
        if premise["id"] not in matches:
            raise ItemError(_("the premise %(id)s has no right partner", id=repr(premise["id"])))
        premise["match"] = matches[premise["id"]]
    return {"type": "matching", "premises": premises, "options": responses}


def _ordering(decl: _Declaration, interaction: etree._Element) -> dict[str, Any]:
    options = {o["id"]: o for o in _options(interaction, "qti-simple-choice")}
    order = [_aufsicht_id(v) for v in decl.correct]
    if sorted(order) != sorted(options):
        raise ItemError(_("the correct order does not name every option once (aufsicht orders all options)"))
    partial = "aufsicht-partial" in interaction.get("class", "").split()
    return {"type": "ordering", "options": [options[o] for o in order],
            "scoring": "partial" if partial else "all_or_nothing"}


def _coords(text: str) -> list[float]:
    try:
        return [_finite(c, _("a coordinate")) for c in text.replace(" ", "").split(",") if c]
    except ValueError:
        raise ItemError(_("the area coordinates %(value)s are not numbers", value=repr(text[:40]))) from None


def _hotspot(item_path: str, package: Package, decl: _Declaration, interaction: etree._Element,
             images: dict[str, bytes]) -> dict[str, Any]:
    picture = interaction.find(".//img")
    src = picture.get("src", "") if picture is not None else ""
    alt = picture.get("alt", "") if picture is not None else ""
    if picture is None:
        picture = interaction.find(".//object")
        src = picture.get("data", "") if picture is not None else ""
        alt = _text(picture) if picture is not None else ""
    if not src:
        raise ItemError(_("the hotspot interaction shows no image"))
    path = posixpath.normpath(posixpath.join(posixpath.dirname(item_path), src))
    data = package.read(path)
    if data is None:
        raise ItemError(_("the image %(file)s is not in the package", file=repr(src)))
    if sniff(data) not in ("image/png", "image/jpeg") or image_size(data) is None:
        raise ItemError(_("the image %(file)s is not a PNG or JPEG image (aufsicht stores only these)", file=repr(src)))
    if len(data) > MAX_ITEM_IMAGE:
        raise ItemError(_("the image %(file)s is larger than %(n)d MB", file=repr(src), n=MAX_ITEM_IMAGE // 2**20))
    if interaction.tag == "qti-hotspot-interaction":
        if interaction.get("max-choices", "1") != "1":
            raise ItemError(_("a hotspot interaction with several choices: aufsicht's hotspot takes one point"))
        right = set(decl.correct) or {k for k, v, _c in decl.mapping if v > 0}
        marked = [(c.get("shape", ""), c.get("coords", ""), 1.0 if c.get("identifier") in right else 0.0)
                  for c in interaction.iter("qti-hotspot-choice")]
    else:
        marked = decl.areas
    areas = []
    for shape, coords, value in marked:
        numbers = _coords(coords)
        if shape == "rect" and len(numbers) == 4:
            x1, y1, x2, y2 = numbers
            areas.append({"shape": "rect", "x": _plain(min(x1, x2)), "y": _plain(min(y1, y2)),
                          "width": _plain(abs(x2 - x1)), "height": _plain(abs(y2 - y1)), "correct": value > 0})
        elif shape == "circle" and len(numbers) == 3:
            areas.append({"shape": "circle", "x": _plain(numbers[0]), "y": _plain(numbers[1]),
                          "r": _plain(numbers[2]), "correct": value > 0})
        else:
            raise ItemError(_("a %(shape)s area: aufsicht knows rectangles and circles only",
                              shape=shape or "shapeless"))
    if not areas:
        raise ItemError(_("the hotspot item has no areas (no area mapping, no hotspot choices)"))
    public_id = secrets.token_urlsafe(18)
    images[public_id] = data
    return {"type": "hotspot", "image": public_id, "image_alt": alt or "Bild", "areas": areas}


def _plain(value: float) -> int | float:
    return int(value) if value == int(value) else value


def _essay(body: etree._Element, interaction: etree._Element) -> dict[str, Any]:
    classes = interaction.get("class", "").split()
    if "aufsicht-free-text" in classes:
        return {"type": "free_text"}
    out: dict[str, Any] = {"type": "essay"}
    for css in classes:
        found = _WORDS.match(css)
        if found:
            out[f"{found.group(1)}_words"] = int(found.group(2))
    table = body.find(".//table[@class='aufsicht-rubric']")
    if table is not None:
        rubric = []
        for row in table.iter("tr"):
            head = row.find("th")
            levels = []
            for cell in row.iter("td"):
                label, points = cell.find("span[@class='aufsicht-level']"), cell.find("span[@class='aufsicht-points']")
                try:
                    levels.append({"id": cell.get("label", ""), "label": _text(label) if label is not None else "",
                                   "points": int((points.text or "") if points is not None else "")})
                except ValueError:
                    raise ItemError(_("a rubric level's points are not a whole number")) from None
            rubric.append({"id": row.get("label", ""), "name": _text(head) if head is not None else "",
                           "levels": levels})
        out["rubric"] = rubric
    return out


_BLOCK_INTERACTIONS = {
    "qti-choice-interaction", "qti-order-interaction", "qti-match-interaction", "qti-select-point-interaction",
    "qti-hotspot-interaction",
    "qti-extended-text-interaction", "qti-upload-interaction",
}


def map_item(item_path: str, root: etree._Element, package: Package, images: dict[str, bytes]) -> dict[str, Any]:
    if root.tag != "qti-assessment-item":
        raise ItemError(_("not an assessment item but %(tag)s", tag=repr(root.tag)))
    if root.get("adaptive") == "true":
        raise ItemError(_("an adaptive item (several attempts with feedback) has no aufsicht type"))
    if root.find("qti-template-declaration") is not None:
        raise ItemError(_("template variables (items that vary per candidate) are not supported"))
    body = root.find("qti-item-body")
    if body is None:
        raise ItemError(_("the item has no body"))
    decls = _declarations(root)
    interactions = [el for el in body.iter() if isinstance(el.tag, str) and el.tag.endswith("-interaction")]
    if not interactions:
        raise ItemError(_("the item has no interaction (an information page); aufsicht items ask something"))
    inline = [i for i in interactions if i.tag in ("qti-text-entry-interaction", "qti-inline-choice-interaction")]
    block = [i for i in interactions if i not in inline]
    unknown = [i.tag for i in block if i.tag not in _BLOCK_INTERACTIONS]
    if unknown:
        name = unknown[0].removeprefix("qti-").replace("-", " ")
        raise ItemError(_("the %(interaction)s has no aufsicht item type", interaction=name))
    if len(block) > 1 or (block and inline):
        raise ItemError(_("%(n)d interactions in one item; an aufsicht item holds one", n=len(interactions)))
    question: dict[str, Any]
    if inline:
        first = _decl(decls, inline[0])
        alone = len(inline) == 1 and inline[0].tag == "qti-text-entry-interaction"
        if alone and first.base_type in ("float", "integer"):
            if len(first.correct) != 1:
                raise ItemError(_("a numeric entry needs one correct value"))
            try:
                answer = _finite(first.correct[0], _("the correct value"))
            except ValueError:
                raise ItemError(_("the correct value %(value)s is not a number",
                                  value=repr(first.correct[0][:40]))) from None
            question = {"type": "numeric", "answer": _plain(answer), "tolerance": _tolerance(root, first.correct[0]),
                        "prompt": _prompt(body, inline[0])}
        elif alone and _on_its_own(inline[0]):
            accepted, case_sensitive = _typed(first)
            question = {"type": "short_text", "accepted": accepted, "case_sensitive": case_sensitive,
                        "prompt": _prompt(body, inline[0])}
        else:
            question = _gap_text(root, body, decls, inline)
    else:
        interaction = block[0]
        decl = _decl(decls, interaction) if interaction.tag != "qti-upload-interaction" else None
        tag = interaction.tag
        if tag == "qti-choice-interaction" and decl is not None:
            question = _choices(decl, interaction)
        elif tag == "qti-match-interaction" and decl is not None:
            question = _matching(decl, interaction)
        elif tag == "qti-order-interaction" and decl is not None:
            question = _ordering(decl, interaction)
        elif tag in ("qti-select-point-interaction", "qti-hotspot-interaction") and decl is not None:
            question = _hotspot(item_path, package, decl, interaction, images)
        elif tag == "qti-upload-interaction":
            question = {"type": "upload"}
        else:
            question = _essay(body, interaction)
        inner = "\n".join(_text(node) for node in interaction.iter("qti-prompt"))
        holder = interaction.getparent()
        if holder is not None:
            holder.remove(interaction)
        outer = _prompt(body, None)
        # The question may stand before the interaction, in its prompt, or in both (then once).
        question["prompt"] = outer if inner in outer else "\n".join(t for t in (outer, inner) if t)
    points = _points(root)
    if points is not None and not question.get("rubric"):
        question["points"] = points
    ident = _aufsicht_id(root.get("title", "")) if ID_RE.match(root.get("title", "")) else ""
    ident = ident if ident and root.get("identifier", "").endswith(ident) else _aufsicht_id(root.get("identifier", ""))
    question["prompt"] = question.get("prompt") or root.get("title", "") or ident
    return {"id": ident, **question}


def _on_its_own(interaction: etree._Element) -> bool:
    """Whether a text entry stands in a block of its own (a short answer) rather than inside a sentence (a gap)."""
    parent = interaction.getparent()
    return parent is not None and len(parent) == 1 and not (parent.text or "").strip() \
        and not (interaction.tail or "").strip() \
        and not any(a.get("class") == "aufsicht-gap-text" for a in interaction.iterancestors())


def _tolerance(root: etree._Element, answer: str) -> int | float:
    """The absolute tolerance: qti-equal's, or the bounds of ``answer - t <= RESPONSE <= answer + t`` (ours)."""
    for equal in root.iter("qti-equal"):
        if equal.get("tolerance-mode") == "absolute":
            values = _coords(equal.get("tolerance", "0").replace(" ", ","))
            return _plain(max(values) if values else 0)
    for compare in root.iter("qti-gte", "qti-lte"):
        bound = compare.find("qti-base-value")
        if compare.find("qti-variable") is not None and bound is not None:
            try:
                return _plain(float(abs(Decimal(answer) - Decimal((bound.text or "").strip()))))
            except ArithmeticError:
                raise ItemError(_("a numeric bound is not a number")) from None
    return 0


