"""Issue 28 item 4: anyone who registers must not get working keys to a priced plan at once. Before the fix, with
the kit's catalogue applied, a developer signing up got live applications on Free and Standard (priced per
token). Now the catalogue's one `approval` setting (default `priced_plans`) gives every plan that costs money
porta's `approval_required`: a developer's own application on it starts `pending` (porta contract.rb
`accept_on_create`), the gateway refuses its key until the admin accepts it; Free stays self-service. The kit's
own applications (catalogue, journey, workshop) are accepted by the admin who creates them
(maas_helpers/approval.py). Figure: a self-registered developer's Standard key answers 403 until accepted.
"""

from __future__ import annotations

import requests

from harness.admin import Admin
from harness.sandbox import applied_kit, running


def test_a_new_developer_gets_free_at_once_and_priced_plans_after_approval(tmp_path) -> None:
    with running(tmp_path / "state") as info:
        kit = applied_kit(info, "MaaS Approval Org")
        admin = Admin(info)
        # every model's product has its own Free/Standard/Premium: take all three from one product, so the
        # keys below are for the endpoint they call
        every = [p["application_plan"] for p in admin.call("GET", "/admin/api/application_plans.json")["plans"]]
        service_id = next(p["service_id"] for p in every if p["system_name"] == "standard")
        plans = {p["system_name"]: p for p in every
                 if p["service_id"] == service_id and p["system_name"] in ("free", "standard", "premium")}
        assert set(plans) == {"free", "standard", "premium"}
        assert plans["standard"]["approval_required"] and plans["premium"]["approval_required"]
        assert not plans["free"]["approval_required"]

        # the kit's own application (catalogue `applications`, on Standard) was accepted by the admin
        developer = next(a["account"] for a in admin.call("GET", "/admin/api/accounts.json")["accounts"]
                         if a["account"]["org_name"] == "Developer")
        own = admin.call("GET", f"/admin/api/accounts/{developer['id']}/applications.json")["applications"]
        assert own and all(a["application"]["state"] == "live" for a in own)

        stranger = admin.call("POST", "/admin/api/signup.json", data={
            "org_name": "x@nowhere.invalid", "username": "nowhere", "email": "x@nowhere.invalid",
            "password": "pw-Nowhere-1"})["account"]
        endpoint = admin.call("GET", f"/admin/api/services/{service_id}/proxy.json")["proxy"]["endpoint"]

        def developer_app(plan: str) -> dict:
            # as the developer portal creates it: porta's create_origin "web"; only the plan decides the state
            return admin.call("POST", f"/admin/api/accounts/{stranger['id']}/applications.json",
                              data={"plan_id": plans[plan]["id"], "name": f"mine-{plan}"})["application"]

        free, standard = developer_app("free"), developer_app("standard")
        assert free["state"] == "live" and standard["state"] == "pending"

        def call(key: str) -> int:
            return requests.get(endpoint + "/v1/models", headers={"Authorization": f"Bearer {key}"},
                                timeout=30).status_code

        assert call(free["user_key"]) == 200
        assert call(standard["user_key"]) == 403, "a pending application's key must not pass the gateway"
        admin.call("PUT", f"/admin/api/accounts/{stranger['id']}/applications/{standard['id']}/accept.json")
        assert call(standard["user_key"]) == 200
        del kit
