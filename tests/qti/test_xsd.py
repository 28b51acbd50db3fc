"""Every file of an exported QTI 3.0 package validates against 1EdTech's XSDs (tests/data/qti/xsd, see NOTICE.md)."""

from __future__ import annotations

import io
import zipfile
from functools import cache
from pathlib import Path

import pytest
from lxml import etree

from exams.schema import exam_from_data
from qti.writer import export_package
from tests.qti.samples import exam, exam_data, media

XSD = Path(__file__).resolve().parent.parent / "data" / "qti" / "xsd" / "qtiv3p0"


@cache
def schema(name: str) -> etree.XMLSchema:
    """A schema from the repository, its imports resolved locally (no network)."""
    return etree.XMLSchema(etree.parse(str(XSD / name), etree.XMLParser(no_network=True)))


def _problems(package: bytes) -> dict[str, list[str]]:
    archive = zipfile.ZipFile(io.BytesIO(package))
    out: dict[str, list[str]] = {}
    for name in archive.namelist():
        if not name.endswith(".xml"):
            continue
        which = schema("imsqtiv3p0_imscpv1p2_v1p0.xsd" if name == "imsmanifest.xml"
                       else "imsqti_asiv3p0_sbacv1p0_v1p0.xsd")
        if not which.validate(etree.fromstring(archive.read(name))):
            out[name] = [f"{e.line}: {e.message}" for e in which.error_log]
    return out


def test_the_exported_package_is_valid() -> None:
    package = export_package(exam(), media()).package
    assert len([n for n in zipfile.ZipFile(io.BytesIO(package)).namelist() if n.endswith(".xml")]) == 16
    assert _problems(package) == {}


def test_ids_that_are_no_xml_names_and_odd_text_stay_valid() -> None:
    data = exam_data()
    data["questions"] = [
        {"id": "7", "type": "single_choice", "prompt": "<b>&amp; \"quoted\" ]]> \u00a0", "points": 3,
         "options": [{"id": "1", "text": "eins & zwei", "correct": True}, {"id": "2x", "text": "<zwei>"}]},
        {"id": "9g", "type": "gap_text", "prompt": "p", "text": "{{1}} am Anfang\n\nund am Ende {{g.2}}",
         "gaps": [{"id": "1", "accepted": ["Straße"]},
                  {"id": "g.2", "options": [{"id": "0", "text": "a", "correct": True}, {"id": "b", "text": "b"}]}]},
    ]
    assert _problems(export_package(exam_from_data(data), {}).package) == {}


def test_the_schemas_do_reject_a_wrong_package() -> None:
    package = export_package(exam(), media()).package
    source = zipfile.ZipFile(io.BytesIO(package))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for name in source.namelist():
            data = source.read(name)
            if name == "items/order.xml":
                data = data.replace(b'cardinality="ordered"', b'cardinality="sorted"')
            target.writestr(name, data)
    assert list(_problems(out.getvalue())) == ["items/order.xml"]


@pytest.mark.parametrize("name", ["imsqti_asiv3p0_sbacv1p0_v1p0.xsd", "imsqtiv3p0_imscpv1p2_v1p0.xsd"])
def test_the_schemas_load_without_the_network(name: str) -> None:
    assert schema(name) is not None
