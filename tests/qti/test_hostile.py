"""An uploaded package is hostile: zip bombs, climbing paths, entities and huge files are refused, nothing read."""

from __future__ import annotations

import io
import zipfile

import pytest

from qti import safety
from qti.reader import read_package
from qti.writer import export_package
from tests.qti.samples import exam, media


def _zip(files: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", method) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return out.getvalue()


def _problem(package: bytes) -> str:
    result = read_package(package)
    assert result.questions == [] and len(result.problems) == 1
    return result.problems[0].message


def test_a_zip_bomb_stops_at_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    bomb = _zip({"imsmanifest.xml": b"<a/>", "big.bin": b"\0" * (safety.MAX_FILE + 1)})
    assert len(bomb) < 100_000
    assert "larger than 20 MB" in _problem(bomb)


def test_a_zip_that_lies_about_its_sizes_is_caught_while_unpacking() -> None:
    package = bytearray(_zip({"imsmanifest.xml": b"<a/>", "x.bin": b"\0" * (safety.MAX_FILE + 10)}))
    # Rewrite the central directory's uncompressed size of x.bin to 10 bytes: the reader must count itself.
    at = package.rfind(b"x.bin") - 46
    package[at + 24:at + 28] = (10).to_bytes(4, "little")
    message = _problem(bytes(package))
    assert "larger than" in message or "cannot be unpacked" in message


def test_many_files_together_may_not_exceed_the_total(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(safety, "MAX_TOTAL", 1000)
    assert "larger than" in _problem(_zip({f"f{i}.bin": b"x" * 300 for i in range(5)}))


@pytest.mark.parametrize("name", ["../evil.xml", "/etc/passwd", "a/../../evil.xml", "C:/evil.xml", "..\\evil.xml"])
def test_names_outside_the_package_are_refused(name: str) -> None:
    assert "outside its folder" in _problem(_zip({"imsmanifest.xml": b"<a/>", name: b"x"}))


def test_external_entities_are_never_resolved(tmp_path) -> None:  # type: ignore[no-untyped-def]
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET")
    package = bytearray()
    source = zipfile.ZipFile(io.BytesIO(export_package(exam(), media()).package))
    files = {n: source.read(n) for n in source.namelist()}
    files["items/multi.xml"] = files["items/multi.xml"].replace(
        b"<?xml version='1.0' encoding='UTF-8'?>",
        f'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY s SYSTEM "file://{secret}">]>'.encode()).replace(
        b">gehen<", b">&s;<")
    package += _zip(files)
    result = read_package(bytes(package))
    assert [p.item for p in result.problems] == ["items/multi.xml"]
    assert "document type" in result.problems[0].message
    assert "TOPSECRET" not in repr(result)


def test_billion_laughs_is_refused() -> None:
    laughs = b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;">]>' \
             b"<manifest>&b;</manifest>"
    assert "document type" in _problem(_zip({"imsmanifest.xml": laughs}))


def test_xml_in_utf16_cannot_hide_its_doctype() -> None:
    xml = '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE x [<!ENTITY a "b">]><manifest/>'.encode("utf-16")
    assert "document type" in _problem(_zip({"imsmanifest.xml": xml}))


@pytest.mark.parametrize("data", [b"", b"not a zip", b"PK\x03\x04garbage"])
def test_not_a_zip(data: bytes) -> None:
    assert "not a zip" in _problem(data)


def test_no_manifest_and_broken_xml_are_clear() -> None:
    assert "no imsmanifest.xml" in _problem(_zip({"item.xml": b"<a/>"}))
    assert "not well-formed" in _problem(_zip({"imsmanifest.xml": b"<a>"}))
