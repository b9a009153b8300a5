"""Accounts-side domain rules: plans, buyer accounts and users, subscriptions, applications, passwords.

Every writer (Admin API routes, developer portal, seed) goes through these functions so the side effects
3scale applies — default plans, subscriptions, generated keys, approval states — happen the same way.
Validation failures raise `Unprocessable` with porta's field messages.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from maas_sandbox.admin.conventions import NotFound, Refused, Unprocessable, as_bool, parse_number
from maas_sandbox.context import Sandbox

Obj = dict[str, Any]

PLAN_TYPES = ("application_plan", "service_plan", "account_plan")
HAS_CONTRACTS = {  # porta config/locales/en.yml, plan `has_contracts` per type
    "application_plan": "This application plan cannot be deleted! At least one application depends on it.",
    "service_plan": "This service plan cannot be deleted! At least one contract depends on it.",
    "account_plan": "This account plan cannot be deleted! At least one account depends on it.",
}
LIMIT_PERIODS = ("eternity", "year", "month", "week", "day", "hour", "minute")
# porta: user_key is `[\w\-.]+` or base64 without "/" (so "+" and "=" are allowed), at most 256 chars.
_USER_KEY = re.compile(r"^(?:[\w\-.]+|[A-Za-z0-9+=]+)$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
_hasher = PasswordHasher()

APP_EVENTS = {
    # event: (states it may start from, resulting state) — porta's cinstance state machine
    "accept": (("pending",), "live"),
    "suspend": (("pending", "live"), "suspended"),
    "resume": (("suspended",), "live"),
}
ACCOUNT_EVENTS = {  # porta app/models/account/states.rb (initial state `created`)
    "approve": (("created", "pending", "rejected"), "approved"),
    "reject": (("created", "pending", "approved"), "rejected"),
    "make_pending": (("created", "approved", "rejected"), "pending"),
}


# -- passwords ------------------------------------------------------------------------------------
def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    if not password_hash:
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


# -- helpers --------------------------------------------------------------------------------------
def system_name_from(name: str) -> str:
    """porta's parameterised system names: lowercase words joined by underscores."""
    slug = re.sub(r"[^a-z0-9]+", "_", name.strip().lower()).strip("_")
    return slug or "plan"


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def transition_error(event: str) -> Unprocessable:
    return Unprocessable({"state": [f'cannot transition via "{event}"']})


def new_user_key(sandbox: Sandbox) -> str:
    """32 lowercase hex characters, unique across the tenant's applications."""
    while True:
        key = secrets.token_hex(16)
        if sandbox.store.first("application", user_key=key) is None:
            return key


# -- plans ----------------------------------------------------------------------------------------
def create_plan(sandbox: Sandbox, plan_type: str, issuer_id: int | None, attrs: Obj) -> Obj:
    """Application/service/account plan. porta's plan.rb state machine: `initial: :hidden`; `publish` goes
    hidden → published, `hide` only published → hidden, so `state_event=hide` on create is a 422."""
    if plan_type not in PLAN_TYPES:
        raise ValueError(plan_type)
    name = attrs.get("name")
    if _blank(name):
        raise Unprocessable({"name": ["can't be blank"]})
    system_name = attrs.get("system_name") or system_name_from(str(name))
    siblings = sandbox.store.list("plan", type=plan_type, issuer_id=issuer_id)
    if any(p["system_name"] == system_name for p in siblings):
        raise Unprocessable({"system_name": ["has already been taken"]})
    state = plan_transition("hidden", attrs.get("state_event")) or "hidden"
    plan = {
        "type": plan_type,
        "issuer_id": issuer_id,
        "name": str(name),
        "system_name": str(system_name),
        "state": state,
        "default": False,
        "description": attrs.get("description"),
        "approval_required": as_bool(attrs.get("approval_required")),
        "trial_period_days": _number(attrs.get("trial_period_days"), "trial_period_days", int, 0),
        "cost_per_month": _number(attrs.get("cost_per_month"), "cost_per_month", float, 0.0),
        "setup_fee": _number(attrs.get("setup_fee"), "setup_fee", float, 0.0),
        "cancellation_period": _number(attrs.get("cancellation_period"), "cancellation_period", int, 0),
        "custom": False,
    }
    with sandbox.store.transaction():
        created = sandbox.store.insert("plan", plan)
        if as_bool(attrs.get("default")):
            created = set_default_plan(sandbox, created["id"])
    return created


def _number(value: Any, field: str, kind: type, default: Any) -> Any:
    if _blank(value):
        return default
    try:
        number = parse_number(value, kind)
    except (TypeError, ValueError) as exc:
        raise Unprocessable({field: ["is not a number"]}) from exc
    if number < 0:
        raise Unprocessable({field: ["must be greater than or equal to 0"]})
    return number


def update_plan(sandbox: Sandbox, plan_id: int, attrs: Obj) -> Obj:
    plan = sandbox.store.get("plan", plan_id)
    if plan is None:
        raise NotFound()
    changes: Obj = {}
    if "name" in attrs:
        if _blank(attrs["name"]):
            raise Unprocessable({"name": ["can't be blank"]})
        changes["name"] = str(attrs["name"])
    if "description" in attrs:
        changes["description"] = attrs["description"]
    if "approval_required" in attrs:
        changes["approval_required"] = as_bool(attrs["approval_required"])
    for field, kind in (
        ("trial_period_days", int),
        ("cost_per_month", float),
        ("setup_fee", float),
        ("cancellation_period", int),
    ):
        if field in attrs:
            changes[field] = _number(attrs[field], field, kind, 0 if kind is int else 0.0)
    target = plan_transition(plan["state"], attrs.get("state_event"))
    if target is not None:
        changes["state"] = target
    return sandbox.store.update("plan", plan_id, changes)


PLAN_EVENTS = {"publish": ("hidden", "published"), "hide": ("published", "hidden")}  # event: (from, to)


def plan_transition(state: str, event: Any) -> str | None:
    """The state `event` leads to from `state` (None without an event); 422 when it cannot fire (plan.rb)."""
    if event in (None, ""):
        return None
    # state_machines EventCollection#attribute_transition_for (the `state_event` attribute on save): an unknown
    # event is `is invalid`, one that cannot fire from this state `cannot transition when <state>`, both on
    # `state_event` (the `cannot transition via` message belongs to firing an event method directly)
    if str(event) not in PLAN_EVENTS:
        raise Unprocessable({"state_event": ["is invalid"]})
    source, target = PLAN_EVENTS[str(event)]
    if source != state or target is None:
        raise Unprocessable({"state_event": [f"cannot transition when {state}"]})
    return target


def set_default_plan(sandbox: Sandbox, plan_id: int) -> Obj:
    """Exactly one default per issuer and plan type."""
    plan = sandbox.store.get("plan", plan_id)
    if plan is None:
        raise NotFound()
    with sandbox.store.transaction():
        for other in sandbox.store.list("plan", type=plan["type"], issuer_id=plan["issuer_id"]):
            if other["id"] != plan_id and other.get("default"):
                sandbox.store.update("plan", other["id"], {"default": False})
        return sandbox.store.update("plan", plan_id, {"default": True})


def default_plan(sandbox: Sandbox, plan_type: str, issuer_id: int | None) -> Obj | None:
    # Filtered here, not in SQL: the store's where-clause compares booleans as JSON text.
    plans = sandbox.store.list("plan", type=plan_type, issuer_id=issuer_id)
    return next((p for p in plans if p.get("default")), None)


def delete_plan(sandbox: Sandbox, plan_id: int) -> None:
    """porta refuses (403) to delete a plan that still has contracts (plan.rb `can_be_destroyed?`, en.yml
    `has_contracts` per plan type)."""
    plan = sandbox.store.get("plan", plan_id)
    if plan is None:
        raise NotFound()
    kind = {"application_plan": "application", "service_plan": "service_subscription", "account_plan": "account"}
    if sandbox.store.first(kind[plan["type"]], plan_id=plan_id) is not None:
        raise Refused({"base": [HAS_CONTRACTS[plan["type"]]]})
    with sandbox.store.transaction():
        sandbox.store.delete_where("limit", plan_id=plan_id)
        sandbox.store.delete_where("pricing_rule", plan_id=plan_id)
        sandbox.store.delete("plan", plan_id)


# -- usage limits and pricing rules of an application plan (attributes parsed by the route) -----------------
def _check_period_free(sandbox: Sandbox, plan_id: int, metric_id: int, period: str, except_id: int | None) -> None:
    for other in sandbox.store.list("limit", plan_id=plan_id, metric_id=metric_id, period=period):
        if other["id"] != except_id:
            raise Unprocessable({"period": ["has already been taken"]})


def create_limit(sandbox: Sandbox, plan: Obj, metric: Obj, attrs: Obj) -> Obj:
    """One limit per plan, metric and period."""
    with sandbox.store.transaction():
        _check_period_free(sandbox, plan["id"], metric["id"], attrs["period"], None)
        return sandbox.store.insert("limit", {"plan_id": plan["id"], "metric_id": metric["id"], **attrs})


def update_limit(sandbox: Sandbox, limit: Obj, changes: Obj) -> Obj:
    with sandbox.store.transaction():
        if "period" in changes:
            _check_period_free(sandbox, limit["plan_id"], limit["metric_id"], changes["period"], limit["id"])
        return sandbox.store.update("limit", limit["id"], changes)


def delete_limit(sandbox: Sandbox, limit: Obj) -> None:
    sandbox.store.delete("limit", limit["id"])


def create_pricing_rule(sandbox: Sandbox, plan: Obj, metric: Obj, attrs: Obj) -> Obj:
    """pricing_rule.rb `range_overlap`: ranges of one plan and metric must not overlap (nil max = infinity)."""
    inf = float("inf")
    for rule in sandbox.store.list("pricing_rule", plan_id=plan["id"], metric_id=metric["id"]):
        if rule["min"] <= (attrs["max"] if attrs["max"] is not None else inf) and \
                attrs["min"] <= (rule["max"] if rule["max"] is not None else inf):
            message = "The 'From' value must be greater than the 'To' values of other existing rules"  # en.yml
            raise Unprocessable({"min": [message]})
    return sandbox.store.insert("pricing_rule", {"plan_id": plan["id"], "metric_id": metric["id"], **attrs})


def delete_pricing_rule(sandbox: Sandbox, rule: Obj) -> None:
    sandbox.store.delete("pricing_rule", rule["id"])


# -- accounts and users ---------------------------------------------------------------------------
def check_user_fields(
    sandbox: Sandbox, username: Any, email: Any, *, except_id: int | None = None, minimal: bool = False
) -> None:
    """porta user.rb: a minimal signup (Signup Express) skips the email format check, so no email is needed;
    a given email still has to be 6..255 characters and unique."""
    errors: dict[str, list[str]] = {}
    if _blank(username):
        errors.setdefault("username", []).append("can't be blank")
    elif len(str(username)) > 40:  # porta user.rb: username length within 3..40, email at most 255
        errors.setdefault("username", []).append("is too long (maximum is 40 characters)")
    elif any(u["id"] != except_id for u in sandbox.store.list("user", username=str(username))):
        errors.setdefault("username", []).append("has already been taken")
    if _blank(email):
        if not minimal:
            errors.setdefault("email", []).append("can't be blank")
    elif minimal and not 6 <= len(str(email)) <= 255:
        short = len(str(email)) < 6
        errors.setdefault("email", []).append(
            "is too short (minimum is 6 characters)" if short else "is too long (maximum is 255 characters)"
        )
    elif len(str(email)) > 255:
        errors.setdefault("email", []).append("is too long (maximum is 255 characters)")
    elif not minimal and not _EMAIL.match(str(email)):
        errors.setdefault("email", []).append("should look like an email address")
    elif any(u["id"] != except_id for u in sandbox.store.list("user", email=str(email))):
        errors.setdefault("email", []).append("has already been taken")
    if errors:
        raise Unprocessable(errors)


def create_user(
    sandbox: Sandbox,
    account_id: int,
    username: str,
    email: str,
    password: str | None,
    *,
    role: str = "member",
    state: str = "pending",
    sso: Obj | None = None,
    minimal: bool = False,
    password_hash: str | None = None,
) -> Obj:
    """`password_hash`: the password already hashed off the event loop (the portal's sign-up does that)."""
    check_user_fields(sandbox, username, email, minimal=minimal)
    if password is not None and password != "" and len(password) < 6:
        raise Unprocessable({"password": ["is too short (minimum is 6 characters)"]})
    user: Obj = {
        "account_id": account_id,
        "username": str(username),
        "email": str(email),
        "role": role,
        "state": state,
        "_password_hash": (password_hash or hash_password(password)) if password else None,
    }
    if sso:
        user["_sso"] = sso
    return sandbox.store.insert("user", user)


def subscribe(sandbox: Sandbox, account_id: int, plan_id: int) -> Obj:
    """Service subscription (service plan contract); one per account and product."""
    plan = sandbox.store.get("plan", plan_id)
    if plan is None or plan["type"] != "service_plan":
        raise NotFound()
    service_id = plan["issuer_id"]
    if sandbox.store.first("service_subscription", account_id=account_id, service_id=service_id):
        raise Unprocessable({"base": ["already subscribed to this service"]})
    state = "pending" if plan.get("approval_required") else "live"
    return sandbox.store.insert(
        "service_subscription",
        {"account_id": account_id, "service_id": service_id, "plan_id": plan_id, "state": state},
    )


def signup(
    sandbox: Sandbox,
    org_name: str,
    username: str,
    email: str,
    password: str | None,
    *,
    account_state: str | None = None,
    sso: Obj | None = None,
    account_plan_id: int | None = None,
    service_plan_ids: list[int] | None = None,
    application_plan_ids: list[int] | None = None,
    create_applications: bool = True,
    minimal: bool = False,
    password_hash: str | None = None,
    account_extra: Obj | None = None,
    user_extra: Obj | None = None,
) -> tuple[Obj, Obj]:
    """A buyer account with its admin user, subscribed as 3scale does.

    Account plan: the given one or the default (its `approval_required` makes the account pending).
    Each product: the given or default service plan (subscription) and, when the product has a default
    application plan (or one is given), an application "<product> signup" on it.
    """
    if _blank(org_name):
        raise Unprocessable({"org_name": ["can't be blank"]})
    if len(str(org_name)) > 255:  # porta account.rb: org_name length maximum 255
        raise Unprocessable({"org_name": ["is too long (maximum is 255 characters)"]})
    check_user_fields(sandbox, username, email, minimal=minimal)
    store = sandbox.store
    if account_plan_id is not None:
        account_plan = store.get("plan", account_plan_id)
        if account_plan is None or account_plan["type"] != "account_plan":
            raise Unprocessable({"plan": ["must be an account plan of this provider"]})
    else:
        account_plan = default_plan(sandbox, "account_plan", None)
    approval_required = bool(account_plan and account_plan.get("approval_required"))
    user_state = "active"
    if minimal and account_state is None:
        # porta user/states.rb activate_on_minimal_signup?: Signup Express activates the user only with a
        # password and an account plan without approval; activation upgrades the account from `created`
        # (account/states.rb upgrade_state!). Otherwise the account stays `created`, the user `pending`.
        activated = bool(password or password_hash) and not approval_required
        user_state = "active" if activated else "pending"
        account_state = "approved" if activated else "created"
    if account_state is None:
        account_state = "pending" if approval_required else "approved"
    chosen_service_plans = {p["issuer_id"]: p for p in _plans(sandbox, service_plan_ids, "service_plan")}
    chosen_app_plans = {p["issuer_id"]: p for p in _plans(sandbox, application_plan_ids, "application_plan")}
    with store.transaction():
        account = store.insert(
            "account",
            {
                "org_name": str(org_name),
                "state": account_state,
                "plan_id": account_plan["id"] if account_plan else None,
                "credit_card_stored": False,
                "monthly_billing_enabled": True,
                "monthly_charging_enabled": True,
                **({"_extra": account_extra} if account_extra else {}),  # Admin API only: domain_extra_fields.py
            },
        )
        user = create_user(
            sandbox, account["id"], username, email, password, role="admin", state=user_state, sso=sso, minimal=minimal,
            password_hash=password_hash,
        )
        if user_extra:
            user = store.update("user", user["id"], {"_extra": user_extra})
        for service in store.list("service"):
            service_plan = chosen_service_plans.get(service["id"]) or default_plan(
                sandbox, "service_plan", service["id"]
            )
            if service_plan is not None:
                subscribe(sandbox, account["id"], service_plan["id"])
            app_plan = chosen_app_plans.get(service["id"]) or default_plan(sandbox, "application_plan", service["id"])
            if create_applications and app_plan is not None:
                label = f"{service['name']} signup"
                create_application(sandbox, account["id"], app_plan["id"], label, label)
    return account, user


def _plans(sandbox: Sandbox, ids: list[int] | None, plan_type: str) -> list[Obj]:
    found = []
    for pid in ids or []:
        plan = sandbox.store.get("plan", pid)
        if plan is None or plan["type"] != plan_type:
            raise Unprocessable({"plans": [f"{plan_type} {pid} not found"]})
        found.append(plan)
    return found


def set_account_state(sandbox: Sandbox, account_id: int, event: str) -> Obj:
    account = sandbox.store.get("account", account_id)
    if account is None:
        raise NotFound()
    allowed, target = ACCOUNT_EVENTS[event]
    if account["state"] not in allowed:
        raise transition_error(event)
    return sandbox.store.update("account", account_id, {"state": target})


# porta app/models/invoice.rb `scope :unresolved`: the states an account's deletion waits on
UNRESOLVED_INVOICE_STATES = ("open", "finalized", "pending", "unpaid")


def delete_account(sandbox: Sandbox, account_id: int) -> None:
    """Deleting a buyer deletes its users, applications and subscriptions; its invoices stay (porta keeps them).

    porta account/billing.rb `check_unresolved_invoices` (before_destroy): with an unresolved invoice the
    deletion is refused, 403 with the account's errors (test/unit/account/buyer_test.rb)."""
    if sandbox.store.get("account", account_id) is None:
        raise NotFound()
    if any(i["state"] in UNRESOLVED_INVOICE_STATES for i in sandbox.store.list("invoice", buyer_account_id=account_id)):
        raise Refused({"invoices": ["need to be settled before the account deletion."]})
    with sandbox.store.transaction():
        for kind in ("application", "service_subscription", "user"):
            sandbox.store.delete_where(kind, account_id=account_id)
        sandbox.store.delete("account", account_id)


def update_account(sandbox: Sandbox, account: Obj, attrs: Obj) -> Obj:
    changes: Obj = {}
    if "org_name" in attrs:
        if not str(attrs["org_name"] or "").strip():
            raise Unprocessable({"org_name": ["can't be blank"]})
        if len(str(attrs["org_name"])) > 255:  # porta account.rb
            raise Unprocessable({"org_name": ["is too long (maximum is 255 characters)"]})
        changes["org_name"] = str(attrs["org_name"])
    for flag in ("monthly_billing_enabled", "monthly_charging_enabled"):
        if flag in attrs:
            changes[flag] = as_bool(attrs[flag])
    return sandbox.store.update("account", account["id"], changes)


def change_account_plan(sandbox: Sandbox, account: Obj, plan_id: Any) -> Obj:
    plan = sandbox.store.get("plan", plan_id)
    if plan is None or plan["type"] != "account_plan":
        raise NotFound()
    return sandbox.store.update("account", account["id"], {"plan_id": plan["id"]})


def update_user(sandbox: Sandbox, user: Obj, attrs: Obj) -> Obj:
    changes: Obj = {}
    username = attrs.get("username", user["username"])
    email = attrs.get("email", user["email"])
    check_user_fields(sandbox, username, email, except_id=user["id"])
    changes["username"], changes["email"] = str(username), str(email)
    if attrs.get("password"):
        changes["_password_hash"] = hash_password(str(attrs["password"]))
    return sandbox.store.update("user", user["id"], changes)


def delete_user(sandbox: Sandbox, user: Obj) -> None:
    admins = [u for u in sandbox.store.list("user", account_id=user["account_id"]) if u["role"] == "admin"]
    if user["role"] == "admin" and len(admins) == 1:
        raise Unprocessable({"base": ["last admin of an account cannot be deleted"]})
    sandbox.store.delete("user", user["id"])


USER_EVENTS = {
    "activate": ("state", "active"),
    "suspend": ("state", "suspended"),
    "unsuspend": ("state", "active"),
    "admin": ("role", "admin"),
    "member": ("role", "member"),
}
# porta app/models/user/states.rb: activate pending → active; suspend active|suspended → suspended
_USER_EVENT_FROM = {"activate": ("pending",), "suspend": ("active", "suspended"), "unsuspend": ("suspended",)}


def set_user_state(sandbox: Sandbox, user: Obj, event: str) -> Obj:
    """A buyer user's state or role event (`USER_EVENTS`); a state event from the wrong state is a 422.

    Activation upgrades a `created` account as porta's `make_active` does (account/states.rb upgrade_state!):
    to `pending` when its account plan requires approval, else to `approved`."""
    field, value = USER_EVENTS[event]
    if event in _USER_EVENT_FROM and user["state"] not in _USER_EVENT_FROM[event]:
        raise transition_error(event)
    with sandbox.store.transaction():
        updated = sandbox.store.update("user", user["id"], {field: value})
        account = sandbox.store.get("account", user["account_id"])
        if event == "activate" and account is not None and account["state"] == "created":
            plan = sandbox.store.get("plan", account["plan_id"]) if account.get("plan_id") else None
            target = "pending" if plan and plan.get("approval_required") else "approved"
            sandbox.store.update("account", account["id"], {"state": target})
    return updated


def unsubscribe(sandbox: Sandbox, sub: Obj) -> None:
    """porta refuses to unsubscribe while the account has applications on that product."""
    if sandbox.store.first("application", account_id=sub["account_id"], service_id=sub["service_id"]):
        raise Unprocessable({"base": ["Cannot unsubscribe while applications of this service exist"]})
    sandbox.store.delete("service_subscription", sub["id"])


def approve_subscription(sandbox: Sandbox, sub: Obj) -> Obj:
    """porta service_subscriptions_controller.rb#approve: accept! from pending, else 422."""
    if sub["state"] != "pending":
        raise transition_error("accept")
    return sandbox.store.update("service_subscription", sub["id"], {"state": "live"})


def change_subscription_plan(sandbox: Sandbox, sub: Obj, plan_id: Any) -> Obj:
    """A service plan of the same product, else 404."""
    plan = sandbox.store.get("plan", plan_id)
    if plan is None or plan["type"] != "service_plan" or plan["issuer_id"] != sub["service_id"]:
        raise NotFound()
    return sandbox.store.update("service_subscription", sub["id"], {"plan_id": plan["id"]})


# -- applications ---------------------------------------------------------------------------------
def validate_user_key(sandbox: Sandbox, user_key: Any, *, except_id: int | None = None) -> str:
    key = str(user_key)
    if not key or len(key) > 256 or not _USER_KEY.match(key):
        raise Unprocessable({"user_key": ["is invalid"]})
    if any(a["id"] != except_id for a in sandbox.store.list("application", user_key=key)):
        raise Unprocessable({"user_key": ["has already been taken"]})
    return key


def multiple_applications_allowed(sandbox: Sandbox) -> bool:
    """porta's provider switch `multiple_applications` (settings.multiple_applications.visible?). Set through the
    sandbox's Master API extension; unset = allowed (the sandbox's behaviour before the switch existed)."""
    provider = sandbox.store.first("provider") or {}
    return provider.get("_multiple_applications") is not False


def check_plan_is_unique(sandbox: Sandbox, account_id: int, plan_id: int) -> None:
    """porta cinstance.rb `plan_is_unique`, which only the developer portal's create validates: with the switch
    off an account holds at most one (non-deleted) application per plan."""
    if multiple_applications_allowed(sandbox):
        return
    if sandbox.store.first("application", account_id=account_id, plan_id=plan_id) is not None:
        raise Unprocessable({"plan": ["is already bought"]})


def create_application(
    sandbox: Sandbox,
    account_id: int,
    plan_id: int,
    name: str,
    description: str = "",
    user_key: str | None = None,
    extra: Obj | None = None,
) -> Obj:
    """An application on an application plan; subscribes the account to the plan's product when needed."""
    store = sandbox.store
    account = store.get("account", account_id)
    if account is None:
        raise NotFound()
    plan = store.get("plan", plan_id)
    if plan is None or plan["type"] != "application_plan":
        raise NotFound()
    if _blank(name):
        raise Unprocessable({"name": ["can't be blank"]})
    key = new_user_key(sandbox) if _blank(user_key) else validate_user_key(sandbox, user_key)
    service_id = plan["issuer_id"]
    state = "pending" if plan.get("approval_required") else "live"
    with store.transaction():
        if store.first("service_subscription", account_id=account_id, service_id=service_id) is None:
            service_plan = default_plan(sandbox, "service_plan", service_id) or store.first(
                "plan", type="service_plan", issuer_id=service_id
            )
            if service_plan is None:
                raise Unprocessable({"base": ["You cannot subscribe to that service."]})
            subscribe(sandbox, account_id, service_plan["id"])
        return store.insert(
            "application",
            {
                "account_id": account_id,
                "service_id": service_id,
                "plan_id": plan_id,
                "name": str(name),
                "description": description or "",
                "state": state,
                "enabled": state == "live",
                "user_key": key,
                "first_traffic_at": None,
                "first_daily_traffic_at": None,
                **({"_extra": extra} if extra else {}),  # Admin API only: domain_extra_fields.py
            },
        )


def regenerate_user_key(sandbox: Sandbox, app_id: int) -> Obj:
    if sandbox.store.get("application", app_id) is None:
        raise NotFound()
    return sandbox.store.update("application", app_id, {"user_key": new_user_key(sandbox)})


def set_application_state(sandbox: Sandbox, app_id: int, event: str) -> Obj:
    """`accept` (pending → live), `suspend` (pending|live → suspended), `resume` (suspended → live)."""
    app = sandbox.store.get("application", app_id)
    if app is None:
        raise NotFound()
    if event not in APP_EVENTS:
        raise transition_error(event)
    allowed, target = APP_EVENTS[event]
    if app["state"] not in allowed:
        raise transition_error(event)
    return sandbox.store.update("application", app_id, {"state": target, "enabled": target == "live"})


def change_application_plan(sandbox: Sandbox, app_id: int, plan_id: int) -> Obj:
    app = sandbox.store.get("application", app_id)
    plan = sandbox.store.get("plan", plan_id)
    if app is None or plan is None or plan["type"] != "application_plan":
        raise NotFound()
    if plan["issuer_id"] != app["service_id"]:
        raise Unprocessable({"plan": ["must belong to the application's product"]})
    return sandbox.store.update("application", app_id, {"plan_id": plan_id})


def link_sso_user(sandbox: Sandbox, user: Obj, link: Obj) -> Obj:
    """Record an SSO authorization (provider id, subject) on a developer found by verified email."""
    return sandbox.store.update("user", user["id"], {"_sso": link})


def update_application(sandbox: Sandbox, app: Obj, params: Obj) -> Obj:
    changes: Obj = {}
    if "name" in params:
        if not str(params["name"] or "").strip():
            raise Unprocessable({"name": ["can't be blank"]})
        changes["name"] = str(params["name"])
    if "description" in params:
        changes["description"] = params["description"] or ""
    if params.get("user_key") not in (None, "") and params["user_key"] != app["user_key"]:
        changes["user_key"] = validate_user_key(sandbox, params["user_key"], except_id=app["id"])
    return sandbox.store.update("application", app["id"], changes)


def delete_application(sandbox: Sandbox, app: Obj) -> None:
    sandbox.store.delete("application", app["id"])


def set_app_keys(sandbox: Sandbox, app: Obj, extra: list[Obj]) -> Obj:
    """The application's app keys besides its user key (the route checks blank, taken and the limit)."""
    return sandbox.store.update("application", app["id"], {"_app_keys": extra})
