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
from maas_helpers.config import make_settings
from maas_helpers.widgets import keep_form_settings

settings = make_settings(target=target, cluster_domain=cluster_domain, namespace=namespace, tenant=tenant,
                         org_name=org_name, timezone=timezone, models=models, state_dir=state_dir)
settings, saved_to = keep_form_settings(settings, config_path)  # in JupyterLab, what the form saved wins
settings
"""),
    md("""
### The form (interactive only)

In JupyterLab the form below edits the same values: add or remove model endpoints, read the validation
messages inline, press **Save**. Headless runs skip it — nothing here waits for a click.
"""),
    code("""
from maas_helpers.widgets import configure_form

configure_form(settings, path=saved_to)  # shows the form in JupyterLab; nothing headless
"""),
    md("### Verify\nThe saved file loads back to valid settings — the form's, if you pressed **Save** — and holds "
       "no token."),
    code("""
from maas_helpers.config import load_settings

settings = load_settings(saved_to, env=False)  # after Save these are the form's values
assert "token" not in saved_to.read_text().lower(), f"{saved_to} must never hold a token"
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
installed = kit.operator.install()
installed
"""),
    md("""
## The manifests

These are the objects sent to the cluster (on the sandbox: the objects that *would* be sent). The Secret's
data is summarised by file name, never printed.
"""),
    code("kit.operator.manifests()"),
    md("### Verify\nEvery object was handled (created, unchanged, or skipped on the sandbox) and none failed."),
    code("""
assert installed.actions, "the install reported nothing"
assert not any(a.change == "failed" for a in installed.actions)
print("operator and policy secret:", installed.summary())
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

**Why 3scale 2.16 needs databases from you.** Since 2.16 the operator no longer runs Redis or the system
database itself: its preflight checks refuse an APIManager unless `spec.externalComponents` marks the system
database, system Redis and backend Redis as external and the Secrets `system-database` (key `URL`),
`system-redis` (`URL`) and `backend-redis` (`REDIS_STORAGE_URL`, `REDIS_QUEUES_URL`) exist — otherwise the
`Preflights` condition says "External databases are required" and the APIManager never becomes `Available`.
With `databases: deploy` (the default, for a workshop cluster) the kit runs three Redis 7 instances (system,
backend storage, backend queues) and a PostgreSQL 15 from Red Hat's images, each with a volume, a Service and a
readiness probe, generates their passwords into Secrets (shown below by name and keys only, values masked), and
waits for them before the APIManager. With `databases: external` it copies the URLs from your Secret
(`database_secret`) instead. On `threescale-2.15`, `databases: internal` still lets the operator run them.

**What the kit does differently from the guide.** The guide creates the CustomPolicyDefinition first and tells
you to ignore its *Failed* status (no tenant exists yet), copies the operator's placeholder schema into it, and
waits by "refreshing the page". The kit creates it from the policy's real `apicast-policy.json`, tolerates
*Failed* until the APIManager is `Available`, and then re-checks it; it waits on the APIManager's `Available`
condition — after a change only once the deployments it owns have rolled out again — stops at once with the
operator's own message when the preflights fail, and names the deployments or pods that are stuck and why. Admin credentials come from the `system-seed` Secret
(the sandbox: from its own credentials file) — they are never printed. The organisation name is set through the
Master API, and so is the **timezone**, as the Rails zone name 3scale keeps (`Europe/Berlin` → `Berlin`; a zone
3scale does not allow, such as a half-hour offset, stops with one line); without a master token both are
reported as a manual step with a link.
"""),
    parameters("wait_timeout = 1800  # seconds to wait for the APIManager to become Available"),
    LOAD,
    md("## Deploy 3scale\nDatabases and their Secrets first (on OpenShift), then the APIManager, then the wait."),
    code("""
deployed = kit.apimanager.install(timeout=wait_timeout)
deployed
"""),
    md("""
### What the kit created for the databases

The Secrets the operator reads, with their keys; the generated values stay in the cluster (the sandbox has no
cluster, so this list is empty there).
"""),
    code("""
for action in deployed.actions:
    if action.kind == "Secret":
        print(f"{action.name}: {action.detail}")
"""),
    md("## The tenant: credentials, policy registry and organisation"),
    code("""
credentials = kit.tenant.credentials()  # tokens stay masked in every repr
display(kit.tenant.apply())  # the policy registry entry, then the organisation's name and timezone
credentials
"""),
    md("### Verify\n3scale is `Available` with every deployment ready, the Admin API answers with these "
       "credentials, and re-planning finds nothing left to do."),
    code("""
status = kit.apimanager.status()
assert status["available"], status["conditions"]
assert status["ready"] and not status["not_ready"], status["not_ready"]

provider = kit.tenant.list()  # the tenant's account as the Admin API returns it
assert provider["org_name"] == kit.settings.org_name, provider["org_name"]
assert kit.tenant.plan().in_sync
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
result = kit.backends.apply()
result
"""),
    md("## What exists now"),
    code("""
backends = kit.backends.list()
backends
"""),
    md("### Verify\nEvery model has a backend pointing at its URL, and nothing is left to change."),
    code("""
actual = dict(zip(backends.system_name, backends.private_endpoint, strict=True))
expected = {p.backend.system_name: p.backend.private_endpoint for p in kit.catalogue.products}
assert expected and all(actual.get(name) == url for name, url in expected.items()), actual
assert kit.backends.plan().in_sync
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

**3scale's sample product.** A new tenant comes with a product `API` (backend `API Backend` on
echo-api.3scale.net), plans *Basic* (default) and *Unlimited*, a developer *Developer* with *Developer's App*,
and an ActiveDoc *Echo*. Left alone, every developer who signs up gets a key on it (3scale gives a new account an
application on each product with a default plan) and the portal offers it next to the models. The kit **deletes
the sample product's application plans** (and the sample applications on them), so no plan is default and the
portal offers nothing there, and **unpublishes Echo**. It **keeps the product and its backend**: 3scale refuses
to delete its default product, and its Admin API cannot make a plan non-default. To keep the sample data, set
`remove_sample_data: false` in `maas.yaml`.
"""),
    parameters(),
    LOAD,
    md("## Products, methods and metrics, mapping rules, authentication, the sample product"),
    code("""
result = kit.products.apply()
result
"""),
    md("## The mapping rules of each product\nOne row per rule, one column per product: the method each rule counts."),
    code("""
rules = kit.products.list()
rules.pivot_table(index=["http_method", "pattern"], columns="product", values="metric", aggfunc="first").fillna("—")
"""),
    md("""### Verify
What this checks is the stored configuration: the only rule for the chat path is a POST rule, no `GET /` rule is
left, the sample product has no application plan, and nothing is left to change. The gateway itself answers only
after notebook 5 promotes the configuration and notebook 6 creates a key; notebook 10 sends the requests (a GET
to the chat path gets 404 *No Mapping Rule matched*, a POST gets 200)."""),
    code("""
assert not rules[(rules.http_method == "GET") & (rules.pattern == "/")].shape[0], "default GET / rule still there"
chat = rules[rules.pattern == "/v1/chat/completions$"]
assert set(chat.http_method) == {"POST"} and len(chat) >= 1
sample_plans = kit.products.sample_plans()  # None: this tenant has no sample product
if sample_plans is not None and kit.catalogue.remove_sample_data:
    assert sample_plans == [], "the sample product still has application plans"
assert kit.products.plan().in_sync
print(rules.groupby("product").size().to_string())  # NBVAL_CHECK_OUTPUT
"""),
    md("""
## Where to see it

The same objects in the admin portal (3scale's own paths). On the sandbox a read-only admin portal answers them.
"""),
    code("kit.products.links()"),
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
result = kit.policies.apply()
result
"""),
    md("""
On a first run *Deploy to staging* may say **unchanged v2**: 3scale's policy-chain update
(`PUT /admin/api/services/{id}/proxy/policies.json`) already deploys a new staging version itself (porta
`Admin::Api::Services::Proxy::PoliciesController#update`), so the deploy step finds staging current and only the
promotion to production is left.
"""),
    md("## Configuration versions per product"),
    code("""
versions = kit.policies.list()
versions
"""),
    md("### Verify\nProduction runs the latest staging version with our chain, and a re-plan finds nothing to do."),
    code("""
assert (versions.production == versions.staging).all(), "production is behind staging"
assert all(chain == ["cors", "llm-metrics", "apicast"] for chain in versions.policy_chain)
assert kit.policies.plan().in_sync
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
result = kit.plans.apply()
result.fold("limit", "each limit is in the table below")
"""),
    md("## Plans and their limits\nOne row per product and plan, one column per metric and period: the limit's value."),
    code("""
limits = kit.plans.list()
limits.pivot_table(index=["product", "plan"], columns=["metric", "period"], values="value", aggfunc="first")
"""),
    md("### Verify\nEvery product has its published plans with both hit and token limits; nothing is left to change."),
    code("""
assert set(limits.plan) >= {"free", "standard", "premium"}
assert {"hits", "total_tokens"} <= set(limits.metric)
assert limits.published.all()
assert kit.plans.plan().in_sync
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
result = kit.active_docs.apply()
result
"""),
    md("### Verify\nEach product has a published spec whose server is its production gateway URL."),
    code("""
docs = kit.active_docs.list()
assert len(docs) == len(kit.catalogue.products) and docs.published.all()
assert (docs.server == docs.production_endpoint).all(), "spec servers differ from the production endpoints"
assert kit.active_docs.plan().in_sync
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

**The guide's names and the kit's.**

| the guide | the kit (`portal/`, `maas_helpers/manifests.py`) |
|---|---|
| `default.css` (3scale's stylesheet, edited) | left as 3scale ships it; the kit's styles are separate |
| `rhoai_custom.css` | `/css/maas.css` (`portal/files/css/maas.css`) |
| `secret_keys.js` (show/hide keys) | `/javascripts/maas.js` + partial `maas_key_widget` |
| `rhoai.png` | `/images/maas-logo.svg` |
| partial `submenu` | partial `maas_submenu` |
| Secret `llm-metrics` (policy files) | Secret `apicast-policy-llm-metrics-1-0-0` (one per policy name and version, notebook 1) |
"""),
    parameters(),
    LOAD,
    code("""
result = kit.portal.apply()
result
"""),
    md("""
## What the portal serves
Fetched like a visitor would, without signing in: the home page must contain a line of the kit's own
`portal/pages/homepage.html.liquid` and link its stylesheet, and each stylesheet, script and image must come back
byte for byte as `portal/files/` ships it. 3scale's default home page, or a portal never published, fails here.
"""),
    code("""
served = kit.portal.served()
served
"""),
    md("### Verify\nThe portal serves **our** published content, not 3scale's default pages, and nothing is left to "
       "publish."),
    code("""
assert served.ours.all(), served[~served.ours].to_string()
assert kit.portal.plan().in_sync
print("portal serves the kit's home page and files:", served.ours.all())  # NBVAL_CHECK_OUTPUT
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
imports a realm whose only redirect URI is the absolute `callback_url` 3scale reports for the provider (it stops
with an error if 3scale reports none), generates the client secret once and stores it privately (never printed),
and configures the provider through the Admin API, published and auto-approving.

**On OpenShift** the Red Hat build of Keycloak operator is subscribed on the pinned `stable-v26.0` channel with
*Manual* approval, and the kit approves only the InstallPlan of the CSV it expects, so a new minor cannot move
the CRDs under you. Keycloak runs on a PostgreSQL (deployed by the kit, or yours) so a pod restart keeps the
imported realm; the realm import holds `${...}` placeholders, and the client secret and demo password come from a
Secret through the import's `spec.placeholders`, never written into the custom resource.

**Why `org_name` comes from the e-mail.** The realm maps the `org_name` claim from the user's e-mail address,
as the guide does: every user — self-registered or created for a workshop — has one, so no extra user attribute
has to be maintained, and each developer gets an account of their own in 3scale.
"""),
    parameters(),
    LOAD,
    code("""
result = kit.sso.apply()  # realm (through the platform) + 3scale's authentication provider
result
"""),
    md("## How a developer signs in\nThe realm's demo user, where its password is, and registration when allowed."),
    code("""
sign_in = kit.sso.sign_in()
sign_in
"""),
    md("### Verify\nThe realm publishes its OpenID configuration and 3scale knows the published provider."),
    code("""
import requests

realm_url = kit.sso.realm_url()
oidc = requests.get(f"{realm_url}/.well-known/openid-configuration", timeout=10, verify=kit.settings.tls_verify)
assert oidc.status_code == 200 and oidc.json()["issuer"] == realm_url
assert kit.sso.plan().in_sync
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
journey = kit.journey.start(developer)
journey
"""),
    md("""
## Call each model with plain HTTP
The same request `curl -H 'Authorization: Bearer <key>' …` sends. On the sandbox the models are tiny n-gram
(Markov) text generators and a hashing embedder, so the answers are word salad: what matters here is the path
through the gateway, the status and the tokens counted. The sandbox's products all reach the same small model
server (below: what that means for keys and model names).
"""),
    code("""
calls = journey.call_each_model()
calls
"""),
    md("## The OpenAI SDK, with streaming\nThe SDK only needs the product's production URL and the key."),
    code("""
sdk = journey.call_with_openai_sdk(stream=True)
sdk
"""),
    md("""
## What the rules and keys decide
Notebook 4 stored the rules; here they are sent. The chat path has a POST rule only, so a GET is **404** *No
Mapping Rule matched*. A key belongs to its product: another product's gateway answers **403** *Authentication
failed*. What a gateway does **not** check is the `model` in the body: on the sandbox every product reaches the
same model server, so the chat product's key and URL get an answer for another model's name (counted on the
chat product's plan). On a cluster each backend is one vLLM serving only its model; it answers 404 for another name.
"""),
    code("""
routing = journey.check_routing()
routing
"""),
    md("## Refusals on purpose"),
    code("""
refusals = journey.show_refusals(rate_limit=rate_limit_demo)
refusals
"""),
    md("### Verify\nEvery model answered 200 with tokens counted, the SDK streamed, each refusal had its status, the "
       "chat path answered POST and refused GET, and another product's key was refused."),
    code("""
assert (calls.status == 200).all(), calls
assert (calls[calls.kind != "embedding"].total_tokens > 0).all()
assert (sdk.status == "ok").all() and (sdk.chunks > 1).any()
cases = ["no key", "unknown key", "unmapped path"] + (["rate limit"] if rate_limit_demo else [])
assert list(refusals.case) == cases and (refusals.status == refusals.expected).all(), refusals.to_string()
assert list(refusals.status)[:3] == [401, 403, 404] and (not rate_limit_demo or refusals.status.iloc[3] == 429)
if len(routing):
    status = dict(zip(routing.check, routing.status, strict=True))
    assert status["chat answers POST"] == 200 and status["no GET rule for chat"] == 404, routing.to_string()
    assert "No Mapping Rule matched" in routing.body[routing.check == "no GET rule for chat"].iloc[0]
    assert status["key of another product"] == 403, routing.to_string()
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
report_dir = None  # headless runs write stats.json and cost.csv here for the tests
run_billing = False  # sandbox: bill this month's usage so far now
"""),
    LOAD,
    code("""
usage = kit.usage.summary()
usage.by_product
"""),
    md("## Tokens per application"),
    code("usage.by_application"),
    md("## Plots\nHits by method across the products, and prompt vs completion tokens per application."),
    code("""
figures = usage.figures()
for figure in figures:
    display(figure)  # each shows once, as an image
"""),
    md("### Check the traffic\nThe traffic of notebook 10 is there: hits and tokens on at least one product, and "
       "both plots drew them (an empty plot only shows \"no … in this period\"); the full check is at the end."),
    code("""
assert usage.by_product.hits.sum() > 0, "no hits recorded: run notebook 10 first"
assert usage.by_product.total_tokens.sum() > 0, "no tokens recorded: is llm-metrics in the policy chain?"
empty = [f.axes[0].get_title() for f in figures if not f.has_data()]
assert not empty, f"plots with no data: {empty}"
if report_dir:
    usage.write_json(report_dir)
print("products with traffic:", int((usage.by_product.hits > 0).sum()))
"""),
    md("""
## Cost: prices per token, from 3scale's pricing rules

**Concept.** Each application plan carries 3scale **pricing rules** — a cost per unit of a metric over a range
of usage (`min`–`max`, so tiers) — and a **monthly fee** (`cost_per_month`) and **setup fee**. The catalogue's
`pricing` block (price per 1M prompt / completion tokens, optional tiers and fees) is applied as those rules.
3scale's billing multiplies each metric's usage of the month by its rules and puts the result, with the fees,
on a monthly **invoice** per developer account.

**Why thousands of tokens.** 3scale stores `cost_per_unit` with 4 decimals (porta `pricing_rule.rb`,
decimal(20,4)): 0.50 per 1M tokens is 0.0000005 per token, which would be stored as 0. So the kit prices
the metrics `prompt_tokens_k` and `completion_tokens_k`, counted in **thousands** of tokens: 0.50 per 1M =
0.0005 per thousand, exact. llm-metrics reports them next to the token metrics (rules with `per: 1000`) and
keeps the remainder of each application — 2 500 tokens report 2 now and carry 500 to the next response — so
no token goes unbilled. A price per 1M must be a multiple of 0.1 for this; the catalogue refuses others.

The table below is **usage × pricing** from the Analytics API, computed as 3scale bills (tiers included), for
this month so far: the same figures as `maas stats --cost` and the developer portal's usage page.
"""),
    code("""
prices = kit.usage.prices()  # one row per plan and priced metric, with the plan's fees
prices
"""),
    code("""
from maas_helpers import billing

month = billing.current_month()
cost = kit.usage.cost(month)  # per account, application, metric and day
summary = billing.cost_summary(cost)
summary[summary.total > 0] if (summary.total > 0).any() else summary
"""),
    md("Per product for the period, and as a chart:"),
    code("""
display(summary.groupby("product")[["usage_cost", "monthly_fee", "total"]].sum())
cost_chart = billing.plot_cost_by_application(summary)
cost_chart
"""),
    md("""
## Running billing and reading an invoice
On a real 3scale the billing job runs every night and closes the month on the 1st (once the tenant's billing
is switched on: *Audience → Billing → Charging & Gateway*). The sandbox has no nightly job:
`maas sandbox bill --month YYYY-MM` (or `run_billing = True` here) bills a month through the Master API's
billing job, and the **Billing API** (`/api/invoices.json`, `/api/invoices/{id}/line_items.json`) reads the
invoices: one line per fee and per priced metric, *quantity* = usage, *cost* = usage × price. Billing the
running month bills the usage up to the last whole minute; a later run bills only what came after.
"""),
    code("""
if run_billing and kit.settings.target == "sandbox":
    from maas_sandbox import control

    control.bill(month, kit.settings.state_dir)
invoices = kit.usage.invoices(month)
invoices if not invoices.empty else "no invoices for this month yet"
"""),
    md("### Verify\nThe traffic checks above passed; the days add up to the month, and no invoice bills more "
       "usage than usage × pricing."),
    code("""
assert round(cost.cost.sum(), 4) == round(summary.total.sum(), 4)
usage_lines = invoices[~invoices.line.str.contains("fee", case=False)] if not invoices.empty else invoices
if not usage_lines.empty:
    billed = summary.set_index("application")["usage_cost"].sum()
    assert round(usage_lines.cost.sum(), 4) <= round(billed, 4) + 1e-9, "invoice bills more than the usage"
if report_dir:
    from pathlib import Path

    cost.to_csv(Path(report_dir) / "cost.csv", index=False)
print("cost this month:", f"{summary.total.sum():.4f}")
"""),
    next_step("Notebook **99** removes everything the kit created, when you are done."),
]

# --------------------------------------------------------------------------------------------------------------
NOTEBOOKS["12_workshop"] = [
    md("""
# 12 · Running a workshop (for trainers)

**Objective:** set up a whole room in one call — for each attendee a developer account, an SSO user with a
temporary password and one application per model — print the handout, watch the room's usage live, and clean
up afterwards.

**Concept.** Everything goes through the same APIs as the rest of the tutorial: 3scale's Signup Express
(`POST /admin/api/signup.json`) and applications, Keycloak's admin REST API for the SSO users (the sandbox SSO
serves the same calls), and the Analytics API for the board. Each object carries the workshop's marker (the
account's org name `<user> [maas-workshop]`, the application's description, the SSO user's `maas_workshop`
attribute), so taking the room down never touches other accounts. Like `apply`, `up` is idempotent: the same N
again writes nothing; a larger N adds only the new attendees.

**Secrets.** Temporary passwords and keys are written only to `build/workshop/attendees.csv` and
`build/workshop/handout.html` (mode 0600) — never to this notebook. The same from a terminal:
`maas workshop up --attendees 20`, `maas workshop watch`, `maas workshop reset`, `maas workshop down`.
"""),
    parameters("""
attendees = 3  # 1–500
prefix = "nb"  # attendees are nb-001, nb-002, …
plan = "standard"
models = None  # None: every model of the catalogue; or a list of model names
out_dir = None  # None: build/workshop in the repository
refresh_rounds = 3  # interactive: how many times the board refreshes (5 s apart)
take_down = False  # true: remove the room at the end
"""),
    LOAD,
    md("## Set up the room"),
    code("""
from maas_helpers.runner import NOTEBOOKS_DIR
from maas_helpers.workshop import WorkshopSpec

room = kit.workshop(out_dir or NOTEBOOKS_DIR.parent / "build" / "workshop")
spec = WorkshopSpec(attendees=attendees, prefix=prefix, plan=plan, models=tuple(models or ()))
room.up(spec)
"""),
    md("""
## The handout
One card per attendee: portal URL (with a QR code), username, temporary password, key and endpoint per model,
a curl and an OpenAI-SDK snippet. Open `handout.html` in a browser and print it. Here only masked keys show.
"""),
    code("""
import csv

import pandas as pd

from maas_helpers.secrets import mask

with (room.out_dir / "attendees.csv").open(newline="") as fh:
    handout = list(csv.DictReader(fh))
pd.DataFrame([{"attendee": r["username"], "model": r["model"], "key": mask(r["key"])} for r in handout])
"""),
    md("## Some traffic, then the board\nOne call with the first attendee's first key (read from the handout)."),
    code("""
import requests

first = handout[0]
if "embed" in first["model"]:
    path, body = "/v1/embeddings", {"model": first["model"], "input": "Hello"}
else:
    path, body = "/v1/chat/completions", {"model": first["model"], "messages": [{"role": "user", "content": "Hi"}]}
before = sum(r.requests for r in room.board())
answer = requests.post(first["endpoint"] + path, json=body, timeout=30,
                       headers={"Authorization": f"Bearer {first['key']}"})
print(first["username"], first["model"], "→", answer.status_code)
"""),
    code("""
from maas_helpers.widgets import in_interactive_kernel
from maas_helpers.workshop import board

# interactive: refreshes every 5 s, `refresh_rounds` times; headless: one static table and chart
rows = board.live(room.board, room.prefix(), rounds=refresh_rounds if in_interactive_kernel() else 1)
print(board.NOT_COUNTED)
"""),
    md("### Verify\nThe call shows on the board, and `up` again with the same N writes nothing."),
    code("""
assert answer.status_code == 200, answer.status_code
assert sum(r.requests for r in rows) == before + 1, "the board does not show the call"
room.reset_counts()
again = room.up(spec)
assert room.writes == 0, str(again)
print(f"{len(rows)} attendees on the board; re-run: {room.calls} API calls, 0 writes")
"""),
    md("""
## Between sessions and at the end
* `room.reset()` (`maas workshop reset`): a new key for every application; old keys fail with 403 at once and
  the handout is rewritten.
* `room.reset(usage=True)` (`--usage`): the board counts from now. 3scale cannot delete recorded usage
  through its API, nor reset rate-limit counters (they expire with their period); the kit keeps a baseline.
* `room.down()` (`maas workshop down`): removes the attendees' applications, accounts and SSO users — only
  those carrying this workshop's marker.
"""),
    code("""
if take_down:
    display(room.down())
else:
    print("room kept (pass -p take_down=true to remove it)")
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
preview = kit.teardown.plan()  # destroy's own code with writes skipped, plus the developer accounts
preview
"""),
    md("## Remove"),
    code("""
from maas_helpers.widgets import in_interactive_kernel

if confirm_teardown:
    removed = kit.teardown.apply()  # notebook 10's developer accounts, our objects, then the platform's
    display(removed)
elif in_interactive_kernel():
    display(kit.teardown.button())
else:
    print("teardown skipped (pass -p confirm_teardown=true to delete)")
"""),
    md("### Verify\nAfter a confirmed teardown nothing of ours is left: no product, backend or developer account the "
       "kit created. Without confirmation the plan above must still list what a teardown would remove."),
    code("""
left = kit.teardown.plan()
if confirm_teardown:
    assert not left.actions, f"still there: {[str(a) for a in left.actions]}"
    print("teardown complete")
else:
    assert left.changed, "nothing to remove: run the tutorial first"
    print(f"teardown not confirmed; {len(left.actions)} object(s) would be removed")
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
