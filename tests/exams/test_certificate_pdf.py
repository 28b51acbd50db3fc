"""Certificate PDF: renders, carries the QR image, survives any script in names."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import zlib

import pytest

from exams.certificate_pdf import CertificateText, find_unicode_font, render_certificate_pdf, transliterate_latin1

CERT = CertificateText(
    holder_name="Zoë Łukasiewicz", exam_title="Grundlagen der DSGVO / GDPR basics", completed_on=dt.date(2026, 11, 20),
    result="85,00 % (bestanden / passed)", certificate_id="PWHG-YHHF-DN37-DDY0-R6VC-YFYR-MM8W",
    verify_url="https://aufsicht.example/verify/PWHG-YHHF-DN37-DDY0-R6VC-YFYR-MM8W",
)
FONT = find_unicode_font()


def page_text(pdf: bytes) -> bytes:
    """The decompressed content streams, to look for drawn text."""
    out = b""
    for match in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S):
        try:
            out += zlib.decompress(match.group(1))
        except zlib.error:
            out += match.group(1)
    return out


@pytest.mark.parametrize("font", [FONT, ""], ids=["unicode-font", "core-font-fallback"])
@pytest.mark.parametrize("name", ["Zoë Łukasiewicz", "Ἀλέξανδρος", "Ольга Петрова", "李小龍", "O'Brien-Müller 😀",
                                  "Maximiliane " * 20])
def test_renders_any_name(font: str | None, name: str) -> None:
    if font is None:
        pytest.skip("no Unicode TTF on this machine (install fonts-dejavu-core)")
    cert = dataclasses.replace(CERT, holder_name=name)
    pdf = render_certificate_pdf(cert, font_path=font)
    assert pdf.startswith(b"%PDF-")
    assert pdf.rstrip().endswith(b"%%EOF")
    assert b"/Subtype /Image" in pdf  # the QR code
    assert len(re.findall(rb"/Type /Page\b", pdf)) == 1


def test_fallback_prints_transliterated_text() -> None:
    pdf = render_certificate_pdf(CERT, font_path="")
    text = page_text(pdf)
    assert b"Lukasiewicz" in text
    assert b"PWHG-YHHF-DN37-DDY0-R6VC-YFYR-MM8W" in text
    assert b"Zertifikat / Certificate" in text


def test_qr_image_size_is_sane() -> None:
    pdf = render_certificate_pdf(CERT, font_path="")
    width = re.search(rb"/Subtype /Image.*?/Width (\d+)", pdf, re.S)
    assert width and int(width.group(1)) >= 100


def test_transliteration() -> None:
    assert transliterate_latin1("Zoë Łukasiewicz") == "Zoë Lukasiewicz"
    assert transliterate_latin1("Ἀλέξανδρος") == "Alexandros"
    assert transliterate_latin1("Ольга") == "Olga"
    assert transliterate_latin1("Straße Čapek") == "Straße Capek"
    assert transliterate_latin1("李") == "?"
