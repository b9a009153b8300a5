"""Server-rendered SVG line charts for the traffic pages (no JavaScript, no CDN)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

COLOURS = ("#0066cc", "#f0ab00", "#3e8635", "#c9190b", "#6753ac", "#009596", "#8a8d90", "#ec7a08")
W, H, LEFT, BOTTOM, TOP = 760, 260, 56, 44, 28


def line_chart(title: str, labels: Sequence[str], series: Mapping[str, Sequence[int]]) -> str:
    """One polyline per series over shared x labels; a y scale from 0 to the maximum; a legend."""
    n = max(len(labels), 1)
    peak = max([max(v) for v in series.values() if v] + [1])
    width, height = W - LEFT - 10, H - BOTTOM - TOP

    def x(i: int) -> float:
        return LEFT + (width * i / (n - 1) if n > 1 else width / 2)

    def y(v: float) -> float:
        return TOP + height - height * v / peak

    legend_rows = max(1, -(-len(series) // 4))
    total_h = H + 14 * (legend_rows - 1)  # legend rows go below the axis labels, never over them
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{total_h}" role="img" '
             f'aria-label="{escape(title)}" data-total="{sum(sum(v) for v in series.values())}">',
             f'<text x="{LEFT}" y="16" font-weight="bold">{escape(title)}</text>',
             f'<line x1="{LEFT}" y1="{TOP + height}" x2="{LEFT + width}" y2="{TOP + height}" stroke="#8a8d90"/>',
             f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{TOP + height}" stroke="#8a8d90"/>']
    for frac in (0, 0.5, 1):
        value = peak * frac
        parts.append(f'<text x="{LEFT - 6}" y="{y(value) + 4:.1f}" text-anchor="end" font-size="11">{value:g}</text>')
    step = max(1, n // 8)
    for i in range(0, n, step):
        parts.append(f'<text x="{x(i):.1f}" y="{TOP + height + 16}" text-anchor="middle" font-size="11">'
                     f'{escape(labels[i])}</text>')
    for k, (name, values) in enumerate(series.items()):
        colour = COLOURS[k % len(COLOURS)]
        points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values))
        parts.append(f'<polyline class="series" fill="none" stroke="{colour}" stroke-width="2" points="{points}">'
                     f'<title>{escape(name)}: {sum(values)}</title></polyline>')
        lx = LEFT + 10 + (k % 4) * 170
        ly = H - 8 + 14 * (k // 4)
        parts.append(f'<rect x="{lx}" y="{ly - 9}" width="10" height="10" fill="{colour}"/>'
                     f'<text x="{lx + 14}" y="{ly}" font-size="11">{escape(name[:22])} ({sum(values)})</text>')
    if not series:
        parts.append(f'<text x="{LEFT + width / 2}" y="{TOP + height / 2}" text-anchor="middle">no traffic</text>')
    parts.append("</svg>")
    return "".join(parts)
