"""A workshop of 20 attendees as a real 3scale has it: every attendee signs in to the portal through SSO, and
after a month's billing `workshop down` removes every attendee account — or names the invoice that blocks it.

Upstream followed (porta 3scale-2.16-stable):
- app/models/user/states.rb `activate_on_minimal_signup?`, app/lib/signup/developer_account_manager.rb,
  test/integration/signup_express_test.rb: Signup Express without a password leaves the account `created` and
  the user `pending`; app/models/user.rb `can_login?` and app/lib/authentication/strategy/oauth2_base.rb
  `active_user`: only an active user of an approved account signs in (SSO too). The kit activates and approves
  (maas_helpers/buyer_state.py).
- app/models/account/billing.rb `check_unresolved_invoices`, app/models/invoice.rb `scope :unresolved`,
  test/unit/account/buyer_test.rb: an account with an open/finalized/pending/unpaid invoice is not deleted
  (403 `{"errors":{"invoices":["need to be settled before the account deletion."]}}`); a cancelled one is.
  The kit cancels un-issued invoices and names issued, unpaid ones (maas_helpers/billing.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from typer.testing import CliRunner

from maas_helpers.cli import app
from maas_helpers.kit import Kit
from maas_helpers.reconcile import SECTIONS
from maas_helpers.results import Change
from maas_helpers.workshop import Workshop, WorkshopSpec

from harness.sandbox import applied_kit, running

pytestmark = pytest.mark.timeout(300)
N = 20
MODEL = "markov-chat-small"


@pytest.fixture(scope="module")
def info(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with running(tmp_path_factory.mktemp("workshop20") / "state") as state:
        yield state


@pytest.fixture(scope="module")
def kit(info: Any) -> Kit:
    return applied_kit(info, "MaaS Real Org", sections=list(SECTIONS))  # with SSO: the portal's sign-in


@pytest.fixture(scope="module")
def out_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("handout20")


@pytest.fixture(scope="module")
def room(kit: Kit, out_dir: Path) -> Workshop:
    workshop = Workshop(kit, out_dir)
    result = workshop.up(WorkshopSpec(attendees=N, models=(MODEL,)))
    assert result.counts[Change.CREATED.value] == N * 3, str(result)
    return workshop


def _attendees(kit: Kit) -> list[dict[str, Any]]:
    rows = kit.admin.get_all("/admin/api/accounts.json", "accounts", "account")
    return [a for a in rows if a["org_name"].endswith("[maas-workshop]")]


def _portal_sso_sign_in(portal: str, provider: str, username: str, password: str) -> str:
    """The attendee's first sign-in: portal → SSO login form → the temporary password's change form → back to
    the portal. Returns the portal page the browser lands on."""
    s = requests.Session()
    start = s.get(f"{portal}/auth/{provider}/authorize", allow_redirects=False, timeout=10)
    assert start.status_code == 303, start.text
    form = s.get(start.headers["location"], timeout=10).text
    action = re.search(r'id="kc-form-login" action="([^"]+)"', form).group(1)  # type: ignore[union-attr]
    request = re.search(r'name="request" value="([^"]+)"', form).group(1)  # type: ignore[union-attr]
    change = s.post(action, data={"request": request, "username": username, "password": password},
                    allow_redirects=False, timeout=10)
    assert change.status_code == 200 and "password-new" in change.text, change.text[:300]
    action = re.search(r'action="([^"]+)"', change.text).group(1).replace("&amp;", "&")  # type: ignore[union-attr]
    request = re.search(r'name="request" value="([^"]+)"', change.text).group(1)  # type: ignore[union-attr]
    new = f"{password}-new-1"
    back = s.post(action, data={"request": request, "password-new": new, "password-confirm": new},
                  allow_redirects=False, timeout=10)
    assert back.status_code == 302, back.text[:300]
    return s.get(back.headers["location"], timeout=10).text


def test_attendees_are_active_users_on_approved_accounts(kit: Kit, room: Workshop) -> None:
    accounts = _attendees(kit)
    assert len(accounts) == N and {a["state"] for a in accounts} == {"approved"}
    for account in accounts[:3]:
        users = kit.admin.get_json(f"/admin/api/accounts/{account['id']}/users.json")["users"]
        assert [u["user"]["state"] for u in users] == ["active"]


def test_a_signup_express_without_password_cannot_sign_in_until_activated(kit: Kit, info: Any) -> None:
    """The breaker: without the kit's activation, porta's state leaves the attendee outside the portal."""
    body = kit.admin.send_json("POST", "/admin/api/signup.json", {
        "org_name": "Raw signup", "username": "raw-001", "email": "raw-001@workshop.example"})["account"]
    assert body["state"] == "created"
    users = kit.admin.get_json(f"/admin/api/accounts/{body['id']}/users.json")["users"]
    assert [u["user"]["state"] for u in users] == ["pending"]
    sso = room_sso_user(kit, info, "raw-001", "raw-001@workshop.example", "Temp-pass-1")
    provider = _provider(kit)
    page = _portal_sso_sign_in(str(kit.credentials.portal_url), provider, "raw-001", "Temp-pass-1")
    assert "Your account isn&#39;t active or hasn&#39;t been approved yet." in page or \
        "Your account isn't active or hasn't been approved yet." in page
    uid = users[0]["user"]["id"]
    activated = kit.admin.send_json("PUT", f"/admin/api/accounts/{body['id']}/users/{uid}/activate.json")
    assert activated["user"]["state"] == "active"
    # user/states.rb make_active → account.upgrade_state!: no approval required → approved
    assert kit.admin.get_json(f"/admin/api/accounts/{body['id']}.json")["account"]["state"] == "approved"
    requests.delete(f"{sso}", timeout=10, headers={"Authorization": f"Bearer {info.master_token}"})
    kit.admin.request("DELETE", f"/admin/api/accounts/{body['id']}.json")


def room_sso_user(kit: Kit, info: Any, username: str, email: str, password: str) -> str:
    base = f"{info.sso_url}/admin/realms/maas/users"
    headers = {"Authorization": f"Bearer {info.master_token}"}
    made = requests.post(base, headers=headers, timeout=10, json={
        "username": username, "email": email, "emailVerified": True, "enabled": True,
        "credentials": [{"type": "password", "value": password, "temporary": True}]})
    assert made.status_code == 201, made.text
    return str(made.headers["location"])


def _provider(kit: Kit) -> str:
    listed = kit.admin.get_json("/admin/api/authentication_providers.json")["authentication_providers"]
    return str(listed[0]["authentication_provider"]["system_name"])


def test_every_attendee_signs_in_to_the_portal_through_sso(kit: Kit, room: Workshop, out_dir: Path) -> None:
    import csv

    with (out_dir / "attendees.csv").open(newline="") as fh:
        people = {r["username"]: r["temporary_password"] for r in csv.DictReader(fh)}
    assert len(people) == N
    provider, portal = _provider(kit), str(kit.credentials.portal_url)
    failed = []
    for username, password in sorted(people.items()):
        page = _portal_sso_sign_in(portal, provider, username, password)
        if "Signed in" not in page or f">{username}<" not in page:
            failed.append(username)
    assert failed == []


def _monthly_fee_on_standard(kit: Kit) -> None:
    service = next(s["service"] for s in kit.admin.get_json("/admin/api/services.json")["services"]
                   if s["service"]["system_name"] == MODEL)
    plans = kit.admin.get_json(f"/admin/api/services/{service['id']}/application_plans.json")["plans"]
    plan = next(p["application_plan"] for p in plans if p["application_plan"]["system_name"] == "standard")
    kit.admin.send_json("PUT", f"/admin/api/services/{service['id']}/application_plans/{plan['id']}.json",
                        {"cost_per_month": "10"})


def _cli(info: Any, out_dir: Path, *args: str) -> Any:
    return CliRunner().invoke(app, [*args, "--state-dir", str(info.state_dir)], env={"COLUMNS": "200"})


def test_after_billing_down_cancels_draft_invoices_and_names_an_issued_one(kit: Kit, info: Any, room: Workshop,
                                                                         out_dir: Path) -> None:
    _monthly_fee_on_standard(kit)  # so the month's billing gives every attendee an invoice
    month = datetime.now(UTC).strftime("%Y-%m")
    billed = _cli(info, out_dir, "sandbox", "bill", "--month", month)
    assert billed.exit_code == 0, billed.output
    invoices = kit.admin.get_all("/api/invoices.json", "invoices", "invoice", params={"month": month})
    assert len(invoices) >= N and {i["state"] for i in invoices} == {"finalized"}

    # Porta itself refuses the plain DELETE now.
    first = _attendees(kit)[0]
    refused = kit.admin.request("DELETE", f"/admin/api/accounts/{first['id']}.json", allow=(403,))
    assert (refused.status_code, refused.json()) == (
        403, {"errors": {"invoices": ["need to be settled before the account deletion."]}})

    # One attendee's invoice is issued (pending: the developer owes it): down removes the others, names it.
    mine = kit.admin.get_all(f"/api/accounts/{first['id']}/invoices.json", "invoices", "invoice")
    issued = kit.admin.send_json("PUT", f"/api/invoices/{mine[0]['id']}/state.json", {"state": "pending"})["invoice"]
    assert issued["due_on"] > issued["issued_on"]  # invoice.rb: due two days after issue
    stopped = room.down()
    failed = [a for a in stopped.actions if a.change is Change.FAILED]
    owner = kit.admin.get_json(f"/admin/api/accounts/{first['id']}/users.json")["users"][0]["user"]["username"]
    assert [(a.kind, a.name) for a in failed] == [("account", owner)]
    assert f"invoice {issued['friendly_id']} ({month}) is pending" in failed[0].detail
    assert "mark it paid or cancel it" in failed[0].detail
    left = _attendees(kit)
    assert [a["id"] for a in left] == [first["id"]]

    kit.admin.send_json("PUT", f"/api/invoices/{issued['id']}/state.json", {"state": "paid"})
    finished = room.down()
    assert not [a for a in finished.actions if a.change is Change.FAILED], str(finished)
    assert _attendees(kit) == []
    cancelled = kit.admin.get_all("/api/invoices.json", "invoices", "invoice", params={"state": "cancelled"})
    assert len(cancelled) >= N - 1  # porta keeps a deleted buyer's invoices


def test_teardown_removes_the_journey_developer_after_billing(kit: Kit, info: Any, out_dir: Path) -> None:
    """The journey's developer (Signup Express with a password: active and approved at once) is billed, then
    teardown's developer removal cancels its finalized invoice and deletes the account (billing.py)."""
    from maas_helpers.journey import Journey
    from maas_helpers.teardown import remove_developers

    _monthly_fee_on_standard(kit)
    journey = Journey.start(kit, "tear-dev")
    account = kit.admin.get_json(f"/admin/api/accounts/{journey.account_id}.json")["account"]
    users = kit.admin.get_json(f"/admin/api/accounts/{journey.account_id}/users.json")["users"]
    assert (account["state"], [u["user"]["state"] for u in users]) == ("approved", ["active"])
    month = datetime.now(UTC).strftime("%Y-%m")
    assert _cli(info, out_dir, "sandbox", "bill", "--month", month).exit_code == 0
    mine = kit.admin.get_all(f"/api/accounts/{journey.account_id}/invoices.json", "invoices", "invoice")
    assert mine and {i["state"] for i in mine} == {"finalized"}
    result = remove_developers(kit)
    assert [(a.name, a.change) for a in result.actions] == [("tear-dev", Change.DELETED)]
    assert kit.admin.get_json(f"/admin/api/accounts/{journey.account_id}.json", allow_404=True) is None
    states = {i["state"] for i in kit.admin.get_all("/api/invoices.json", "invoices", "invoice")
              if i["id"] in {m["id"] for m in mine}}
    assert states == {"cancelled"}
