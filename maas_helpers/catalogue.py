"""What: the desired MaaS as data — per model a backend and a product with its methods, mapping rules, token
metrics, authentication, policy chain, plans and ActiveDoc; plus the organisation, the applications, the
developer portal content and SSO. `reconcile` converges 3scale to this.

`maas.yaml` may list `models:` (expanded here with the defaults below) and/or fully spelled-out `products:`.
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from maas_helpers.config import ModelEndpoint, Settings
from maas_helpers.errors import ConfigError
from maas_helpers.resources import resolve_path

Period = Literal["eternity", "year", "month", "week", "day", "hour", "minute"]
HttpMethod = Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
TOKEN_METRICS = ("prompt_tokens", "completion_tokens", "total_tokens")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Organisation(_Model):
    org_name: str = "MaaS on RHOAI"
    timezone: str = "UTC"
    # porta's "multiple applications" switch: off, a developer account holds one application per plan (so the
    # per-application token quota cannot be multiplied by signing up more applications on the same plan)
    multiple_applications: bool = False


class CustomPolicy(_Model):
    """The llm-metrics APIcast policy, registered in the tenant's policy registry from its manifest."""

    name: str = "llm-metrics"
    version: str = "1.0.0"
    path: str = "policies/llm-metrics/1.0.0"

    @property
    def manifest_file(self) -> Path:
        return resolve_path(self.path) / "apicast-policy.json"


class Backend(_Model):
    system_name: str
    name: str
    private_endpoint: str
    description: str = ""


class Method(_Model):
    """A method under `hits` and the one mapping rule that counts it."""

    system_name: str
    friendly_name: str
    http_method: HttpMethod
    pattern: str
    delta: int = Field(default=1, gt=0)
    description: str = ""

    @field_validator("pattern")
    @classmethod
    def _pattern(cls, value: str) -> str:
        if not value.startswith("/") or len(value) > 255:
            raise ValueError("a mapping rule pattern is an absolute path of at most 255 characters")
        return value


class Metric(_Model):
    system_name: str
    friendly_name: str
    unit: str = "token"
    description: str = ""


class Limit(_Model):
    metric: str  # system name of a product metric or method ("hits", "total_tokens", "v1-chat-completions")
    period: Period
    value: int = Field(ge=0)


# Token metrics are billed in thousands (`<metric>_k`): porta stores cost_per_unit with 4 decimals
# (pricing_rule.rb, decimal(20,4)), too coarse for a per-token price; llm-metrics reports the `_k` metrics
# alongside the token metrics and carries the remainder per application, so no token goes unbilled.
BILLING_UNIT = 1000
BILLED_METRICS = {m: f"{m}_k" for m in TOKEN_METRICS}
PRICE_DECIMALS = 4


class Price(_Model):
    """A price on one metric for usage between `min` and `max` (a tier; porta's pricing rule range).

    Token metrics take `per_million` (tokens) and ranges in tokens on thousand-token boundaries; other
    metrics (`hits`, methods) take `per_unit` and ranges in units."""

    metric: str
    per_million: Decimal | None = Field(default=None, ge=0)
    per_unit: Decimal | None = Field(default=None, ge=0)
    min: int = Field(default=1, ge=1)
    max: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _valid(self) -> Price:
        token = self.metric in TOKEN_METRICS
        if token and (self.per_million is None or self.per_unit is not None):
            raise ValueError(f"{self.metric}: give per_million (price per 1M tokens), not per_unit")
        if not token and (self.per_unit is None or self.per_million is not None):
            raise ValueError(f"{self.metric}: give per_unit (price per unit), not per_million")
        if self.max is not None and self.max < self.min:
            raise ValueError(f"{self.metric}: max {self.max} is below min {self.min}")
        if token and ((self.min - 1) % BILLING_UNIT or (self.max is not None and self.max % BILLING_UNIT)):
            raise ValueError(f"{self.metric}: token ranges are billed per {BILLING_UNIT} tokens; use min 1, "
                             f"1001, 2001, … and max 1000, 2000, …")
        if -self.cost_per_unit.as_tuple().exponent > PRICE_DECIMALS:  # type: ignore[operator]
            per = "per_million must be a multiple of 0.1" if token else "per_unit has at most 4 decimals"
            raise ValueError(f"{self.metric}: 3scale stores prices with {PRICE_DECIMALS} decimals; {per}")
        return self

    @property
    def billed_metric(self) -> str:
        return BILLED_METRICS.get(self.metric, self.metric)

    @property
    def cost_per_unit(self) -> Decimal:
        if self.per_million is not None:
            return (self.per_million * BILLING_UNIT / 1_000_000).normalize()
        return (self.per_unit or Decimal(0)).normalize()

    @property
    def billed_range(self) -> tuple[int, int | None]:
        if self.metric not in TOKEN_METRICS:
            return self.min, self.max
        return (self.min - 1) // BILLING_UNIT + 1, None if self.max is None else self.max // BILLING_UNIT


class Pricing(_Model):
    cost_per_month: Decimal = Field(default=Decimal(0), ge=0, decimal_places=2)
    setup_fee: Decimal = Field(default=Decimal(0), ge=0, decimal_places=2)
    prices: list[Price] = Field(default_factory=list)

    @property
    def charged(self) -> bool:
        """Anything on this plan costs money (a fee, or a price above zero)."""
        return self.cost_per_month > 0 or self.setup_fee > 0 or any(p.cost_per_unit > 0 for p in self.prices)

    @model_validator(mode="after")
    def _no_overlap(self) -> Pricing:
        by_metric: dict[str, list[Price]] = {}
        for price in self.prices:
            by_metric.setdefault(price.metric, []).append(price)
        for metric, prices in by_metric.items():
            ordered = sorted(prices, key=lambda p: p.min)
            for low, high in zip(ordered, ordered[1:], strict=False):
                if low.max is None or low.max >= high.min:
                    raise ValueError(f"{metric}: tier {low.min}-{low.max or '∞'} overlaps tier "
                                     f"{high.min}-{high.max or '∞'}")
        return self


class Plan(_Model):
    system_name: str
    name: str
    published: bool = True
    approval_required: bool = False
    description: str = ""
    limits: list[Limit] = Field(default_factory=list)
    pricing: Pricing = Field(default_factory=Pricing)

    @property
    def has_token_limits(self) -> bool:
        return any(limit.metric in TOKEN_METRICS for limit in self.limits)


class Policy(_Model):
    name: str
    version: str = "builtin"
    configuration: dict[str, Any] = Field(default_factory=dict)
    enabled: bool = True


# Where a developer sees keys, plans and limits on the developer portal (porta's buyer routes).
APPLICATIONS_PAGE = "/admin/applications"
DOCS_PAGE = "/docs"


def openai_error(message: str, kind: str, code: str) -> str:
    """An error body in OpenAI's shape, so the OpenAI SDK's exception text carries `message`."""
    return ('{"error":{"message":"' + message + '","type":"' + kind + '","param":null,"code":"' + code + '"}}')


JSON = "application/json"
# porta app/models/proxy.rb (3scale-2.16-stable) HTTP_HEADER and `length: { maximum: 255 }`: an error body or
# content type may only use these characters (no ' ! * < > $ | or newline) and at most 255 of them.
PROXY_TEXT = re.compile(r'[{}\[\]\d,.;@#~%&()?\w_"= /\\:+-]{1,255}', re.ASCII)


class Authentication(_Model):
    """API key in the `Authorization` header: HTTP Basic (key as user) or `Bearer <key>` both work in APIcast.

    The error answers are the product's own proxy settings (3scale lets each product set body, status and
    content type), in OpenAI's JSON shape. APIcast prints `error_limits_exceeded` as is, one text per product,
    so a hits 429 cannot name the plan's limit: it says where the limits are shown (the llm-metrics token
    quota, our own code, names the limit and period itself)."""

    model_config = ConfigDict(extra="forbid", validate_default=True)

    credentials_location: Literal["headers", "query", "authorization"] = "authorization"
    auth_user_key: str = "Authorization"
    # 3scale answers a missing key with 403 by default; OpenAI clients (and HTTP) expect 401 for "no credentials".
    error_status_auth_missing: int = Field(default=401, ge=200, le=599)
    error_auth_missing: str = openai_error(
        "No API key provided. Send it as Authorization: Bearer YOUR_KEY (your keys are on the developer portal "
        f"page {APPLICATIONS_PAGE})", "invalid_request_error", "missing_api_key")
    error_headers_auth_missing: str = JSON
    error_status_auth_failed: int = Field(default=403, ge=200, le=599)
    error_auth_failed: str = openai_error(
        "Incorrect API key, or its application may not use this call. Check your key on the developer portal "
        f"page {APPLICATIONS_PAGE}", "invalid_request_error", "invalid_api_key")
    error_headers_auth_failed: str = JSON
    error_status_no_match: int = Field(default=404, ge=200, le=599)
    error_no_match: str = openai_error(
        f"Unknown path or method for this endpoint. The API reference is on the developer portal page {DOCS_PAGE}",
        "invalid_request_error", "unknown_url")
    error_headers_no_match: str = JSON
    error_status_limits_exceeded: int = Field(default=429, ge=200, le=599)
    error_limits_exceeded: str = openai_error(
        "Rate limit of your plan reached, retry after Retry-After seconds. The limits of each plan are shown "
        f"on the developer portal page {APPLICATIONS_PAGE}",
        "requests", "rate_limit_exceeded")
    error_headers_limits_exceeded: str = JSON

    @field_validator("error_auth_missing", "error_headers_auth_missing", "error_auth_failed",
                     "error_headers_auth_failed", "error_no_match", "error_headers_no_match",
                     "error_limits_exceeded", "error_headers_limits_exceeded")
    @classmethod
    def _porta_accepts(cls, value: str) -> str:
        if not PROXY_TEXT.fullmatch(value):
            raise ValueError("3scale accepts 1 to 255 characters of letters, digits, space and "
                             '{}[],.;@#~%&()?_"=/\\:+- only (no quote, !, *, <, > or newline); got '
                             f"{len(value)} characters")
        return value


class ActiveDoc(_Model):
    system_name: str
    name: str
    description: str = ""
    published: bool = True


class Product(_Model):
    system_name: str
    name: str
    description: str = ""
    kind: Literal["chat", "completion", "embedding"] = "chat"
    model: str  # served model name clients pass as `model` (used in the ActiveDoc examples)
    source: str = ""  # where the model came from (discovery: "InferenceService llm/granite"); "" = typed by hand
    backend: Backend
    path: str = "/"  # backend usage path
    methods: list[Method]
    metrics: list[Metric]
    delete_default_rule: bool = True  # the `GET /` rule every new product gets would double-count hits
    authentication: Authentication = Field(default_factory=Authentication)
    policies: list[Policy]
    plans: list[Plan]
    default_plan: str | None = None  # None: users choose (the guide's "No plan selected")
    active_doc: ActiveDoc | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Product:
        known = {"hits"} | {m.system_name for m in self.methods} | {m.system_name for m in self.metrics}
        for plan in self.plans:
            for limit in plan.limits:
                if limit.metric not in known:
                    raise ValueError(f"plan {plan.system_name}: limit on unknown metric {limit.metric!r}")
            for price in plan.pricing.prices:
                if price.metric not in known or price.billed_metric not in known:
                    raise ValueError(f"plan {plan.system_name}: price on metric {price.billed_metric!r}, which "
                                     "the product does not have")
        if self.default_plan is not None and self.default_plan not in {p.system_name for p in self.plans}:
            raise ValueError(f"default_plan {self.default_plan!r} is not one of the product's plans")
        return self

    def plan(self, system_name: str) -> Plan:
        return next(p for p in self.plans if p.system_name == system_name)


class Application(_Model):
    """An application created by the admin for an existing account (the guide's portal workaround)."""

    account: str = "Developer"  # org_name of the account
    product: str  # product system name
    plan: str = "standard"
    name: str
    description: str = "Created by the MaaS kit so the account is subscribed to the product."


class Portal(_Model):
    enabled: bool = True
    path: str = "portal"
    manifest: str = "manifest.yaml"
    remove_access_code: bool = True  # the guide's "Domains and Access → remove the access code" before SSO

    @property
    def manifest_file(self) -> Path:
        return resolve_path(self.path) / self.manifest


class Sso(_Model):
    enabled: bool = True
    kind: Literal["keycloak"] = "keycloak"
    realm: str = "maas"
    client_id: str = "3scale-portal"
    realm_file: str = "manifests/sso/realm.yaml"  # written by the portal/SSO helper; values filled at apply
    published: bool = True
    automatically_approve_accounts: bool = True
    skip_ssl_certificate_verification: bool = False


# Who approves keys (issue 28 item 4). `priced_plans` (the default): a plan that costs money needs the admin's
# approval (porta's application plan `approval_required`: a developer's application on it starts `pending`
# until accepted), free plans stay self-service; `all_plans`: every plan; `plans_as_set`: only the plans that say
# `approval_required` themselves.
Approval = Literal["priced_plans", "all_plans", "plans_as_set"]


class Catalogue(_Model):
    approval: Approval = "priced_plans"
    organisation: Organisation = Field(default_factory=Organisation)
    policy: CustomPolicy = Field(default_factory=CustomPolicy)
    products: list[Product] = Field(default_factory=list)
    applications: list[Application] = Field(default_factory=list)
    subscribe_existing_accounts: bool = True  # service subscription of every developer account to every product
    remove_sample_data: bool = True  # 3scale's sample product `api`: delete its plans, unpublish Echo (sample_data.py)
    # objects that exist in 3scale without the kit's ownership record and that the kit should take over, as
    # "product:<system_name>", "backend:<system_name>" or "active_doc:<system_name>" (maas_helpers/ownership.py)
    adopt: list[str] = Field(default_factory=list)
    portal: Portal = Field(default_factory=Portal)
    sso: Sso = Field(default_factory=Sso)

    def approval_required(self, plan: Plan) -> bool:
        """Does an application on `plan` wait for the admin's approval (the catalogue's `approval` setting)?"""
        if plan.approval_required or self.approval == "all_plans":
            return True
        return self.approval == "priced_plans" and plan.pricing.charged

    @model_validator(mode="after")
    def _apply_approval(self) -> Catalogue:
        """The one setting decides each plan's `approval_required`, which is what 3scale is given."""
        for product in self.products:
            for plan in product.plans:
                plan.approval_required = self.approval_required(plan)
        return self

    @model_validator(mode="before")
    @classmethod
    def _expand_models(cls, data: Any) -> Any:
        if not isinstance(data, dict) or "models" not in data:
            return data
        data = dict(data)
        models = [ModelEndpoint.model_validate(m) for m in data.pop("models") or []]
        plans = [Plan.model_validate(p) for p in data.pop("plans", None) or default_plans()]
        explicit = {p.get("system_name") for p in data.get("products", []) if isinstance(p, dict)}
        expanded = [product_for_model(m, plans).model_dump() for m in models if system_name(m.name) not in explicit]
        data["products"] = list(data.get("products", [])) + expanded
        if "applications" not in data:
            data["applications"] = [a.model_dump() for a in default_applications(expanded_products(data["products"]))]
        return data

    @model_validator(mode="after")
    def _unique(self) -> Catalogue:
        names = [p.system_name for p in self.products]
        if len(names) != len(set(names)):
            raise ValueError("products: system names must be unique")
        backends = [p.backend.system_name for p in self.products]
        if len(backends) != len(set(backends)):
            raise ValueError("products: backend system names must be unique")
        by_name = {p.system_name: p for p in self.products}
        for app in self.applications:
            if app.product not in by_name:
                raise ValueError(f"application {app.name!r}: unknown product {app.product!r}")
            if app.plan not in {p.system_name for p in by_name[app.product].plans}:
                raise ValueError(f"application {app.name!r}: product {app.product} has no plan {app.plan!r}")
        return self

    def product(self, system_name: str) -> Product:
        return next(p for p in self.products if p.system_name == system_name)


def expanded_products(items: list[Any]) -> list[Product]:
    return [p if isinstance(p, Product) else Product.model_validate(p) for p in items]


# --- defaults ---------------------------------------------------------------------------------------------

def system_name(model_name: str) -> str:
    """3scale system name for a served model name (also the DNS label of its gateway routes)."""
    name = re.sub(r"[^a-z0-9-]+", "-", model_name.lower()).strip("-")
    return name[:63].strip("-") or "model"


# (system name, friendly name, verb, pattern, model kinds that get it). `$` anchors exact paths so that
# e.g. `/v1/completions` never counts `/v1/completions/…`; `/v1/models` is a prefix so `/v1/models/{id}` counts.
OPENAI_ROUTES: tuple[tuple[str, str, str, str, tuple[str, ...]], ...] = (
    ("v1-models", "List Models", "GET", "/v1/models", ("chat", "completion", "embedding")),
    ("v1-completions", "Text Completions", "POST", "/v1/completions$", ("chat", "completion")),
    ("v1-chat-completions", "Chat Completions", "POST", "/v1/chat/completions$", ("chat", "completion")),
    ("v1-embeddings", "Embeddings", "POST", "/v1/embeddings$", ("embedding",)),
    ("health", "Health", "GET", "/health$", ("chat", "completion", "embedding")),
    ("version", "Version", "GET", "/version$", ("chat", "completion", "embedding")),
    ("tokenize", "Tokenize", "POST", "/tokenize$", ("chat", "completion", "embedding")),
    ("detokenize", "Detokenize", "POST", "/detokenize$", ("chat", "completion", "embedding")),
)


def default_methods(kind: str) -> list[Method]:
    return [
        Method(system_name=s, friendly_name=f, http_method=v, pattern=p)  # type: ignore[arg-type]
        for s, f, v, p, kinds in OPENAI_ROUTES
        if kind in kinds
    ]


def token_metrics() -> list[Metric]:
    return [
        Metric(system_name="prompt_tokens", friendly_name="Prompt Tokens", description="Tokens in the prompts"),
        Metric(system_name="completion_tokens", friendly_name="Completion Tokens", description="Tokens generated"),
        Metric(system_name="total_tokens", friendly_name="Total Tokens", description="Prompt + completion tokens"),
        Metric(system_name="prompt_tokens_k", friendly_name="Prompt Tokens (thousands)", unit="1000 tokens",
               description="Prompt tokens in thousands, for pricing rules"),
        Metric(system_name="completion_tokens_k", friendly_name="Completion Tokens (thousands)",
               unit="1000 tokens", description="Completion tokens in thousands, for pricing rules"),
    ]


def _pricing(monthly: str, prompt: str, completion: str) -> Pricing:
    return Pricing(cost_per_month=Decimal(monthly), prices=[
        Price(metric="prompt_tokens", per_million=Decimal(prompt)),
        Price(metric="completion_tokens", per_million=Decimal(completion)),
    ])


def _limits(hits_min: int, hits_day: int, tokens_min: int, tokens_day: int) -> list[Limit]:
    return [
        Limit(metric="hits", period="minute", value=hits_min),
        Limit(metric="hits", period="day", value=hits_day),
        Limit(metric="total_tokens", period="minute", value=tokens_min),
        Limit(metric="total_tokens", period="day", value=tokens_day),
    ]


def default_plans() -> list[Plan]:
    return [
        Plan(system_name="free", name="Free", description="Try the model: small hourly and daily quotas.",
             limits=_limits(10, 200, 2_000, 20_000)),  # free: no pricing
        Plan(system_name="standard", name="Standard", description="For development and small teams.",
             limits=_limits(60, 5_000, 20_000, 500_000), pricing=_pricing("0", "0.5", "1.5")),
        Plan(system_name="premium", name="Premium", description="For production use.", approval_required=True,
             limits=_limits(600, 50_000, 200_000, 5_000_000), pricing=_pricing("49", "0.4", "1.2")),
    ]


DEFAULT_MAX_TOKENS = 512  # quota bound of a generation request that names no max_tokens


def policy_chain(plans: list[Plan], policy: CustomPolicy | None = None) -> list[Policy]:
    policy = policy or CustomPolicy()
    llm: dict[str, Any] = {
        "enable_sse_support": True,
        "rules": [{"metric": m, "usage": m, "statuses": [200]} for m in TOKEN_METRICS]
        + [{"metric": f"{m}_k", "usage": m, "statuses": [200], "per": BILLING_UNIT}
           for m in ("prompt_tokens", "completion_tokens")],
    }
    if any(p.has_token_limits for p in plans):
        # A request without max_tokens is admitted as if it asked for 512 completion tokens: with the policy's
        # default (4096) every such call would be refused on a plan allowing 2,000 tokens a minute. The
        # overshoot this allows is documented in docs/reliability.md (one request against a token quota).
        llm["quota"] = {"enabled": True, "metrics": ["total_tokens"], "default_max_tokens": DEFAULT_MAX_TOKENS}
    return [
        # allow_credentials stays false: browsers reject `Access-Control-Allow-Origin: *` with credentials,
        # and the API key travels in the Authorization header, which CORS lists explicitly.
        Policy(name="cors", configuration={
            "allow_headers": ["Authorization", "Content-Type", "Accept"],
            "allow_origin": "*",
            "allow_credentials": False,
        }),
        Policy(name=policy.name, version=policy.version, configuration=llm),
        Policy(name="apicast", version="builtin"),
    ]


def _product_description(model: ModelEndpoint) -> str:
    what = {"chat": "chat and text completions", "completion": "text completions", "embedding": "embeddings"}
    text = model.description or f"Model as a Service: {model.name} ({what[model.kind]}), OpenAI-compatible API."
    # The portal's Examples page tells embedding products by this word (Liquid cannot read the spec's paths).
    if model.kind == "embedding" and "embedding" not in text.lower():
        text += " (OpenAI embeddings)"
    return text


def product_for_model(model: ModelEndpoint, plans: list[Plan] | None = None) -> Product:
    plans = list(plans) if plans is not None else default_plans()
    sn = system_name(model.name)
    return Product(
        system_name=sn,
        name=model.name,
        description=_product_description(model),
        kind=model.kind,
        model=model.model,
        source=model.source,
        backend=Backend(system_name=sn, name=model.name, private_endpoint=model.url,
                        description=f"Model server of {model.name} (in-cluster URL)."),
        methods=default_methods(model.kind),
        metrics=token_metrics(),
        policies=policy_chain(plans),
        plans=plans,
        active_doc=ActiveDoc(system_name=sn, name=f"{model.name} API",
                             description=f"OpenAI-compatible API of {model.name}"),
    )


def default_applications(products: list[Product]) -> list[Application]:
    return [
        Application(product=p.system_name, name=p.name)
        for p in products
        if any(plan.system_name == "standard" for plan in p.plans)
    ]


def default_catalogue(settings: Settings, models: list[ModelEndpoint] | None = None) -> Catalogue:
    """The kit's MaaS for `settings`: one product per model, plans free/standard/premium, portal and SSO."""
    endpoints = models if models is not None else settings.resolved_models()
    products = [product_for_model(m) for m in endpoints]
    return Catalogue(
        organisation=Organisation(org_name=settings.org_name, timezone=settings.timezone),
        products=products,
        applications=default_applications(products),
    )


# --- YAML ---------------------------------------------------------------------------------------------------

def _one_line(exc: ValidationError, source: str) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "catalogue"
    msg = str(err["msg"]).removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        msg = "unknown key; remove it or check its spelling"
    return f"{source}: {where}: {msg}"


def catalogue_from_dict(data: dict[str, Any], source: str = "catalogue") -> Catalogue:
    try:
        return Catalogue.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_one_line(exc, source)) from None


def load_catalogue(path: str | Path) -> Catalogue:
    target = Path(path)
    if not target.exists():
        raise ConfigError(f"{target}: no such catalogue file; copy maas.example.yaml to maas.yaml and edit it")
    try:
        data = yaml.safe_load(target.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{target}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{target}: expected a mapping (organisation, models/products, ...)")
    return catalogue_from_dict(data, str(target))


def dump_catalogue(catalogue: Catalogue, path: str | Path | None = None) -> str:
    """The catalogue as YAML (fully spelled out); written to `path` when given."""
    text = yaml.safe_dump(catalogue.model_dump(mode="json"), sort_keys=False, width=110)
    if path is not None:
        Path(path).write_text(text)
    return text
