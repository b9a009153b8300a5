"""The whole tutorial headless against a fresh sandbox: objects exist afterwards, statistics are recorded,
a second run succeeds and writes nothing, and nbval finds the marked outputs unchanged on re-execution."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import requests

from maas_helpers.catalogue import system_name
from maas_helpers.config import SANDBOX_MODELS

from harness.admin import AdminHTTP
from harness.secrets import check_secrets, sandbox_tokens, shown_secrets

pytestmark = pytest.mark.slow
HERE = Path(__file__).resolve().parent
MODELS = [system_name(name) for name, _, _ in SANDBOX_MODELS]
WRITE_CLASSES = ("maas-created", "maas-updated", "maas-deleted", "maas-applied")


def _admin(run, path: str, **params) -> dict:
    resp = AdminHTTP(run.sandbox).get(path, params=params)
    resp.raise_for_status()
    return resp.json()


def _step_results(out_dir: Path) -> list[str]:
    """HTML of every StepResult the executed notebooks displayed."""
    found = []
    for path in sorted((out_dir / "notebooks").glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            for output in cell.get("outputs", []):
                html = output.get("data", {}).get("text/html", "")
                if "maas-result" in html:
                    found.append(f"{path.name}: {html}")
    return found


def test_first_run_executes_every_notebook_and_writes_the_index(first_run) -> None:
    assert first_run.exit_code == 0, "\n".join(first_run.lines)
    report = json.loads((first_run.out_dir / "run.json").read_text())
    names = [n["name"] for n in report["notebooks"]]
    assert names[0] == "00_configure" and names[-1] == "99_teardown" and len(names) == 14
    assert all(n["status"] == "ok" and n["seconds"] > 0 for n in report["notebooks"])
    index = (first_run.out_dir / "index.html").read_text()
    for entry in report["notebooks"]:
        assert f'href="{entry["html"]}"' in index
        assert (first_run.out_dir / entry["html"]).stat().st_size > 10_000
    done = next(line for line in first_run.lines if line.startswith("all 14 notebooks ran in"))
    cli_total = done.removeprefix("all 14 notebooks ran in ").removesuffix(" s")
    assert f"total {cli_total} s" in index, (done, index[:600])  # one measurement, the same number in both


def test_objects_exist_in_3scale_afterwards(first_run) -> None:
    listed = _admin(first_run, "/admin/api/services.json")["services"]
    services = {s["service"]["system_name"]: s["service"] for s in listed}
    assert set(MODELS) <= set(services)
    listed = _admin(first_run, "/admin/api/backend_apis.json")["backend_apis"]
    backends = {b["backend_api"]["system_name"] for b in listed}
    assert set(MODELS) <= backends
    chat = services[MODELS[0]]
    rules = [r["mapping_rule"] for r in
             _admin(first_run, f"/admin/api/services/{chat['id']}/proxy/mapping_rules.json")["mapping_rules"]]
    assert {"POST"} == {r["http_method"] for r in rules if r["pattern"].startswith("/v1/chat/completions")}
    assert not [r for r in rules if r["http_method"] == "GET" and r["pattern"] == "/"]
    plans = [p["application_plan"] for p in
             _admin(first_run, f"/admin/api/services/{chat['id']}/application_plans.json")["plans"]]
    assert {"free", "standard", "premium"} <= {p["system_name"] for p in plans}
    assert all(p["state"] == "published" for p in plans if p["system_name"] in {"free", "standard", "premium"})
    docs = [d["api_doc"] for d in _admin(first_run, "/admin/api/active_docs.json")["api_docs"]]
    assert {services[m]["id"] for m in MODELS} <= {d["service_id"] for d in docs}
    production = _admin(first_run, f"/admin/api/services/{chat['id']}/proxy/configs/production/latest.json")
    chain = [p["name"] for p in production["proxy_config"]["content"]["proxy"]["policy_chain"]]
    assert chain == ["cors", "llm-metrics", "apicast"]
    dev = _admin(first_run, "/admin/api/accounts/find.json", username="journey-dev")["account"]
    apps = _admin(first_run, f"/admin/api/accounts/{dev['id']}/applications.json")["applications"]
    ours = {services[m]["id"] for m in MODELS}
    # one per product on Standard and one Free app for the 429 demo (signup may add one on the seed product)
    assert len([a for a in apps if a["application"]["service_id"] in ours]) == len(MODELS) + 1


def test_traffic_statistics_notebook_recorded_hits_and_tokens(first_run) -> None:
    stats = json.loads((first_run.out_dir / "stats.json").read_text())
    by_product = {row["product"]: row for row in stats["products"]}
    assert set(MODELS) <= set(by_product)
    chat = by_product[MODELS[0]]
    assert chat["hits"] >= 2 and chat["total_tokens"] > 0
    assert chat["total_tokens"] == chat["prompt_tokens"] + chat["completion_tokens"]
    journey = [a for a in stats["applications"] if a["application"].startswith("journey-dev ")]
    assert journey and any(a["total_tokens"] > 0 for a in journey)


def test_traffic_statistics_notebook_costs_usage_times_price(first_run) -> None:
    """Issue 17: notebook 11's cost table (the same `billing.cost_frame` as `maas stats --cost`) is the
    thousand-token usage × the Standard plan's default prices, and the thousands follow the token counts."""
    import pandas as pd

    from maas_helpers import billing

    written = pd.read_csv(first_run.out_dir / "cost.csv")
    assert written.columns.tolist() == billing.COST_COLUMNS
    standard = written[(written["plan"] == "Standard") & written["product"].isin(MODELS)]
    per_unit = {"prompt_tokens_k": 0.0005, "completion_tokens_k": 0.0015}  # 0.50 / 1.50 per 1M tokens
    priced = standard[standard["metric"].isin(per_unit)]
    assert standard[standard["metric"] == "prompt_tokens"]["usage"].sum() > 0  # notebook 10's traffic is there
    expected = priced["usage"] * priced["metric"].map(per_unit)  # (notebook 10 may stay below 1000 tokens)
    assert (priced["cost"] - expected).abs().max() < 1e-9
    # issue 29 item 4: notebook 11 spends `priced_tokens` (2000) on the Standard plan first: a real cost
    assert priced[priced["metric"] == "completion_tokens_k"]["usage"].sum() >= 2 and written["cost"].sum() > 0
    totals = standard.groupby(["application", "metric"])["usage"].sum()
    for app in standard["application"].unique():
        tokens, thousands = totals.get((app, "prompt_tokens"), 0), totals.get((app, "prompt_tokens_k"), 0)
        assert thousands * 1000 <= tokens < (thousands + 1) * 1000, (app, tokens, thousands)


def _outputs(run, name: str) -> list[dict]:
    nb = nbformat.read(run.out_dir / "notebooks" / f"{name}.ipynb", as_version=4)
    return [o for cell in nb.cells for o in cell.get("outputs", [])]


def test_traffic_plots_are_images_shown_once(first_run) -> None:
    """Issue 14 item 1: the Plots cell printed `<Figure size 800x400 with 1 Axes>` and drew nothing."""
    outputs = _outputs(first_run, "11_traffic_statistics")
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) == 3  # hits by method, tokens by application, cost by application (issue 17)
    # base64 PNG with bars, not a blank canvas; the cost chart may say "no cost in this period" (notebook 10's
    # traffic can stay below the first thousand tokens of the free-fee Standard plan)
    assert all(len(o["data"]["image/png"]) > 10_000 for o in images[:2]) and len(images[2]["data"]["image/png"]) > 3000
    texts = [o.get("text", "") + o.get("data", {}).get("text/plain", "") for o in outputs if "image/png" not in
             o.get("data", {})]
    assert not any("<Figure size" in t for t in texts)
    html = (first_run.out_dir / "notebooks" / "11_traffic_statistics.html").read_text()
    assert html.count('src="data:image/png;base64,') == 3


def test_plans_notebook_shows_each_limit_once(first_run) -> None:
    """Issue 14 item 11: notebook 6 showed every limit as an apply row (48) and again as a table row (36)."""
    outputs = _outputs(first_run, "06_application_plans")
    html = [o["data"]["text/html"] for o in outputs if "text/html" in o.get("data", {})]
    steps = [h for h in html if "maas-result" in h]
    assert steps and sum(h.count("<td>limit</td>") for h in steps) == 1, "limits listed row by row by the apply"
    assert any(re.search(r"<td>\d+ limits</td>", h) for h in steps)
    tables = [h for h in html if "maas-result" not in h and "<table" in h]
    assert len(tables) == 1
    body_rows = tables[0].split("<tbody>", 1)[1].count("<tr")
    assert body_rows == len(MODELS) * 3, body_rows  # one row per product × plan, limits as columns
    for metric in ("hits", "total_tokens"):
        assert metric in tables[0]


def test_journey_sends_the_chat_rules_and_a_foreign_key(first_run) -> None:
    """Issue 14 items 8 and 10: notebook 4 only read the rules; nothing showed that keys are per product."""
    outputs = _outputs(first_run, "10_developer_journey")
    table = next(o["data"]["text/html"] for o in outputs
                 if "no GET rule for chat" in o.get("data", {}).get("text/html", ""))
    assert "Unknown path or method" in table and "<td>404</td>" in table
    assert "key of another product" in table and "<td>403</td>" in table


def test_sample_product_is_hidden_from_developers(first_run) -> None:
    """Issue 14 item 7: every signup got an application on 3scale's sample product `api`."""
    api = next(s["service"] for s in _admin(first_run, "/admin/api/services.json")["services"]
               if s["service"]["system_name"] == "api")
    assert _admin(first_run, f"/admin/api/services/{api['id']}/application_plans.json")["plans"] == []
    dev = _admin(first_run, "/admin/api/accounts/find.json", username="journey-dev")["account"]
    apps = _admin(first_run, f"/admin/api/accounts/{dev['id']}/applications.json")["applications"]
    assert api["id"] not in {a["application"]["service_id"] for a in apps}
    docs = [d["api_doc"] for d in _admin(first_run, "/admin/api/active_docs.json")["api_docs"]]
    assert not [d for d in docs if d["system_name"] == "echo" and d["published"]]


def test_developer_password_is_generated_private_and_never_shown(first_run) -> None:
    """Issue 14 item 4: notebook 10 used a password hard-coded in maas_helpers/developer.py (now journey.py)."""
    secret = first_run.state_dir / "developer-journey-dev.secret"
    assert secret.stat().st_mode & 0o777 == 0o600
    password = secret.read_text().strip()
    assert len(password) >= 20
    for path in (first_run.out_dir / "notebooks").iterdir():
        assert password not in path.read_text(errors="replace"), f"{path.name} shows the developer's password"
    assert str(secret) in "".join(o.get("data", {}).get("text/html", "") for o in
                                  _outputs(first_run, "10_developer_journey"))


def test_sso_sign_in_is_explained_and_registration_allowed_on_the_sandbox(first_run) -> None:
    """Issue 14 item 3: nothing told a learner the SSO user, where its password is, or how to register."""
    secret = first_run.state_dir / "sso-maas-3scale-portal-demo-user.secret"
    shown = "".join(o.get("data", {}).get("text/html", "") for o in _outputs(first_run, "09_sso"))
    assert "<code>demo</code>" in shown and str(secret) in shown and "Register" in shown
    assert secret.read_text().strip() not in shown
    realm = requests.get(f"{first_run.sandbox.sso_url}/admin/realms/maas", timeout=10,
                         headers={"Authorization": f"Bearer {first_run.sandbox.master_token}"})
    assert realm.status_code == 200 and realm.json()["registrationAllowed"] is True


def test_no_secret_in_executed_notebooks_or_html(first_run) -> None:
    for path in (first_run.out_dir / "notebooks").iterdir():
        text = path.read_text(errors="replace")
        assert not shown_secrets(text, sandbox_tokens(first_run.sandbox)), f"{path.name} shows a token"
    assert "token" not in (first_run.out_dir / "maas-config.yaml").read_text().lower()
    # Every secret the sandbox knows (tokens, application keys, SSO client secrets) and secret-shaped strings.
    cs = check_secrets()
    known = cs.known_secrets(first_run.state_dir)
    assert len(known) > 2, "the run created application keys: they must be among the checked secrets"
    findings = cs.scan(cs.tree_files(first_run.out_dir), known, shapes=True)
    assert [str(f) for f in findings] == []


def test_second_run_succeeds_and_writes_nothing(second_run) -> None:
    assert second_run.exit_code == 0, "\n".join(second_run.lines)
    results = _step_results(second_run.out_dir)
    assert len(results) >= 12, "expected the reconcile steps' result tables in the executed notebooks"
    written = [r.split(":", 1)[0] for r in results if any(f'class="{c}"' in r for c in WRITE_CLASSES)]
    assert not written, f"second run wrote in: {written}"
    # the first run did write, so the check above can fail
    assert second_run.previous is not None
    assert any(any(f'class="{c}"' in r for c in WRITE_CLASSES) for r in _step_results(second_run.previous.out_dir))


def test_nbval_marked_outputs_are_stable_on_re_execution(second_run) -> None:
    """nbval re-executes the first run's notebooks and compares the cells tagged nbval-check-output."""
    assert second_run.previous is not None
    first = second_run.previous.out_dir / "notebooks"
    targets = [str(p) for p in sorted(first.glob("*.ipynb")) if "02" <= p.name[:2] <= "10"]
    env = {**os.environ, "MAAS_HEADLESS": "1", "MAAS_CONFIG": str(first.parent / "maas-config.yaml")}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval-lax", "--sanitize-with", str(HERE / "sanitize.cfg"),
         "--nbval-kernel-name", "python3", "-p", "no:cacheprovider", "-q", "--rootdir", str(first), *targets],
        cwd=first, env=env, capture_output=True, text=True, timeout=240,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout


def test_confirmed_teardown_removes_our_products_and_keeps_the_seed(second_run, tmp_path: Path) -> None:
    """Last: notebook 99 with confirm_teardown=true deletes what the catalogue owns (runs after nbval)."""
    from maas_helpers.runner import NOTEBOOKS_DIR, execute_sequence

    config = str(second_run.out_dir / "maas-config.yaml")
    report = execute_sequence([NOTEBOOKS_DIR / "99_teardown.ipynb"], tmp_path, {},
                              {"config_path": config, "confirm_teardown": True}, target="sandbox",
                              echo=lambda _line: None, env={"MAAS_HEADLESS": "1"})
    assert report.ok, report.notebooks
    left = {s["service"]["system_name"] for s in _admin(second_run, "/admin/api/services.json")["services"]}
    assert not set(MODELS) & left
    assert left, "the seed product must stay"
    # issue 14 item 4: the developer account notebook 10 signed up goes too, with its password file
    resp = requests.get(second_run.sandbox.admin_url + "/admin/api/accounts/find.json", timeout=30,
                        params={"access_token": second_run.sandbox.admin_token, "username": "journey-dev"})
    assert resp.status_code == 404
    assert not (second_run.state_dir / "developer-journey-dev.secret").exists()


def test_workshop_notebook_keeps_its_room_in_the_folder_it_was_given(first_run) -> None:
    """Issue 29 item 9: notebook 12 honours its `out_dir` (here the test's room folder; without it
    <report_dir>/workshop/<prefix>) instead of always writing the repository's build/workshop."""
    room = Path(first_run.sandbox.state_dir).parent / "workshop-room"
    assert (room / "handout.html").exists() and (room / "attendees.csv").exists()
    assert oct((room / "attendees.csv").stat().st_mode & 0o777) == "0o600"
    assert "trainer's own computer" in (room / "handout.html").read_text()  # the sandbox's URLs are loopback
