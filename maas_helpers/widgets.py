"""Notebook 0's configure form (ipywidgets): where the kit runs and which models it publishes.

Every change re-validates through `Settings`, so the message under the form is the same one line a
`ConfigError` would raise. Save writes `maas-config.yaml` (never tokens) marked as the form's, so re-running
notebook 0 in JupyterLab keeps what the form saved (`keep_form_settings`). `configure_form` shows the form once,
only in an interactive kernel, and returns None, so papermill runs never wait for a click.
"""

from __future__ import annotations

import html
import threading
from pathlib import Path
from typing import Any

import ipywidgets as w

from maas_helpers.config import Settings, config_path, load_settings, make_settings, save_settings
from maas_helpers.errors import ConfigError
from maas_helpers.results import plural

FORM_FIELDS = ("cluster_domain", "namespace", "tenant", "org_name", "timezone")
KINDS = ("chat", "completion", "embedding")
FORM_MARK = "# saved by the notebook-0 form; re-running notebook 0 in JupyterLab keeps these values\n"
_LABELS = {"description_width": "110px"}  # wide enough for "organisation" and "apps domain"
_COLUMNS = (("use", "44px"), ("model name", "20%"), ("URL", "36%"), ("kind", "13%"), ("description", "17%"))


class ModelRow:
    """One model endpoint: a "use" checkbox, served name, URL, kind, description, and a remove button. A row
    found by discovery keeps where it came from (`source`) and the name the runtime serves (`served_name`, when
    the 3scale system name had to be mapped); `note` says why a model is not ready."""

    def __init__(self, name: str = "", url: str = "", kind: str = "chat", description: str = "", *,
                 use: bool = True, source: str = "", served_name: str = "", note: str = "") -> None:
        self.use = w.Checkbox(value=use, indent=False, tooltip="publish this model",
                              layout=w.Layout(width="44px"))
        self.name = w.Text(value=name, placeholder="served model name", layout=w.Layout(width="20%"))
        self.url = w.Text(value=url, placeholder="http://model-predictor.ns.svc:8080", layout=w.Layout(width="36%"))
        self.kind = w.Dropdown(options=KINDS, value=kind if kind in KINDS else "chat", layout=w.Layout(width="13%"))
        self.description = w.Text(value=description, placeholder="description", layout=w.Layout(width="17%"))
        self.remove = w.Button(description="✕", tooltip="remove this model", layout=w.Layout(width="40px"))
        self.source, self.served_name = source, served_name
        self.note = w.HTML(f"<small>{html.escape(note)}</small>" if note else "")
        self.box = w.VBox([w.HBox([self.use, self.name, self.url, self.kind, self.description, self.remove]),
                           *([self.note] if note else [])])

    def value(self) -> dict[str, str] | None:
        if not self.use.value:
            return None  # unticked: shown, not published
        if not (self.name.value.strip() or self.url.value.strip()):
            return None  # an untouched empty row is not a model
        out = {
            "name": self.name.value.strip(),
            "url": self.url.value.strip(),
            "kind": self.kind.value,
            "description": self.description.value.strip(),
        }
        if self.source:
            out["source"] = self.source
        if self.served_name and self.served_name != out["name"]:
            out["served_name"] = self.served_name
        return out


def _header() -> w.HBox:
    """Column labels above the model rows (the rows' placeholders vanish once filled in)."""
    return w.HBox([w.HTML(f"<i>{label}</i>", layout=w.Layout(width=width)) for label, width in _COLUMNS])


class ConfigureForm:
    """The form's state and logic; `.widget` is what Jupyter displays."""

    def __init__(self, defaults: Settings | dict[str, Any] | None = None, path: str | Path | None = None,
                 discovered: list[Any] | None = None, discovery_note: str = "") -> None:
        if isinstance(defaults, Settings):
            base = defaults.model_dump(mode="json", exclude={"admin_url", "admin_token"}, exclude_none=True)
        else:
            base = dict(defaults or {})
        self.base = base
        self.path = config_path(path)
        self.target = w.ToggleButtons(
            options=("sandbox", "openshift"), value=base.get("target", "sandbox"), description="target",
            style=_LABELS,
        )
        self.fields = {
            "cluster_domain": w.Text(
                value=base.get("cluster_domain", ""),
                description="apps domain", style=_LABELS,
                placeholder="apps.cluster-abc.example.com",
            ),
            "namespace": w.Text(value=base.get("namespace", "3scale"), description="namespace", style=_LABELS),
            "tenant": w.Text(value=base.get("tenant", "maas"), description="tenant", style=_LABELS),
            "org_name": w.Text(value=base.get("org_name", "MaaS on RHOAI"), description="organisation", style=_LABELS),
            "timezone": w.Text(value=base.get("timezone", "UTC"), description="timezone",
                               placeholder="Europe/Berlin", style=_LABELS),
        }
        self.rows: list[ModelRow] = []
        self.models_box = w.VBox()
        self.add_button = w.Button(description="add model", icon="plus")
        self.save_button = w.Button(description="Save", button_style="primary", icon="save")
        self.message = w.HTML()
        self.add_button.on_click(lambda _: self.add_model())
        self.save_button.on_click(lambda _: self.save())
        self.target.observe(self._changed, names="value")
        for field in self.fields.values():
            field.observe(self._changed, names="value")
        for model in base.get("models") or []:
            self.add_model(**model)
        self._add_discovered(discovered or [], ticked=not base.get("models"))
        found = (f"{len(discovered or [])} found by discovery (ticked: published; not ready: unticked)"
                 if discovered else "none found by discovery: add them by hand")
        self.widget = w.VBox(
            [
                w.HTML("<b>Where the kit runs</b>"),
                self.target,
                *self.fields.values(),
                w.HTML(f"<b>Models</b> (served name, in-cluster URL, kind) — {html.escape(found)}"
                       + (f"<br><small>{html.escape(discovery_note)}</small>" if discovery_note else "")),
                _header(),
                self.models_box,
                self.add_button,
                self.save_button,
                self.message,
            ]
        )
        self.validate()

    # --- rows ---------------------------------------------------------------------------------------
    def _add_discovered(self, rows: list[Any], ticked: bool) -> None:
        """Discovery rows (`discovery.ModelRow`) not already listed: ready ones ticked when no models were saved,
        a model that is not ready unticked with its reason."""
        known = {(r.source or r.name.value) for r in self.rows} | {r.name.value for r in self.rows}
        for found in rows:
            entry = found.endpoint()
            if entry["source"] in known or entry["name"] in known or not entry["url"]:
                continue
            note = "" if found.ready else f"not ready: {found.reason}"
            if not found.verified:
                note = "; ".join(filter(None, [note, f"served name {found.served_name} unverified"]))
            elif found.mapped:
                note = "; ".join(filter(None, [note, f"serves {found.served_name!r}: system name {found.system_name}"]))
            self.add_model(entry["name"], entry["url"], entry["kind"], entry.get("description", ""),
                           use=ticked and found.ready,
                           source=entry["source"], served_name=entry.get("served_name", ""), note=note)

    def add_model(self, name: str = "", url: str = "", kind: str = "chat", description: str = "", *,
                  use: bool = True, source: str = "", served_name: str = "", note: str = "") -> ModelRow:
        row = ModelRow(name, url, kind, description, use=use, source=source, served_name=served_name, note=note)
        row.remove.on_click(lambda _: self.remove_model(row))
        for part in (row.use, row.name, row.url, row.kind, row.description):
            part.observe(self._changed, names="value")
        self.rows.append(row)
        self.models_box.children = tuple(r.box for r in self.rows)
        self.validate()
        return row

    def remove_model(self, row: ModelRow | int) -> None:
        target = self.rows[row] if isinstance(row, int) else row
        self.rows.remove(target)
        self.models_box.children = tuple(r.box for r in self.rows)
        self.validate()

    # --- values and validation ----------------------------------------------------------------------
    def values(self) -> dict[str, Any]:
        data = {k: v for k, v in self.base.items() if k != "models"}
        data["target"] = self.target.value
        for key, field in self.fields.items():
            data[key] = field.value.strip()
        if data["target"] == "sandbox" and data.get("cluster_domain") in ("", None):
            data.pop("cluster_domain")
        data["models"] = [v for v in (r.value() for r in self.rows) if v is not None]
        return data

    def validate(self) -> Settings | None:
        try:
            settings = make_settings(**self.values())
        except ConfigError as exc:
            self._show(str(exc), ok=False)
            return None
        self._show(f"valid — Save writes {self.path}", ok=True)
        return settings

    def save(self) -> Path | None:
        settings = self.validate()
        if settings is None:
            return None
        written = save_settings(settings, self.path)
        written.write_text(FORM_MARK + written.read_text())
        self._show(f"saved to {written}", ok=True)
        return written

    @property
    def error(self) -> str | None:
        """The current one-line validation message, or None when the form is valid."""
        return None if self._ok else self._text

    def _show(self, text: str, *, ok: bool) -> None:
        self._text, self._ok = text, ok
        color = "green" if ok else "#b00"
        self.message.value = f"<span style='color:{color}'>{html.escape(text)}</span>"

    def _changed(self, _change: Any) -> None:
        self.validate()


def in_interactive_kernel() -> bool:
    """True in a Jupyter kernel that a person is looking at (not papermill / nbconvert / plain Python)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    if shell is None or "IPKernelApp" not in getattr(shell, "config", {}):
        return False
    import os
    import sys

    headless = "papermill" in sys.modules or os.environ.get("MAAS_HEADLESS") == "1"
    return not headless


def discovered_models(settings: Settings) -> tuple[list[Any], str]:
    """What `kit.models.discover()` finds for these settings (the sandbox's own models, or the cluster's
    InferenceServices), and a one-line note when discovery could not run or some namespaces were not readable."""
    from maas_helpers.kit import Kit

    try:
        found = Kit(settings).models.discover()
    except Exception as exc:  # discovery only fills the form: manual entry still works, the reason is shown
        return [], f"discovery did not run: {exc}"
    note = "; ".join(found.unreadable[:3]) + (f" (and {len(found.unreadable) - 3} more)"
                                              if len(found.unreadable) > 3 else "")
    return list(found.rows), note


def configure_form(defaults: Settings | dict[str, Any] | None = None, path: str | Path | None = None,
                   discover: bool = True) -> None:
    """Display the form in an interactive kernel (once: nothing is returned for Jupyter to show again), with the
    discovered models listed (ticked when no models are saved yet); headless it does nothing (never blocks)."""
    if not in_interactive_kernel():
        return None
    from IPython.display import display

    rows: list[Any] = []
    note = ""
    if discover and isinstance(defaults, Settings):
        rows, note = discovered_models(defaults)
    display(ConfigureForm(defaults, path, rows, note).widget)
    return None


def keep_form_settings(settings: Settings, path: str | Path | None = None) -> tuple[Settings, Path]:
    """Notebook 0's save step: write `settings` (the parameters cell), unless this is JupyterLab and the file
    holds what the form saved — then those values win, so re-running the notebook does not undo the form.
    Headless runs (`maas run -p …`) always write their parameters."""
    target = config_path(path)
    if in_interactive_kernel() and target.exists() and target.read_text().startswith(FORM_MARK):
        print(f"keeping the values the form saved in {target} (delete the file to use the parameters cell)")
        return load_settings(target, env=False), target
    return settings, save_settings(settings, target)


class ObjectProgress:
    """A notebook progress line that advances once per recorded object (`Kit.progress`), from any thread.

    The number of objects is known only afterwards (it depends on what exists), so the bar's length is the
    previous run's count for the same step when there was one; the text always shows the count and the last
    object."""

    _sizes: dict[str, int] = {}  # step → objects last time (per kernel)

    def __init__(self, step: str) -> None:
        self.step, self.count = step, 0
        self._lock = threading.Lock()
        # the whole step name ("plan policies"), not the default 20-character label cut to "plan polici…"
        self.bar = w.IntProgress(value=0, min=0, max=max(self._sizes.get(step, 0), 1), description=step,
                                 bar_style="info", style={"description_width": "initial"})
        self.label = w.HTML()
        self.widget = w.HBox([self.bar, self.label])

    def __call__(self, action: Any) -> None:
        with self._lock:
            self.count += 1
            self.bar.max = max(self.bar.max, self.count)
            self.bar.value = self.count
            self.label.value = html.escape(f"{plural(self.count, 'object')} checked — {action.kind}: {action.name}")

    def done(self, failed: bool = False, summary: str | None = None) -> None:
        """Full bar; the label becomes the result's own summary, so the line and the table below agree (while
        running it counts every object looked at, some of which the result folds into one row)."""
        self._sizes[self.step] = self.count
        self.bar.max = max(self.count, 1)
        self.bar.value = self.bar.max
        self.bar.bar_style = "danger" if failed else "success"
        if summary is not None:
            self.label.value = html.escape(summary)


def object_progress(step: str) -> ObjectProgress | None:
    """A displayed `ObjectProgress` in an interactive kernel; None headless (papermill, tests, scripts)."""
    if not in_interactive_kernel():
        return None
    from IPython.display import display

    progress = ObjectProgress(step)
    display(progress.widget)
    return progress
