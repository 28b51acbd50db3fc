"""Printable certificate as PDF (fpdf2): bilingual labels, result and a QR code to the verify page.

Names may use any script. We embed DejaVu Sans when it can be found (set
``AUFSICHT_CERT_FONT`` to a TTF, or install fonts-dejavu-core); without it we fall
back to the PDF core font and transliterate to Latin-1, so "Łukasiewicz" prints as
"Lukasiewicz" rather than failing. The signed credential always has the exact name.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import qrcode
from fpdf import FPDF

__all__ = ["CertificateText", "find_unicode_font", "render_certificate_pdf", "transliterate_latin1"]

FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/dejavu-sans/DejaVuSans.ttf",
)

# Letters NFKD cannot take apart, plus Greek and Cyrillic, for the no-font fallback.
_EXTRA = str.maketrans({
    "Ł": "L", "ł": "l", "Đ": "D", "đ": "d", "Ħ": "H", "ħ": "h", "Ø": "O", "ø": "o", "Œ": "OE", "œ": "oe",
    "ı": "i", "Ŋ": "NG", "ŋ": "ng", "Þ": "Th", "þ": "th", "ſ": "s", "Ə": "E", "ə": "e",
    "Α": "A", "Β": "V", "Γ": "G", "Δ": "D", "Ε": "E", "Ζ": "Z", "Η": "I", "Θ": "Th", "Ι": "I", "Κ": "K",
    "Λ": "L", "Μ": "M", "Ν": "N", "Ξ": "X", "Ο": "O", "Π": "P", "Ρ": "R", "Σ": "S", "Τ": "T", "Υ": "Y",
    "Φ": "F", "Χ": "Ch", "Ψ": "Ps", "Ω": "O", "α": "a", "β": "v", "γ": "g", "δ": "d", "ε": "e", "ζ": "z",
    "η": "i", "θ": "th", "ι": "i", "κ": "k", "λ": "l", "μ": "m", "ν": "n", "ξ": "x", "ο": "o", "π": "p",
    "ρ": "r", "σ": "s", "ς": "s", "τ": "t", "υ": "y", "φ": "f", "χ": "ch", "ψ": "ps", "ω": "o",
    "А": "A", "Б": "B", "В": "V", "Г": "G", "Д": "D", "Е": "E", "Ж": "Zh", "З": "Z", "И": "I", "Й": "Y",
    "К": "K", "Л": "L", "М": "M", "Н": "N", "О": "O", "П": "P", "Р": "R", "С": "S", "Т": "T", "У": "U",
    "Ф": "F", "Х": "Kh", "Ц": "Ts", "Ч": "Ch", "Ш": "Sh", "Щ": "Shch", "Ы": "Y", "Э": "E", "Ю": "Yu",
    "Я": "Ya", "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ж": "zh", "з": "z", "и": "i",
    "й": "y", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r", "с": "s", "т": "t",
    "у": "u", "ф": "f", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "shch", "ы": "y", "э": "e",
    "ю": "yu", "я": "ya", "ь": "", "ъ": "",
})


@dataclass(frozen=True)
class CertificateText:
    """Everything printed on a certificate."""

    holder_name: str
    exam_title: str
    completed_on: dt.date
    result: str  # e.g. "85.00 %" -- passed in as shown to the candidate
    certificate_id: str
    verify_url: str
    issuer_name: str = "aufsicht"
    proctored: bool = True
    seb: bool = False  # taken in Safe Exam Browser with the exam's configuration


def find_unicode_font() -> str | None:
    """Path of a Unicode TTF to embed (AUFSICHT_CERT_FONT, then DejaVu Sans), or None."""
    configured = os.environ.get("AUFSICHT_CERT_FONT")
    for candidate in ([configured] if configured else []) + list(FONT_CANDIDATES):
        if Path(candidate).is_file():
            return candidate
    return None


def transliterate_latin1(text: str) -> str:
    """Best-effort Latin-1 version of ``text`` (keeps ä, ö, ü, ß, é...; strips other accents; '?' otherwise)."""
    out = []
    for ch in text.translate(_EXTRA):
        if ord(ch) < 256:
            out.append(ch)
            continue
        base = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c)).translate(_EXTRA)
        out.append(base if base and all(ord(c) < 256 for c in base) else "?")
    return "".join(out)


def _spell(ch: str, covered: dict[int, object]) -> str:
    base = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c)).translate(_EXTRA)
    return base if base and all(ord(c) in covered for c in base) else "?"


def _qr_png(url: str) -> io.BytesIO:
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=8, border=2)
    qr.add_data(url)
    qr.make(fit=True)
    buffer = io.BytesIO()
    qr.make_image(fill_color="black", back_color="white").save(buffer, format="PNG")
    buffer.seek(0)
    return buffer


def render_certificate_pdf(cert: CertificateText, font_path: str | None = None) -> bytes:
    """Render the certificate as a one-page A4 landscape PDF and return its bytes."""
    font_path = font_path if font_path is not None else find_unicode_font()
    pdf = FPDF(orientation="landscape", format="A4")
    pdf.set_creation_date(dt.datetime.combine(cert.completed_on, dt.time(), tzinfo=dt.UTC))
    pdf.set_title(f"Zertifikat / Certificate {cert.certificate_id}")
    pdf.set_author(cert.issuer_name)
    if font_path:
        pdf.add_font("cert", "", font_path)
        family = "cert"
        covered: dict[int, object] = getattr(pdf.fonts["cert"], "cmap", {})

        def fix(text: str) -> str:
            # Characters the font lacks (e.g. CJK in DejaVu) would print as blanks: spell them out instead.
            return "".join(c if ord(c) in covered or c.isspace() else _spell(c, covered) for c in text)
    else:
        family = "helvetica"
        fix = transliterate_latin1
    pdf.set_auto_page_break(auto=False)
    pdf.add_page()
    width = pdf.w - 2 * pdf.l_margin

    def line(text: str, size: float, height: float, gap: float = 0) -> None:
        # Long names and titles shrink (down to 11 pt) rather than push the layout off the page.
        pdf.set_font(family, size=size)
        while size > 11 and pdf.get_string_width(fix(text)) > width:
            size -= 1
            height = max(5.0, height * (size / (size + 1)))
            pdf.set_font(family, size=size)
        pdf.set_x(pdf.l_margin)
        pdf.multi_cell(width, height, fix(text), align="C", new_x="LMARGIN", new_y="NEXT")
        if gap:
            pdf.ln(gap)

    pdf.set_draw_color(40, 60, 110)
    pdf.set_line_width(1.2)
    pdf.rect(8, 8, pdf.w - 16, pdf.h - 16)
    pdf.set_y(22)
    line("Zertifikat / Certificate", 30, 14, 6)
    line("Hiermit wird bestätigt, dass / This is to certify that", 13, 7, 2)
    line(cert.holder_name, 26, 12, 2)
    line("die Prüfung bestanden hat / has passed the exam", 13, 7, 2)
    line(cert.exam_title, 20, 10, 6)

    labels = [
        ("Datum / Date", cert.completed_on.isoformat()),
        ("Ergebnis / Result", cert.result),
        ("Beaufsichtigt / Proctored", "ja / yes" if cert.proctored else "nein / no"),
        ("Zertifikats-ID / Certificate ID", cert.certificate_id),
    ]
    if cert.seb:
        labels.insert(3, ("Abgesichert / Lockdown", "in Safe Exam Browser mit der Konfiguration der Prüfung / "
                                                    "taken in Safe Exam Browser with the exam's configuration"))
    top = pdf.get_y()
    for label, value in labels:
        pdf.set_x(30)
        pdf.set_font(family, size=10)
        pdf.cell(70, 8, fix(label))
        pdf.set_font(family, size=12)
        pdf.cell(110, 8, fix(value), new_x="LMARGIN", new_y="NEXT")
    qr_size = 42
    pdf.image(_qr_png(cert.verify_url), x=pdf.w - 30 - qr_size, y=top - 4, w=qr_size, h=qr_size)
    pdf.set_y(pdf.h - 34)
    line("Echtheit prüfen / Verify authenticity:", 9, 5)
    line(cert.verify_url, 9, 5)
    line(f"Ausgestellt von / Issued by {cert.issuer_name}", 9, 5)
    return bytes(pdf.output())
