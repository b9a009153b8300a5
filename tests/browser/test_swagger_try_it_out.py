"""Issue 14 item 6: "Try it out" on the portal's API docs page answers 200 on the first click.

The kit's catalogue is applied to the browser sandbox (its ActiveDocs from maas_helpers/reconcile/openapi.py,
the portal content, the CORS policy), then in Debian's chromium: Authorize with the application key, Try it
out, Execute — with the body Swagger UI fills in from the spec, unchanged. Before the spec carried example
bodies, Swagger sent `max_tokens: 0` and got 400.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from maas_helpers.kit import Kit
from maas_helpers.reconcile import SECTIONS

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def applied(portal_sandbox: Any) -> tuple[Kit, dict[str, str]]:
    kit = Kit.configure(target="sandbox", state_dir=str(portal_sandbox.state_dir), org_name="Docs Org")
    for section in SECTIONS:
        if section != "sso":
            kit.apply(section)
    return kit, kit.application_keys()


def test_try_it_out_answers_200_with_the_filled_in_body(browser: Any, portal_sandbox: Any, applied: Any,
                                                        screenshots: Path) -> None:
    kit, keys = applied
    chat = next(p for p in kit.catalogue.products if p.kind == "chat")
    page = browser.new_context(viewport={"width": 1280, "height": 1000}).new_page()
    page.set_default_timeout(20000)
    page.goto(portal_sandbox.portal_url + "/docs")
    section = page.locator(f"#spec-{chat.system_name}")
    assert page.locator("#spec-echo").count() == 0  # the sample ActiveDoc is unpublished by the kit
    section.locator("button.authorize").first.click()
    page.locator(".dialog-ux input[type=text], .dialog-ux input[type=password]").first.fill(keys[chat.system_name])
    page.locator(".dialog-ux button.authorize").click()
    page.locator(".dialog-ux button.btn-done").click()
    op = section.locator(".opblock-post:has([data-path='/v1/chat/completions'])")
    op.locator(".opblock-summary").click()
    op.locator("button.try-out__btn").click()
    body = op.locator("textarea.body-param__text").input_value()
    assert f'"model": "{chat.model}"' in body and '"max_tokens": 64' in body and '"stream": false' in body, body
    op.locator("button.execute").click()
    status = op.locator(".live-responses-table .response .response-col_status").first
    status.wait_for()
    status.scroll_into_view_if_needed()  # the answer, not the curl line Swagger prints with the key
    page.screenshot(path=str(screenshots / "portal-docs-try-it-out.png"), full_page=False)
    assert status.text_content().strip().startswith("200"), op.locator(".live-responses-table").text_content()
    assert '"object": "chat.completion"' in op.locator(".live-responses-table").text_content()
