"""Ready / total deployments while a step waits: ipywidgets in a Jupyter kernel, rich in a terminal."""

from __future__ import annotations

from typing import Any


class DeploymentProgress:
    """Ready / total deployments, drawn with ipywidgets in a Jupyter kernel and rich in a terminal."""

    def __init__(self, title: str) -> None:
        self.title = title
        self._widget: Any = None
        self._rich: Any = None
        self._task: Any = None
        if _in_kernel():
            import ipywidgets as w
            from IPython.display import display

            self._bar = w.IntProgress(value=0, min=0, max=1, description="ready")
            self._label = w.Label(title)
            self._widget = w.HBox([self._bar, self._label])
            display(self._widget)
        else:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

            self._rich = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
            self._task = self._rich.add_task(title, total=None)
            self._rich.start()

    def update(self, ready: int, total: int, waiting: str = "") -> None:
        suffix = f" — waiting for {waiting}" if waiting else ""
        if self._widget is not None:
            self._bar.max = max(total, 1)
            self._bar.value = ready
            self._label.value = f"{self.title}: {ready}/{total}{suffix}"
        elif self._rich is not None:
            self._rich.update(self._task, completed=ready, total=total or None, description=self.title + suffix)

    def close(self) -> None:
        if self._rich is not None:
            self._rich.stop()


def _in_kernel() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and "IPKernelApp" in getattr(shell, "config", {})


def default_progress(title: str) -> DeploymentProgress:
    return DeploymentProgress(title)
