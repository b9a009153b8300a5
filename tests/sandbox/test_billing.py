"""Billing on a real sandbox: the catalogue's prices become porta pricing rules and plan fees (unchanged on
re-apply), traffic through the gateway is metered in thousands of tokens, and a billing run produces an
invoice whose line items are usage × price to the cent.

porta 3scale-2.16-stable: app/models/pricing_rule.rb (decimal(20,4), range_overlap, cost_for_value),
app/lib/finance/variable_cost.rb, app/models/invoice.rb (states), app/controllers/finance/api/
invoices_controller.rb, app/controllers/master/api/finance/billing_jobs_controller.rb.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
import requests
from typer.testing import CliRunner

from maas_helpers import billing
from maas_helpers.cli import app as cli_app
from maas_helpers.kit import Kit
from maas_helpers.results import Change
from maas_sandbox import control
from maas_sandbox.control import SandboxInfo

from harness.admin import AdminHTTP
from harness.sandbox import applied_kit, running

PRODUCT = "markov-chat-small"


@pytest.fixture(scope="module")
def billed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SandboxInfo, Kit]]:
    with running(tmp_path_factory.mktemp("billing") / "state") as info:
        yield info, applied_kit(info, "MaaS Billing Org")


def _rules(http: AdminHTTP, plan_id: int) -> dict[str, tuple[int, int | None, str]]:
    service = next(s["service"] for s in http.get("/admin/api/services.json").json()["services"]
                   if s["service"]["system_name"] == PRODUCT)
    metrics = {m["metric"]["id"]: m["metric"]["system_name"]
               for m in http.get(f"/admin/api/services/{service['id']}/metrics.json").json()["metrics"]}
    body = http.get(f"/admin/api/application_plans/{plan_id}/pricing_rules.json").json()
    return {metrics[r["pricing_rule"]["metric_id"]]: (r["pricing_rule"]["min"], r["pricing_rule"]["max"],
                                                     r["pricing_rule"]["cost_per_unit"]) for r in body["pricing_rules"]}


def _plans(kit: Kit) -> dict[str, dict]:
    service = next(s for s in kit.admin.threescale.services.list() if s["system_name"] == PRODUCT)
    return {p["system_name"]: p.entity for p in service.app_plans.list()}


def test_prices_become_pricing_rules_and_reapply_writes_nothing(billed: tuple[SandboxInfo, Kit]) -> None:
    info, kit = billed
    http = AdminHTTP(info)
    plans = _plans(kit)
    assert _rules(http, plans["standard"]["id"]) == {"prompt_tokens_k": (1, None, "0.0005"),
                                                     "completion_tokens_k": (1, None, "0.0015")}
    assert _rules(http, plans["free"]["id"]) == {}
    assert float(plans["premium"]["cost_per_month"]) == 49.0
    kit.admin.reset_counts()
    again = kit.apply("plans")
    assert kit.admin.writes == 0, dict(kit.admin.calls)
    assert again.in_sync


def test_changed_price_is_planned_then_replaced(billed: tuple[SandboxInfo, Kit]) -> None:
    info, kit = billed
    catalogue = kit.catalogue.model_copy(deep=True)
    standard = catalogue.product(PRODUCT).plan("standard")
    standard.pricing.prices[0].per_million = Decimal("0.6")
    standard.pricing.cost_per_month = Decimal("10")
    standard.pricing.setup_fee = Decimal("5")
    kit.catalogue = catalogue
    planned = {(a.name, a.change) for a in kit.plan("plans").actions if a.change is not Change.UNCHANGED}
    assert (f"{PRODUCT}: standard: prompt_tokens_k 1–∞", Change.PLANNED_CREATE) in planned
    assert (f"{PRODUCT}: standard: prompt_tokens_k 1–∞", Change.PLANNED_DELETE) in planned
    assert any(name == f"{PRODUCT}: standard" and change is Change.PLANNED_UPDATE for name, change in planned)
    kit.admin.reset_counts()
    kit.apply("plans")
    # one plan update per product whose standard plan changed (only this one), one rule replaced
    assert (kit.admin.calls["PUT"], kit.admin.calls["DELETE"], kit.admin.calls["POST"]) == (1, 1, 1)
    assert _rules(AdminHTTP(info), _plans(kit)["standard"]["id"])["prompt_tokens_k"] == (1, None, "0.0006")
    kit.admin.reset_counts()
    kit.apply("plans")
    assert kit.admin.writes == 0


def test_traffic_becomes_an_invoice_of_usage_times_price(billed: tuple[SandboxInfo, Kit], tmp_path: Path) -> None:
    info, kit = billed
    http = AdminHTTP(info)
    http.set_clock("2026-11-10T12:00:00Z")
    key = kit.application_keys()[PRODUCT]
    url = kit.links()[f"{PRODUCT} (production)"]
    prompt = completion = 0
    words = " ".join(["tell me more about the weather in the mountains"] * 25)
    for _ in range(6):
        resp = requests.post(f"{url}/v1/chat/completions", timeout=60, headers={"Authorization": f"Bearer {key}"},
                             json={"model": PRODUCT, "messages": [{"role": "user", "content": words}],
                                   "max_tokens": 300, "ignore_eos": True})
        assert resp.status_code == 200, resp.text
        prompt += resp.json()["usage"]["prompt_tokens"]
        completion += resp.json()["usage"]["completion_tokens"]
    # whole thousands of both, with remainders carried between requests
    assert prompt >= 2000 and completion >= 1000, (prompt, completion)

    http.advance_clock(120)  # a running month is billed up to its last whole minute (usage is per minute)
    invoices = control.bill("2026-11", info.state_dir)
    mine = [i for i in invoices if i["account"] == "Developer"]
    assert len(mine) == 1 and mine[0]["state"] == "finalized" and mine[0]["period"] == "2026-11"
    items = http.get(f"/api/invoices/{mine[0]['id']}/line_items.json").json()["line_items"]
    got = {li["line_item"]["name"]: (li["line_item"]["quantity"], li["line_item"]["cost"]) for li in items}
    plan_name = _plans(kit)["standard"]["name"]
    expected = {f"Setup fee ('{plan_name}')": (1, 5.0), f"Fixed fee ('{plan_name}')": (1, 10.0)}
    if prompt >= 1000:
        expected["Prompt Tokens (thousands)"] = (prompt // 1000, float(Decimal("0.0006") * (prompt // 1000)))
    if completion >= 1000:
        expected["Completion Tokens (thousands)"] = (completion // 1000,
                                                     float(Decimal("0.0015") * (completion // 1000)))
    assert got == expected
    total = sum(Decimal(str(c)) for _, c in expected.values())
    assert round(Decimal(str(mine[0]["cost"])), 2) == round(total, 2) and mine[0]["currency"] == "USD"

    # a second run of the same month bills nothing more
    assert [i["cost"] for i in control.bill("2026-11", info.state_dir) if i["account"] == "Developer"] == [
        mine[0]["cost"]]

    # porta's states: finalized → pending (issue) → paid; paid is final
    path = f"/api/invoices/{mine[0]['id']}/state.json"
    assert http.put(path, json={"state": "pending"}).json()["invoice"]["state"] == "pending"
    paid = http.put(path, json={"state": "paid"}).json()["invoice"]
    assert paid["state"] == "paid" and paid["paid_at"] and paid["issued_on"] == "2026-11-10"

    # later traffic in the same month lands on the next run, on a new invoice (the first one is paid)
    more = requests.post(f"{url}/v1/chat/completions", timeout=60, headers={"Authorization": f"Bearer {key}"},
                         json={"model": PRODUCT, "messages": [{"role": "user", "content": words}], "max_tokens": 300,
                               "ignore_eos": True})
    assert more.status_code == 200
    http.advance_clock(120)
    later = [i for i in control.bill("2026-11", info.state_dir) if i["account"] == "Developer"]
    assert [i["state"] for i in later] == ["paid", "finalized"] and later[1]["id"] != mine[0]["id"]
    late_items = http.get(f"/api/invoices/{later[1]['id']}/line_items.json").json()["line_items"]
    prompt_after = prompt + more.json()["usage"]["prompt_tokens"]
    # thousands carried over: only whole thousands beyond those already billed, and no fee again
    assert {li["line_item"]["name"] for li in late_items} <= {"Prompt Tokens (thousands)",
                                                             "Completion Tokens (thousands)"}
    late_prompt = sum(li["line_item"]["quantity"] for li in late_items
                      if li["line_item"]["name"] == "Prompt Tokens (thousands)")
    assert prompt // 1000 + late_prompt == prompt_after // 1000
    refused = http.put(path, json={"state": "finalized"})
    assert refused.status_code == 422 and refused.json() == {"errors": {"base": ["Cannot transition to finalized"]}}

    result = CliRunner().invoke(cli_app, ["sandbox", "bill", "--month", "2026-11", "--state-dir",
                                          str(info.state_dir)])
    assert result.exit_code == 0 and mine[0]["friendly_id"] in result.output and "paid" in result.output

    # usage × pricing from Analytics (maas stats --cost, notebook 11) agrees with the invoice's usage lines
    frame = billing.cost_frame(kit.admin, "2026-11")
    dev = frame[(frame["account"] == "Developer") & (frame["product"] == PRODUCT)]
    lines = billing.invoices_frame(kit.admin, "2026-11")
    billed = lines[(lines["application_id"] == dev["application_id"].iloc[0]) & lines["line"].str.contains("Tokens")]
    variable = round(Decimal(str(billed["cost"].sum())), 4)  # both invoices' usage lines (linear prices)
    assert round(Decimal(str(dev[dev["metric"] != "cost_per_month"]["cost"].sum())), 4) == variable
    assert dev[dev["metric"] == "prompt_tokens"]["usage"].sum() == prompt_after
    assert set(dev[(dev["usage"] > 0) & (dev["metric"] != "cost_per_month")]["date"]) == {"2026-11-10"}
    summary = billing.cost_summary(frame)
    row = summary[(summary["account"] == "Developer") & (summary["product"] == PRODUCT)].iloc[0]
    assert (row["usage_cost"], row["monthly_fee"]) == (float(variable), 10.0)
    csv = tmp_path / "cost.csv"
    shown = CliRunner().invoke(cli_app, ["stats", "--cost", "--month", "2026-11", "--csv", str(csv),
                                         "--state-dir", str(info.state_dir)], terminal_width=200)
    assert shown.exit_code == 0, shown.output
    assert f"{row['usage_cost']:.4f}" in shown.output and f"{row['total']:.2f}" in shown.output, shown.output
    assert "Developer" in shown.output and PRODUCT in shown.output
    assert pd.read_csv(csv).columns.tolist() == billing.COST_COLUMNS
    http.reset_clock()


@pytest.mark.parametrize(("month", "needle"), [("2026-13", "expected YYYY-MM"), ("Nov", "expected YYYY-MM")])
def test_bad_month_is_one_line(billed: tuple[SandboxInfo, Kit], month: str, needle: str) -> None:
    info, _kit = billed
    result = CliRunner().invoke(cli_app, ["sandbox", "bill", "--month", month, "--state-dir", str(info.state_dir)])
    assert result.exit_code == 1 and needle in result.output and len(result.output.strip().splitlines()) == 1


def test_pricing_rule_api_refuses_overlaps_and_rounds_five_decimals(billed: tuple[SandboxInfo, Kit]) -> None:
    info, kit = billed
    http = AdminHTTP(info)
    plan = _plans(kit)["premium"]
    service = next(s["service"] for s in http.get("/admin/api/services.json").json()["services"]
                   if s["service"]["system_name"] == PRODUCT)
    hits = next(m["metric"]["id"] for m in http.get(f"/admin/api/services/{service['id']}/metrics.json").json()[
        "metrics"] if m["metric"]["system_name"] == "hits")
    base = f"/admin/api/application_plans/{plan['id']}/metrics/{hits}/pricing_rules"
    first = http.post(base + ".json", json={"pricing_rule": {"min": 1, "max": 100, "cost_per_unit": "0.01"}})
    assert first.status_code == 201, first.text
    overlap = http.post(base + ".json", json={"pricing_rule": {"min": 50, "cost_per_unit": "0.02"}})
    assert overlap.status_code == 422 and "min" in overlap.json()["errors"]
    # pricing_rule.rb's format check reads the value Rails cast to the decimal(20,4) column (db/schema.rb):
    # more decimals are rounded half up and stored (201); a sign fails the format (422)
    fine = http.post(base + ".json", json={"pricing_rule": {"min": 101, "max": 200, "cost_per_unit": "0.123456"}})
    assert fine.status_code == 201 and fine.json()["pricing_rule"]["cost_per_unit"] == "0.1235", fine.text
    tiny = http.post(base + ".json", json={"pricing_rule": {"min": 201, "max": 300, "cost_per_unit": "0.00001"}})
    assert tiny.status_code == 201 and float(tiny.json()["pricing_rule"]["cost_per_unit"]) == 0.0
    signed = http.post(base + ".json", json={"pricing_rule": {"min": 301, "cost_per_unit": "-0.5"}})
    assert signed.status_code == 422 and signed.json()["errors"]["cost_per_unit"] == ["maximum decimals is 4."]
    for rule in (first, fine, tiny):
        http.delete(f"{base}/{rule.json()['pricing_rule']['id']}.json").raise_for_status()


def test_apply_switches_monthly_billing_back_on(billed: tuple[SandboxInfo, Kit]) -> None:
    info, kit = billed
    http = AdminHTTP(info)
    dev = next(a["account"] for a in http.get("/admin/api/accounts.json").json()["accounts"]
               if a["account"]["org_name"] == "Developer")
    assert http.put(f"/admin/api/accounts/{dev['id']}.json",
                    json={"monthly_billing_enabled": False}).json()["account"]["monthly_billing_enabled"] is False
    kit.admin.reset_counts()
    result = kit.apply("subscriptions_and_apps")
    assert kit.admin.calls["PUT"] == 1 and kit.admin.writes == 1, dict(kit.admin.calls)
    assert [a.change for a in result.actions if a.kind == "billing"] == [Change.UPDATED]
    assert any("Charging & Gateway" in n for n in result.notes)
    assert http.get(f"/admin/api/accounts/{dev['id']}.json").json()["account"]["monthly_billing_enabled"] is True


def test_master_billing_job_as_documented(billed: tuple[SandboxInfo, Kit]) -> None:
    """master_api.json: POST /master/api/providers/{id}/billing_jobs.xml with `date`; billing_dates.rb: a date
    that is not YYYY-MM-DD is 400 "Invalid date"; a tenant the sandbox does not serve is 404."""
    info, _kit = billed
    http = AdminHTTP(info)
    provider = http.get("/admin/api/provider.json").json()["account"]
    path = f"/master/api/providers/{provider['id']}/billing_jobs.xml"
    assert http.request("POST", path, token="master", data={"date": "2026-10-01"}).status_code == 202
    bad = http.request("POST", path, token="master", data={"date": "2026-02-30"})
    assert (bad.status_code, "Invalid date" in bad.text) == (400, True)
    assert http.request("POST", path, token="admin", data={"date": "2026-10-01"}).status_code in (401, 403)
    other = http.request("POST", "/master/api/providers/999999/billing_jobs.xml", token="master",
                         data={"date": "2026-10-01"})
    assert other.status_code == 404


def test_invoice_table_reads_every_page(billed: tuple[SandboxInfo, Kit]) -> None:
    """finance/api/base_controller.rb: the Billing API pages at 20 by default (per_page 1..500; out of range →
    20), newest first (invoice.rb default_scope created_at DESC). Notebook 11's table (`kit.usage.invoices`,
    billing.invoices_frame) reads every page, so 25 invoices of a month are 25 in the table."""
    info, kit = billed
    http = AdminHTTP(info)
    dev = next(a["account"] for a in http.get("/admin/api/accounts.json").json()["accounts"]
               if a["account"]["org_name"] == "Developer")
    month = "2024-02"
    made = []
    for n in range(25):
        invoice = http.post("/api/invoices.json", json={"account_id": dev["id"], "invoice": {"period": month}})
        assert invoice.status_code == 201, invoice.text
        made.append(invoice.json()["invoice"]["id"])
        http.post(f"/api/invoices/{made[-1]}/line_items.json",
                  json={"line_item": {"name": f"line {n}", "quantity": 1, "cost": "1.5"}}).raise_for_status()
    first = http.get("/api/invoices.json", params={"month": month}).json()
    assert len(first["invoices"]) == 20 and first["metadata"] == {
        "per_page": 20, "total_entries": 25, "total_pages": 2, "current_page": 1}
    assert [i["invoice"]["id"] for i in first["invoices"]] == sorted(made, reverse=True)[:20]
    out_of_range = http.get("/api/invoices.json", params={"month": month, "per_page": 501}).json()
    assert len(out_of_range["invoices"]) == 20
    table = kit.usage.invoices(month)
    assert sorted(set(table["invoice"])) == sorted(
        i["invoice"]["friendly_id"] for i in first["invoices"] + http.get(
            "/api/invoices.json", params={"month": month, "page": 2}).json()["invoices"])
    assert len(table) == 25 and table["cost"].sum() == 25 * 1.5
    for invoice_id in made:  # leave the month as it was for the other tests (cancelled invoices bill nothing)
        http.put(f"/api/invoices/{invoice_id}/state.json", json={"state": "cancelled"}).raise_for_status()
