"""A workshop attendee's first sign-in, in Debian's chromium: the handout's username and temporary password at
the SSO, the forced password change (Keycloak's UPDATE_PASSWORD required action), then their own applications
in the developer portal. Screenshots: build/screenshots/workshop-*.png.

Upstream followed: Keycloak's login-update-password page for the required action; porta's
Users::FindOAuth2UserService (the SSO login is linked to the workshop's 3scale user by its verified email).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from maas_helpers.reconcile import SECTIONS
from maas_helpers.workshop import Workshop, WorkshopSpec

from harness.sandbox import applied_kit, running

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]


@pytest.fixture(scope="module")
def handout(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, list[dict[str, str]]]]:
    base = tmp_path_factory.mktemp("workshop-browser")
    with running(base / "state") as info:
        kit = applied_kit(info, "MaaS Test Org", SECTIONS)
        Workshop(kit, base / "out").up(WorkshopSpec(attendees=2, prefix="room"))
        with (base / "out" / "attendees.csv").open(newline="") as fh:
            yield info, list(csv.DictReader(fh))


def test_attendee_signs_in_with_temporary_password_changes_it_and_sees_their_apps(
    handout: tuple[Any, list[dict[str, str]]], browser: Any, screenshots: Path
) -> None:
    info, rows = handout
    mine = [r for r in rows if r["username"] == "room-002"]
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15000)
    page.goto(mine[0]["portal_url"] + "/")
    page.click("#nav-login")
    page.click("a[id^=sso-keycloak]")
    page.wait_for_selector("#kc-form-login")
    page.fill("#username", "room-002")
    page.fill("#password", mine[0]["temporary_password"])
    page.click("#kc-login")
    page.wait_for_selector("#kc-passwd-update-form")
    page.screenshot(path=str(screenshots / "workshop-01-update-password.png"), full_page=True)

    page.fill("#password-new", "my-own-pass-42")
    page.fill("#password-confirm", "my-own-pass-41")
    page.click("#kc-passwd-update-form button")
    assert "Passwords don't match." in page.text_content("#input-error")
    page.fill("#password-new", "my-own-pass-42")
    page.fill("#password-confirm", "my-own-pass-42")
    page.click("#kc-passwd-update-form button")
    page.wait_for_selector("text=Signed in successfully")
    assert page.text_content(".maas-user") == "room-002"

    page.click("#nav-applications")
    page.wait_for_selector(f"text={mine[0]['username']} {mine[0]['model']}")
    text = page.text_content("body") or ""
    assert all(f"room-002 {r['model']}" in text for r in mine)
    assert "room-001" not in text  # only their own applications
    page.screenshot(path=str(screenshots / "workshop-02-applications.png"), full_page=True)
    context.close()

    # The temporary password is spent: a second browser signs in with the new one, no form in between.
    second = browser.new_context()
    page = second.new_page()
    page.set_default_timeout(15000)
    page.goto(mine[0]["portal_url"] + "/")
    page.click("#nav-login")
    page.click("a[id^=sso-keycloak]")
    page.fill("#username", "room-002")
    page.fill("#password", mine[0]["temporary_password"])
    page.click("#kc-login")
    assert "Invalid username or password." in page.text_content("#input-error")
    page.fill("#password", "my-own-pass-42")
    page.click("#kc-login")
    page.wait_for_selector("text=Signed in successfully")
    second.close()
