"""Account, user and invoice state machines as porta 3scale-2.16-stable has them, over the Admin and Billing APIs.

- test/integration/signup_express_test.rb, app/models/user/states.rb (`activate_on_minimal_signup?`,
  `make_active`), app/lib/signup/developer_account_manager.rb, app/models/account/states.rb (initial `created`,
  `upgrade_state!`, approve/reject/make_pending from `created`).
- app/models/user.rb `can_login?` (the portal's sign-in refusing a pending user is in
  test_workshop_real_states.py, through SSO).
- app/models/account/billing.rb `check_unresolved_invoices`, app/models/invoice.rb (`scope :unresolved`,
  ISSUE_AND_DUE_DEFAULT_DELAY), test/unit/account/buyer_test.rb ('#destroy returns false if buyer has
  unresolved invoices'), app/representers/invoice_representer.rb (nil properties left out but `vat_rate`).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from harness.names import suffixed as unique

UNSETTLED = {"errors": {"invoices": ["need to be settled before the account deletion."]}}


@pytest.fixture(scope="module")
def vetted_plan(admin_http: Any) -> int:
    plan = admin_http.post("/admin/api/account_plans.json", json={"name": unique("Vetted "), "approval_required": True})
    assert plan.status_code == 201, plan.text
    return int(plan.json()["account_plan"]["id"])


def _signup(admin_http: Any, **extra: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    name = unique("se")
    resp = admin_http.post("/admin/api/signup.json", json={
        "org_name": f"Org {name}", "username": name, "email": f"{name}@example.com", **extra})
    assert resp.status_code == 201, resp.text
    account = resp.json()["account"]
    user = admin_http.get(f"/admin/api/accounts/{account['id']}/users.json").json()["users"][0]["user"]
    return account, user


def test_signup_express_with_a_password_and_no_approval_is_approved_and_active(admin_http: Any) -> None:
    account, user = _signup(admin_http, password="12345678")
    assert (account["state"], user["state"]) == ("approved", "active")


def test_signup_express_without_a_password_is_created_and_pending(admin_http: Any) -> None:
    account, user = _signup(admin_http)
    assert (account["state"], user["state"]) == ("created", "pending")
    # user/states.rb make_active → account.upgrade_state!: no approval required → approved
    base = f"/admin/api/accounts/{account['id']}"
    assert admin_http.put(f"{base}/users/{user['id']}/activate.json").json()["user"]["state"] == "active"
    assert admin_http.get(base + ".json").json()["account"]["state"] == "approved"


def test_signup_express_with_an_account_plan_that_requires_approval(admin_http: Any, vetted_plan: int) -> None:
    """signup_express_test.rb: with a password and approval required → account created, user pending."""
    account, user = _signup(admin_http, password="12345678", account_plan_id=vetted_plan)
    assert (account["state"], user["state"], account["plan_id"]) == ("created", "pending", vetted_plan)
    base = f"/admin/api/accounts/{account['id']}"
    admin_http.put(f"{base}/users/{user['id']}/activate.json").raise_for_status()
    assert admin_http.get(base + ".json").json()["account"]["state"] == "pending"  # upgrade_state!: make_pending
    assert admin_http.put(base + "/approve.json").json()["account"]["state"] == "approved"


def test_a_created_account_can_be_approved_rejected_or_made_pending(admin_http: Any) -> None:
    for event, state in (("approve", "approved"), ("reject", "rejected"), ("make_pending", "pending")):
        account, _user = _signup(admin_http)
        moved = admin_http.put(f"/admin/api/accounts/{account['id']}/{event}.json")
        assert (moved.status_code, moved.json()["account"]["state"]) == (200, state)


def test_signup_express_errors(admin_http: Any) -> None:
    """signup_express_test.rb: a duplicate is 422, an empty org name is 422."""
    account, user = _signup(admin_http, password="12345678")
    dup = admin_http.post("/admin/api/signup.json", json={"org_name": "Dup", "username": user["username"],
                                                          "email": user["email"], "password": "12345678"})
    assert dup.status_code == 422 and set(dup.json()["errors"]) == {"username", "email"}
    blank = admin_http.post("/admin/api/signup.json", json={"org_name": "", "username": unique("b"),
                                                            "email": unique("b") + "@example.com"})
    assert blank.status_code == 422 and blank.json()["errors"]["org_name"] == ["can't be blank"]


def test_a_pending_user_cannot_be_suspended(admin_http: Any) -> None:
    """user/states.rb: suspend goes from active (or suspended) only."""
    account, user = _signup(admin_http)
    base = f"/admin/api/accounts/{account['id']}/users/{user['id']}"
    refused = admin_http.put(base + "/suspend.json")
    assert (refused.status_code, refused.json()) == (422, {"errors": {"state": ['cannot transition via "suspend"']}})
    admin_http.put(base + "/activate.json").raise_for_status()
    assert admin_http.put(base + "/suspend.json").json()["user"]["state"] == "suspended"
    assert admin_http.put(base + "/suspend.json").json()["user"]["state"] == "suspended"


def test_an_unresolved_invoice_blocks_the_account_deletion(admin_http: Any) -> None:
    """buyer_test.rb: destroy fails with an errors[:invoices] while an invoice is unresolved; cancel, then it
    goes. The responder answers a refused DELETE 403 with the errors."""
    account, _user = _signup(admin_http, password="12345678")
    invoice = admin_http.post("/api/invoices.json", json={"account_id": account["id"]}).json()["invoice"]
    assert invoice["state"] == "open"
    assert "due_on" not in invoice and "issued_on" not in invoice and "paid_at" not in invoice
    assert "vat_rate" in invoice and invoice["vat_rate"] is None  # the one render_nil property
    for state in ("open", "finalized", "pending", "unpaid"):
        if state != "open":
            moved = admin_http.put(f"/api/invoices/{invoice['id']}/state.json", json={"state": state}).json()
            assert moved["invoice"]["state"] == state
            if state == "pending":  # invoice.rb: issued today, due ISSUE_AND_DUE_DEFAULT_DELAY (2 days) later
                issued = moved["invoice"]
                assert date.fromisoformat(issued["due_on"]) - date.fromisoformat(issued["issued_on"]) == \
                    timedelta(days=2)
        refused = admin_http.delete(f"/admin/api/accounts/{account['id']}.json")
        assert (refused.status_code, refused.json()) == (403, UNSETTLED), state
    admin_http.put(f"/api/invoices/{invoice['id']}/state.json", json={"state": "cancel"}).raise_for_status()
    assert admin_http.delete(f"/admin/api/accounts/{account['id']}.json").status_code == 200
    assert admin_http.get(f"/api/invoices/{invoice['id']}.json").json()["invoice"]["state"] == "cancelled"


@pytest.mark.parametrize("settled", ["paid", "failed"])
def test_paid_and_failed_invoices_do_not_block(admin_http: Any, settled: str) -> None:
    account, _user = _signup(admin_http, password="12345678")
    invoice = admin_http.post("/api/invoices.json", json={"account_id": account["id"]}).json()["invoice"]
    path = [("pending", "paid")] if settled == "paid" else [("pending",), ("unpaid",), ("failed",)]
    for step in path:
        for state in step:
            admin_http.put(f"/api/invoices/{invoice['id']}/state.json", json={"state": state}).raise_for_status()
    assert admin_http.delete(f"/admin/api/accounts/{account['id']}.json").status_code == 200
