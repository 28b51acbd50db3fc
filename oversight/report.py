"""The oversight report of one exam as a PDF: its figures per flag kind, in the reader's language."""

from __future__ import annotations

from flask_babel import gettext as _
from fpdf import FPDF

from exams.certificate_pdf import find_unicode_font, transliterate_latin1
from exams.models import Exam
from oversight.accuracy import figures
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
    for row in figures(exam_id=exam.id):
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
