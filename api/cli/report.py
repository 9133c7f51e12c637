"""Printable HTML reports with inline SVG charts, shared by every command that writes one.

One self-contained file: no scripts, no external fonts or assets, so it can be
mailed to a department or printed.  Output is deterministic: the same calls
give the same bytes (no timestamps unless the caller passes one).

Examples
--------
>>> r = Report("编码质控报告", "Coding validation report")
>>> r.metrics({"病例数 records": "1,000", "问题数 findings": "37"})
>>> r.bar_chart(["FM19", "ES31"], [12, 7], title="病例数 cases")
>>> r.table(frame)                                     # doctest: +SKIP
>>> r.write("report.html")                             # doctest: +SKIP
"""

from __future__ import annotations

import html
import math
import os
from pathlib import Path

from foundation.atomic import write_text_atomic
from typing import Sequence

import pandas as pd

_CSS = """
body{font-family:"Noto Sans CJK SC","Microsoft YaHei","PingFang SC",sans-serif;margin:2em auto;max-width:1100px;
color:#222;line-height:1.45}
h1{font-size:1.6em;margin-bottom:.1em}h2{font-size:1.25em;border-bottom:2px solid #2b6cb0;padding-bottom:.2em;
margin-top:1.8em}.sub{color:#555;margin-top:0}
.metrics{display:flex;flex-wrap:wrap;gap:.8em;margin:1em 0}.metric{border:1px solid #cbd5e0;border-radius:6px;
padding:.5em .9em;min-width:9em}.metric .v{font-size:1.35em;font-weight:600}.metric .k{color:#555;font-size:.85em}
table{border-collapse:collapse;margin:.6em 0;font-size:.88em}th,td{border:1px solid #cbd5e0;padding:.25em .55em}
th{background:#edf2f7;text-align:left}td.n{text-align:right;font-variant-numeric:tabular-nums}
figure{margin:1em 0}figcaption{font-weight:600;margin-bottom:.3em}.note{color:#555;font-size:.85em}
@media print{body{margin:0;max-width:none}h2{page-break-after:avoid}table,figure{page-break-inside:avoid}}
"""
_BAR = "#2b6cb0"
_BAR_ALT = "#c05621"


def _e(value) -> str:
    return html.escape(str(value), quote=True)


def _number(value) -> str:
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        return f"{value:,.4f}".rstrip("0").rstrip(".") if abs(value) < 1000 else f"{value:,.2f}"
    return str(value)


def _legend(x: float, y: float, legend: tuple[str, str]) -> str:
    """Two colour keys side by side, the first series' colour then the second's."""
    return (f"<rect x='{x}' y='{y}' width='10' height='10' fill='{_BAR}'/>"
            f"<text x='{x + 14}' y='{y + 9}'>{_e(legend[0])}</text>"
            f"<rect x='{x + 200}' y='{y}' width='10' height='10' fill='{_BAR_ALT}'/>"
            f"<text x='{x + 214}' y='{y + 9}'>{_e(legend[1])}</text>")


#: Widest bar-chart label, in pixels at the charts' 11 px font; longer labels end in "…".
_LABEL_WIDTH = 300


def _text_width(text: str) -> int:
    """Approximate width at 11 px: East Asian characters about twice a small Latin letter, capitals, digits
    and ``_`` (rule ids such as ``FATAL_PROC_UNMAPPED``) in between."""
    return sum(11 if ord(ch) > 0x2E80 else 8 if ch.isupper() or ch.isdigit() or ch == "_" else 6 for ch in text)


def _clip(text: str, width: int) -> str:
    if _text_width(text) <= width:
        return text
    while text and _text_width(text + "…") > width:
        text = text[:-1]
    return text + "…"


def _plain(value):
    """A chart value: whole numbers stay ``int`` (shown without decimals), others become ``float``."""
    number = float(value)
    return int(number) if number.is_integer() and abs(number) < 2**53 else number


class Report:
    """An HTML report built section by section.

    Parameters
    ----------
    title_zh, title_en : str
        Title in Chinese and English.
    subtitle : str, optional
        A line under the title (pack, period, source file …).
    """

    def __init__(self, title_zh: str, title_en: str, subtitle: str = ""):
        self.title = f"{title_zh} {title_en}".strip()
        self._parts = [f"<h1>{_e(title_zh)}</h1><p class='sub'>{_e(title_en)}</p>"]
        if subtitle:
            self._parts.append(f"<p class='sub'>{_e(subtitle)}</p>")

    def heading(self, text: str) -> "Report":
        self._parts.append(f"<h2>{_e(text)}</h2>")
        return self

    def paragraph(self, text: str, note: bool = False) -> "Report":
        self._parts.append(f"<p{' class=note' if note else ''}>{_e(text)}</p>")
        return self

    def metrics(self, items: dict) -> "Report":
        """Key figures as cards: label → value."""
        cards = "".join(f"<div class='metric'><div class='v'>{_e(_number(v))}</div><div class='k'>{_e(k)}</div></div>"
                        for k, v in items.items())
        self._parts.append(f"<div class='metrics'>{cards}</div>")
        return self

    def table(self, frame: pd.DataFrame, max_rows: int = 200, caption: str = "") -> "Report":
        """A data table; numbers right-aligned; at most ``max_rows`` rows (the rest counted in a note)."""
        shown = frame.head(max_rows)
        head = "".join(f"<th>{_e(c)}</th>" for c in shown.columns)
        rows = []
        for values in shown.itertuples(index=False):
            cells = []
            for v in values:
                numeric = isinstance(v, (int, float)) and not isinstance(v, bool)
                cells.append(f"<td class='n'>{_e(_number(v))}</td>" if numeric else f"<td>{_e('' if v is None else v)}</td>")
            rows.append("<tr>" + "".join(cells) + "</tr>")
        cap = f"<caption>{_e(caption)}</caption>" if caption else ""
        self._parts.append(f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>")
        if len(frame) > max_rows:
            self.paragraph(f"… {len(frame) - max_rows:,} more rows (另有 {len(frame) - max_rows:,} 行) in the data files",
                           note=True)
        return self

    def bar_chart(self, labels: Sequence, values: Sequence[float], title: str = "",
                  values2: Sequence[float] | None = None, legend: tuple[str, str] = ("", "")) -> "Report":
        """Horizontal bars, one per label (a second series side by side when ``values2`` is given)."""
        labels = [_clip(str(x), _LABEL_WIDTH) for x in labels]
        series = [list(map(_plain, values))] + ([list(map(_plain, values2))] if values2 is not None else [])
        high = max([abs(v) for s in series for v in s] + [1e-12])
        low = min([v for s in series for v in s] + [0.0])
        label_w = min(max([_text_width(x) for x in labels] + [40]) + 12, _LABEL_WIDTH + 12)
        row_h, width = 16 * len(series) + 6, 760 + label_w - 170
        plot_w = width - label_w - 90
        zero = label_w + (plot_w * (-low) / (high - low) if low < 0 else 0)
        scale = plot_w / (high - low if low < 0 else high)
        height = row_h * len(labels) + 24
        out = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' font-size='11'>"]
        for i, label in enumerate(labels):
            y = 4 + i * row_h
            out.append(f"<text x='{label_w - 6}' y='{y + row_h / 2 + 3:.1f}' text-anchor='end'>{_e(label)}</text>")
            for k, s in enumerate(series):
                v = s[i]
                x, w = (zero, v * scale) if v >= 0 else (zero + v * scale, -v * scale)
                yy = y + k * 16
                out.append(f"<rect x='{x:.1f}' y='{yy}' width='{max(w, 0.5):.1f}' height='13' "
                           f"fill='{_BAR if k == 0 else _BAR_ALT}'/>")
                out.append(f"<text x='{max(x + w, zero) + 4:.1f}' y='{yy + 10}'>{_e(_number(v))}</text>")
        out.append(f"<line x1='{zero:.1f}' y1='0' x2='{zero:.1f}' y2='{height - 20}' stroke='#444'/>")
        if values2 is not None and any(legend):
            out.append(_legend(label_w, height - 14, legend))
        out.append("</svg>")
        return self._figure(title, "".join(out))

    def histogram(self, values: Sequence[float], bins: int | Sequence[float] = 20, title: str = "",
                  x_label: str = "") -> "Report":
        """Counts of ``values`` in ``bins`` (a number of equal bins, or the bin edges)."""
        import numpy as np

        data = np.asarray(values, dtype=float)
        data = data[np.isfinite(data)]
        counts, edges = np.histogram(data, bins=bins) if len(data) else (np.zeros(1, int), np.array([0.0, 1.0]))
        width, height, left, bottom = 760, 220, 50, 30
        plot_w, plot_h = width - left - 20, height - bottom - 10
        top = max(int(counts.max()), 1)
        bar_w = plot_w / len(counts)
        out = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' font-size='11'>"]
        for i, c in enumerate(counts):
            h = plot_h * c / top
            out.append(f"<rect x='{left + i * bar_w:.1f}' y='{10 + plot_h - h:.1f}' width='{max(bar_w - 1, 0.5):.1f}' "
                       f"height='{h:.1f}' fill='{_BAR}'><title>{_number(float(edges[i]))}–{_number(float(edges[i + 1]))}: "
                       f"{int(c)}</title></rect>")
        for i in range(0, len(edges), max(1, len(edges) // 8)):
            x = left + i * bar_w
            out.append(f"<text x='{x:.1f}' y='{height - 14}' text-anchor='middle'>{_e(_number(float(edges[i])))}</text>")
        out.append(f"<text x='{left - 4}' y='16' text-anchor='end'>{top:,}</text>"
                   f"<text x='{left - 4}' y='{10 + plot_h}' text-anchor='end'>0</text>"
                   f"<line x1='{left}' y1='{10 + plot_h}' x2='{left + plot_w}' y2='{10 + plot_h}' stroke='#444'/>")
        if x_label:
            out.append(f"<text x='{left + plot_w / 2:.1f}' y='{height - 1}' text-anchor='middle'>{_e(x_label)}</text>")
        out.append("</svg>")
        return self._figure(title, "".join(out))

    def box_plot(self, labels: Sequence, stats: Sequence[Sequence[float]], title: str = "",
                 stats2: Sequence[Sequence[float]] | None = None, legend: tuple[str, str] = ("", ""),
                 log: bool = False, x_label: str = "") -> "Report":
        """Horizontal box plots, one row per label: each stat is (min, Q1, median, Q3, max).

        A second series (``stats2``, e.g. after a change) is drawn under the first in another colour;
        ``log`` uses a log10 axis (for values > 0 that span orders of magnitude).
        """
        labels = [str(x) for x in labels]
        series = [list(stats)] + ([list(stats2)] if stats2 is not None else [])
        values = [float(v) for s in series for box in s for v in box if math.isfinite(float(v))]
        if log:
            values = [v for v in values if v > 0]
        scale_of = (lambda v: math.log10(v)) if log else (lambda v: v)  # noqa: E731
        low, high = (min(map(scale_of, values)), max(map(scale_of, values))) if values else (0.0, 1.0)
        high = high if high > low else low + 1
        row_h, label_w, width = 14 * len(series) + 8, 170, 760
        plot_w = width - label_w - 20
        x_of = lambda v: label_w + plot_w * (scale_of(v) - low) / (high - low)  # noqa: E731
        height = row_h * len(labels) + 40
        out = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' font-size='11'>"]
        for i, label in enumerate(labels):
            y = 4 + i * row_h
            out.append(f"<text x='{label_w - 6}' y='{y + row_h / 2 + 2:.1f}' text-anchor='end'>{_e(label)}</text>")
            for k, s in enumerate(series):
                box = [float(v) for v in s[i]]
                if not all(math.isfinite(v) and (v > 0 or not log) for v in box):
                    continue
                lo, q1, med, q3, hi = (x_of(v) for v in box)
                yy, colour = y + k * 14, _BAR if k == 0 else _BAR_ALT
                tip = " / ".join(_number(v) for v in box)
                out.append(f"<g><title>{_e(label)}: {_e(tip)}</title>"
                           f"<line x1='{lo:.1f}' y1='{yy + 6}' x2='{hi:.1f}' y2='{yy + 6}' stroke='{colour}'/>"
                           f"<rect x='{q1:.1f}' y='{yy + 1}' width='{max(q3 - q1, 0.5):.1f}' height='10' "
                           f"fill='{colour}' fill-opacity='0.35' stroke='{colour}'/>"
                           f"<line x1='{med:.1f}' y1='{yy}' x2='{med:.1f}' y2='{yy + 12}' stroke='{colour}' "
                           f"stroke-width='2'/></g>")
        axis_y = height - 34
        out.append(f"<line x1='{label_w}' y1='{axis_y}' x2='{label_w + plot_w}' y2='{axis_y}' stroke='#444'/>")
        for j in range(6):
            t = low + (high - low) * j / 5
            out.append(f"<text x='{label_w + plot_w * j / 5:.1f}' y='{axis_y + 13}' text-anchor='middle'>"
                       f"{_e(_number(10 ** t if log else t))}</text>")
        if x_label:
            out.append(f"<text x='{label_w + plot_w / 2:.1f}' y='{axis_y + 26}' text-anchor='middle'>{_e(x_label)}</text>")
        if stats2 is not None and any(legend):
            out.append(_legend(label_w, height - 10, legend))
        out.append("</svg>")
        return self._figure(title, "".join(out))

    def _figure(self, title: str, svg: str) -> "Report":
        cap = f"<figcaption>{_e(title)}</figcaption>" if title else ""
        self._parts.append(f"<figure>{cap}{svg}</figure>")
        return self

    def html(self) -> str:
        body = "\n".join(self._parts)
        return (f"<!DOCTYPE html>\n<html lang='zh-CN'><head><meta charset='utf-8'><title>{_e(self.title)}</title>"
                f"<style>{_CSS}</style></head><body>\n{body}\n</body></html>\n")

    def write(self, path: str | os.PathLike) -> Path:
        """Write the report atomically (a temporary file renamed at the end)."""
        return write_text_atomic(path, self.html())


__all__ = ["Report"]
