"""Issue 14 item 2: every "where to see it" link notebook 4 prints opens the right object in the sandbox's
read-only admin portal (maas_sandbox/admin_portal; paths from porta 3scale-2.16-stable config/routes.rb), in
Debian's chromium, and the traffic page draws the calls just sent."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests

from maas_helpers.kit import Kit

SECTIONS = ("organisation", "policy_registry", "backends", "products", "metrics", "mapping_rules", "authentication",
            "policies", "promote", "plans", "subscriptions_and_apps")


@pytest.fixture(scope="module")
def kit_links(portal_sandbox: Any) -> tuple[Kit, list[tuple[str, str, str]]]:
    kit = Kit.configure(target="sandbox", state_dir=str(portal_sandbox.state_dir), org_name="Links Org")
    steps = [kit.apply(s) for s in SECTIONS[:7]]  # what notebooks 1-4 apply; notebook 4 displays these
    step_links = [(a.kind, a.name, a.link) for step in steps for a in step.actions if a.link]
    for section in SECTIONS[7:]:
        kit.apply(section)
    return kit, step_links


def test_notebook_4_links_open_their_objects(browser: Any, portal_sandbox: Any, kit_links: Any,
                                             screenshots: Path) -> None:
    kit, step_links = kit_links
    key = kit.application_keys()["markov-chat-small"]
    url = kit.links()["markov-chat-small (production)"]
    for prompt in ("Hello", "Tell me about gateways"):
        resp = requests.post(f"{url}/v1/chat/completions", headers={"Authorization": f"Bearer {key}"}, timeout=30,
                             json={"model": "markov-chat-small", "max_tokens": 8,
                                   "messages": [{"role": "user", "content": prompt}]})
        assert resp.status_code == 200, resp.text
    table = kit.products.links().frame()
    assert len(table) >= 6 and step_links
    context = browser.new_context()
    page = context.new_page()
    try:
        page.goto(kit.links()["admin portal"])  # the dashboard link `make run` prints → sign in first
        assert "/p/login" in page.url
        page.fill("input[name=access_token]", portal_sandbox.admin_token)
        page.click("button[type=submit]")
        page.wait_for_url("**/p/admin/dashboard")
        assert "Links Org" in page.inner_text("h1")
        checked = 0
        for kind, name, link in step_links:
            response = page.goto(link)
            assert response is not None and response.status == 200, (kind, name, link)
            text = page.inner_text("main")
            product, _, thing = name.rpartition(": ")  # "markov-chat-small: POST /v1/chat/completions$"
            words = [w for w in thing.split() if w not in ("→", "at")]
            assert product in text and all(w in text for w in words), (kind, name, link)
            checked += 1
        for row in table.to_dict("records"):
            response = page.goto(row["url"])
            assert response is not None and response.status == 200, row
            assert row["product"] in page.inner_text("main") or row["page"] == "traffic analytics", row
        traffic = table[(table["product"] == "markov-chat-small") & (table["page"] == "traffic analytics")]
        page.goto(traffic.iloc[0]["url"])
        totals = [int(svg.get_attribute("data-total") or 0) for svg in page.query_selector_all("main svg")]
        assert len(totals) == 4 and totals[0] == 2 and totals[2] > 0, totals  # hits and tokens drawn
        box = page.query_selector("main svg").bounding_box()
        assert box and box["width"] > 500 and box["height"] > 200
        page.screenshot(path=str(screenshots / "admin-portal-traffic.png"), full_page=True)
        assert checked >= 10
    finally:
        context.close()
