"""A developer's first visit, in Debian's chromium: SSO sign-in as a user new to the portal, choose a model,
create an application, reveal and copy the key, see the plan's prices, call the model with it, and see the usage
appear — as a table, as charts of the last days, and as the cost so far this month (issue 17)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import requests

pytestmark = pytest.mark.browser


def add_realm_user(portal: Any, info: Any, username: str, password: str) -> None:
    """A workshop participant added to the realm (Keycloak admin REST PUT), unknown to the portal so far."""
    realm = __import__("portal_setup").render_realm(portal.portal_url, portal.client_secret, portal.demo_password)
    realm["users"].append(
        {
            "username": username,
            "email": f"{username}@example.org",
            "emailVerified": True,
            "firstName": "New",
            "credentials": [{"type": "password", "value": password}],
        }
    )
    resp = requests.put(
        f"{info.sso_url}/admin/realms/maas",
        json=realm,
        timeout=10,
        headers={"Authorization": f"Bearer {info.master_token}"},
    )
    assert resp.status_code == 204, resp.text


def price_the_plan(portal: Any, info: Any) -> tuple[float, float]:
    """A monthly fee and a price per call (pricing rule on `hits`) on the plan the developer will choose."""
    base, token = info.admin_url, {"access_token": info.admin_token}
    plan_id = portal.plan["id"]
    resp = requests.put(f"{base}/admin/api/services/{portal.service['id']}/application_plans/{plan_id}.json",
                        params=token, json={"cost_per_month": "10"}, timeout=10)
    assert resp.status_code == 200, resp.text
    metrics = requests.get(f"{base}/admin/api/services/{portal.service['id']}/metrics.json", params=token,
                           timeout=10).json()["metrics"]
    hits = next(m["metric"]["id"] for m in metrics if m["metric"]["system_name"] == "hits")
    rule = requests.post(f"{base}/admin/api/application_plans/{plan_id}/metrics/{hits}/pricing_rules.json",
                         params=token, json={"pricing_rule": {"min": 1, "cost_per_unit": "0.25"}}, timeout=10)
    assert rule.status_code == 201, rule.text
    return 0.25, 10.0


def test_sso_sign_in_create_app_copy_key_call_model_see_usage(
    portal: Any, portal_sandbox: Any, browser: Any, screenshots: Path
) -> None:
    add_realm_user(portal, portal_sandbox, "newdev", "newdev-pass-1")
    price_per_call, monthly_fee = price_the_plan(portal, portal_sandbox)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15000)

    page.goto(portal.portal_url + "/")
    assert "Models as a Service" in page.text_content("h1")
    page.screenshot(path=str(screenshots / "01-home-anonymous.png"), full_page=True)

    page.click("#nav-login")
    page.click("a[id^=sso-keycloak]")  # SSO first; the password form is folded away
    page.wait_for_selector("#kc-form-login")
    assert "MaaS on RHOAI" in page.text_content("#kc-page-title")
    page.fill("#username", "newdev")
    page.fill("#password", "newdev-pass-1")
    page.click("#kc-login")
    page.wait_for_selector("text=Signed in successfully")
    assert page.text_content(".maas-user") == "newdev"
    page.screenshot(path=str(screenshots / "02-home-signed-in.png"), full_page=True)

    page.click("#nav-applications")
    page.click("#new-application")
    page.click(f"#choose-{portal.service['system_name']}")
    page.screenshot(path=str(screenshots / "03-new-application.png"), full_page=True)
    page.fill("#cinstance_name", "my first app")
    page.click("#create-application")
    page.wait_for_selector("text=Application was created.")
    app_id = page.url.rstrip("/").rsplit("/", 1)[1]
    assert page.text_content("#model-name") == portal.service["system_name"]
    assert page.text_content("#endpoint-url") == f"{portal.gateway_url}/v1"

    key_input = page.locator(".maas-key-input")
    assert key_input.get_attribute("type") == "password"  # masked until asked
    page.click("[data-maas-toggle]")
    assert key_input.get_attribute("type") == "text"
    key = key_input.input_value()
    assert re.fullmatch(r"[0-9a-f]{32}", key)
    page.click("[data-maas-copy]")
    page.wait_for_selector("[data-maas-copy]:has-text('Copied')")
    page.screenshot(path=str(screenshots / "04-application-key.png"), full_page=True)
    prices = page.locator("#plan-prices")
    assert prices.locator("tr[data-metric='hits'] .maas-price").text_content() == "USD\xa00.2500"
    assert prices.locator(".maas-plan-fee").text_content() == "USD\xa010.00"
    prices.screenshot(path=str(screenshots / "04b-plan-prices.png"))

    try:
        answer = requests.post(
            f"{portal.gateway_url}/v1/chat/completions",
            timeout=30,
            headers={"Authorization": f"Bearer {key}"},
            json={
                "model": portal.service["system_name"],
                "messages": [{"role": "user", "content": "Hello"}],
                "max_tokens": 8,
            },
        )
    except requests.ConnectionError as exc:
        pytest.skip(f"the product's production gateway does not answer on {portal.gateway_url}: {exc}")
    assert answer.status_code == 200, answer.text
    assert answer.json()["choices"][0]["message"]["content"]

    # Usage is written behind by the backend; reopen the page (bounded) until the call shows up.
    for _attempt in range(20):
        page.goto(portal.portal_url + "/statistics")
        hits = page.locator(f"#usage-{app_id} .maas-usage-total[data-metric='hits']")
        hits.wait_for()
        if int(hits.text_content() or 0) >= 1:
            break
        page.wait_for_timeout(250)
    calls = int(hits.text_content() or 0)
    assert calls >= 1
    section = page.locator(f"#usage-{app_id}")
    section.locator(".maas-cost-total").wait_for()
    # the chart: 7 bars per series, today's calls bar drawn with today's count
    charts = section.locator("svg.maas-chart")
    charts.first.wait_for()
    # this product has no token metrics (portal_setup), so only the calls chart; kit products get both
    assert charts.count() == 1 and charts.nth(0).get_attribute("aria-label") == "Calls per day"
    bars = charts.nth(0).locator("rect")
    assert bars.count() == 7 and int(bars.nth(6).get_attribute("data-value") or 0) == calls
    assert float(bars.nth(6).get_attribute("height") or 0) > 50  # the tallest bar fills the chart
    # cost so far this month = calls × price per call + monthly fee (the month started at most today)
    expected = calls * price_per_call + monthly_fee
    assert section.locator(".maas-cost-total").get_attribute("data-cost") == f"{expected:.4f}"
    assert f"USD {expected:.4f}" in section.locator(".maas-usage-cost").text_content()
    # ... and what `maas stats --cost` / notebook 11 compute for the same application and month
    from datetime import UTC, datetime

    from maas_helpers import billing
    from maas_helpers.admin_client import AdminClient

    frame = billing.cost_frame(AdminClient(portal_sandbox.admin_url, portal_sandbox.admin_token),
                               datetime.now(UTC).strftime("%Y-%m"))
    mine = frame[frame["application_id"] == int(app_id)]
    assert f"{mine['cost'].sum():.4f}" == f"{expected:.4f}"
    page.screenshot(path=str(screenshots / "05-usage.png"), full_page=True)
    context.close()
