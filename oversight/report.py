"""The oversight report of one exam as a PDF: its figures per flag kind, in the reader's language, with a bar per
kind (confirmed, dismissed, open; each part labelled with its count, so the chart does not rely on colour)."""

from __future__ import annotations

from collections.abc import Callable

from flask_babel import gettext as _
from fpdf import FPDF

from exams.certificate_pdf import find_unicode_font, transliterate_latin1
from exams.models import Exam
from oversight.accuracy import KindFigures, figures
from proctoring.flag_labels import kind_label


def exam_report_pdf(exam: Exam) -> bytes:
    """One exam's flags per kind: confirmed, dismissed, open, time to decision, decisions without the evidence."""
    pdf = FPDF()
    font = find_unicode_font()
    family = "u" if font else "helvetica"
    if font:
        pdf.add_font("u", fname=font)

    def text(s: str) -> str:
        return s if font else transliterate_latin1(s)

    pdf.add_page()
    pdf.set_font(family, size=16)
    pdf.multi_cell(0, 9, text(f"{_('AI oversight')}: {exam.title}"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(family, size=10)
    pdf.multi_cell(0, 6, text(_("How often people confirm what each detector flags. A flag decides nothing; these "
                                "figures show whether the detectors help the people who decide. Kinds that concern "
                                "fewer than 5 candidates show no figures.")), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    rows = figures(exam_id=exam.id)
    shown = [r for r in rows if not r.suppressed and r.flags]
    if shown:
        _chart(pdf, shown, text, family)
    for row in rows:
        if row.suppressed:
            line = _("fewer than 5 candidates: not shown")
        else:
            line = _("%(flags)s flags, %(confirmed)s confirmed, %(dismissed)s dismissed, %(open)s open; "
                     "%(unseen)s decided without opening the evidence",
                     flags=row.flags, confirmed=row.confirmed, dismissed=row.dismissed, open=row.open,
                     unseen=row.without_evidence)
            if row.warning:
                line += " - " + _("Confirmed much less often than usual on the platform:").rstrip(":")
        pdf.multi_cell(0, 6, text(f"{kind_label(row.kind)}: {line}"), new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


BAR_WIDTH = 110.0  # millimetres for the kind with the most flags
PARTS = (("confirmed", (31, 78, 121)), ("dismissed", (190, 190, 190)), ("open", (255, 255, 255)))


def _chart(pdf: FPDF, rows: list[KindFigures], text: Callable[[str], str], family: str) -> None:
    """One horizontal bar per flag kind: confirmed (dark), dismissed (grey), open (white), a count in each part."""
    names = {"confirmed": _("confirmed"), "dismissed": _("dismissed"), "open": _("open")}
    most = max(r.flags or 0 for r in rows)
    pdf.set_font(family, size=9)
    pdf.set_draw_color(0, 0, 0)
    x0 = pdf.l_margin
    pdf.cell(0, 5, text(" / ".join(names[p] for p, _c in PARTS)), new_x="LMARGIN", new_y="NEXT")
    for row in rows:
        pdf.cell(0, 5, text(kind_label(row.kind)), new_x="LMARGIN", new_y="NEXT")
        y, x = pdf.get_y(), x0
        for part, colour in PARTS:
            count = getattr(row, part) or 0
            if not count:
                continue
            width = BAR_WIDTH * count / most
            pdf.set_fill_color(*colour)
            pdf.rect(x, y, width, 6, style="DF")
            pdf.set_text_color(*((255, 255, 255) if part == "confirmed" else (0, 0, 0)))
            pdf.set_xy(x, y)
            pdf.cell(width, 6, str(count), align="C")
            x += width
        pdf.set_text_color(0, 0, 0)
        pdf.set_xy(x0, y + 8)
    pdf.ln(2)
    pdf.set_font(family, size=10)
