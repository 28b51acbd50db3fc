"""A QTI 3.0 or 2.x content package read into exam-file data, with every item that cannot come in named.

QTI 2.x files are first renamed into QTI 3.0's vocabulary (``choiceInteraction`` -> ``qti-choice-interaction``,
``responseIdentifier`` -> ``response-identifier``), so one reader serves both. Each item is mapped onto one
aufsicht item type by its interaction (the table in :mod:`exams.itemtypes`); the points come from the item's
``MAXSCORE`` outcome (else the type's default), the right answers from its correct response and mappings.
Whatever has no place in aufsicht (another interaction, two interactions in one item, template variables,
adaptive items, a polygon hotspot...) is a :class:`Problem` of that item. The caller imports nothing unless there
are none: all or nothing.
"""

from __future__ import annotations

import posixpath
import re
import secrets
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from lxml import etree

from exams.itemmedia import MAX_ITEM_IMAGE, image_size, sniff
from exams.itemtypes import fold
from exams.schema import schema_problems
from qti import canvas
from qti.safety import Package, PackageError, open_package, parse_xml
from qti.text import text_of as _text
from qti.writer import ID_PREFIX

__all__ = ["Problem", "ReadResult", "read_package"]

_QTI_NAMESPACES = {
    "http://www.imsglobal.org/xsd/imsqtiasi_v3p0": "3.0",
    "http://www.imsglobal.org/xsd/imsqti_v2p2": "2.2",
    "http://www.imsglobal.org/xsd/imsqti_v2p1": "2.1",
    "http://www.imsglobal.org/xsd/imsqti_v2p0": "2.0",
}
_HTML = {"p", "div", "span", "img", "table", "tbody", "thead", "tfoot", "tr", "td", "th", "br", "em", "strong",
         "b", "i", "u", "ul", "ol", "li", "object", "param", "h1", "h2", "h3", "h4", "h5", "h6", "a", "sub", "sup",
         "pre", "code", "blockquote", "hr", "caption", "col", "colgroup", "dl", "dt", "dd", "q", "cite", "abbr",
         "acronym", "address", "big", "small", "tt", "kbd", "samp", "var", "dfn", "label", "math", "audio", "video",
         "source", "picture", "figure", "figcaption", "section", "article", "aside", "header", "footer", "nav",
         "bdo", "bdi", "ruby", "rt", "rp", "mark", "s", "wbr", "track"}
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")
_FEEDBACK = ("qti-feedback-inline", "qti-feedback-block", "qti-modal-feedback", "qti-rubric-block")
_WORDS = re.compile(r"^aufsicht-(min|max)-words-(\d{1,6})$")


@dataclass(frozen=True)
class Problem:
    """Why one item (or the package, item ``""``) cannot be imported."""

    item: str
    message: str

    def __str__(self) -> str:
        return f"{self.item}: {self.message}" if self.item else self.message


@dataclass
class ReadResult:
    """Exam-file data (``questions``, ``title``, ...), the images by the public id items name, and problems."""

    title: str = ""
    questions: list[dict[str, Any]] = field(default_factory=list)
    images: dict[str, bytes] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    version: str = ""


class _ItemError(Exception):
    """One item cannot be mapped; the message says why."""


def _local(tag: object) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def _modernise(root: etree._Element) -> None:
    """Rename a QTI 2.x tree into QTI 3.0 names in place, dropping namespaces (3.0 trees only lose these)."""
    for node in root.iter():
        if not isinstance(node.tag, str):
            continue
        name = _local(node.tag)
        if not name.startswith("qti-") and name not in _HTML:
            name = "qti-" + _CAMEL.sub("-", name).lower()
        node.tag = name
        for key in list(node.attrib):
            qname = etree.QName(key)
            if qname.namespace == "http://www.w3.org/XML/1998/namespace":
                continue
            value = node.attrib.pop(key)
            if qname.namespace is None:
                node.set(_CAMEL.sub("-", qname.localname).lower(), value)


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
                mapping.append((entry.get("map-key", ""), float(entry.get("mapped-value", "0")),
                                entry.get("case-sensitive", "true") == "true"))
            except ValueError:
                raise _ItemError("a mapping value is not a number") from None
        areas = []
        for entry in decl.iter("qti-area-map-entry"):
            try:
                areas.append((entry.get("shape", ""), entry.get("coords", ""), float(entry.get("mapped-value", "0"))))
            except ValueError:
                raise _ItemError("an area's value is not a number") from None
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
            number = float((value.text or "").strip())
        except ValueError:
            raise _ItemError("MAXSCORE is not a number") from None
        if number != int(number) or not 1 <= number <= 1000:
            raise _ItemError(f"the item is worth {number:g} points; aufsicht gives whole points from 1 to 1000")
        return int(number)
    return None


def _decl(decls: dict[str, _Declaration], interaction: etree._Element) -> _Declaration:
    ident = interaction.get("response-identifier", "")
    if ident not in decls:
        raise _ItemError(f"the interaction's response {ident!r} is not declared")
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
        raise _ItemError("a typed answer has no accepted form (no correct response, no mapping)")
    return unique, case_sensitive


def _choices(decl: _Declaration, interaction: etree._Element) -> dict[str, Any]:
    options = _options(interaction, "qti-simple-choice")
    right = set(decl.correct) or {key for key, value, _cs in decl.mapping if value > 0}
    single = decl.cardinality == "single" or interaction.get("max-choices") == "1"
    for option in options:
        option["correct"] = option["id"] in {_aufsicht_id(r) for r in right}
    correct = sum(o["correct"] for o in options)
    if correct == 0:
        raise _ItemError("no option is marked correct")
    if single and correct != 1:
        raise _ItemError("a single-choice item has more than one correct option")
    return {"type": "single_choice" if single else "multiple_choice", "options": options}


def _gap_text(item: etree._Element, body: etree._Element, decls: dict[str, _Declaration],
              inline: list[etree._Element]) -> dict[str, Any]:
    holders: list[etree._Element] = []
    for interaction in inline:
        holder = interaction.getparent()
        while holder is not None and holder.getparent() is not body:
            holder = holder.getparent()
        if holder is None:
            raise _ItemError("a gap is not inside the item body's text")
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
        raise _ItemError("a match interaction needs two sets")
    premises = _options(sets[0], "qti-simple-associable-choice")
    responses = _options(sets[1], "qti-simple-associable-choice")
    pairs = decl.correct or [k for k, v, _c in decl.mapping if v > 0]
    matches: dict[str, str] = {}
    for pair in pairs:
        left, _sep, right = pair.partition(" ")
        left, right = _aufsicht_id(left), _aufsicht_id(right.strip())
        if left in matches and matches[left] != right:
            raise _ItemError(f"{left!r} has more than one right partner; aufsicht matches each premise once")
        matches[left] = right
    for premise in premises:
        if premise["id"] not in matches:
            raise _ItemError(f"the premise {premise['id']!r} has no right partner")
        premise["match"] = matches[premise["id"]]
    return {"type": "matching", "premises": premises, "options": responses}


def _ordering(decl: _Declaration, interaction: etree._Element) -> dict[str, Any]:
    options = {o["id"]: o for o in _options(interaction, "qti-simple-choice")}
    order = [_aufsicht_id(v) for v in decl.correct]
    if sorted(order) != sorted(options):
        raise _ItemError("the correct order does not name every option once (aufsicht orders all options)")
    partial = "aufsicht-partial" in interaction.get("class", "").split()
    return {"type": "ordering", "options": [options[o] for o in order],
            "scoring": "partial" if partial else "all_or_nothing"}


def _coords(text: str) -> list[float]:
    try:
        return [float(c) for c in text.replace(" ", "").split(",") if c]
    except ValueError:
        raise _ItemError(f"the area coordinates {text[:40]!r} are not numbers") from None


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
        raise _ItemError("the hotspot interaction shows no image")
    path = posixpath.normpath(posixpath.join(posixpath.dirname(item_path), src))
    data = package.read(path)
    if data is None:
        raise _ItemError(f"the image {src!r} is not in the package")
    if sniff(data) not in ("image/png", "image/jpeg") or image_size(data) is None:
        raise _ItemError(f"the image {src!r} is not a PNG or JPEG image (aufsicht stores only these)")
    if len(data) > MAX_ITEM_IMAGE:
        raise _ItemError(f"the image {src!r} is larger than {MAX_ITEM_IMAGE // 2**20} MB")
    if interaction.tag == "qti-hotspot-interaction":
        if interaction.get("max-choices", "1") != "1":
            raise _ItemError("a hotspot interaction with several choices: aufsicht's hotspot takes one point")
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
            raise _ItemError(f"a {shape or 'shapeless'} area: aufsicht knows rectangles and circles only")
    if not areas:
        raise _ItemError("the hotspot item has no areas (no area mapping, no hotspot choices)")
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
                    raise _ItemError("a rubric level's points are not a whole number") from None
            rubric.append({"id": row.get("label", ""), "name": _text(head) if head is not None else "",
                           "levels": levels})
        out["rubric"] = rubric
    return out


_BLOCK_INTERACTIONS = {
    "qti-choice-interaction", "qti-order-interaction", "qti-match-interaction", "qti-select-point-interaction",
    "qti-hotspot-interaction",
    "qti-extended-text-interaction", "qti-upload-interaction",
}


def _item(item_path: str, root: etree._Element, package: Package, images: dict[str, bytes]) -> dict[str, Any]:
    if root.tag != "qti-assessment-item":
        raise _ItemError(f"not an assessment item but {root.tag!r}")
    if root.get("adaptive") == "true":
        raise _ItemError("an adaptive item (several attempts with feedback) has no aufsicht type")
    if root.find("qti-template-declaration") is not None:
        raise _ItemError("template variables (items that vary per candidate) are not supported")
    body = root.find("qti-item-body")
    if body is None:
        raise _ItemError("the item has no body")
    decls = _declarations(root)
    interactions = [el for el in body.iter() if isinstance(el.tag, str) and el.tag.endswith("-interaction")]
    if not interactions:
        raise _ItemError("the item has no interaction (an information page); aufsicht items ask something")
    inline = [i for i in interactions if i.tag in ("qti-text-entry-interaction", "qti-inline-choice-interaction")]
    block = [i for i in interactions if i not in inline]
    unknown = [i.tag for i in block if i.tag not in _BLOCK_INTERACTIONS]
    if unknown:
        name = unknown[0].removeprefix("qti-").replace("-", " ")
        raise _ItemError(f"the {name} has no aufsicht item type")
    if len(block) > 1 or (block and inline):
        raise _ItemError(f"{len(interactions)} interactions in one item; an aufsicht item holds one")
    question: dict[str, Any]
    if inline:
        first = _decl(decls, inline[0])
        alone = len(inline) == 1 and inline[0].tag == "qti-text-entry-interaction"
        if alone and first.base_type in ("float", "integer"):
            if len(first.correct) != 1:
                raise _ItemError("a numeric entry needs one correct value")
            try:
                answer = float(first.correct[0])
            except ValueError:
                raise _ItemError(f"the correct value {first.correct[0][:40]!r} is not a number") from None
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
    ident = _aufsicht_id(root.get("title", "")) if _ID_RE.match(root.get("title", "")) else ""
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
                raise _ItemError("a numeric bound is not a number") from None
    return 0


def _manifest_items(package: Package) -> tuple[list[tuple[str, str]], list[str], str, list[Problem]]:
    """(resource identifier, item path) in test order, QTI 1.2 files, the test's title, and problems."""
    data = package.read("imsmanifest.xml")
    if data is None:
        raise PackageError("the package has no imsmanifest.xml (is it a QTI content package?)")
    manifest = parse_xml(data, "imsmanifest.xml")
    problems: list[Problem] = []
    items: list[tuple[str, str]] = []
    tests: list[str] = []
    canvas: list[str] = []
    for res in manifest.iter():
        if _local(res.tag) != "resource":
            continue
        kind, href = res.get("type", ""), res.get("href", "")
        base = res.get("{http://www.w3.org/XML/1998/namespace}base", "")
        path = posixpath.normpath(posixpath.join(base, href)) if href else ""
        if kind.startswith("imsqti_item"):
            items.append((res.get("identifier", path), path))
        elif kind.startswith(("imsqti_test", "imsqti_assessment")):
            tests.append(path)
        elif kind.startswith("imsqti_xmlv1p2"):
            first = next((f.get("href", "") for f in res if _local(f.tag) == "file" and f.get("href")), "")
            canvas.append(posixpath.normpath(posixpath.join(base, href or first)))
    title = ""
    if tests:
        order, title = _test_order(package, tests[0])
        known = {path for _i, path in items}
        ordered = [(i, p) for i, p in items if p in order]
        ordered.sort(key=lambda pair: order.index(pair[1]))
        items = ordered + [(i, p) for i, p in items if p not in order]
        problems += [Problem(p, "the test names an item the manifest does not list") for p in order if p not in known]
    return items, canvas, title, problems


def _test_order(package: Package, path: str) -> tuple[list[str], str]:
    data = package.read(path)
    if data is None:
        raise PackageError(f"the test {path} is not in the package")
    root = parse_xml(data, path)
    order = []
    for ref in root.iter():
        if _local(ref.tag) in ("qti-assessment-item-ref", "assessmentItemRef") and ref.get("href"):
            order.append(posixpath.normpath(posixpath.join(posixpath.dirname(path), ref.get("href", ""))))
    return order, root.get("title", "")


def read_package(data: bytes) -> ReadResult:
    """Read a QTI content package; ``problems`` lists every item that cannot come in, and why."""
    result = ReadResult()
    try:
        package = open_package(data)
        items, canvas_files, result.title, result.problems = _manifest_items(package)
    except PackageError as err:
        result.problems.append(Problem("", str(err)))
        return result
    labels: list[str] = []
    for path in canvas_files:
        _read_canvas(package, path, result, labels)
    if not items and not result.problems and not result.questions:
        result.problems.append(Problem("", "the package lists no items"))
    for resource_id, path in items:
        label = path or resource_id
        content = package.read(path)
        if content is None:
            result.problems.append(Problem(label, "the file is not in the package"))
            continue
        try:
            root = parse_xml(content, path)
            namespace = etree.QName(root).namespace or ""
            if namespace not in _QTI_NAMESPACES:
                raise _ItemError(f"not a QTI 2.x or 3.0 item (namespace {namespace or 'none'!r})")
            result.version = result.version or _QTI_NAMESPACES[namespace]
            _modernise(root)
            question = _item(path, root, package, result.images)
        except (PackageError, _ItemError) as err:
            result.problems.append(Problem(label, str(err)))
            continue
        if not _ID_RE.match(question["id"]):
            question["id"] = f"q{len(result.questions) + 1}"
        _fit_ids(question)
        result.questions.append(question)
        labels.append(f"{label} ({question['id']})")
    _unique_ids(result.questions)
    if result.questions and not result.problems:
        result.problems += _schema(result.questions, labels)
    return result


def _read_canvas(package: Package, path: str, result: ReadResult, labels: list[str]) -> None:
    """The items of one QTI 1.2 file (Canvas, text2qti) into ``result``."""
    content = package.read(path)
    if content is None:
        result.problems.append(Problem(path, "the file is not in the package"))
        return
    try:
        title, found = canvas.read_items(parse_xml(content, path), path)
    except PackageError as err:
        result.problems.append(Problem(path, str(err)))
        return
    result.title, result.version = result.title or title, result.version or "1.2"
    for label, question, reason in found:
        if question is None:
            result.problems.append(Problem(label, reason))
            continue
        question["id"] = f"q{len(result.questions) + 1}"
        _fit_ids(question)
        result.questions.append(question)
        labels.append(label)


def _fit_ids(question: dict[str, Any]) -> None:
    """Give options, premises and gaps whose ids aufsicht cannot take (too long, odd characters) short ones."""
    renamed: dict[str, str] = {}

    def fit(value: str, prefix: str) -> str:
        if _ID_RE.match(value):
            return value
        renamed.setdefault(value, f"{prefix}{len(renamed) + 1}")
        return renamed[value]

    for option in question.get("options", []):
        option["id"] = fit(option["id"], "o")
    for premise in question.get("premises", []):
        premise["id"], premise["match"] = fit(premise["id"], "p"), fit(premise["match"], "o")
    for gap in question.get("gaps", []):
        old = gap["id"]
        gap["id"] = fit(old, "g")
        if gap["id"] != old:
            question["text"] = question["text"].replace("{{" + old + "}}", "{{" + gap["id"] + "}}")
        for option in gap.get("options", []):
            option["id"] = fit(option["id"], "o")


def _unique_ids(questions: list[dict[str, Any]]) -> None:
    seen: set[str] = set()
    for index, question in enumerate(questions, start=1):
        if question["id"] in seen:
            question["id"] = f"{question['id'][:50]}-{index}"
        seen.add(question["id"])


def _schema(questions: list[dict[str, Any]], labels: list[str]) -> list[Problem]:
    """The exam file's own checks, each problem given to its item."""
    data = {"title": "QTI", "duration_minutes": 30, "pass_mark_percent": 60, "questions": questions,
            "window": {"opens_at": "2026-01-01T00:00:00+00:00", "closes_at": "2026-01-02T00:00:00+00:00"}}
    out = []
    for problem in schema_problems(data):
        found = re.match(r"questions\[(\d+)\]\.?(.*)", problem.path)
        if found and int(found.group(1)) < len(labels):
            out.append(Problem(labels[int(found.group(1))], f"{found.group(2) or 'item'}: {problem.message}"))
        else:
            out.append(Problem("", f"{problem.path}: {problem.message}"))
    return out
