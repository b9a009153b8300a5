"""Applications, service subscriptions and monthly billing, planned by pure functions: catalogue + what the Admin
API returned → actions with the exact requests (as threescale_api's Applications client sends them; porta
app/controllers/admin/api/service_subscriptions_controller.rb for subscriptions and accounts_controller.rb
`billing_params` for monthly billing). tests/sandbox/test_billing.py and test_reconcile.py check these against
the sandbox."""

from __future__ import annotations

from decimal import Decimal

from maas_helpers.catalogue import Application, Catalogue, Plan, Pricing, product_for_model
from maas_helpers.config import ModelEndpoint
from maas_helpers.reconcile.accounts import BILLING_NOTE, plan_applications, plan_billing, plan_subscriptions
from maas_helpers.reconcile.actions import Links, Write
from maas_helpers.results import Change, FieldChange

LINKS = Links("https://admin.example")
PLANS = [Plan(system_name="free", name="Free"),
         Plan(system_name="standard", name="Standard", pricing=Pricing(cost_per_month=Decimal("5")))]


def _catalogue(*apps: Application) -> Catalogue:
    products = [product_for_model(ModelEndpoint(name=n, url=f"http://{n}:8080"), PLANS) for n in ("a", "b")]
    return Catalogue(products=products, applications=list(apps))


ME = "maas-0000aaaa"
DEV = {"id": 3, "org_name": "Developer", "monthly_billing_enabled": True}
SERVICES = {"a": {"id": 10, "system_name": "a"}, "b": {"id": 11, "system_name": "b"}}
APP_PLANS = {"a": {"standard": {"id": 20, "name": "Standard"}, "free": {"id": 21, "name": "Free"}}}


def test_a_missing_application_is_created_on_its_plan() -> None:
    catalogue = _catalogue(Application(product="a", name="A app", description="mine"))
    (action,), notes = plan_applications(catalogue, {"Developer": DEV}, SERVICES, APP_PLANS, {3: []}, LINKS, ME)
    assert (action.kind, action.name, action.change, action.detail) == (
        "application", "Developer: A app", Change.CREATED, "plan standard")
    # created with the kit's admin-only mark in the same request (maas_helpers/ownership.py)
    assert action.writes == (Write("POST", "/admin/api/accounts/{}/applications.json",
                                   {"plan_id": 20, "name": "A app", "description": "mine", "maas_owner": ME},
                                   args=(3,), provides="application:Developer:A app"),)
    assert notes == []


def test_an_application_on_another_plan_is_moved_and_one_in_sync_is_left() -> None:
    catalogue = _catalogue(Application(product="a", name="A app"), Application(product="a", name="B app",
                                                                               plan="free"))
    apps = {3: [{"id": 50, "name": "A app", "service_id": 10, "plan_id": 21, "plan_name": "Free", "maas_owner": ME},
                {"id": 51, "name": "B app", "service_id": 10, "plan_id": 21, "maas_owner": ME}]}
    moved, same = plan_applications(catalogue, {"Developer": DEV}, SERVICES, APP_PLANS, apps, LINKS, ME)[0]
    assert (moved.change, moved.detail, moved.link) == (
        Change.UPDATED, "plan: Free → Standard", "https://admin.example/p/admin/applications/50")
    assert moved.changes == (FieldChange("plan_id", 21, 20),)
    assert moved.writes == (Write("PUT", "/admin/api/accounts/{}/applications/{}/change_plan.json",
                                  {"plan_id": 20}, args=(3, 50)),)
    assert (same.change, same.writes) == (Change.UNCHANGED, ())


def test_an_application_of_that_name_without_the_mark_is_left_alone() -> None:
    catalogue = _catalogue(Application(product="a", name="A app"))
    apps = {3: [{"id": 50, "name": "A app", "service_id": 10, "plan_id": 21, "plan_name": "Free"}]}
    (action,), _ = plan_applications(catalogue, {"Developer": DEV}, SERVICES, APP_PLANS, apps, LINKS, ME)
    assert action.change is Change.SKIPPED and action.writes == () and "not the kit's" in action.detail


def test_a_missing_account_is_skipped_with_a_note_and_missing_product_or_plan_is_only_listed() -> None:
    catalogue = _catalogue(Application(account="Nobody", product="a", name="x"), Application(product="b", name="y"),
                           Application(product="a", name="z", plan="free"))
    only_standard = {"a": {"standard": APP_PLANS["a"]["standard"]}}
    actions, notes = plan_applications(catalogue, {"Developer": DEV}, {"a": SERVICES["a"]}, only_standard, {3: []},
                                       LINKS)
    assert [(a.change, a.detail) for a in actions] == [(Change.SKIPPED, "account missing"),
                                                      (Change.CREATED, "plan standard"),
                                                      (Change.CREATED, "plan free (plan not created yet)")]
    assert not any(a.writes for a in actions)
    assert notes == ["application 'x': account 'Nobody' does not exist; skipped"]


def test_every_account_is_subscribed_to_every_product_on_its_default_service_plan() -> None:
    other = {"id": 4, "org_name": "Other"}
    subs = {3: [{"service_id": 10}], 4: []}
    service_plans = {"a": [{"id": 60, "name": "Default", "default": True}],
                     "b": [{"id": 61, "name": "Basic"}, {"id": 62, "name": "Premium", "default": True}]}
    actions, notes = plan_subscriptions(_catalogue(), [DEV, other], SERVICES, subs, service_plans, LINKS)
    assert [(a.name, a.change, a.detail) for a in actions] == [
        ("Developer → a", Change.UNCHANGED, ""), ("Developer → b", Change.CREATED, "service plan Premium"),
        ("Other → a", Change.CREATED, "service plan Default"), ("Other → b", Change.CREATED, "service plan Premium")]
    assert actions[1].writes == (Write("POST", "/admin/api/accounts/{}/service_subscriptions.json",
                                       {"plan_id": 62}, args=(3,)),)
    assert actions[1].link == "https://admin.example/buyers/accounts/3/service_contracts"
    assert notes == []
    actions, notes = plan_subscriptions(_catalogue(), [other], {"a": SERVICES["a"]}, {4: []}, {"a": []}, LINKS)
    assert [(a.name, a.change, a.writes) for a in actions] == [("Other → b", Change.CREATED, ())]
    assert notes == ["a: no service plan to subscribe Other to"]


def test_monthly_billing_is_switched_on_only_for_accounts_on_priced_plans() -> None:
    priced = _catalogue(Application(product="a", name="A app"))
    off = DEV | {"monthly_billing_enabled": False}
    (action,), notes = plan_billing(priced, {"Developer": off})
    assert action.writes == (Write("PUT", "/admin/api/accounts/{}.json", {"monthly_billing_enabled": True},
                                   args=(3,)),)
    assert (action.change, action.detail) == (Change.UPDATED, "monthly_billing_enabled: false → true")
    assert notes == [BILLING_NOTE]
    (action,), _ = plan_billing(priced, {"Developer": DEV})
    assert (action.change, action.writes) == (Change.UNCHANGED, ())
    assert plan_billing(_catalogue(Application(product="a", name="free app", plan="free")),
                        {"Developer": off}) == ([], [])
