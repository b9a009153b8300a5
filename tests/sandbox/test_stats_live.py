"""maas_helpers.stats against a live sandbox: traffic sent through the gateway comes back as the same numbers."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import requests  # noqa: E402

from maas_helpers import stats  # noqa: E402
from maas_helpers.kit import Kit  # noqa: E402
from maas_helpers.reconcile import SECTIONS  # noqa: E402
from maas_sandbox.control import SandboxInfo  # noqa: E402


def test_analytics_frames_equal_the_traffic_sent(fresh_sandbox: SandboxInfo) -> None:
    kit = Kit.configure(target="sandbox", state_dir=str(fresh_sandbox.state_dir), org_name="Stats Org")
    for section in SECTIONS:
        if section != "sso":
            kit.apply(section)
    key = kit.application_keys()["markov-chat-small"]
    url = kit.links()["markov-chat-small (production)"]
    tokens = 0
    for prompt in ("Hello", "What is a gateway?", "Count tokens"):
        resp = requests.post(f"{url}/v1/chat/completions", timeout=30, headers={"Authorization": f"Bearer {key}"},
                             json={"model": "markov-chat-small", "messages": [{"role": "user", "content": prompt}],
                                   "max_tokens": 6})
        assert resp.status_code == 200, resp.text
        tokens += resp.json()["usage"]["total_tokens"]
    assert requests.get(f"{url}/v1/models", timeout=30, headers={"Authorization": f"Bearer {key}"}).ok

    service_id = next(s["id"] for s in kit.admin.threescale.services.list() if s["system_name"] == "markov-chat-small")
    product = stats.get_product_usage(kit.admin, service_id, name="markov-chat-small")
    by_metric = dict(zip(*stats.totals(product).T.values, strict=True))
    assert by_metric["v1-chat-completions"] == 3 and by_metric["v1-models"] == 1
    assert by_metric["hits"] == 4  # methods roll up into hits; the default `GET /` rule is gone
    assert by_metric["total_tokens"] == tokens
    assert by_metric["prompt_tokens"] + by_metric["completion_tokens"] == tokens

    listed = [a["application"] for a in kit.admin.get_json("/admin/api/applications.json")["applications"]]
    app_id = next(a["id"] for a in listed if a["user_key"] == key)
    apps = stats.get_application_usage(kit.admin, [app_id])
    assert dict(zip(*stats.totals(apps).T.values, strict=True))["total_tokens"] == tokens
    top = stats.get_top_applications(kit.admin, service_id)
    assert top.iloc[0]["id"] == str(app_id) and top.iloc[0]["value"] == 4

    figure = stats.plot_hits_by_method(product)
    assert [t.get_text() for t in figure.axes[0].get_xticklabels()]  # bars drawn for the methods
