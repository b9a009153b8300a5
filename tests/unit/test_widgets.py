"""Notebook-0 configure form: built, edited and saved without a browser."""

from __future__ import annotations

from pathlib import Path

import yaml

from maas_helpers.config import load_settings, make_settings
from maas_helpers.widgets import ConfigureForm, configure_form


def test_form_builds_from_settings_with_model_rows(tmp_path: Path) -> None:
    defaults = make_settings(
        target="openshift",
        cluster_domain="apps.cluster-abc.example.com",
        models=[{"name": "granite", "url": "http://granite-predictor.llm:8080", "kind": "chat"}],
    )
    form = ConfigureForm(defaults, tmp_path / "maas-config.yaml")
    assert form.target.value == "openshift"
    assert form.fields["cluster_domain"].value == "apps.cluster-abc.example.com"
    assert [r.name.value for r in form.rows] == ["granite"]
    assert len(form.models_box.children) == 1 and form.error is None


def test_add_and_remove_model_rows(tmp_path: Path) -> None:
    form = ConfigureForm({"target": "openshift", "cluster_domain": "apps.example.com"}, tmp_path / "c.yaml")
    assert form.error is not None and form.error.startswith("models:")  # openshift needs a model
    row = form.add_model()
    row.name.value = "mistral"
    row.url.value = "http://mistral-predictor.llm:8080"
    assert form.error is None
    emb = form.add_model("nomic", "http://nomic.llm:8080", "embedding")
    assert [m["name"] for m in form.values()["models"]] == ["mistral", "nomic"]
    emb.remove.click()  # the row's own remove button
    assert [m["name"] for m in form.values()["models"]] == ["mistral"]
    assert len(form.models_box.children) == 1
    form.remove_model(0)
    assert form.values()["models"] == [] and form.error is not None


def test_bad_domain_shows_one_line_message_and_blocks_save(tmp_path: Path) -> None:
    path = tmp_path / "maas-config.yaml"
    form = ConfigureForm({"target": "openshift"}, path)
    form.add_model("granite", "http://granite:8080")
    form.fields["cluster_domain"].value = "https://console-openshift-console.apps.example.com"
    assert form.error is not None and "cluster_domain" in form.error and "\n" not in form.error
    assert "cluster_domain" in form.message.value
    form.save_button.click()
    assert not path.exists()
    form.fields["namespace"].value = "Bad_NS"
    form.fields["cluster_domain"].value = "apps.example.com"
    assert form.error is not None and form.error.startswith("namespace:")


def test_save_writes_yaml_that_loads_back(tmp_path: Path) -> None:
    path = tmp_path / "maas-config.yaml"
    form = ConfigureForm({"target": "sandbox", "storage_class": "my-rwx"}, path)
    form.fields["org_name"].value = "ACME AI"
    form.fields["timezone"].value = "Europe/Berlin"
    assert form.save() == path
    data = yaml.safe_load(path.read_text())
    assert data["org_name"] == "ACME AI" and data["timezone"] == "Europe/Berlin"
    assert data["storage_class"] == "my-rwx"  # settings the form does not show are kept
    assert "admin_token" not in data
    loaded = load_settings(path, env=False)
    assert loaded.cluster_domain == "sandbox.local" and loaded.target == "sandbox"
    assert "saved to" in form.message.value


def test_configure_form_never_renders_headless(tmp_path: Path) -> None:
    assert configure_form({"target": "sandbox"}, tmp_path / "c.yaml") is None


def test_form_is_displayed_once_with_full_labels_and_column_headers(tmp_path: Path, monkeypatch) -> None:
    """Issue 14 item 5: `configure_form` used to display the widget and return it (Jupyter showed it twice)."""
    import IPython.display

    from maas_helpers import widgets

    shown: list = []
    monkeypatch.setattr(widgets, "in_interactive_kernel", lambda: True)
    monkeypatch.setattr(IPython.display, "display", lambda *objs, **_: shown.extend(objs))
    assert configure_form({"target": "sandbox"}, tmp_path / "c.yaml") is None
    assert len(shown) == 1
    form = ConfigureForm({"target": "sandbox"}, tmp_path / "c.yaml")
    assert all(f.style.description_width == "110px" for f in form.fields.values())
    headers = [child.value for child in form.widget.children[form.widget.children.index(form.models_box) - 1].children]
    assert headers == ["<i>served model name</i>", "<i>URL</i>", "<i>kind</i>", "<i>description</i>"]


def test_rerunning_notebook_0_in_jupyterlab_keeps_what_the_form_saved(tmp_path: Path, monkeypatch) -> None:
    from maas_helpers import widgets
    from maas_helpers.config import make_settings

    path = tmp_path / "maas-config.yaml"
    params = make_settings(target="sandbox", org_name="From Parameters")
    monkeypatch.setattr(widgets, "in_interactive_kernel", lambda: True)
    assert widgets.keep_form_settings(params, path)[0].org_name == "From Parameters"  # no form save yet: written
    form = ConfigureForm(params, path)
    form.fields["org_name"].value = "From The Form"
    form.save()
    settings, saved = widgets.keep_form_settings(params, path)
    assert settings.org_name == "From The Form" and load_settings(saved, env=False).org_name == "From The Form"
    monkeypatch.setattr(widgets, "in_interactive_kernel", lambda: False)  # headless: the parameters win
    assert widgets.keep_form_settings(params, path)[0].org_name == "From Parameters"
    assert load_settings(path, env=False).org_name == "From Parameters"
