"""The developer portal's content: CMS sections, templates (draft/published) and files, the builtin templates
of a fresh portal, and ActiveDocs specs. Every write of these goes through here (Admin API routes, the seed);
the routes validate the parameters (porta's strong-params rules) and pass the values.
"""

from __future__ import annotations

from typing import Any

from maas_sandbox.admin.conventions import Unprocessable
from maas_sandbox.admin.domain_common import PlainWrites
from maas_sandbox.context import Sandbox

Obj = dict[str, Any]
CONTENT_KINDS = ("cms_section", "cms_template", "cms_file", "active_doc")

# A fresh tenant's builtin templates that the kit's portal replaces or links to (system_name, title).
BUILTIN_PAGES = (
    ("dashboards/show", "Dashboard"),
    ("login/new", "Sign in"),
    ("signup/show", "Sign up"),
    ("accounts/show", "Account"),
    ("applications/index", "Applications"),
    ("applications/choose_service", "Choose service"),
    ("applications/new", "New application"),
    ("applications/show", "Application"),
    ("api_docs/index", "Documentation"),
    ("stats/index", "Statistics"),
)
BUILTIN_PARTIALS = ("submenu", "field", "shared/pagination")
BUILTIN_SECTIONS = (("css", "css"), ("javascripts", "javascripts"), ("images", "images"))


# -- a fresh portal -----------------------------------------------------------------------------------------
def create_builtin_templates(sandbox: Sandbox) -> None:
    """Root and asset sections, builtin pages/partials, the default layout and homepage of a new portal."""
    store = sandbox.store
    with store.transaction():
        root = store.insert(
            "cms_section",
            {"title": "Root", "system_name": "root", "public": True, "parent_id": None, "partial_path": "/"},
        )
        for system_name, title in BUILTIN_SECTIONS:
            store.insert(
                "cms_section",
                {
                    "title": title,
                    "system_name": system_name,
                    "public": True,
                    "parent_id": root["id"],
                    "partial_path": f"/{system_name}",
                },
            )
        layout = insert_template(
            sandbox, "layout", "main_layout", title="Main layout", draft="{% content %}", published="{% content %}"
        )
        insert_template(
            sandbox,
            "page",
            "homepage",
            title="Homepage",
            path="/",
            layout_id=layout["id"],
            section_id=root["id"],
            draft="<h1>{{ provider.name }}</h1>",
            published="<h1>{{ provider.name }}</h1>",
        )
        for system_name, title in BUILTIN_PAGES:
            insert_template(
                sandbox, "builtin_page", system_name, title=title, layout_id=layout["id"], section_id=root["id"]
            )
        for system_name in BUILTIN_PARTIALS:
            insert_template(sandbox, "builtin_partial", system_name)


def insert_template(sandbox: Sandbox, kind: str, system_name: str | None, **fields: Any) -> Obj:
    base: Obj = {
        "type": kind,
        "system_name": system_name,
        "title": None,
        "path": None,
        "layout_id": None,
        "section_id": None,
        "content_type": "text/html",
        "liquid_enabled": True,
        "handler": None,
        "draft": "",
        "published": None,
    }
    return sandbox.store.insert("cms_template", {**base, **fields})


# -- helpers --------------------------------------------------------------------------------------


# -- plain writes (values already validated by the route) ------------------------------------------------
_plain = PlainWrites(CONTENT_KINDS)
create, update, delete = _plain.create, _plain.update, _plain.delete


# -- rules porta applies ------------------------------------------------------------------------------------
def publish_template(sandbox: Sandbox, template: Obj) -> Obj:
    """porta cms/template.rb publish!: only with a draft; published = draft, draft = nil."""
    if template.get("draft") is None:
        return template
    return sandbox.store.update("cms_template", template["id"], {"published": template["draft"], "draft": None})


def delete_template(sandbox: Sandbox, template: Obj) -> None:
    if template["type"].startswith("builtin"):
        raise Unprocessable(body={"error": "Built-in resources can't be deleted"})  # template_service.rb
    if template["type"] == "layout" and sandbox.store.first("cms_template", layout_id=template["id"]):
        raise Unprocessable(body={"error": "Layout is used by pages and cannot be deleted"})
    sandbox.store.delete("cms_template", template["id"])


def delete_section(sandbox: Sandbox, section: Obj) -> None:
    """porta moves the contents of a deleted section to its parent; the root section stays."""
    if section["system_name"] == "root":
        raise Unprocessable(body={"error": "The root section cannot be deleted"})
    with sandbox.store.transaction():
        for kind in ("cms_template", "cms_file"):
            for item in sandbox.store.list(kind, section_id=section["id"]):
                sandbox.store.update(kind, item["id"], {"section_id": section["parent_id"]})
        for child in sandbox.store.list("cms_section", parent_id=section["id"]):
            sandbox.store.update("cms_section", child["id"], {"parent_id": section["parent_id"]})
        sandbox.store.delete("cms_section", section["id"])
