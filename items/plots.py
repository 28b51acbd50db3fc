"""Plots of an item analysis as inline SVG made here (no library, no script): read at a glance, print cleanly.

Presentation attributes only (no ``style``), so the page's content security policy needs no exception; every
text is escaped. Labels come from the caller in the reader's language, numbers already formatted.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from markupsafe import Markup, escape

WIDTH, HEIGHT, PAD = 480, 240, 40


def score_histogram(counts: Sequence[int], title: str, x_label: str, y_label: str) -> Markup:
    """Bars of attempts per score band (0-9 %, ..., 90-100 %)."""
    top = max(max(counts, default=0), 1)
    inner_w, inner_h = WIDTH - 2 * PAD, HEIGHT - 2 * PAD
    bar_w = inner_w / max(len(counts), 1)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
             f'class="plot" id="score-histogram" aria-label="{escape(title)}"><title>{escape(title)}</title>',
             _axes(inner_w, inner_h)]
    for i, c in enumerate(counts):
        h = inner_h * c / top
        x = PAD + i * bar_w
        parts.append(f'<rect x="{x + 2:.1f}" y="{PAD + inner_h - h:.1f}" width="{bar_w - 4:.1f}" height="{h:.1f}" '
                     f'fill="#4a6fa5"><title>{i * 10}–{100 if i == len(counts) - 1 else i * 10 + 9} %: {c}</title>'
                     f'</rect>')
        if c:
            parts.append(f'<text x="{x + bar_w / 2:.1f}" y="{PAD + inner_h - h - 3:.1f}" font-size="10" '
                         f'text-anchor="middle">{c}</text>')
    for tick in (0, 50, 100):
        parts.append(f'<text x="{PAD + inner_w * tick / 100:.1f}" y="{PAD + inner_h + 14}" font-size="10" '
                     f'text-anchor="middle">{tick} %</text>')
    parts.append(_labels(x_label, y_label))
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704  (every text above is escaped)


def difficulty_discrimination(points: Sequence[tuple[str, float, float | None, bool]], title: str, x_label: str,
                              y_label: str, fmt: Callable[[float], str]) -> Markup:
    """One dot per item: difficulty (0..1) across, discrimination (-1..1) up; items with a warning in red."""
    inner_w, inner_h = WIDTH - 2 * PAD, HEIGHT - 2 * PAD

    def y_of(r: float) -> float:
        return PAD + inner_h * (1 - (r + 1) / 2)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
             f'class="plot" id="difficulty-discrimination" aria-label="{escape(title)}"><title>{escape(title)}</title>',
             _axes(inner_w, inner_h),
             f'<line x1="{PAD}" y1="{y_of(0):.1f}" x2="{PAD + inner_w}" y2="{y_of(0):.1f}" stroke="#999" '
             f'stroke-dasharray="4 3"/>']
    for r in (-1, 0, 1):
        parts.append(f'<text x="{PAD - 4}" y="{y_of(r) + 3:.1f}" font-size="10" text-anchor="end">{fmt(r)}</text>')
    for p in (0, 0.5, 1):
        parts.append(f'<text x="{PAD + inner_w * p:.1f}" y="{PAD + inner_h + 14}" font-size="10" '
                     f'text-anchor="middle">{fmt(p)}</text>')
    for name, difficulty, discrimination, warn in points:
        if discrimination is None:
            continue
        colour = "#b00020" if warn else "#4a6fa5"
        parts.append(f'<circle cx="{PAD + inner_w * difficulty:.1f}" cy="{y_of(discrimination):.1f}" r="4" '
                     f'fill="{colour}"><title>{escape(name)}: {fmt(difficulty)} / {fmt(discrimination)}</title>'
                     f'</circle>')
    parts.append(_labels(x_label, y_label))
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704  (every text above is escaped)


def _axes(inner_w: float, inner_h: float) -> str:
    return (f'<line x1="{PAD}" y1="{PAD + inner_h}" x2="{PAD + inner_w}" y2="{PAD + inner_h}" stroke="#333"/>'
            f'<line x1="{PAD}" y1="{PAD}" x2="{PAD}" y2="{PAD + inner_h}" stroke="#333"/>')


def _labels(x_label: str, y_label: str) -> str:
    return (f'<text x="{WIDTH / 2}" y="{HEIGHT - 6}" font-size="11" text-anchor="middle">{escape(x_label)}</text>'
            f'<text x="12" y="{HEIGHT / 2}" font-size="11" text-anchor="middle" '
            f'transform="rotate(-90 12 {HEIGHT / 2})">{escape(y_label)}</text>')
