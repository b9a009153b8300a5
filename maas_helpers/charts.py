"""Charts that Jupyter shows as PNG images, without pyplot's global state.

Its own module because `import matplotlib.figure` costs ~0.8 s: `stats` and `billing` load it on their first
plot, so a notebook or CLI step that only lists or applies never pays for it.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import Any

from matplotlib.figure import Figure


class Chart(Figure):
    """A Figure that Jupyter renders as one PNG image (``_repr_png_``), whether or not pyplot or the inline
    backend was ever loaded: a bare ``Figure`` only has a ``<Figure size…>`` text repr in a kernel."""

    def _repr_png_(self) -> bytes:
        buffer = io.BytesIO()
        self.savefig(buffer, format="png", dpi=96)
        return buffer.getvalue()

    def has_data(self) -> bool:
        """True when some axes drew bars, lines or points (the "no … in this period" placeholder draws none)."""
        return any(ax.has_data() for ax in self.axes)


def width(count: int) -> int:
    """Characters per category label: whole names for a few bars, shorter as more share the axis."""
    return max(12, min(40, 140 // max(count, 1)))


def labels(names: Iterable[Any]) -> list[str]:
    """Short, still distinct category labels: long names keep their start and end ("journey-d…hat-small"),
    since a common prefix (the developer's name) would otherwise merge different bars into one."""
    texts = [str(n) for n in names]
    limit = width(len(texts))
    out: list[str] = []
    for text in texts:
        if len(text) > limit:
            head = (limit - 1) // 2
            text = text[:head] + "…" + text[-(limit - 1 - head):]
        while text in out:  # still equal after shortening: number them so the bars stay apart
            text = f"{text}#{len(out)}"
        out.append(text)
    return out


def slanted_labels(ax: Any) -> None:
    """Readable category labels: rotated and anchored at their right end so neighbours never overlap."""
    ticks = ax.get_xticklabels()
    ax.tick_params(axis="x", labelrotation=35 if len(ticks) <= 5 else 90)  # crowded axes: upright labels
    for label in ticks:
        label.set_horizontalalignment("right")
        label.set_rotation_mode("anchor")


def figure(title: str) -> tuple[Chart, Any]:
    fig = Chart(figsize=(8, 4.5), layout="constrained")
    ax = fig.add_subplot()
    ax.set_title(title)
    return fig, ax


def empty(ax: Any, what: str) -> None:
    ax.text(0.5, 0.5, f"no {what} in this period", ha="center", va="center", transform=ax.transAxes)
    ax.set_xticks([])
    ax.set_yticks([])
