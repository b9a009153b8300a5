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
    assert headers == ["<i>use</i>", "<i>model name</i>", "<i>URL</i>", "<i>kind</i>", "<i>description</i>"]


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


# --- issue 29 item 7: discovered models, ticked and saved; one-line errors -----------------------------------

def _rows() -> list:
    from maas_helpers.discovery import isvc_row, llmisvc_row

    ready = {"address": {"url": "http://granite-predictor.llm.svc.cluster.local"},
             "conditions": [{"type": "Ready", "status": "True"}]}
    broken = {"conditions": [{"type": "Ready", "status": "False", "message": "0/1 nodes have a GPU"}]}
    return [
        isvc_row({"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
                  "metadata": {"name": "granite", "namespace": "llm"}, "spec": {"predictor": {}}, "status": ready}),
        isvc_row({"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
                  "metadata": {"name": "mistral", "namespace": "llm"}, "spec": {"predictor": {}}, "status": broken}),
        llmisvc_row({"apiVersion": "serving.kserve.io/v1alpha2", "kind": "LLMInferenceService",
                     "metadata": {"name": "qwen", "namespace": "llm-d"},
                     "spec": {"model": {"uri": "hf://q", "name": "Qwen/Qwen3-8B"}},
                     "status": {"conditions": [{"type": "Ready", "status": "True"}],
                                "addresses": [{"url": "https://qwen-kserve-workload-svc.llm-d.svc.cluster.local"}]}}),
    ]


def test_discovered_models_are_listed_ready_ones_ticked_and_saved_with_their_source(tmp_path: Path) -> None:
    path = tmp_path / "maas-config.yaml"
    form = ConfigureForm({"target": "openshift", "cluster_domain": "apps.example.com"}, path, _rows())
    assert [(r.name.value, r.use.value) for r in form.rows] == [
        ("granite", True), ("mistral", False), ("Qwen-Qwen3-8B", True)]
    assert "0/1 nodes have a GPU" in form.rows[1].note.value  # why it is not ticked
    assert "Qwen/Qwen3-8B" in form.rows[2].note.value  # the mapped system name is shown
    form.rows[0].kind.value = "completion"  # editable
    form.rows[0].url.value = "http://granite-predictor.llm.svc.cluster.local:8080"
    manual = form.add_model("nomic", "http://nomic.embed.svc:8080", "embedding")  # manual entry kept
    assert manual.use.value and form.error is None
    form.save()
    models = load_settings(path, env=False).models
    assert [(m.name, m.kind, m.source, m.model) for m in models] == [
        ("granite", "completion", "InferenceService llm/granite", "granite"),
        ("Qwen-Qwen3-8B", "chat", "LLMInferenceService llm-d/qwen", "Qwen/Qwen3-8B"),
        ("nomic", "embedding", "", "nomic")]
    assert models[0].url.endswith(":8080")
    form.rows[2].use.value = False  # unticking removes it from what is saved
    assert [m["name"] for m in form.values()["models"]] == ["granite", "nomic"]


def test_saved_models_stay_ticked_and_new_discoveries_are_offered_unticked(tmp_path: Path) -> None:
    saved = {"target": "openshift", "cluster_domain": "apps.example.com",
             "models": [{"name": "granite", "url": "http://granite-predictor.llm.svc.cluster.local",
                         "source": "InferenceService llm/granite"}]}
    form = ConfigureForm(saved, tmp_path / "c.yaml", _rows())
    assert [(r.name.value, r.use.value) for r in form.rows] == [
        ("granite", True), ("mistral", False), ("Qwen-Qwen3-8B", False)]


def test_sandbox_form_shows_its_own_models_when_models_is_empty(tmp_path: Path, monkeypatch) -> None:
    """Headers only was the bug: with `models=[]` the sandbox's three models are listed, ticked, with their URL."""
    import IPython.display

    from maas_helpers import widgets
    from maas_helpers.discovery import ModelRow

    rows = [ModelRow("sandbox", n, "sandbox", "sandbox model server", "—", True, "", "http://127.0.0.1:9", n, True,
                     n, k, source="sandbox model server") for n, k in (("markov-chat-small", "chat"),
                                                                        ("hash-embed-small", "embedding"))]
    monkeypatch.setattr(widgets, "in_interactive_kernel", lambda: True)
    monkeypatch.setattr(widgets, "discovered_models", lambda settings: (rows, ""))
    shown: list = []
    monkeypatch.setattr(IPython.display, "display", lambda *objs, **_: shown.extend(objs))
    configure_form(make_settings(target="sandbox"), tmp_path / "c.yaml")
    (box,) = shown
    texts = [c.value for c in box.children if hasattr(c, "value") and isinstance(c.value, str)]
    assert any("2 found by discovery" in t for t in texts)


def test_models_given_as_a_bare_name_say_the_expected_format() -> None:
    import pytest

    from maas_helpers.errors import ConfigError

    with pytest.raises(ConfigError) as err:
        make_settings(models="markov-chat-small")
    assert str(err.value).startswith("models: give a list of models, each with name, url and kind, e.g. [{name:")
    assert "(got 'markov-chat-small')" in str(err.value) and "\n" not in str(err.value)


def test_a_maas_error_in_an_interactive_kernel_is_one_line(monkeypatch) -> None:
    """The handler the kit registers with the kernel sends one traceback line (ename/evalue kept)."""
    from maas_helpers import one_line_errors
    from maas_helpers.errors import ConfigError

    sent: list = []

    class Shell:
        config = {"IPKernelApp": {}}

        def set_custom_exc(self, types, handler):
            self.handler = handler

        def _showtraceback(self, etype, value, stb):
            sent.append((etype.__name__, str(value), stb))

    import sys
    import types

    shell = Shell()
    monkeypatch.setitem(sys.modules, "IPython", types.SimpleNamespace(get_ipython=lambda: shell))
    monkeypatch.delitem(sys.modules, "papermill", raising=False)
    monkeypatch.delenv("MAAS_HEADLESS", raising=False)
    assert one_line_errors.install()
    try:
        make_settings(timezone="Mars/Olympus")
    except ConfigError as exc:
        shell.handler(shell, type(exc), exc, exc.__traceback__)
    ((name, value, stb),) = sent
    assert name == "ConfigError" and value.startswith("timezone:") and len(stb) == 1 and value in stb[0]
