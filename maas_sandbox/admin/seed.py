"""What a freshly created 3scale tenant contains (reference §19), written once per state directory.

The server calls `seed_tenant` at every start; the `seeded` flag makes it a no-op after the first run, so
objects the user deleted (the guide deletes the default product and backend) stay deleted.
"""

from __future__ import annotations

import json
import secrets

from maas_sandbox.admin import domain_accounts as accounts
from maas_sandbox.admin import domain_backends as db
from maas_sandbox.admin import domain_cms as cms
from maas_sandbox.admin import domain_provider as provider_domain
from maas_sandbox.admin import domain_services as ds
from maas_sandbox.admin.domain_cms import create_builtin_templates
from maas_sandbox.context import Sandbox

PROVIDER_ORG_NAME = "Provider Name"
DEVELOPER_PASSWORD_NOTE = "john's password is the sandbox admin password (credentials file)"

# A small Swagger 2.0 description of the Echo API, like the ActiveDoc a new tenant shows.
ECHO_SPEC = {
    "swagger": "2.0",
    "info": {"title": "Echo", "description": "Echo API: answers with the request it received", "version": "1.0"},
    "host": "echo-api.3scale.net",
    "basePath": "/",
    "schemes": ["https"],
    "paths": {
        "/": {
            "get": {
                "summary": "Say hello",
                "operationId": "echo",
                "parameters": [
                    {
                        "name": "user_key",
                        "in": "query",
                        "description": "Your API access key",
                        "required": True,
                        "type": "string",
                        "x-data-threescale-name": "user_keys",
                    }
                ],
                "responses": {"200": {"description": "The request, echoed"}},
            }
        }
    },
}


def _host(url: str) -> str:
    return url.split("://", 1)[-1]


def seed_tenant(sandbox: Sandbox) -> None:
    store = sandbox.store
    if store.kv_get("seeded"):
        return
    with store.transaction():
        admin_domain = _host(sandbox.admin_url)
        provider = provider_domain.create(
            sandbox,
            "provider",
            {
                "org_name": PROVIDER_ORG_NAME,
                "admin_domain": admin_domain,
                "domain": _host(sandbox.portal_url),
                "from_email": f"no-reply@{sandbox.tenant}.example.com",
                "support_email": f"admin@{sandbox.tenant}.example.com",
                "finance_support_email": f"admin@{sandbox.tenant}.example.com",
                "site_access_code": secrets.token_hex(5),
                "credit_card_stored": False,
                "monthly_billing_enabled": True,
                "monthly_charging_enabled": True,
                "state": "approved",
                "_timezone": "UTC",
            },
        )
        accounts.create_user(
            sandbox,
            provider["id"],
            "admin",
            f"admin@{sandbox.tenant}.example.com",
            sandbox.admin_password,
            role="admin",
            state="active",
        )
        accounts.create_plan(
            sandbox, "account_plan", None, {"name": "Default", "state_event": "publish", "default": True}
        )
        backend = db.create_backend_api(
            sandbox,
            {"name": "API Backend", "system_name": "api", "private_endpoint": "https://echo-api.3scale.net:443"},
        )
        service = ds.create_service(sandbox, {"name": "API", "system_name": "api"})
        db.create_backend_usage(sandbox, service["id"], backend["id"], "/")
        basic = accounts.create_plan(
            sandbox,
            "application_plan",
            service["id"],
            {"name": "Basic", "system_name": "basic", "state_event": "publish", "default": True},
        )
        accounts.create_plan(
            sandbox,
            "application_plan",
            service["id"],
            {"name": "Unlimited", "system_name": "unlimited", "state_event": "publish"},
        )
        developer, _john = accounts.signup(
            sandbox,
            "Developer",
            "john",
            "john@example.com",
            sandbox.admin_password,
            create_applications=False,
        )
        accounts.create_application(sandbox, developer["id"], basic["id"], "Developer's App", "")
        cms.create(
            sandbox,
            "active_doc",
            {
                "name": "Echo",
                "system_name": "echo",
                "description": "Echo API",
                "body": json.dumps(ECHO_SPEC),
                "service_id": None,
                "published": True,
                "skip_swagger_validations": False,
            },
        )
        create_builtin_templates(sandbox)
        store.kv_set("seeded", True)
