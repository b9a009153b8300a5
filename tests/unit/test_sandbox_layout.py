"""The sandbox's layout rules (docs/sandbox.md "How the sandbox is laid out"), checked on the code itself:
every Admin/Master API route gets its token check from its router (never by hand), Master API paths need the
master token, and store writes live in the domain modules, not in routes, portal or SSO handlers.

The behaviour behind these rules (403 for every route without the token, master-only routes refusing the
tenant token) is exercised over HTTP by tests/security/test_admin_auth.py; this test keeps a new route from
quietly skipping the dependency or writing the store itself."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import pytest
from fastapi.routing import APIRoute

from maas_sandbox.admin import routes
from maas_sandbox.admin.conventions import require_admin, require_master

SANDBOX = Path(__file__).resolve().parents[2] / "maas_sandbox"
PUBLIC = {"/sandbox/health", "/metrics"}
MASTER_PREFIXES = ("/master/api/", "/sandbox/api/")
WRITES = {"insert", "update", "delete", "delete_where", "kv_set", "executemany", "executescript"}
# Not tenant data: sessions, the SSO's own key material, realm rows (sso/realms.py is the SSO's domain), the
# seed's "seeded" flag; the backend's counters and the store itself.
WRITERS_ALLOWED = {"portal/session.py", "admin_portal/auth.py", "sso/keys.py", "sso/state.py", "sso/realms.py",
                   "backend/engine.py", "store.py"}
SEED_FLAG = ("admin/seed.py", "store.kv_set")  # the one flag saying the fresh tenant exists


def _admin_routes() -> list[tuple[str, APIRoute]]:
    found = []
    for info in pkgutil.iter_modules(routes.__path__):
        module = importlib.import_module(f"{routes.__name__}.{info.name}")
        for name in ("router", "master_router"):
            router = getattr(module, name, None)
            found += [(info.name, r) for r in getattr(router, "routes", []) if isinstance(r, APIRoute)]
    return found


def test_every_admin_route_gets_its_token_check_from_the_router() -> None:
    checked = _admin_routes()
    assert len(checked) >= 150, "fewer routes than the Admin API has: the enumeration would prove little"
    for module, route in checked:
        guards = {d.dependency for d in route.dependencies} & {require_admin, require_master}
        if route.path in PUBLIC:
            assert not guards, f"{route.path} is public"
            continue
        wanted = require_master if route.path.startswith(MASTER_PREFIXES) else require_admin
        assert guards == {wanted}, f"{module}: {sorted(route.methods)} {route.path} needs {wanted.__name__} once"
        # A declared body parameter would make FastAPI read the body before the token check (issue 13).
        assert route.body_field is None, f"{module}: {route.path} declares a body; read it with read_params"


def _python_files() -> list[Path]:
    return sorted(p for p in SANDBOX.rglob("*.py") if "__pycache__" not in p.parts)


@pytest.mark.parametrize("check", ["require_admin", "require_master"])
def test_no_route_calls_the_token_check_by_hand(check: str) -> None:
    calls = []
    for path in _python_files():
        if path.name == "conventions.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == check:
                calls.append(f"{path.relative_to(SANDBOX)}:{node.lineno}")
    assert calls == []


def test_store_writes_live_in_the_domain_modules() -> None:
    writes = []
    for path in _python_files():
        rel = path.relative_to(SANDBOX).as_posix()
        if rel in WRITERS_ALLOWED or (rel.startswith("admin/domain_") and rel.endswith(".py")):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            func = node.func if isinstance(node, ast.Call) else None
            if isinstance(func, ast.Attribute) and func.attr in WRITES and "store" in ast.unparse(func.value) \
                    and (rel, ast.unparse(func)) != SEED_FLAG:
                writes.append(f"{rel}:{node.lineno} {ast.unparse(func)}")
    assert writes == []
