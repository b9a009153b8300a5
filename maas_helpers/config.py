"""Where and how: the validated settings notebook 0 saves (`maas-config.yaml`) and every later step loads.

Tokens are never saved: the admin URL/token come from the platform (system-seed or the running sandbox)
or from `MAAS_ADMIN_URL` / `MAAS_ADMIN_TOKEN`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlparse
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator

from maas_helpers.errors import ConfigError

DEFAULT_CONFIG_FILE = "maas-config.yaml"
SANDBOX_DOMAIN = "sandbox.local"
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_HOST_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
_SYSTEM_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")

# 3scale operator channels the kit knows. Since 2.16 the operator refuses internal databases
# (controllers/apps/apimanager_controller.go, externalDatabasesPreflightsChecks, tag 3scale-2.16.3-GA).
THREESCALE_CHANNELS: dict[str, bool] = {"threescale-2.15": True, "threescale-2.16": False}  # internal DBs allowed
# RHBK channels pinned to one minor: the 26.0 CRDs (v2alpha1) are the ones the kit renders and validates.
RHBK_CHANNELS: tuple[str, ...] = ("stable-v26.0",)

# The sandbox model server's models (maas_sandbox/models); their URL is the running sandbox's.
SANDBOX_MODELS: tuple[tuple[str, str, str], ...] = (
    ("markov-chat-small", "chat", "Small n-gram chat model served by the sandbox (OpenAI chat completions)."),
    ("markov-code-small", "completion", "Small n-gram code model served by the sandbox (text completions)."),
    ("hash-embed-small", "embedding", "Hash embedding model served by the sandbox (OpenAI embeddings)."),
)


SANDBOX_SOURCE = "sandbox model server"
MODELS_FORMAT = ("give a list of models, each with name, url and kind, e.g. "
                 "[{name: granite, url: \"http://granite-predictor.llm.svc.cluster.local\", kind: chat}] "
                 "(leave it [] on the sandbox for its own models)")


class ModelEndpoint(BaseModel):
    """One served model: the name clients pass as `model`, and where the serving runtime answers in-cluster."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="served model name (vLLM --served-model-name); also the 3scale system name")
    url: str = Field(description="in-cluster URL of the model server, e.g. http://granite-predictor.llm:8080")
    kind: Literal["chat", "completion", "embedding"] = "chat"
    description: str = ""
    # what clients pass as `model` when it is not a valid system name (`name` is then the mapped one)
    served_name: str = Field(default="", max_length=255)
    # where it came from: "InferenceService llm/granite", "LLMInferenceService …", "sandbox", "" (typed by hand);
    # a re-run compares it with what discovery finds (maas_helpers/served_models.py)
    source: str = Field(default="", max_length=300)

    @property
    def model(self) -> str:
        """The served model name clients pass as `model`."""
        return self.served_name or self.name

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _SYSTEM_NAME.fullmatch(value) or len(value) > 100:
            raise ValueError("use letters, digits, '.', '_' or '-' (it becomes the 3scale system name)")
        return value

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        parsed = urlparse(value)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ValueError("must be an http:// or https:// URL with a host")
        return value.rstrip("/")


def sandbox_models(models_url: str) -> list[ModelEndpoint]:
    return [ModelEndpoint(name=n, url=models_url, kind=k, description=d, source=SANDBOX_SOURCE)  # type: ignore[arg-type]
            for n, k, d in SANDBOX_MODELS]


class Settings(BaseModel):
    """Target, cluster, tenant and models. `models` may stay empty for the sandbox: its own models are used."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    target: Literal["sandbox", "openshift"] = "sandbox"
    cluster_domain: str = Field(default="", description="wildcard apps domain, e.g. apps.cluster-abc.example.com")
    namespace: str = "3scale"
    tenant: str = "maas"
    org_name: str = "MaaS on RHOAI"
    timezone: str = "UTC"
    models: list[ModelEndpoint] = Field(default_factory=list)
    operator_channel: str = "threescale-2.16"
    storage_class: str = "ocs-storagecluster-cephfs"
    # 3scale's databases: "deploy" (the kit runs Redis and PostgreSQL in the namespace, for a workshop),
    # "external" (copy URLs from the Secret `database_secret`), "internal" (threescale-2.15 only).
    databases: Literal["deploy", "external", "internal"] = "deploy"
    database_secret: str | None = None
    database_storage_class: str | None = None  # RWO class for the database PVCs; None = the cluster default
    sso_namespace: str = "rhbk"
    sso_channel: str = "stable-v26.0"
    sso_csv: str | None = None  # the exact RHBK CSV to approve; None = any rhbk-operator.v<channel minor>.*
    # Keycloak's database: "deploy" (a PostgreSQL in the SSO namespace) or "external" (`sso_database_secret`
    # in the SSO namespace with keys host, database, username, password; optional port).
    sso_database: Literal["deploy", "external"] = "deploy"
    sso_database_secret: str | None = None
    # Keycloak's registrationAllowed for the kit's realm on a cluster: off unless the owner opts in (an open
    # registration on a real RHBK is their decision; a workshop may want it). The sandbox always allows it.
    sso_registration: bool = False
    verify_tls: bool = True
    # Products (and workshop attendees) reconciled at once against the Admin API; 1 = one call at a time.
    concurrency: int = Field(default=8, ge=1, le=64)
    ca_bundle: Path | None = None
    state_dir: Path = Path(".maas")
    kubeconfig: Path | None = None
    # The cluster ownership label value (`maas.3scale.net/instance`): None = the namespace, so every workbench
    # driving the same namespace agrees. Two kits sharing one namespace would set different values.
    instance: str | None = None
    # Existing cluster objects without the kit's labels that the kit may take over (never implicit), each as
    # "Kind/namespace/name" ("Namespace/name" for a namespace), e.g. "APIManager/3scale/apimanager".
    adopt: list[str] = Field(default_factory=list)
    # Overrides read from the environment only; never written to the YAML file.
    admin_url: str | None = Field(default=None, exclude=True)
    admin_token: SecretStr | None = Field(default=None, exclude=True)

    @field_validator("cluster_domain")
    @classmethod
    def _domain(cls, value: str) -> str:
        value = value.strip().lower().rstrip(".")
        if value.startswith(("http://", "https://")):
            raise ValueError("give the bare apps domain (e.g. apps.cluster-abc.example.com), not a URL")
        if value.startswith("*."):
            value = value[2:]
        if value and (len(value) > 253 or not all(_HOST_LABEL.fullmatch(p) for p in value.split("."))):
            raise ValueError("must be a DNS name such as apps.cluster-abc.example.com")
        return value

    @field_validator("instance")
    @classmethod
    def _instance(cls, value: str | None) -> str | None:
        if value is not None and not _LABEL.fullmatch(value):
            raise ValueError("must be a label value: lower-case letters, digits and '-', at most 63 characters")
        return value

    @field_validator("adopt")
    @classmethod
    def _adopt(cls, value: list[str]) -> list[str]:
        for ref in value:
            parts = ref.split("/")
            if len(parts) not in (2, 3) or not all(parts) or (parts[0] == "Namespace") != (len(parts) == 2):
                raise ValueError(f"{ref!r}: write Kind/namespace/name (Namespace/name for a namespace)")
        return value

    @field_validator("namespace", "tenant", "sso_namespace")
    @classmethod
    def _label(cls, value: str) -> str:
        if not _LABEL.fullmatch(value):
            raise ValueError("must be an RFC 1123 label: lower-case letters, digits and '-', at most 63 characters")
        return value

    @field_validator("operator_channel")
    @classmethod
    def _channel(cls, value: str) -> str:
        if value not in THREESCALE_CHANNELS:
            raise ValueError(f"unknown 3scale channel {value!r}; the kit knows {', '.join(THREESCALE_CHANNELS)}")
        return value

    @field_validator("sso_channel")
    @classmethod
    def _sso_channel(cls, value: str) -> str:
        if value not in RHBK_CHANNELS:
            raise ValueError(f"unknown RHBK channel {value!r}; the kit knows {', '.join(RHBK_CHANNELS)}")
        return value

    @field_validator("database_secret", "sso_database_secret", "database_storage_class")
    @classmethod
    def _optional_name(cls, value: str | None) -> str | None:
        if value is not None and not _LABEL.fullmatch(value):
            raise ValueError("must be a Kubernetes object name (lower-case letters, digits and '-')")
        return value

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("must be an IANA time zone such as Europe/Berlin or UTC") from None
        return value

    @field_validator("org_name")
    @classmethod
    def _org(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value.strip()

    @field_validator("admin_url")
    @classmethod
    def _admin_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parsed = urlparse(value)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ValueError("must be an http(s) URL such as https://maas-admin.apps.example.com")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _per_target(self) -> Settings:
        if self.target == "sandbox" and not self.cluster_domain:
            object.__setattr__(self, "cluster_domain", SANDBOX_DOMAIN)
        if self.target == "openshift":
            if not self.cluster_domain:
                raise ValueError("cluster_domain: required for target openshift (the cluster's apps domain)")
            if not self.models:
                raise ValueError("models: list at least one model endpoint (name, url, kind) for target openshift")
        if self.databases == "internal" and not THREESCALE_CHANNELS[self.operator_channel]:
            raise ValueError(
                f"databases: 'internal' is refused by the operator on {self.operator_channel}; "
                "use 'deploy' (the kit runs them) or 'external' (with database_secret)"
            )
        if self.databases == "external" and not self.database_secret:
            raise ValueError("databases: 'external' needs database_secret (a Secret with the database URLs)")
        if self.sso_database == "external" and not self.sso_database_secret:
            raise ValueError("sso_database: 'external' needs sso_database_secret (host, database, username, password)")
        names = [m.name for m in self.models]
        if len(names) != len(set(names)):
            raise ValueError("models: model names must be unique")
        return self

    # --- derived values -------------------------------------------------------------------------------
    @property
    def cluster_instance(self) -> str:
        """The value of the kit's instance label on cluster objects (`instance`, else the namespace)."""
        return self.instance or self.namespace

    @property
    def tls_verify(self) -> bool | str:
        """What `requests` takes as `verify`: the CA bundle path when set, else the boolean."""
        if self.verify_tls and self.ca_bundle is not None:
            return str(self.ca_bundle)
        return self.verify_tls

    def resolved_models(self, sandbox_models_url: str | None = None) -> list[ModelEndpoint]:
        if self.models:
            return list(self.models)
        if self.target == "sandbox" and sandbox_models_url:
            return sandbox_models(sandbox_models_url)
        return []

    def admin_host(self) -> str:
        return f"{self.tenant}-admin.{self.cluster_domain}"

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in self.model_dump(exclude={"models"}).items())
        token = ", admin_token='**********'" if self.admin_token is not None else ""
        return f"Settings({fields}, models={[m.name for m in self.models]!r}{token})"

    __str__ = __repr__


def _one_line(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "settings"
    msg = str(err["msg"]).removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        msg = "unknown setting; remove it or check its spelling"
    elif err["loc"][:1] == ("models",) and err["type"] in ("list_type", "model_type", "dict_type"):
        return f"models: {MODELS_FORMAT} (got {err.get('input')!r})"
    elif err["type"] == "literal_error":
        msg = f"{msg} (got {err.get('input')!r})"
    # the model validator already names the field
    if msg.split(":", 1)[0] in {"cluster_domain", "models", "databases", "sso_database"}:
        return msg
    more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
    return f"{where}: {msg}{more}"


def make_settings(**values: Any) -> Settings:
    """Validate settings; any problem raises ConfigError with one line naming the field and the fix."""
    try:
        return Settings(**values)
    except ValidationError as exc:
        raise ConfigError(_one_line(exc)) from None


def config_path(path: str | Path | None = None) -> Path:
    return Path(path or os.environ.get("MAAS_CONFIG") or DEFAULT_CONFIG_FILE)


def _env_overrides() -> dict[str, Any]:
    out: dict[str, Any] = {}
    if os.environ.get("MAAS_ADMIN_URL"):
        out["admin_url"] = os.environ["MAAS_ADMIN_URL"]
    if os.environ.get("MAAS_ADMIN_TOKEN"):
        out["admin_token"] = os.environ["MAAS_ADMIN_TOKEN"]
    return out


def load_settings(path: str | Path | None = None, *, env: bool = True) -> Settings:
    """Load the saved settings (plus MAAS_ADMIN_URL/MAAS_ADMIN_TOKEN from the environment)."""
    target = config_path(path)
    if not target.exists():
        raise ConfigError(
            f"no saved configuration at {target}; run notebook 0 (or Kit.configure(...).save()) first, "
            "or point MAAS_CONFIG at the file"
        )
    try:
        data = yaml.safe_load(target.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{target}: not valid YAML ({str(exc).splitlines()[0]}); fix or re-save it") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{target}: expected a mapping of settings; re-save it from notebook 0")
    for secret in ("admin_token", "master_token"):
        if secret in data:
            raise ConfigError(f"{target}: {secret} must not be saved in the file; use MAAS_ADMIN_TOKEN instead")
    if env:
        data.update(_env_overrides())
    return make_settings(**data)


def save_settings(settings: Settings, path: str | Path | None = None) -> Path:
    """Write the settings as YAML (never the tokens) and return the path."""
    target = config_path(path)
    data = settings.model_dump(mode="json", exclude={"admin_url", "admin_token"}, exclude_none=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(yaml.safe_dump(data, sort_keys=False))
    return target
