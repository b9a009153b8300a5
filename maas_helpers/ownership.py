"""What the kit owns: the one module that decides it (design §2.3).

The kit changes and deletes only what it created, known by a mark that only an admin can write — never by a
name. Two sides:

- **Cluster.** Every object the kit applies carries `CLUSTER_LABELS` plus `INSTANCE_LABEL: <instance>`. Writing a
  label needs write access to the object, which a developer of the MaaS does not have. `cluster_owned()` is the
  only test the platforms use before they change or delete an object; an object without the labels is reported as
  "exists, not managed by the kit: left alone" and is adopted only when the user asks for it explicitly.
- **3scale.** Decided from porta's source (3scale-2.16-stable): see the 3scale half of this module and
  docs/sandbox.md ("Ownership").
"""

from __future__ import annotations

import contextvars
import json
import secrets
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY = "maas-helpers"  # also the server-side-apply field manager
INSTANCE_LABEL = "maas.3scale.net/instance"
CLUSTER_LABELS: dict[str, str] = {MANAGED_BY_LABEL: MANAGED_BY, "app.kubernetes.io/part-of": "maas"}


def cluster_labels(instance: str) -> dict[str, str]:
    """The labels every cluster object the kit applies carries."""
    return {**CLUSTER_LABELS, INSTANCE_LABEL: instance}


def cluster_owned(obj: Mapping[str, Any] | None, instance: str) -> bool:
    """True when a cluster object (as read from the API server) carries the kit's labels for `instance`."""
    if not obj:
        return False
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return labels.get(MANAGED_BY_LABEL) == MANAGED_BY and labels.get(INSTANCE_LABEL) == instance


# --- 3scale --------------------------------------------------------------------------------------------------
# Decided from porta 3scale-2.16-stable (details and file names in docs/sandbox.md, "Ownership"):
#
# - Accounts, users and applications carry an *extra field* `maas_owner` = the instance id, sent in the same
#   request that creates them (Signup Express, buyers_applications create: atomic with the creation). The field
#   is defined by the kit through the fields definitions Admin API as `hidden` and `read_only`: porta's
#   FieldsDefinition#editable_by? lets a buyer (developer) edit neither kind, and the portal's forms only offer
#   `editable_defined_fields_for(user)`, so no developer can produce or change the mark; hidden fields are not
#   shown to them either (visible_for?).
# - Products, backends and ActiveDocs have no extra fields. The kit keeps an inventory inside the tenant: a CMS
#   partial `maas_inventory` that is never published (its draft holds JSON). Only an admin reaches the CMS API;
#   the developer portal renders published content only, and nothing includes the partial. Two workbenches on
#   one tenant read the same inventory, so they agree. Children (plans, metrics, mapping rules, limits, pricing
#   rules, policies, proxy configs, backend usages) are owned through their product or backend.
# - An object is written into the inventory as *pending* (by name) before its create is sent and recorded by id
#   once 3scale answered; a crash in between leaves a pending name. An object of that name is then an orphan:
#   reported, never adopted silently — `adopt: ["product:<system_name>", …]` in the catalogue takes it.

OWNER_FIELD = "maas_owner"
OWNER_TARGETS = ("Account", "User", "Cinstance")  # porta's extra-field targets
INVENTORY_PARTIAL = "maas_inventory"
INVENTORY_KINDS = ("product", "backend", "active_doc")
FOREIGN = "exists, not the kit's: left alone"
TEMPLATES = "/admin/api/cms/templates.json"
FIELDS = "/admin/api/fields_definitions.json"


def owner_mark(instance: str) -> dict[str, str]:
    """The params that mark an account / user / application as the kit's (sent with its create)."""
    return {OWNER_FIELD: instance}


def marked(obj: Mapping[str, Any] | None, instance: str) -> bool:
    """True when an account or application (as the Admin API shows it) carries this instance's mark."""
    return bool(obj) and obj.get(OWNER_FIELD) == instance  # type: ignore[union-attr]


def new_instance_id() -> str:
    return f"maas-{secrets.token_hex(4)}"


@dataclass
class Inventory:
    """What the kit created in one tenant: `owned[kind][id] = name`; `pending[kind]` = names being created."""

    instance: str
    template_id: int | None = None
    owned: dict[str, dict[str, str]] = field(default_factory=dict)
    pending: dict[str, list[str]] = field(default_factory=dict)
    fields_ready: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)
    # group commit (save_inventory): saves asked for, saves known written, one write at a time
    asked: int = field(default=0, repr=False, compare=False)
    written: int = field(default=0, repr=False, compare=False)
    writing: bool = field(default=False, repr=False, compare=False)
    saved: threading.Condition = field(default_factory=threading.Condition, repr=False, compare=False)

    def owns(self, kind: str, obj_id: Any) -> bool:
        return str(obj_id) in self.owned.get(kind, {})

    def ids(self, kind: str) -> dict[int, str]:
        return {int(k): v for k, v in self.owned.get(kind, {}).items()}

    def is_pending(self, kind: str, name: str) -> bool:
        return name in self.pending.get(kind, [])

    def add_pending(self, kind: str, name: str) -> None:
        names = self.pending.setdefault(kind, [])
        if name not in names:
            names.append(name)

    def record(self, kind: str, obj_id: Any, name: str) -> None:
        self.owned.setdefault(kind, {})[str(obj_id)] = name
        if name in self.pending.get(kind, []):
            self.pending[kind].remove(name)

    def forget(self, kind: str, obj_id: Any) -> None:
        self.owned.get(kind, {}).pop(str(obj_id), None)

    def empty(self) -> bool:
        return not any(self.owned.get(k) for k in INVENTORY_KINDS)

    def document(self) -> str:
        return json.dumps({"maas_inventory": 1, "instance": self.instance, "fields_ready": self.fields_ready,
                           "owned": {k: v for k, v in self.owned.items() if v},
                           "pending": {k: v for k, v in self.pending.items() if v}}, indent=1, sort_keys=True)

    @classmethod
    def parse(cls, text: str | None, template_id: int | None) -> Inventory:
        try:
            data = json.loads(text or "")
        except ValueError:
            data = None
        if not isinstance(data, dict) or not data.get("instance"):
            return cls(new_instance_id(), template_id)
        owned = {k: {str(i): str(n) for i, n in (v or {}).items()} for k, v in (data.get("owned") or {}).items()}
        pending = {k: [str(n) for n in v or []] for k, v in (data.get("pending") or {}).items()}
        return cls(str(data["instance"]), template_id, owned, pending, bool(data.get("fields_ready")))


def load_inventory(client: Any) -> Inventory:
    """The tenant's inventory (one listing of the CMS partials); a new one (not saved yet) when there is none."""
    page = 1
    while True:
        body = client.get_json(TEMPLATES, params={"type": "partial", "content": "true", "page": page,
                                                  "per_page": 100})
        batch = body.get("collection", [])
        for template in batch:
            if template.get("system_name") == INVENTORY_PARTIAL:
                return Inventory.parse(template.get("draft"), int(template["id"]))
        meta = body.get("metadata") or {}
        if not batch or page >= int(meta.get("total_pages") or 1):
            return Inventory.parse(None, None)
        page += 1


def save_inventory(client: Any, inventory: Inventory) -> None:
    """Write the inventory's draft (created on first save; never published); returns once a write that holds
    every change made before the call is stored. Thread-safe, as a group commit: the products' workers save
    at about the same moments, and one write carries all their changes instead of one write each in a row
    (26 writes, 2.6 s at 100 ms per call, for a cold apply of five models)."""
    with inventory.lock:
        inventory.asked += 1
        mine = inventory.asked
    with inventory.saved:
        while inventory.written < mine:
            if inventory.writing:  # a write is out; it may not hold this caller's change: wait, then look again
                inventory.saved.wait()
                continue
            inventory.writing = True
            stored = False
            try:
                with inventory.lock:
                    upto, text, template_id = inventory.asked, inventory.document(), inventory.template_id
                inventory.saved.release()  # others may ask (and wait) while this one writes
                try:
                    _write(client, inventory, template_id, text)
                    stored = True
                finally:
                    inventory.saved.acquire()
            finally:
                inventory.writing = False
                if stored:
                    inventory.written = max(inventory.written, upto)
                inventory.saved.notify_all()


def _write(client: Any, inventory: Inventory, template_id: int | None, text: str) -> None:
    if template_id is None:
        body = client.send_json("POST", TEMPLATES, {"type": "partial", "system_name": INVENTORY_PARTIAL,
                                                    "draft": text})
        inventory.template_id = int((body.get("partial") or body)["id"])
    else:
        client.send_json("PUT", f"/admin/api/cms/templates/{template_id}.json", {"draft": text})


def ensure_owner_fields(client: Any, inventory: Inventory) -> list[str]:
    """Define `maas_owner` (hidden, read-only) on accounts, users and applications where it is missing; returns
    the targets it defined. A field of that name a developer could edit (not hidden or not read-only) is made
    admin-only, since a mark anyone can write is no mark."""
    if inventory.fields_ready:
        return []
    defined = [f.get("fields_definition", f) for f in client.get_json(FIELDS).get("fields_definitions", [])]
    writes: list[tuple[str, str, dict[str, Any]]] = []
    for target in OWNER_TARGETS:
        have = next((f for f in defined if f.get("target") == target and f.get("name") == OWNER_FIELD), None)
        if have is None:
            writes.append((target, FIELDS, {"target": target, "name": OWNER_FIELD, "label": "MaaS kit owner",
                                            "hidden": True, "read_only": True, "required": False}))
        elif not (have.get("hidden") and have.get("read_only")):
            writes.append((target, f"/admin/api/fields_definitions/{have['id']}.json",
                           {"hidden": True, "read_only": True, "required": False}))
    with ThreadPoolExecutor(max_workers=len(OWNER_TARGETS)) as pool:  # three independent fields, side by side
        # each in a copy of the caller's context, so an error still names what was being done (client.about)
        for future in [pool.submit(contextvars.copy_context().run, client.send_json,
                                   "POST" if path == FIELDS else "PUT", path, body) for _, path, body in writes]:
            future.result()
    done = [target for target, _, _ in writes]
    inventory.fields_ready = True
    save_inventory(client, inventory)
    return done
