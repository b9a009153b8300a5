"""A workshop room: observe what exists, plan the actions, execute them, count writes like `maas apply`.

3scale side (porta 3scale-2.16-stable, config/routes.rb and app/controllers/admin/api/): Signup Express
`POST /admin/api/signup.json` (account + admin user), `POST /admin/api/accounts/{id}/applications.json`
(plan_id, name, description), the provider-wide `GET /admin/api/applications.json` and `accounts.json`
(paginated, 500 a page), `PUT …/applications/{id}.json` with `user_key` (buyers_applications#update sets it:
porta has no Admin API call that regenerates a user_key, so the kit generates the new one),
`DELETE …/applications/{id}.json` and `DELETE /admin/api/accounts/{id}.json`.
SSO side: `sso_users.SsoUsers` (Keycloak admin REST).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from maas_helpers import ownership
from maas_helpers.admin_client import AdminClient
from maas_helpers.approval import accept_if_pending
from maas_helpers.billing import delete_buyer_account
from maas_helpers.buyer_state import make_sign_in_ready
from maas_helpers.errors import ConfigError, MaasError
from maas_helpers.normalise import application_label
from maas_helpers.results import Change, StepResult
from maas_helpers.workshop.spec import SSO_ATTRIBUTE, Attendee, WorkshopSpec, is_workshop_org, number_of
from maas_helpers.workshop.sso_users import SsoUsers

Obj = dict[str, Any]
PAGE = 500


def _items(body: Obj, plural: str, singular: str) -> list[Obj]:
    return [row.get(singular, row) for row in body.get(plural, [])]


def paged(client: AdminClient, path: str, plural: str, singular: str) -> list[Obj]:
    rows: list[Obj] = []
    page = 1
    while True:
        batch = _items(client.get_json(path, params={"page": page, "per_page": PAGE}), plural, singular)
        rows.extend(batch)
        if len(batch) < PAGE:
            return rows
        page += 1


@dataclass
class Model:
    name: str
    service_id: int
    plan_id: int
    endpoint: str
    kind: str = "chat"  # chat | completion | embedding (the catalogue's)
    approval_required: bool = False  # the plan's: a new application starts pending and is accepted by the room


@dataclass
class Observed:
    """What exists for one workshop prefix."""

    prefix: str
    instance: str = ""  # the kit's owner mark (maas_helpers/ownership.py): only accounts carrying it are the room's
    accounts: dict[str, Obj] = field(default_factory=dict)  # username → account
    apps: dict[str, dict[int, Obj]] = field(default_factory=dict)  # username → service_id → application
    sso: dict[str, Obj] = field(default_factory=dict)  # username → SSO user representation
    foreign: dict[str, Obj] = field(default_factory=dict)  # username → an unmarked account with a workshop org name


@dataclass
class Step:
    kind: str
    name: str
    change: Change
    run: Callable[[], Any]
    detail: str = ""
    group: str = ""  # steps of one group (an attendee) run in order; groups are independent of each other


def observe(client: AdminClient, sso: SsoUsers, prefix: str, instance: str = "") -> Observed:
    """The room's objects. An account belongs to the room only when it carries the kit's admin-only mark: an org
    name anyone can type at signup (`wsa-001 [maas-workshop]`) is never enough (issue 28 item 2)."""
    seen = Observed(prefix, instance)
    with client.about(f"workshop {prefix}: accounts"):
        for account in paged(client, "/admin/api/accounts.json", "accounts", "account"):
            username = is_workshop_org(prefix, str(account.get("org_name", "")))
            if username and ownership.marked(account, instance):
                seen.accounts[username] = account
            elif username:
                seen.foreign[username] = account
    by_account = {a["id"]: u for u, a in seen.accounts.items()}
    with client.about(f"workshop {prefix}: applications"):
        for app in paged(client, "/admin/api/applications.json", "applications", "application"):
            username = by_account.get(app.get("account_id"))
            if username and ownership.marked(app, instance) \
                    and str(app.get("description", "")).startswith(f"maas-workshop:{prefix}:"):
                seen.apps.setdefault(username, {})[int(app["service_id"])] = app
    for user in sso.with_attribute(SSO_ATTRIBUTE, prefix):
        if number_of(prefix, user.get("username", "")) is not None:
            seen.sso[user["username"]] = user
    return seen


def resolve_models(client: AdminClient, catalogue_models: dict[str, str], spec: WorkshopSpec) -> list[Model]:
    """The chosen models as 3scale products with the chosen plan; one clear line when one is missing."""
    wanted = list(spec.models) or catalogue_models
    unknown = [m for m in wanted if m not in catalogue_models]
    if unknown:
        raise ConfigError(f"workshop: unknown model {unknown[0]!r}; choose from {', '.join(catalogue_models)}")
    with client.about("workshop: products"):
        services = {s["system_name"]: s for s in _items(client.get_json("/admin/api/services.json"),
                                                          "services", "service")}
    models = []
    for name in wanted:
        service = services.get(name)
        if service is None:
            raise ConfigError(f"workshop: model {name!r} has no 3scale product yet; run `maas apply` first")
        with client.about(f"workshop: plans of {name}"):
            plans = _items(client.get_json(f"/admin/api/services/{service['id']}/application_plans.json"),
                           "plans", "application_plan")
            proxy = client.get_json(f"/admin/api/services/{service['id']}/proxy.json").get("proxy", {})
        plan = next((p for p in plans if p.get("system_name") == spec.plan), None)
        if plan is None:
            names = ", ".join(sorted(str(p.get("system_name")) for p in plans)) or "none"
            raise ConfigError(f"workshop: product {name} has no plan {spec.plan!r} (plans: {names})")
        models.append(Model(name, int(service["id"]), int(plan["id"]), str(proxy.get("endpoint") or ""),
                            catalogue_models[name], bool(plan.get("approval_required"))))
    return models


def sso_user_rep(person: Attendee, password: str) -> Obj:
    """Keycloak UserRepresentation: temporary password, so the first login asks for a new one."""
    return {
        "username": person.username,
        "email": person.email,
        "emailVerified": True,  # porta links an SSO login to the existing user by a verified email
        "firstName": person.username,
        "lastName": "(workshop)",
        "enabled": True,
        "attributes": {SSO_ATTRIBUTE: [person.prefix]},
        "requiredActions": ["UPDATE_PASSWORD"],
        "credentials": [{"type": "password", "value": password, "temporary": True}],
    }


def plan_up(client: AdminClient, sso: SsoUsers, spec: WorkshopSpec, models: list[Model], seen: Observed,
            passwords: dict[str, str]) -> list[Step]:
    """Actions that bring the room to `spec`; `passwords` gains a temporary password for each new SSO user."""
    steps: list[Step] = []
    for person in spec.people():
        before = len(steps)
        account = seen.accounts.get(person.username)
        if account is None:
            steps.append(Step("account", person.username, Change.CREATED, _signup(client, seen, person)))
        apps = seen.apps.get(person.username, {})
        for model in models:
            if model.service_id in apps:
                if model.approval_required and apps[model.service_id].get("state") == "pending":
                    steps.append(Step("application approval", person.app_name(model.name), Change.UPDATED,
                                      _accept_app(client, seen, person, model), "accepted"))
                continue
            steps.append(Step("application", person.app_name(model.name), Change.CREATED,
                              _create_app(client, seen, person, model), f"plan {spec.plan}"))
            if model.approval_required:  # the operator hands the key out: approved by that act
                steps.append(Step("application approval", person.app_name(model.name), Change.UPDATED,
                                  _accept_app(client, seen, person, model), "accepted"))
        user = seen.sso.get(person.username)
        if user is None:
            passwords[person.username] = passwords.get(person.username) or new_password()
            rep = sso_user_rep(person, passwords[person.username])
            steps.append(Step("SSO user", person.username, Change.CREATED, partial(sso.create, rep),
                              "temporary password"))
        elif person.username not in passwords:  # the handout was lost: the only way back is a new one
            passwords[person.username] = new_password()
            steps.append(Step("SSO user", person.username, Change.UPDATED,
                              partial(sso.reset_password, user["id"], passwords[person.username]),
                              "new temporary password (handout had none)"))
        if len(steps) == before:
            steps.append(Step("attendee", person.username, Change.UNCHANGED, lambda: None))
        for step in steps[before:]:
            step.group = person.username
    return steps


def _signup(client: AdminClient, seen: Observed, person: Attendee) -> Callable[[], Any]:
    def run() -> None:
        with client.about(f"workshop: signup {person.username}"):
            body = client.send_json("POST", "/admin/api/signup.json", {
                "org_name": person.org_name, "username": person.username, "email": person.email,
                **ownership.owner_mark(seen.instance)})  # admin-only, in the create itself
            # no password: the attendee signs in through SSO only, so the account is `created` and the user
            # `pending` until activated and approved (buyer_state says why)
            account = make_sign_in_ready(client, body.get("account", body))
        seen.accounts[person.username] = account
    return run


def _create_app(client: AdminClient, seen: Observed, person: Attendee, model: Model) -> Callable[[], Any]:
    def run() -> None:
        account = seen.accounts[person.username]
        with client.about(f"workshop: application {person.app_name(model.name)}"):
            body = client.send_json("POST", f"/admin/api/accounts/{account['id']}/applications.json", {
                "plan_id": model.plan_id, "name": person.app_name(model.name), "description": person.marker,
                **ownership.owner_mark(seen.instance)})
        seen.apps.setdefault(person.username, {})[model.service_id] = body.get("application", body)
    return run


def _accept_app(client: AdminClient, seen: Observed, person: Attendee, model: Model) -> Callable[[], Any]:
    def run() -> None:
        account, app = seen.accounts[person.username], seen.apps[person.username][model.service_id]
        with client.about(f"workshop: accept {person.app_name(model.name)}"):
            seen.apps[person.username][model.service_id] = accept_if_pending(client, account["id"], app)
    return run


def plan_reset_keys(client: AdminClient, seen: Observed) -> list[Step]:
    steps = []
    for username in sorted(seen.apps):
        account_id = seen.accounts[username]["id"]
        for service_id, app in sorted(seen.apps[username].items()):
            def run(app: Obj = app, account_id: Any = account_id, username: str = username,
                    service_id: int = service_id) -> None:
                with client.about(f"workshop: new key for {application_label(app)}"):
                    body = client.send_json("PUT", f"/admin/api/accounts/{account_id}/applications/{app['id']}.json",
                                            {"user_key": secrets.token_hex(16)})
                seen.apps[username][service_id] = body.get("application", body)
            steps.append(Step("application key", application_label(app), Change.UPDATED, run, "new user_key",
                              group=application_label(app)))
    return steps


def plan_reset_passwords(sso: SsoUsers, seen: Observed, passwords: dict[str, str]) -> list[Step]:
    """Between sessions: every attendee's SSO user gets a new temporary password (the next sign-in must set a
    new one) and its SSO sessions are ended, so a password set in the last session stops working; `passwords`
    gains the new ones for the handout."""
    steps = []
    for username, user in sorted(seen.sso.items()):
        passwords[username] = new_password()

        def run(user_id: str = str(user["id"]), password: str = passwords[username]) -> None:
            sso.reset_password(user_id, password, temporary=True)
            sso.logout(user_id)
        steps.append(Step("SSO user", username, Change.UPDATED, run, "new temporary password, sessions ended",
                          group=username))
    return steps


def plan_down(client: AdminClient, sso: SsoUsers, seen: Observed) -> list[Step]:
    steps: list[Step] = []
    for username in sorted(set(seen.accounts) | set(seen.sso)):
        before = len(steps)
        account = seen.accounts.get(username)
        for app in (seen.apps.get(username) or {}).values():
            path = f"/admin/api/accounts/{app['account_id']}/applications/{app['id']}.json"
            steps.append(Step("application", application_label(app), Change.DELETED,
                              partial(client.request, "DELETE", path, allow=(404,))))
        if account is not None:
            steps.append(Step("account", username, Change.DELETED,  # porta refuses while invoices are unresolved
                              partial(delete_buyer_account, client, account["id"], f"account {username}")))
        if username in seen.sso:
            steps.append(Step("SSO user", username, Change.DELETED,
                              partial(sso.delete, seen.sso[username]["id"])))
        for step in steps[before:]:  # an attendee's applications go before its account
            step.group = username
    return steps


def execute(title: str, steps: list[Step], concurrency: int = 1) -> StepResult:
    """Run the steps in order. A failure stops the run, keeps what was done listed, and says how to finish.

    With `concurrency` > 1 the groups (attendees) run side by side, each in its own order; a failed group stops
    alone, the others finish; rows are listed in the same order as a run one step at a time."""
    if len({s.group for s in steps}) > 1:  # one attendee's failure (a username taken) never stops the others
        return _execute_groups(title, steps, max(concurrency, 1))
    result = StepResult(title)
    for step in steps:
        try:
            step.run()
        except MaasError as exc:
            result.add(step.kind, step.name, Change.FAILED, str(exc))
            done = sum(1 for a in result.actions if a.change is not Change.FAILED)
            result.notes.append(f"stopped after {done} of {len(steps)} changes; run the same command again to finish")
            return result
        result.add(step.kind, step.name, step.change, step.detail)
    return result


def _execute_groups(title: str, steps: list[Step], concurrency: int) -> StepResult:
    groups: dict[str, list[Step]] = {}
    for step in steps:
        groups.setdefault(step.group, []).append(step)

    def run(group: list[Step]) -> StepResult:
        return execute(title, group)

    with ThreadPoolExecutor(max_workers=min(concurrency, len(groups))) as pool:
        parts = list(pool.map(run, groups.values()))
    result = StepResult(title)
    failed = []
    for name, part in zip(groups, parts, strict=True):
        result.actions.extend(part.actions)
        if any(a.change is Change.FAILED for a in part.actions):
            failed.append(name)
    if failed:
        done = sum(1 for a in result.actions if a.change is not Change.FAILED)
        result.notes.append(f"{len(failed)} of {len(groups)} failed ({', '.join(failed)}); the others are complete "
                            f"({done} of {len(steps)} changes made); run the same command again to finish")
    return result


def new_password() -> str:
    return secrets.token_urlsafe(9)
