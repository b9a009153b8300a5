"""Generate the tutorial notebooks from this one file: `python notebooks/_build.py` (or `--check`).

Why a generator: the committed `.ipynb` files stay clean (no outputs, no execution counts, stable cell ids),
every notebook follows the same shape (design §6), and a test checks the committed files equal this output.
Edit the text here, run the script, commit both.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import nbformat

HERE = Path(__file__).resolve().parent
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}

Cell = tuple[str, str, tuple[str, ...]]  # (kind, source, tags)


def md(text: str) -> Cell:
    return ("markdown", text.strip("\n"), ())


CHECK = "# NBVAL_CHECK_OUTPUT"


def code(text: str, *tags: str) -> Cell:
    """A code cell; a trailing `# NBVAL_CHECK_OUTPUT` becomes the cell's first line (where nbval looks)."""
    text = text.strip("\n")
    if CHECK in text:
        text = f"{CHECK}\n" + text.replace(f"  {CHECK}", "")
    return ("code", text, tags)


def parameters(text: str = "") -> Cell:
    base = "config_path = None  # None: $MAAS_CONFIG or ./maas-config.yaml, as notebook 0 saved it"
    return code(f"{base}\n{text.strip()}" if text.strip() else base, "parameters")


LOAD = code(
    """
from maas_helpers.kit import Kit

kit = Kit.load(config_path)  # stops here with a clear message if notebook 0 has not saved a configuration
kit
"""
)


def next_step(text: str) -> Cell:
    return md(f"## Next\n\n{text.strip()}")


NOTEBOOKS: dict[str, list[Cell]] = {}

# --------------------------------------------------------------------------------------------------------------
NOTEBOOKS["00_configure"] = [
    md("""
# 0 · Configure the kit

**Objective:** say where the Model as a Service runs — the local sandbox or an OpenShift cluster — and which
models it offers, and save that for every later notebook.

**Concept.** The guide starts by reading values off the OpenShift console by hand (the cluster's wildcard apps
domain, the `3scale` project, the tenant name `maas`, the organisation name and the timezone) and then types
them into many screens. Here they are entered once, validated before anything is created, and saved to
`maas-config.yaml`. Tokens are never saved: the admin token comes from the running sandbox, the cluster's
`system-seed` Secret, or `MAAS_ADMIN_TOKEN`.

The **target** decides where the same steps go: `sandbox` is a local 3scale look-alike (admin API, gateway,
developer portal, SSO and a small model server) started on 127.0.0.1; `openshift` is a real cluster with the
3scale operator. Every later notebook is identical for both; the differences live in the helpers.
"""),
    md("""
The cell below is the **parameters** cell: headless runs (`maas run -p key=value …`) replace its values.
Leave `models` empty on the sandbox to use its own three models (chat, code completion, embeddings). On a
cluster list your served models, e.g.
`[{"name": "granite-7b-instruct", "url": "http://granite-7b-instruct-predictor.llm.svc.cluster.local:8080"}]` —
the `name` is the served model name clients pass as `model` (vLLM `--served-model-name`).
"""),
    parameters("""
target = "sandbox"  # "sandbox" or "openshift"
cluster_domain = ""  # wildcard apps domain, e.g. apps.cluster-abc.example.com (sandbox: sandbox.local)
namespace = "3scale"
tenant = "maas"
org_name = "MaaS on RHOAI"
timezone = "Europe/Berlin"
models = []  # list of {"name", "url", "kind": "chat"|"completion"|"embedding", "description"}
state_dir = "../.maas"  # where the sandbox keeps its database, tokens and logs
"""),
    md("""
Validate and save. A mistake (say a URL pasted as the domain) stops here with one line naming the field and the
fix — before anything is created anywhere.
"""),
    code("""
from maas_helpers.config import make_settings, save_settings

settings = make_settings(target=target, cluster_domain=cluster_domain, namespace=namespace, tenant=tenant,
                         org_name=org_name, timezone=timezone, models=models, state_dir=state_dir)
saved_to = save_settings(settings, config_path)
settings
"""),
    md("""
### The form (interactive only)

In JupyterLab the form below edits the same values: add or remove model endpoints, read the validation
messages inline, press **Save**. Headless runs skip it — nothing here waits for a click.
"""),
    code("""
from maas_helpers.widgets import configure_form

configure_form(settings, path=saved_to)  # displays the form in JupyterLab; returns None headless
"""),
    md("### Verify\nThe saved file loads back to the same settings, and holds no token."),
    code("""
from maas_helpers.config import load_settings

assert load_settings(saved_to, env=False).model_dump() == settings.model_dump()
assert "token" not in saved_to.read_text().lower()
print(f"saved {saved_to.name}: target={settings.target}, tenant={settings.tenant}, "
      f"{len(settings.models) or 'sandbox default'} model(s)")
"""),
    next_step("Notebook **1** installs the 3scale operator and the custom policy Secret."),
]

# --------------------------------------------------------------------------------------------------------------
NOTEBOOKS["01_operator_and_policy"] = [
    md("""
# 1 · The 3scale operator and the custom policy Secret

**Objective:** install Red Hat 3scale API Management into its own namespace and hand it the `llm-metrics`
gateway policy that counts tokens.

**Concept.** On OpenShift, 3scale is installed by an *operator* (a controller that turns an `APIManager`
resource into the 15 deployments of 3scale). OLM installs it from a *Subscription*; an *OperatorGroup*
restricts it to the `3scale` namespace only. The gateway (APIcast) runs Lua policies; `llm-metrics` reads the
`usage` block of OpenAI-style responses and reports `prompt_tokens`, `completion_tokens` and `total_tokens` to
3scale, so plans can limit tokens, not only requests. Its files are mounted from a Secret labelled
`apimanager.apps.3scale.net/watched-by=apimanager` so the operator rolls APIcast when it changes.

**What the guide did by hand, and what the kit does differently.** The guide clicks through OperatorHub (its
screenshot even shows "All namespaces" while the text says `3scale` only) and runs `oc create secret` from a
cloned repository. The kit applies the same objects with server-side apply, checks your permissions first,
waits for the operator's CSV to reach `Succeeded`, and builds the Secret from `policies/llm-metrics/1.0.0`
(the version the tests run). **On the sandbox** there is no cluster: the step renders and validates the exact
manifests it would apply and reports them as *skipped*, so you can read them.
"""),
    parameters(),
    LOAD,
    md("## Install\nNamespace, OperatorGroup + Subscription (then wait for the CSV), and the policy Secret."),
    code("""
steps = [kit.platform.ensure_namespace(), kit.platform.ensure_operator(), kit.platform.ensure_policy_secret()]
for step in steps:
    display(step)
"""),
    md("""
## The manifests

These are the objects sent to the cluster (on the sandbox: the objects that *would* be sent). The Secret's
data is summarised by file name, never printed.
"""),
    code("""
from maas_helpers.developer import show_manifests

show_manifests(kit, ["Namespace", "OperatorGroup", "Subscription", "Secret"])
"""),
    md("### Verify\nEvery step finished (created, unchanged, or skipped on the sandbox) and none failed."),
    code("""
assert steps and all(step.actions for step in steps), "a step reported nothing"
assert not any(a.change == "failed" for step in steps for a in step.actions)
print("operator and policy secret:", ", ".join(step.summary() for step in steps))
"""),
    next_step("Notebook **2** creates the `APIManager`, waits for 3scale, and sets up the tenant."),
]

# --------------------------------------------------------------------------------------------------------------
NOTEBOOKS["02_apimanager_and_tenant"] = [
    md("""
# 2 · APIManager, the custom policy definition and the tenant

**Objective:** bring 3scale up, register the `llm-metrics` policy with it, obtain the admin credentials and
name the organisation.

**Concept.** The `APIManager` resource describes a whole 3scale: its wildcard domain (routes such as
`maas-admin.<domain>` come from it), the tenant `maas`, RWX storage for the system component, and the custom
policies mounted into both gateways (staging and production). A `CustomPolicyDefinition` registers the policy's
schema with the tenant, so the admin portal's policy editor knows its fields. The **tenant** is the 3scale
account you administer; its *organisation name* appears in the admin portal's top-left corner.

**What the kit does differently from the guide.** The guide creates the CustomPolicyDefinition first and tells
you to ignore its *Failed* status (no tenant exists yet), copies the operator's placeholder schema into it, and
waits by "refreshing the page". The kit creates it from the policy's real `apicast-policy.json`, tolerates
*Failed* until the APIManager is `Available`, and then re-checks it; it waits on the APIManager's `Available`
condition and names the deployments that are not ready. Admin credentials come from the `system-seed` Secret
(the sandbox: from its own credentials file) — they are never printed. The organisation name is set through the
Master API; the **timezone** cannot be set through any 3scale API, so on a cluster it is reported as a manual
step with a link (the sandbox accepts it directly).
"""),
    parameters("wait_timeout = 1800  # seconds to wait for the APIManager to become Available"),
    LOAD,
    md("## Deploy 3scale"),
    code("""
for step in (kit.platform.ensure_apimanager(), kit.platform.wait_for_apimanager(timeout=wait_timeout),
             kit.platform.ensure_custom_policy_definition()):
    display(step)
"""),
    md("## The tenant: credentials, policy registry and organisation"),
    code("""
credentials = kit.platform.admin_credentials()  # tokens stay masked in every repr
tenant_steps = [kit.apply("policy_registry"), kit.apply("organisation")]
for step in tenant_steps:
    display(step)
credentials
"""),
    md("### Verify\nThe Admin API answers with these credentials, and re-planning finds nothing left to do."),
    code("""
from maas_helpers.developer import admin_get

provider = admin_get(kit, "/admin/api/provider.json")["account"]
assert provider["org_name"] == kit.settings.org_name, provider["org_name"]
assert kit.plan("organisation").in_sync
print("tenant organisation:", provider["org_name"])  # NBVAL_CHECK_OUTPUT
"""),
    next_step("Notebook **3** turns each model server into a 3scale **backend**."),
]

# --------------------------------------------------------------------------------------------------------------
NOTEBOOKS["03_backends"] = [
    md("""
# 3 · Backends: the model servers

**Objective:** register each model server as a 3scale *backend*.

**Concept.** A **backend** is an upstream API as 3scale sees it: a name, a system name and the *private base
URL* the gateway forwards to — here the in-cluster URL of a vLLM/KServe predictor such as
`http://granite-7b-instruct-predictor.llm.svc.cluster.local:8080`. Customers never see this URL; they call the
*product* (next notebook), which routes to one or more backends. One backend per model keeps usage and
outages separate.

**Differences from the guide.** The guide types the URL with a `NAMESPACE` placeholder into a form per model.
The kit derives backends from the saved model list, creates missing ones, updates a changed URL in place
(never duplicates), and on a second run writes nothing.
"""),
    parameters(),
    LOAD,
    md("## Create or update the backends"),
    code("""
result = kit.apply("backends")
result
"""),
    md("## What exists now"),
    code("""
from maas_helpers.developer import list_backends

backends = list_backends(kit)
backends
"""),
    md("### Verify\nEvery model has a backend pointing at its URL, and nothing is left to change."),
    code("""
actual = dict(zip(backends.system_name, backends.private_endpoint, strict=True))
expected = {p.backend.system_name: p.backend.private_endpoint for p in kit.catalogue.products}
assert expected and all(actual.get(name) == url for name, url in expected.items()), actual
assert kit.plan("backends").in_sync
print("backends:", sorted(expected))  # NBVAL_CHECK_OUTPUT
"""),
    next_step("Notebook **4** builds a **product** per model on top of these backends."),
]

# --------------------------------------------------------------------------------------------------------------
NOTEBOOKS["04_products"] = [
    md("""
# 4 · Products: the APIs customers subscribe to

**Objective:** one 3scale *product* per model, with its backend, methods, token metrics, mapping rules and
authentication.

**Concept.**
- A **product** is what customers see and subscribe to; it has its own gateway URLs (staging and production).
- A **backend usage** attaches the backend under a path (`/`).
- **Methods** count calls per endpoint (*Chat Completions*, *List Models*…); **metrics** count anything else —
  here the tokens `prompt_tokens`, `completion_tokens`, `total_tokens` (unit `token`) that the `llm-metrics`
  policy reports.
- **Mapping rules** (verb + pattern → method) decide which requests are allowed and what they count. A request
  no rule matches gets **404 No Mapping Rule matched** from the gateway.
- **Authentication** says where the gateway finds the key: here in the `Authorization` header, so the OpenAI
  SDK's `Authorization: Bearer <key>` works unchanged.

**The guide's mistakes the kit avoids.** Its completion and chat rules use **GET**, so every real (POST) call
got 404; a method is named `v1/caht/completions`; only four of the eight vLLM routes were mapped; the default
`GET /` rule stayed, which prefix-matches every GET and double-counts hits; and the token metrics were never
created, so the policy had nothing to report to. The kit maps all routes with the right verbs and `$`-anchored
patterns, removes `GET /`, and creates the metrics before any rule refers to them.
"""),
    parameters(),
    LOAD,
    md("## Products, methods and metrics, mapping rules, authentication"),
    code("""
steps = [kit.apply(section) for section in ("products", "metrics", "mapping_rules", "authentication")]
for step in steps:
    display(step)
"""),
    md("## The mapping rules of each product"),
    code("""
from maas_helpers.developer import list_mapping_rules

rules = list_mapping_rules(kit)
rules
"""),
    md("### Verify\nChat products answer POST chat completions, no `GET /` rule is left, nothing is left to change."),
    code("""
assert not rules[(rules.http_method == "GET") & (rules.pattern == "/")].shape[0], "default GET / rule still there"
chat = rules[rules.pattern == "/v1/chat/completions$"]
assert set(chat.http_method) == {"POST"} and len(chat) >= 1
assert all(kit.plan(s).in_sync for s in ("products", "metrics", "mapping_rules", "authentication"))
print(rules.groupby("product").size().to_string())  # NBVAL_CHECK_OUTPUT
"""),
    next_step("Notebook **5** sets the policy chain and promotes the configuration to production."),
]

# --------------------------------------------------------------------------------------------------------------
NOTEBOOKS["05_policies_and_promotion"] = [
    md("""
# 5 · Policy chain, staging and production

**Objective:** put CORS and `llm-metrics` in front of the standard 3scale policy, then deploy the configuration to
the staging gateway and promote it to production.

**Concept.** Each product has a **policy chain** run by APIcast on every request, in order:
1. **CORS** so browser apps (the developer portal's API docs) may call the API — origin `*`, headers
   `Authorization`, `Content-Type`, `Accept`.
2. **llm-metrics** — counts tokens from the model's `usage` (also in streamed responses) and, on plans with token
   limits, refuses calls once the token quota is used.
3. **3scale APIcast** — authentication, mapping rules, rate limits, reporting.

Changes to a product are a *draft* until **deployed** to staging (a new configuration version) and **promoted**
to production; customers use production.

**Differences from the guide.** The guide ticks *allow credentials* with origin `*` — browsers reject that
combination, so the kit leaves it off (the key travels in a header CORS lists). It shows promotion before the
configuration is finished and never promotes again after later changes; the kit deploys after the chain and
rules are set, and promotes only when production is behind the latest staging version (so a re-run promotes
nothing).
"""),
    parameters(),
    LOAD,
    md("## Policy chain, then deploy and promote"),
    code("""
steps = [kit.apply("policies"), kit.apply("promote")]
for step in steps:
    display(step)
"""),
    md("## Configuration versions per product"),
    code("""
from maas_helpers.developer import list_proxy_versions

versions = list_proxy_versions(kit)
versions
"""),
    md("### Verify\nProduction runs the latest staging version with our chain, and a re-plan finds nothing to do."),
    code("""
assert (versions.production == versions.staging).all(), "production is behind staging"
assert all(chain == ["cors", "llm-metrics", "apicast"] for chain in versions.policy_chain)
assert kit.plan("policies").in_sync and kit.plan("promote").in_sync
print("policy chains:", sorted({" → ".join(c) for c in versions.policy_chain}))  # NBVAL_CHECK_OUTPUT
"""),
    next_step("Notebook **6** offers the products through **application plans**."),
]

# --------------------------------------------------------------------------------------------------------------
NOTEBOOKS["06_application_plans"] = [
    md("""
# 6 · Application plans, limits and the first application

**Objective:** offer each product in three published plans with request and token limits, and make it
selectable in the developer portal.

**Concept.** An **application plan** is a tier of a product (here *Free*, *Standard*, *Premium*). Its **limits**
cap a metric per period — hits per minute and per day, and `total_tokens` per minute and per day. A developer's
**application** is on exactly one plan and carries the key. Plans are *hidden* until **published**. The
product's *default plan* stays empty so developers choose; the *service plan* `Default` lets accounts subscribe
to the product at all.

**One application per plan.** Limits are per application, so a developer who could sign up any number of
applications on *Free* would multiply its token quota. 3scale's **multiple applications** switch (Audience →
Developer Portal → Feature Visibility) decides this: hidden, an account may hold one application per plan and
the portal answers a second one with *"Plan is already bought"*. The catalogue keeps it off
(`organisation.multiple_applications: false`); notebook 2 applies it — in the sandbox by its API, on a real
3scale it is a manual step the result lists. *Premium* also has **approval required**: its applications start
*pending* until you accept them.

**Differences from the guide.** The guide creates one plan without limits and then, because the portal only
offered the old *Basic* plan, creates an application from the admin portal as a workaround — the real cause is
that existing accounts have no **service subscription** to the new product. The kit publishes plans with limits,
subscribes existing developer accounts explicitly, and still creates the admin-side application the guide made
(account *Developer*, plan *Standard*) so you can compare.
"""),
    parameters(),
    LOAD,
    md("## Plans, limits, subscriptions and the admin-created application"),
    code("""
steps = [kit.apply("plans"), kit.apply("subscriptions_and_apps")]
for step in steps:
    display(step)
"""),
    md("## Plans and their limits"),
    code("""
from maas_helpers.developer import list_plan_limits

limits = list_plan_limits(kit)
limits
"""),
    md("### Verify\nEvery product has its published plans with both hit and token limits; nothing is left to change."),
    code("""
assert set(limits.plan) >= {"free", "standard", "premium"}
assert {"hits", "total_tokens"} <= set(limits.metric)
assert limits.published.all()
assert kit.plan("plans").in_sync and kit.plan("subscriptions_and_apps").in_sync
counts = limits.pivot_table(index="plan", columns="metric", values="value", aggfunc="count")
print(counts.to_string())  # NBVAL_CHECK_OUTPUT
"""),
    next_step("Notebook **7** publishes the API documentation (**ActiveDocs**)."),
]

# --------------------------------------------------------------------------------------------------------------
NOTEBOOKS["07_activedocs"] = [
    md("""
# 7 · ActiveDocs: the API specification per product

**Objective:** publish an OpenAPI description of each model's API, pointing at its real production URL.

**Concept.** **ActiveDocs** are OpenAPI specs stored in 3scale and shown (with *Try it out*) in the developer
portal. The portal's application page also takes the **endpoint URL** from the ActiveDoc of the same product —
without one, developers see no URL to call.

**Differences from the guide.** The guide pastes one JSON file with the placeholder server `https://Main_URL:443`,
a JWT bearer format that is wrong for API keys, and a title for another model. The kit generates a spec per
product from the product's real production endpoint, with only the routes that product maps, bearer auth with no
JWT format, and the product's model name in the examples.
"""),
    parameters(),
    LOAD,
    code("""
result = kit.apply("active_docs")
result
"""),
    md("### Verify\nEach product has a published spec whose server is its production gateway URL."),
    code("""
from maas_helpers.developer import list_active_docs

docs = list_active_docs(kit)
assert len(docs) == len(kit.catalogue.products) and docs.published.all()
assert (docs.server == docs.production_endpoint).all(), "spec servers differ from the production endpoints"
assert kit.plan("active_docs").in_sync
print("active docs:", sorted(docs.system_name))  # NBVAL_CHECK_OUTPUT
"""),
    next_step("Notebook **8** installs the developer portal's pages."),
]

# --------------------------------------------------------------------------------------------------------------
NOTEBOOKS["08_developer_portal"] = [
    md("""
# 8 · The developer portal

**Objective:** install the portal's layout, pages, partials and assets, and publish them.

**Concept.** The **developer portal** is 3scale's website for your API consumers: sign up, read the docs, create
applications, see keys and usage. Its pages are Liquid templates stored in 3scale's CMS; each has a *draft* and a
*published* version, and only published content is served.

**Differences from the guide.** The guide edits about a dozen pages by hand ("save and publish both the Draft
and Published"). The kit uploads the content in `portal/` (listed in `portal/manifest.yaml`), publishes it, and
on a re-run changes only what differs. The pages read endpoints from ActiveDocs and model names from the
products instead of hard-coding another cluster's URLs and models, and the key is shown as a header
(`Authorization: Bearer …`), not the guide's wrong `api_key` parameter.
"""),
    parameters(),
    LOAD,
    code("""
result = kit.apply("portal")
result
"""),
    md("### Verify\nThe portal serves the published home page, and nothing is left to publish."),
    code("""
import requests

home = requests.get(kit.links()["developer portal"], timeout=10, verify=kit.settings.tls_verify)
assert home.status_code == 200, home.status_code
assert kit.plan("portal").in_sync
print("portal home page served:", home.status_code == 200)  # NBVAL_CHECK_OUTPUT
"""),
    next_step("Notebook **9** lets developers sign in with **single sign-on**."),
]

# --------------------------------------------------------------------------------------------------------------
NOTEBOOKS["09_sso"] = [
    md("""
# 9 · Single sign-on for the developer portal

**Objective:** let developers log in to the portal through Keycloak (Red Hat build of Keycloak).

**Concept.** An OIDC **realm** `maas` holds users and a confidential **client** `3scale-portal`; 3scale's
**authentication provider** (kind *keycloak*) points the portal at that realm. On first login 3scale creates the
developer account, named from the `org_name` claim, and — with *always approve* — activates it.

**Differences from the guide.** The guide's realm manifest is broken (`asdapiVersion:`), names the realm `mass`,
allows every redirect URI (`*`), and brokers the realm's own client through an identity provider. The kit
imports a realm with the portal's exact callback URL, generates the client secret once and stores it privately
(never printed), and configures the provider through the Admin API, published and auto-approving.
"""),
    parameters(),
    LOAD,
    code("""
result = kit.apply("sso")  # realm (through the platform) + 3scale's authentication provider
result
"""),
    md("### Verify\nThe realm publishes its OpenID configuration and 3scale knows the published provider."),
    code("""
import requests

realm_url = kit.platform.sso_realm_url(kit.catalogue.sso.realm)
oidc = requests.get(f"{realm_url}/.well-known/openid-configuration", timeout=10, verify=kit.settings.tls_verify)
assert oidc.status_code == 200 and oidc.json()["issuer"] == realm_url
assert kit.plan("sso").in_sync
print("realm:", realm_url.rsplit("/", 1)[-1], "· provider in sync")  # NBVAL_CHECK_OUTPUT
"""),
    next_step("Notebook **10** takes the **developer's** side: sign up, get a key, call the models."),
]

# --------------------------------------------------------------------------------------------------------------
NOTEBOOKS["10_developer_journey"] = [
    md("""
# 10 · The developer's journey

**Objective:** do what an API consumer does — get an account and an application, take its key, and call every
model, first as plain HTTP (what `curl` sends), then with the OpenAI SDK, streaming included. Then make the
gateway say no on purpose: 401, 403, 404 and 429.

**Concept.** The gateway checks every call against 3scale: is a key present at all (else *Authentication
parameters missing*), is the key known (else *Authentication failed*, **403**), does a mapping rule match (else
**404** *No Mapping Rule matched*), is the plan's limit left (else **429** *Usage limit exceeded*). Only then is the
call forwarded to the model, and the hits and tokens are reported back for statistics and limits. Each status is
a product setting: 3scale answers a missing key with **403** by default; the kit's catalogue sets
`error_status_auth_missing` to **401**, what HTTP and OpenAI clients expect for "no credentials". The refusals
table reads the configured status from the product and shows what the gateway really answered.

In a browser, a developer signs up (or logs in through SSO) on the developer portal and creates the application
there. This notebook uses 3scale's signup and application APIs for the same steps, so it runs headless too; the
portal links are printed so you can see the account and key there.
"""),
    parameters("""
developer = "journey-dev"  # username of the developer account this notebook signs up (idempotent)
rate_limit_demo = True  # drive the Free plan to its per-minute hit limit to show 429
"""),
    LOAD,
    md("## Sign up and create an application\nThe account and its application are reused when they already exist."),
    code("""
from maas_helpers.developer import Journey

journey = Journey.start(kit, developer)
journey
"""),
    md("## Call each model with plain HTTP\nThe same request `curl -H 'Authorization: Bearer <key>' …` sends."),
    code("""
calls = journey.call_each_model()
calls
"""),
    md("## The OpenAI SDK, with streaming\nThe SDK only needs the product's production URL and the key."),
    code("""
sdk = journey.call_with_openai_sdk(stream=True)
sdk
"""),
    md("## Refusals on purpose"),
    code("""
refusals = journey.show_refusals(rate_limit=rate_limit_demo)
refusals
"""),
    md("### Verify\nEvery model answered 200 with tokens counted, the SDK streamed, and each refusal had its status."),
    code("""
assert (calls.status == 200).all(), calls
assert (calls[calls.kind != "embedding"].total_tokens > 0).all()
assert (sdk.status == "ok").all() and (sdk.chunks > 1).any()
cases = ["no key", "unknown key", "unmapped path"] + (["rate limit"] if rate_limit_demo else [])
assert list(refusals.case) == cases and (refusals.status == refusals.expected).all(), refusals.to_string()
assert list(refusals.status)[:3] == [401, 403, 404] and (not rate_limit_demo or refusals.status.iloc[3] == 429)
print(dict(zip(refusals.case, refusals.status, strict=True)))  # NBVAL_CHECK_OUTPUT
"""),
    next_step("Notebook **11** reads the traffic you just generated from the **Analytics API**."),
]

# --------------------------------------------------------------------------------------------------------------
NOTEBOOKS["11_traffic_statistics"] = [
    md("""
# 11 · Traffic statistics

**Objective:** read hits and token usage per product, method and application from 3scale's Analytics API, as
tables and plots.

**Concept.** The gateway reports every authorised call to 3scale's backend, which keeps counters per metric
and period. The **Analytics API** (`/stats/services/{id}/usage.json`, `/stats/applications/{id}/usage.json`)
reads them: the same numbers as the admin portal's *Analytics → Traffic* page. Calls refused for a missing or
unknown key or an exceeded limit are not counted there — 3scale does not count them either.

**Differences from the guide.** The guide shows a traffic screenshot (from its predecessor, and missing from the
repository). Here the numbers come from the API, including **tokens per application**, which the guide's setup
never recorded because the token metrics did not exist.
"""),
    parameters("""
report_dir = None  # headless runs write stats.json here for the tests
"""),
    LOAD,
    code("""
from maas_helpers.developer import usage_summary

usage = usage_summary(kit)
usage.by_product
"""),
    md("## Tokens per application"),
    code("usage.by_application"),
    md("## Plots\nHits by method across the products, and prompt vs completion tokens per application."),
    code("""
for figure in usage.figures():
    display(figure)
"""),
    md("### Verify\nThe traffic of notebook 10 is there: hits and tokens on at least one product."),
    code("""
assert usage.by_product.hits.sum() > 0, "no hits recorded: run notebook 10 first"
assert usage.by_product.total_tokens.sum() > 0, "no tokens recorded: is llm-metrics in the policy chain?"
if report_dir:
    usage.write_json(report_dir)
print("products with traffic:", int((usage.by_product.hits > 0).sum()))
"""),
    next_step("Notebook **99** removes everything the kit created, when you are done."),
]

# --------------------------------------------------------------------------------------------------------------
NOTEBOOKS["99_teardown"] = [
    md("""
# 99 · Teardown

**Objective:** remove what the kit created — products, backends, plans, applications, ActiveDocs, portal
content it uploaded, the SSO provider — and nothing else.

**Concept.** The kit only deletes objects its catalogue owns; 3scale's seed objects (the default *API*
product, the *Developer* account) stay. On a cluster the platform step removes the APIManager, operator
subscription and Secret it applied. First see the plan; then confirm.

Interactively, a button asks for confirmation. Headless runs only show the plan unless they pass
`-p confirm_teardown=true`.
"""),
    parameters("confirm_teardown = False  # headless: set true to really delete"),
    LOAD,
    md("## What would be removed"),
    code("""
from maas_helpers.developer import teardown_plan

teardown_plan(kit)
"""),
    md("## Remove"),
    code("""
from maas_helpers.widgets import in_interactive_kernel

if confirm_teardown:
    removed = kit.destroy()  # catalogue objects, then the platform's (cluster) objects
    display(removed)
elif in_interactive_kernel():
    from maas_helpers.developer import teardown_button

    display(teardown_button(kit))
else:
    print("teardown skipped (pass -p confirm_teardown=true to delete)")
"""),
    md("### Verify\nAfter a confirmed teardown nothing of ours is left (re-planning would create everything)."),
    code("""
if confirm_teardown:
    from maas_helpers.developer import list_backends

    owned = {p.backend.system_name for p in kit.catalogue.products}
    left = owned & set(list_backends(kit).system_name)
    assert not left, f"still there: {sorted(left)}"
    print("teardown complete")
"""),
    md("That's the end of the tutorial. Run notebook 0 again to start over."),
]


def render() -> dict[str, Any]:
    """name → NotebookNode, with stable cell ids and no outputs."""
    out: dict[str, Any] = {}
    for name, cells in NOTEBOOKS.items():
        nb = nbformat.v4.new_notebook()
        nb.metadata = {"kernelspec": KERNELSPEC, "language_info": {"name": "python"}}
        for index, (kind, source, tags) in enumerate(cells):
            cell = nbformat.v4.new_markdown_cell(source) if kind == "markdown" else nbformat.v4.new_code_cell(source)
            cell.id = f"c{index:02d}"
            if tags:
                cell.metadata["tags"] = list(tags)
            nb.cells.append(cell)
        nbformat.validate(nb)
        out[name] = nb
    return out


def serialise(nb: Any) -> str:
    return nbformat.writes(nb) + "\n"


def main(argv: list[str]) -> int:
    stale = []
    for name, nb in render().items():
        path = HERE / f"{name}.ipynb"
        text = serialise(nb)
        if "--check" in argv:
            if not path.exists() or path.read_text() != text:
                stale.append(path.name)
        else:
            path.write_text(text)
    if stale:
        print("out of date (run python notebooks/_build.py):", ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
