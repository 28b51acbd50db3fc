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
from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext as _
from lxml import etree

from exams.schema import schema_problems
from qti import canvas
from qti.items import ID_RE as _ID_RE
from qti.items import ItemError, map_item
from qti.safety import Package, PackageError, open_package, parse_xml

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
_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


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


def _manifest_items(package: Package) -> tuple[list[tuple[str, str]], list[str], str, list[Problem]]:
    """(resource identifier, item path) in test order, QTI 1.2 files, the test's title, and problems."""
    data = package.read("imsmanifest.xml")
    if data is None:
        raise PackageError(_("the package has no imsmanifest.xml (is it a QTI content package?)"))
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
        problems += [Problem(p, _("the test names an item the manifest does not list"))
                     for p in order if p not in known]
    return items, canvas, title, problems


def _test_order(package: Package, path: str) -> tuple[list[str], str]:
    data = package.read(path)
    if data is None:
        raise PackageError(_("the test %(file)s is not in the package", file=path))
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
        result.problems.append(Problem("", _("the package lists no items")))
    for resource_id, path in items:
        label = path or resource_id
        content = package.read(path)
        if content is None:
            result.problems.append(Problem(label, _("the file is not in the package")))
            continue
        try:
            root = parse_xml(content, path)
            namespace = etree.QName(root).namespace or ""
            if namespace not in _QTI_NAMESPACES:
                raise ItemError(_("not a QTI 2.x or 3.0 item (namespace %(ns)s)", ns=repr(namespace or "none")))
            result.version = result.version or _QTI_NAMESPACES[namespace]
            _modernise(root)
            question = map_item(path, root, package, result.images)
        except (PackageError, ItemError) as err:
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
        result.problems.append(Problem(path, _("the file is not in the package")))
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
