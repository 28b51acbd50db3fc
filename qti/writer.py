"""An exam as a 1EdTech QTI 3.0 content package: ``imsmanifest.xml``, one XML file per item, a test, media.

Each item type becomes the interaction of :mod:`exams.itemtypes`; its response processing gives the points
aufsicht gives (see README "## QTI exchange" for the one exception, partial ordering). What QTI has no word for
is written so that our reader gets it back and other tools ignore it: the points as the ``MAXSCORE`` outcome's
default, an essay's word limits as classes, its rubric as a scorer's rubric block, the fold of typed answers
(umlauts, ß) as extra accepted forms. Oral items (answered live to an examiner) have no QTI interaction and are
left out, each named in the result's ``skipped``.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from flask_babel import gettext as _
from lxml import etree

from exams.itemtypes import GAP_RE, fold
from exams.questions import ExamSpec, QuestionKind, QuestionSpec

__all__ = ["NS", "ExportResult", "export_package", "qti_id"]

NS = "http://www.imsglobal.org/xsd/imsqtiasi_v3p0"
CP_NS = "http://www.imsglobal.org/xsd/qti/qtiv3p0/imscp_v1p1"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
XML_NS = "http://www.w3.org/XML/1998/namespace"
ITEM_XSD = "https://purl.imsglobal.org/spec/qti/v3p0/schema/xsd/imsqti_asiv3p0_v1p0.xsd"
CP_XSD = "https://purl.imsglobal.org/spec/qti/v3p0/schema/xsd/imsqtiv3p0_imscpv1p2_v1p0.xsd"
_NCNAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
#: Prefix of an id that does not start as an XML name must (our ids may start with a digit).
ID_PREFIX = "ID-"
_EXT = {"image/png": "png", "image/jpeg": "jpg"}


@dataclass(frozen=True)
class Media:
    """An image an item shows: its bytes, type and size in pixels."""

    data: bytes
    content_type: str
    width: int
    height: int


@dataclass
class ExportResult:
    """The package (zip bytes) and the items left out, as (item id, reason)."""

    package: bytes
    skipped: list[tuple[str, str]] = field(default_factory=list)


def qti_id(value: str) -> str:
    """An aufsicht id as a QTI identifier (an XML name)."""
    return value if _NCNAME.match(value) else ID_PREFIX + value


def _q(tag: str) -> str:
    return f"{{{NS}}}{tag}"


def _el(parent: etree._Element, tag: str, text: str | None = None, **attrs: str) -> etree._Element:
    node = etree.SubElement(parent, _q(tag), {k.replace("_", "-"): v for k, v in attrs.items()})
    if text is not None:
        node.text = text
    return node


def _num(value: Decimal | int) -> str:
    return format(Decimal(value).normalize(), "f")


def _paragraphs(parent: etree._Element, text: str, css: str | None = None) -> etree._Element:
    box = _el(parent, "div", **({"class": css} if css else {}))
    for line in text.split("\n"):
        _el(box, "p", line)
    return box


def _declare(item: etree._Element, ident: str, cardinality: str, base_type: str,
             correct: list[str] | None = None) -> etree._Element:
    decl = _el(item, "qti-response-declaration", identifier=ident, cardinality=cardinality, base_type=base_type)
    if correct:
        box = _el(decl, "qti-correct-response")
        for value in correct:
            _el(box, "qti-value", value)
    return decl


def _mapping(decl: etree._Element, entries: list[tuple[str, int]], case_sensitive: bool | None = None) -> None:
    mapping = _el(decl, "qti-mapping", default_value="0", lower_bound="0", upper_bound="1")
    seen: set[str] = set()
    for key, value in entries:
        if key in seen:
            continue
        seen.add(key)
        attrs = {"map_key": key, "mapped_value": str(value)}
        if case_sensitive is not None:
            attrs["case_sensitive"] = "true" if case_sensitive else "false"
        _el(mapping, "qti-map-entry", **attrs)


def _typed_forms(accepted: tuple[str, ...], case_sensitive: bool) -> list[tuple[str, int]]:
    forms = [(a, 1) for a in accepted]
    # QTI compares exactly (or ignoring case): our fold (umlauts, ß, spacing) becomes extra accepted forms.
    forms += [(fold(a, True), 1) for a in accepted]
    return forms


def _outcomes(item: etree._Element, points: int) -> None:
    score = _el(item, "qti-outcome-declaration", identifier="SCORE", cardinality="single", base_type="float")
    _el(_el(score, "qti-default-value"), "qti-value", "0")
    top = _el(item, "qti-outcome-declaration", identifier="MAXSCORE", cardinality="single", base_type="float")
    _el(_el(top, "qti-default-value"), "qti-value", str(points))


def _set_score(parent: etree._Element) -> etree._Element:
    return _el(parent, "qti-set-outcome-value", identifier="SCORE")


def _if_then_points(rp: etree._Element) -> etree._Element:
    """``if <condition> then SCORE = points``: the branch to put the condition in (then :func:`_finish_if`)."""
    return _el(_el(rp, "qti-response-condition"), "qti-response-if")


def _finish_if(branch: etree._Element, points: int) -> None:
    _el(_set_score(branch), "qti-base-value", str(points), base_type="float")


def _share(rp: etree._Element, points: int, parts: int, sums: list[str]) -> None:
    """SCORE = truncate(points x (sum of the map responses) / parts): our rounding down."""
    truncate = _el(_set_score(rp), "qti-truncate")
    divide = _el(truncate, "qti-divide")
    product = _el(divide, "qti-product")
    _el(product, "qti-base-value", str(points), base_type="float")
    total = _el(product, "qti-sum")
    for ident in sums:
        _el(total, "qti-map-response", identifier=ident)
    _el(divide, "qti-base-value", str(parts), base_type="float")


def _match_correct(rp: etree._Element, points: int) -> None:
    branch = _if_then_points(rp)
    match = _el(branch, "qti-match")
    _el(match, "qti-variable", identifier="RESPONSE")
    _el(match, "qti-correct", identifier="RESPONSE")
    _finish_if(branch, points)


def _mapped_above_zero(rp: etree._Element, points: int, operator: str = "qti-map-response") -> None:
    branch = _if_then_points(rp)
    gt = _el(branch, "qti-gt")
    _el(gt, operator, identifier="RESPONSE")
    _el(gt, "qti-base-value", "0", base_type="float")
    _finish_if(branch, points)


def _image(parent: etree._Element, q: QuestionSpec, media: Mapping[str, Media]) -> str:
    image = media[q.image]
    href = f"media/{q.image}.{_EXT.get(image.content_type, 'png')}"
    _el(parent, "img", src=f"../{href}", alt=q.image_alt, width=str(image.width), height=str(image.height))
    return href


def _rubric(body: etree._Element, q: QuestionSpec) -> None:
    block = _el(body, "qti-rubric-block", view="scorer", use="scoring")
    table = _el(_el(_el(block, "qti-content-body"), "table", **{"class": "aufsicht-rubric"}), "tbody")
    for criterion in q.rubric:
        row = _el(table, "tr", label=criterion.id)
        _el(row, "th", criterion.name)
        for level in criterion.levels:
            cell = _el(row, "td", label=level.id)
            _el(cell, "span", level.label, **{"class": "aufsicht-level"})
            _el(cell, "span", str(level.points), **{"class": "aufsicht-points"})


def item_xml(q: QuestionSpec, media: Mapping[str, Media]) -> tuple[bytes, list[str]]:
    """One item as QTI 3.0 XML, and the package paths of the media it uses."""
    item = etree.Element(_q("qti-assessment-item"), nsmap={None: NS, "xsi": XSI})
    item.set(f"{{{XSI}}}schemaLocation", f"{NS} {ITEM_XSD}")
    item.set("identifier", qti_id(q.id))
    item.set("title", q.id)
    item.set("adaptive", "false")
    item.set("time-dependent", "false")
    item.set(f"{{{XML_NS}}}lang", "de")
    kind, points, hrefs = q.kind, q.points, []
    # Declarations first (the schema wants them before the body).
    if kind in (QuestionKind.SINGLE_CHOICE, QuestionKind.MULTIPLE_CHOICE):
        single = kind is QuestionKind.SINGLE_CHOICE
        _declare(item, "RESPONSE", "single" if single else "multiple", "identifier",
                 [qti_id(o.id) for o in q.options if o.correct])
    elif kind is QuestionKind.NUMERIC:
        _declare(item, "RESPONSE", "single", "float", [_num(q.answer or 0)])
    elif kind is QuestionKind.SHORT_TEXT:
        decl = _declare(item, "RESPONSE", "single", "string", [q.accepted[0]])
        _mapping(decl, _typed_forms(q.accepted, q.case_sensitive), q.case_sensitive)
    elif kind is QuestionKind.GAP_TEXT:
        for gap in q.gaps:
            ident = "RESPONSE-" + gap.id
            if gap.dropdown:
                right = [qti_id(oid) for oid, _t, ok in gap.options if ok]
                decl = _declare(item, ident, "single", "identifier", right)
                _mapping(decl, [(r, 1) for r in right])
            else:
                decl = _declare(item, ident, "single", "string", [gap.accepted[0]])
                _mapping(decl, _typed_forms(gap.accepted, gap.case_sensitive), gap.case_sensitive)
    elif kind is QuestionKind.MATCHING:
        pairs = [f"{qti_id(p.id)} {qti_id(p.match)}" for p in q.premises]
        decl = _declare(item, "RESPONSE", "multiple", "directedPair", pairs)
        _mapping(decl, [(pair, 1) for pair in pairs])
        decl.find(_q("qti-mapping")).attrib.pop("upper-bound")
    elif kind is QuestionKind.ORDERING:
        _declare(item, "RESPONSE", "ordered", "identifier", [qti_id(o.id) for o in q.options])
    elif kind is QuestionKind.HOTSPOT:
        decl = _declare(item, "RESPONSE", "single", "point")
        amap = _el(decl, "qti-area-mapping", default_value="0", lower_bound="0", upper_bound="1")
        for area in q.areas:
            if area.shape == "circle":
                coords = f"{_num(area.x)},{_num(area.y)},{_num(area.r)}"
            else:
                coords = f"{_num(area.x)},{_num(area.y)},{_num(area.x + area.width)},{_num(area.y + area.height)}"
            _el(amap, "qti-area-map-entry", shape=area.shape, coords=coords, mapped_value="1" if area.correct else "0")
    elif kind is QuestionKind.UPLOAD:
        _declare(item, "RESPONSE", "single", "file")
    else:  # free text, essay
        _declare(item, "RESPONSE", "single", "string")
    _outcomes(item, points)
    body = _el(item, "qti-item-body")
    _paragraphs(body, q.prompt, "aufsicht-prompt")
    if kind in (QuestionKind.SINGLE_CHOICE, QuestionKind.MULTIPLE_CHOICE):
        single = kind is QuestionKind.SINGLE_CHOICE
        box = _el(body, "qti-choice-interaction", response_identifier="RESPONSE", shuffle="false",
                  max_choices="1" if single else "0")
        for o in q.options:
            _el(box, "qti-simple-choice", o.text, identifier=qti_id(o.id))
    elif kind is QuestionKind.NUMERIC:
        _el(_el(body, "p"), "qti-text-entry-interaction", response_identifier="RESPONSE")
    elif kind is QuestionKind.SHORT_TEXT:
        _el(_el(body, "p"), "qti-text-entry-interaction", response_identifier="RESPONSE",
            **{"class": "aufsicht-case-sensitive"} if q.case_sensitive else {})
    elif kind is QuestionKind.GAP_TEXT:
        _gap_text(body, q)
    elif kind is QuestionKind.MATCHING:
        box = _el(body, "qti-match-interaction", response_identifier="RESPONSE", shuffle="false",
                  max_associations=str(len(q.premises)))
        left, right = _el(box, "qti-simple-match-set"), _el(box, "qti-simple-match-set")
        for p in q.premises:
            _el(left, "qti-simple-associable-choice", p.text, identifier=qti_id(p.id), match_max="1")
        for o in q.options:
            _el(right, "qti-simple-associable-choice", o.text, identifier=qti_id(o.id),
                match_max=str(len(q.premises)))
    elif kind is QuestionKind.ORDERING:
        box = _el(body, "qti-order-interaction", response_identifier="RESPONSE", shuffle="true",
                  **({} if q.all_or_nothing else {"class": "aufsicht-partial"}))
        for o in q.options:
            _el(box, "qti-simple-choice", o.text, identifier=qti_id(o.id))
    elif kind is QuestionKind.HOTSPOT:
        box = _el(body, "qti-select-point-interaction", response_identifier="RESPONSE", max_choices="1")
        hrefs.append(_image(box, q, media))
    elif kind is QuestionKind.UPLOAD:
        _el(body, "qti-upload-interaction", response_identifier="RESPONSE")
    else:
        classes = ["aufsicht-free-text"] if kind is QuestionKind.FREE_TEXT else ["aufsicht-essay"]
        if q.min_words is not None:
            classes.append(f"aufsicht-min-words-{q.min_words}")
        if q.max_words is not None:
            classes.append(f"aufsicht-max-words-{q.max_words}")
        _el(body, "qti-extended-text-interaction", response_identifier="RESPONSE", **{"class": " ".join(classes)})
        if q.rubric:
            _rubric(body, q)
    _processing(item, q)
    return etree.tostring(item, xml_declaration=True, encoding="UTF-8", pretty_print=True), hrefs


def _gap_text(body: etree._Element, q: QuestionSpec) -> None:
    gaps = {g.id: g for g in q.gaps}
    box = _el(body, "div", **{"class": "aufsicht-gap-text"})
    for line in q.text.split("\n"):
        para = _el(box, "p")
        last: etree._Element | None = None
        pos = 0
        for found in GAP_RE.finditer(line):
            before = line[pos:found.start()]
            if last is None:
                para.text = (para.text or "") + before
            else:
                last.tail = (last.tail or "") + before
            gap = gaps[found.group(1)]
            ident = "RESPONSE-" + gap.id
            if gap.dropdown:
                last = _el(para, "qti-inline-choice-interaction", response_identifier=ident, shuffle="false")
                for oid, text, _ok in gap.options:
                    _el(last, "qti-inline-choice", text, identifier=qti_id(oid))
            else:
                last = _el(para, "qti-text-entry-interaction", response_identifier=ident)
            pos = found.end()
        rest = line[pos:]
        if last is None:
            para.text = (para.text or "") + rest
        else:
            last.tail = rest


def _processing(item: etree._Element, q: QuestionSpec) -> None:
    kind, points = q.kind, q.points
    if kind in (QuestionKind.FREE_TEXT, QuestionKind.ESSAY, QuestionKind.UPLOAD):
        return  # scored by a person
    rp = _el(item, "qti-response-processing")
    if kind in (QuestionKind.SINGLE_CHOICE, QuestionKind.MULTIPLE_CHOICE):
        _match_correct(rp, points)
    elif kind is QuestionKind.NUMERIC:
        # answer - tolerance <= RESPONSE <= answer + tolerance, the bounds computed here exactly: players differ
        # in qti-equal's tolerance modes (Cito's ignores them), never in qti-gte and qti-lte.
        branch = _if_then_points(rp)
        both = _el(branch, "qti-and")
        answer = q.answer or Decimal(0)
        for operator, bound in (("qti-gte", answer - q.tolerance), ("qti-lte", answer + q.tolerance)):
            compare = _el(both, operator)
            _el(compare, "qti-variable", identifier="RESPONSE")
            _el(compare, "qti-base-value", _num(bound), base_type="float")
        _finish_if(branch, points)
    elif kind is QuestionKind.SHORT_TEXT:
        _mapped_above_zero(rp, points)
    elif kind is QuestionKind.GAP_TEXT:
        _share(rp, points, len(q.gaps), ["RESPONSE-" + g.id for g in q.gaps])
    elif kind is QuestionKind.MATCHING:
        _share(rp, points, len(q.premises), ["RESPONSE"])
    elif kind is QuestionKind.ORDERING:
        _match_correct(rp, points)
    elif kind is QuestionKind.HOTSPOT:
        _mapped_above_zero(rp, points, "qti-map-response-point")


def _test_xml(spec: ExamSpec, hrefs: list[tuple[str, str]]) -> bytes:
    test = etree.Element(_q("qti-assessment-test"), nsmap={None: NS, "xsi": XSI})
    test.set(f"{{{XSI}}}schemaLocation", f"{NS} {ITEM_XSD}")
    test.set("identifier", "exam")
    test.set("title", spec.title)
    part = _el(test, "qti-test-part", identifier="part", navigation_mode="nonlinear", submission_mode="simultaneous")
    section = _el(part, "qti-assessment-section", identifier="section", title=spec.title, visible="true")
    if spec.shuffle_questions:
        _el(section, "qti-ordering", shuffle="true")
    for ident, href in hrefs:
        _el(section, "qti-assessment-item-ref", identifier=ident, href=href)
    return etree.tostring(test, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _manifest(items: list[tuple[str, str, list[str]]], test_href: str) -> bytes:
    def cp(tag: str) -> str:
        return f"{{{CP_NS}}}{tag}"

    root = etree.Element(cp("manifest"), nsmap={None: CP_NS, "xsi": XSI})
    root.set("identifier", "aufsicht-exam")
    root.set(f"{{{XSI}}}schemaLocation", f"{CP_NS} {CP_XSD}")
    meta = etree.SubElement(root, cp("metadata"))
    etree.SubElement(meta, cp("schema")).text = "QTI Package"
    etree.SubElement(meta, cp("schemaversion")).text = "3.0.0"
    etree.SubElement(root, cp("organizations"))
    resources = etree.SubElement(root, cp("resources"))
    test = etree.SubElement(resources, cp("resource"), identifier="test", type="imsqti_test_xmlv3p0",
                            href=test_href)
    etree.SubElement(test, cp("file"), href=test_href)
    for ident, _href, _media in items:
        etree.SubElement(test, cp("dependency"), identifierref="item-" + ident)
    media_ids: dict[str, str] = {}
    for ident, href, media in items:
        res = etree.SubElement(resources, cp("resource"), identifier="item-" + ident, type="imsqti_item_xmlv3p0",
                               href=href)
        etree.SubElement(res, cp("file"), href=href)
        for path in media:
            media_ids.setdefault(path, f"media-{len(media_ids) + 1}")
            etree.SubElement(res, cp("dependency"), identifierref=media_ids[path])
    for path, ident in media_ids.items():
        res = etree.SubElement(resources, cp("resource"), identifier=ident, type="webcontent", href=path)
        etree.SubElement(res, cp("file"), href=path)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def export_package(spec: ExamSpec, media: Mapping[str, Media]) -> ExportResult:
    """The exam as a QTI 3.0 content package; ``media`` holds the images hotspot items name."""
    out = io.BytesIO()
    skipped: list[tuple[str, str]] = []
    items: list[tuple[str, str, list[str]]] = []
    files: dict[str, bytes] = {}
    skipped += [(q.id, _("a pool item (drawn per candidate) is not exported yet: the package holds the questions "
                         "every candidate gets")) for q in spec.pool]
    for q in spec.questions:
        if q.kind is QuestionKind.ORAL:
            skipped.append((q.id, _("an oral item is answered live to an examiner; QTI has no interaction for it")))
            continue
        if q.kind is QuestionKind.SPOKEN:
            skipped.append((q.id, _("a spoken answer is a span of the exam's recording; QTI has no interaction for "
                                    "it")))
            continue
        if q.media is not None:
            skipped.append((q.id, _("its stimulus (audio, video or image) is not exported yet, and the item is not "
                                    "whole without it")))
            continue
        xml, media_hrefs = item_xml(q, media)
        href = f"items/{qti_id(q.id)}.xml"
        files[href] = xml
        for path in media_hrefs:
            files[path] = media[q.image].data
        items.append((qti_id(q.id), href, media_hrefs))
    files["tests/test.xml"] = _test_xml(spec, [(i, "../" + h) for i, h, _m in items])
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("imsmanifest.xml", _manifest(items, "tests/test.xml"))
        for path, data in files.items():
            archive.writestr(path, data)
    return ExportResult(out.getvalue(), skipped)
