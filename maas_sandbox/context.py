"""The running sandbox's shared objects, handed to every component (admin, gateway, backend, portal, sso)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from maas_sandbox.clock import Clock
from maas_sandbox.layout import Ports, StateDir
from maas_sandbox.store import Store


@dataclass
class Sandbox:
    state: StateDir
    store: Store
    clock: Clock
    ports: Ports
    tenant: str
    admin_token: str
    master_token: str
    admin_password: str
    test_clock: bool = False
    # Filled in by the data plane at start: the usage/limits engine and the gateway listeners.
    backend: Any = None
    gateway: Any = None
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def admin_url(self) -> str:
        return self.ports.url(self.ports.admin)

    @property
    def master_url(self) -> str:
        return self.ports.url(self.ports.admin)

    @property
    def portal_url(self) -> str:
        return self.ports.url(self.ports.portal)

    @property
    def sso_url(self) -> str:
        return self.ports.url(self.ports.sso)

    @property
    def models_url(self) -> str:
        return self.ports.url(self.ports.models)

    def gateway_urls(self, slot: int) -> tuple[str, str]:
        staging, production = self.ports.gateway(slot)
        return self.ports.url(staging), self.ports.url(production)
