"""The rest of issue 24's audit, each rule read in porta 3scale-2.16-stable and its own tests.

- Application without a name: app/models/cinstance.rb (`validates :name, presence: { if: :name_required? }`,
  `name_required?` set only by `validate_human_edition!`), app/controllers/admin/api/buyers_applications_controller.rb
  (`create`, `update` never call it), app/representers/cinstance_representer.rb + fields_representer.rb (builtin
  fields rendered without `render_nil`), test/unit/cinstance_test.rb NameValidationTest ('not require name as
  default', 'require name if a human interaction is happening').
- Proxy configs of an unknown environment: app/models/proxy_config.rb (`InvalidEnvironmentError`, `staging` alias),
  app/controllers/admin/api/services/proxy/configs_controller.rb (`render_error 'invalid environment'`, 400),
  app/controllers/admin/api/account/proxy_configs_controller.rb (422), app/controllers/application_controller.rb
  `render_error` (JSON `{"error": ...}`), test/integration/admin/api/account/proxy_configs_controller_test.rb
  ('#index for an invalid environment').
- Access-token expiry: app/models/access_token.rb (`expires_at=` stores the epoch for what does not parse,
  `validate_expiration_date` on create and its message), app/controllers/admin/api/personal/access_tokens_controller.rb,
  config/initializers/time_with_zone.rb (no fraction), test/models/access_token_test.rb (blank/nil valid, 'invalid'
  and a past date invalid, a future ISO 8601 valid), test/integration/api/personal/access_tokens_test.rb ('POST
  accepts an expiration time': the same string back).
- Mapping-rule positions and metric: app/models/proxy_rule.rb (`acts_as_list add_new_at: :bottom`, integer
  `position` in db/schema.rb), app/controllers/admin/api/services/mapping_rules_controller.rb and
  backend_apis/mapping_rules_controller.rb (`metric_params`: a given metric is found in the owner's metrics, 404),
  test/integration/user-management-api/services/mapping_rules_test.rb (`test__with_position_and_last`: 4, then 9,
  kept as sent), test/integration/admin/api/backend_apis/mapping_rules_controller_test.rb ('create without
  metric_id gives an error'). The pattern/http_method/delta messages are in test_admin_products.py; a bad pattern
  says `invalid`, porta's config/locales/en.yml `activerecord.errors.messages.invalid`.
- SSO provider URL: app/models/authentication_provider.rb (`site` format, unanchored `make_regexp`, message
  `invalid_url`), authentication_provider/keycloak.rb (`contains_whitespace`), config/locales/en.yml.
- Member permissions: test/integration/admin/api/member_permissions_controller_test.rb ('PUT: setting an invalid
  allowed section': dropped, 200).
- CMS sections and files: app/controllers/admin/api/cms/sections_controller.rb (`find_section` by id or
  system_name; `create` falls back to the root for a missing/unknown `parent_id`), app/models/cms/section.rb
  (`parent_same_provider`, `not_own_child` messages on update), app/controllers/admin/api/cms/files_controller.rb
  (`create`: unknown/missing section → root), test/integration/cms/api/sections_test.rb ('find section by system
  name', 'invalid system name or id'), test/integration/cms/api/files_test.rb ('create without section will put
  the file in root section').
- Analytics errors: app/controllers/stats/data/base_controller.rb and services_controller.rb
  (`Stats::InvalidParameterError` → `render_error` → `{"error": ...}` 400 on .json; a missing parameter stays plain
  text from application_controller.rb), stats/data/{services,applications}_controller.rb ("Service not found",
  "Application not found", 404), app/lib/stats/base.rb (`to_time`, metric not found),
  test/integration/stats/data/requests_to_api_test.rb, test/integration/stats/data/base_controller_test.rb.
- Invoice state: app/controllers/finance/api/invoices_controller.rb `state` (`STATES[params[:state]]`, no
  `require`; no transition → errors[:base] "Cannot transition to <state>", 422 by the responder).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from harness.names import suffixed as unique


@pytest.fixture(scope="module")
def product(admin_http: Any) -> dict[str, Any]:
    name = unique("audit_")
    service = admin_http.post("/admin/api/services.json", json={"name": name, "system_name": name}).json()["service"]
    plan = admin_http.post(f"/admin/api/services/{service['id']}/application_plans.json",
                           json={"name": "Open", "state_event": "publish"}).json()["application_plan"]
    dev = unique("auditdev")
    account = admin_http.post("/admin/api/signup.json", json={
        "org_name": f"Org {dev}", "username": dev, "email": f"{dev}@example.com", "password": "S3cret-pass!"})
    assert account.status_code == 201, account.text
    return {"service": service, "plan": plan, "account": account.json()["account"]}


def test_application_without_a_name_is_created_and_the_nil_name_left_out(product: dict[str, Any],
                                                                          admin_http: Any) -> None:
    url = f"/admin/api/accounts/{product['account']['id']}/applications.json"
    created = admin_http.post(url, json={"plan_id": product["plan"]["id"]})
    assert created.status_code == 201, created.text
    app = created.json()["application"]
    assert "name" not in app and "description" not in app
    assert app["state"] == "live" and app["plan_id"] == product["plan"]["id"]
    listed = admin_http.get("/admin/api/applications.json", params={"service_id": product["service"]["id"]}).json()
    mine = next(a["application"] for a in listed["applications"] if a["application"]["id"] == app["id"])
    assert "name" not in mine

    # the Admin API update is no human edition either: blanking a name is stored, not refused
    named = admin_http.post(url, json={"plan_id": product["plan"]["id"], "name": "Named", "description": "d"})
    app_url = f"/admin/api/accounts/{product['account']['id']}/applications/{named.json()['application']['id']}.json"
    blanked = admin_http.put(app_url, json={"name": ""})
    assert (blanked.status_code, blanked.json()["application"]["name"]) == (200, "")
    assert admin_http.get(app_url).json()["application"]["description"] == "d"


def test_the_kit_labels_an_unnamed_application_as_porta_display_name(product: dict[str, Any],
                                                                     admin_http: Any) -> None:
    from maas_helpers.normalise import application_label

    url = f"/admin/api/accounts/{product['account']['id']}/applications.json"
    app = admin_http.post(url, json={"plan_id": product["plan"]["id"]}).json()["application"]
    assert application_label(app) == "Application on plan Open"
    assert application_label({**app, "name": "Mine"}) == "Mine"


@pytest.mark.parametrize("path", ["configs/nowhere.json", "configs/nowhere/latest.json", "configs/nowhere/1.json"])
def test_proxy_configs_of_an_unknown_environment_answer_json_400(product: dict[str, Any], admin_http: Any,
                                                                 path: str) -> None:
    resp = admin_http.get(f"/admin/api/services/{product['service']['id']}/proxy/{path}")
    assert (resp.status_code, resp.json()) == (400, {"error": "invalid environment"})


def test_promote_from_an_unknown_environment_answers_json_400(product: dict[str, Any], admin_http: Any) -> None:
    sid = product["service"]["id"]
    resp = admin_http.post(f"/admin/api/services/{sid}/proxy/configs/nowhere/1/promote.json",
                           json={"to": "production"})
    assert (resp.status_code, resp.json()) == (400, {"error": "invalid environment"})
    # `staging` is porta's alias for reading: a known environment, so the miss is the version (404)
    assert admin_http.post(f"/admin/api/services/{sid}/proxy/configs/staging/999/promote.json",
                           json={"to": "production"}).status_code == 404


def test_account_proxy_configs_of_an_unknown_environment_answer_json_422(admin_http: Any) -> None:
    resp = admin_http.get("/admin/api/account/proxy_configs/invalid.json")
    assert (resp.status_code, resp.json()) == (422, {"error": "invalid environment"})


TOKENS = "/admin/api/personal/access_tokens.json"
EXPIRY_MESSAGE = re.compile(r"^Date must follow ISO8601 format and be future\. Example: "
                            r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def _token(admin_http: Any, **extra: Any) -> Any:
    return admin_http.post(TOKENS, json={"token": {"name": unique("exp"), "permission": "ro", "scopes": ["stats"],
                                                   **extra}})


@pytest.mark.parametrize("expires_at", ["invalid", "2001-01-01T00:00:00Z", "31/12/2099"])
def test_access_token_with_a_bad_or_past_expiry_is_refused_with_porta_message(admin_http: Any,
                                                                                expires_at: str) -> None:
    resp = _token(admin_http, expires_at=expires_at)
    assert resp.status_code == 422, resp.text
    assert list(resp.json()["errors"]) == ["expires_at"]
    (message,) = resp.json()["errors"]["expires_at"]
    assert EXPIRY_MESSAGE.match(message), message


@pytest.mark.parametrize("expires_at", [None, ""])
def test_access_token_without_expiry_is_valid(admin_http: Any, expires_at: str | None) -> None:
    resp = _token(admin_http, expires_at=expires_at)
    assert resp.status_code == 201, resp.text
    assert resp.json()["access_token"]["expires_at"] is None


def test_access_token_future_expiry_comes_back_as_sent(admin_http: Any) -> None:
    # the sandbox clock may be moved by other tests: a year ahead of real time is in its future too
    expires_at = (datetime.now(UTC) + timedelta(days=400)).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")
    resp = _token(admin_http, expires_at=expires_at)
    assert (resp.status_code, resp.json()["access_token"]["expires_at"]) == (201, expires_at)
    offset = _token(admin_http, expires_at="2099-06-01T12:00:00+02:00")
    assert offset.json()["access_token"]["expires_at"] == "2099-06-01T10:00:00Z"


def test_access_token_blank_permission_has_both_porta_errors(admin_http: Any) -> None:
    resp = _token(admin_http, permission="")
    assert resp.json() == {"errors": {"permission": ["can't be blank", "is not included in the list"]}}


def _rules(admin_http: Any, sid: int) -> list[tuple[str, int]]:
    listed = admin_http.get(f"/admin/api/services/{sid}/proxy/mapping_rules.json").json()["mapping_rules"]
    return [(r["mapping_rule"]["pattern"], r["mapping_rule"]["position"]) for r in listed]


def test_mapping_rule_position_is_kept_as_sent_like_acts_as_list(admin_http: Any) -> None:
    name = unique("pos_")
    sid = admin_http.post("/admin/api/services.json", json={"name": name, "system_name": name}).json()["service"]["id"]
    hits = admin_http.get(f"/admin/api/services/{sid}/metrics.json").json()["metrics"][0]["metric"]["id"]
    url = f"/admin/api/services/{sid}/proxy/mapping_rules.json"
    rule = {"http_method": "GET", "delta": "1", "metric_id": hits}
    assert _rules(admin_http, sid) == [("/", 1)]
    far = admin_http.post(url, json={"mapping_rule": {**rule, "pattern": "/alaska", "position": 4, "last": True}})
    assert (far.status_code, far.json()["mapping_rule"]["position"], far.json()["mapping_rule"]["last"]) == (
        201, 4, True)
    moved = admin_http.put(f"/admin/api/services/{sid}/proxy/mapping_rules/{far.json()['mapping_rule']['id']}.json",
                           json={"mapping_rule": {"position": 9, "last": False}})
    assert (moved.json()["mapping_rule"]["position"], moved.json()["mapping_rule"]["last"]) == (9, False)
    # without a position: after the last one; position 1 pushes the others down one; under 1 is lifted to 1
    bottom = admin_http.post(url, json={"mapping_rule": {**rule, "pattern": "/b"}}).json()["mapping_rule"]
    assert bottom["position"] == 10
    top = admin_http.post(url, json={"mapping_rule": {**rule, "pattern": "/a", "position": 0}}).json()["mapping_rule"]
    assert _rules(admin_http, sid) == [("/a", 1), ("/", 2), ("/alaska", 10), ("/b", 11)]
    admin_http.delete(f"/admin/api/services/{sid}/proxy/mapping_rules/{top['id']}.json")
    assert _rules(admin_http, sid) == [("/", 1), ("/alaska", 9), ("/b", 10)]


def test_mapping_rule_metric_of_another_product_is_not_found(product: dict[str, Any], admin_http: Any) -> None:
    name = unique("other_")
    other = admin_http.post("/admin/api/services.json", json={"name": name, "system_name": name}).json()["service"]
    foreign = admin_http.get(f"/admin/api/services/{other['id']}/metrics.json").json()["metrics"][0]["metric"]["id"]
    url = f"/admin/api/services/{product['service']['id']}/proxy/mapping_rules.json"
    resp = admin_http.post(url, json={"http_method": "GET", "pattern": "/x", "delta": 1, "metric_id": foreign})
    assert (resp.status_code, resp.json()) == (404, {"status": "Not found"})
    missing = admin_http.post(url, json={"http_method": "GET", "pattern": "/x", "delta": 1})
    assert (missing.status_code, missing.json()) == (422, {"errors": {"metric_id": ["can't be blank"]}})


@pytest.mark.parametrize(("site", "errors"), [
    ("not-a-url", ["Invalid URL format"]),
    ("http://sso.example.com/auth/realms/my realm", ["can't contain whitespaces"]),
    ("ftp://sso.example.com", ["Invalid URL format"]),
])
def test_sso_provider_site_messages_are_porta_own(admin_http: Any, site: str, errors: list[str]) -> None:
    resp = admin_http.post("/admin/api/authentication_providers.json",
                           json={"kind": "keycloak", "site": site, "client_id": "c", "client_secret": "s"})
    assert (resp.status_code, resp.json()) == (422, {"errors": {"site": errors}})


def test_mapping_rule_bad_pattern_says_invalid(product: dict[str, Any], admin_http: Any) -> None:
    sid = product["service"]["id"]
    hits = admin_http.get(f"/admin/api/services/{sid}/metrics.json").json()["metrics"][0]["metric"]["id"]
    resp = admin_http.post(f"/admin/api/services/{sid}/proxy/mapping_rules.json",
                           json={"http_method": "GET", "pattern": "no-slash", "delta": 1, "metric_id": hits})
    assert (resp.status_code, resp.json()) == (422, {"errors": {"pattern": ["invalid"]}})


def test_unknown_allowed_section_is_dropped_not_refused(admin_http: Any) -> None:
    name = unique("mem")
    user = admin_http.post("/admin/api/users.json",
                           json={"username": name, "email": f"{name}@example.com", "password": "S3cret-pass!"})
    assert user.status_code == 201, user.text
    url = f"/admin/api/users/{user.json()['user']['id']}/permissions.json"
    resp = admin_http.put(url, json={"allowed_sections": ["plans", "invalid"]})
    assert (resp.status_code, resp.json()["permissions"]["allowed_sections"]) == (200, ["plans"])


CMS = "/admin/api/cms"


def test_cms_section_found_by_id_or_system_name(admin_http: Any) -> None:
    root = admin_http.get(f"{CMS}/sections/root.json")
    assert (root.status_code, root.json()["system_name"]) == (200, "root")
    assert admin_http.get(f"{CMS}/sections/{root.json()['id']}.json").json()["system_name"] == "root"
    assert admin_http.get(f"{CMS}/sections/lamb.json").status_code == 404
    made = admin_http.post(f"{CMS}/sections.json", json={"title": unique("Sec ")}).json()
    renamed = admin_http.put(f"{CMS}/sections/{made['system_name']}.json", json={"title": unique("Renamed ")})
    assert (renamed.status_code, renamed.json()["id"]) == (200, made["id"])


def test_cms_section_parent_falls_back_to_root_on_create_and_is_checked_on_update(admin_http: Any) -> None:
    root_id = admin_http.get(f"{CMS}/sections/root.json").json()["id"]
    unknown = admin_http.post(f"{CMS}/sections.json", json={"title": unique("Orphan "), "parent_id": 99999999})
    assert (unknown.status_code, unknown.json()["parent_id"]) == (201, root_id)
    child = admin_http.post(f"{CMS}/sections.json", json={"title": unique("Child "), "parent_id": unknown.json()["id"]})
    assert child.json()["parent_id"] == unknown.json()["id"]
    url = f"{CMS}/sections/{unknown.json()['id']}.json"
    bad = admin_http.put(url, json={"parent_id": 99999999})
    assert (bad.status_code, bad.json()) == (422, {"errors": {"parent_id": ["must belong to the same provider"]}})
    loop = admin_http.put(url, json={"parent_id": child.json()["id"]})
    assert (loop.status_code, loop.json()) == (422, {"errors": {"base": ["cannot be it's own ancestor"]}})


def test_cms_file_with_an_unknown_section_goes_to_root(admin_http: Any) -> None:
    root_id = admin_http.get(f"{CMS}/sections/root.json").json()["id"]
    path = f"/{unique('f')}.css"
    resp = admin_http.post(f"{CMS}/files.json", data={"path": path, "section_id": 99999999},
                           files={"attachment": ("a.css", b"body{}", "text/css")})
    assert (resp.status_code, resp.json()["section_id"]) == (201, root_id)


def test_analytics_errors_are_porta_json_and_missing_parameters_plain(product: dict[str, Any],
                                                                      admin_http: Any) -> None:
    sid = product["service"]["id"]
    metric = admin_http.get(f"/stats/services/{sid}/usage.json", params={"metric_name": "xxxx", "period": "day"})
    assert (metric.status_code, metric.json()) == (400, {"error": "metric xxxx not found"})
    missing = admin_http.get(f"/stats/services/{sid}/usage.json", params={"period": "day"})
    assert (missing.status_code, missing.text) == (400, "Required parameter missing: metric_name")
    assert missing.headers["content-type"].startswith("text/plain")
    date = admin_http.get(f"/stats/services/{sid}/usage.json",
                          params={"metric_name": "hits", "granularity": "day", "since": "not-a-date"})
    assert (date.status_code, date.json()) == (400, {"error": "Date parameters should have valid date/time format."})
    app = admin_http.get("/stats/applications/XXX/usage.json", params={"metric_name": "hits", "period": "day"})
    assert (app.status_code, app.json()) == (404, {"error": "Application not found"})
    service = admin_http.get("/stats/services/999999999/usage.json", params={"metric_name": "hits", "period": "day"})
    assert (service.status_code, service.json()) == (404, {"error": "Service not found"})


def test_invoice_state_without_a_state_or_to_an_unreachable_one_is_porta_422(product: dict[str, Any],
                                                                           admin_http: Any) -> None:
    invoice = admin_http.post("/api/invoices.json", json={"account_id": product["account"]["id"]}).json()["invoice"]
    url = f"/api/invoices/{invoice['id']}/state.json"
    missing = admin_http.put(url, json={})
    assert (missing.status_code, missing.json()) == (422, {"errors": {"base": ["Cannot transition to "]}})
    paid = admin_http.put(url, json={"state": "paid"})
    assert (paid.status_code, paid.json()) == (422, {"errors": {"base": ["Cannot transition to paid"]}})
    assert admin_http.put(url, json={"state": "cancel"}).json()["invoice"]["state"] == "cancelled"
