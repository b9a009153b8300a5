"""The `portal` reconcile section against a fresh sandbox over HTTP: create missing, update changed files and
templates (and publish), nothing else written, then 0 writes; the sandbox portal serves what was published.

Each test works on a temporary copy of `portal/` that the catalogue points at, so the repository's content is
never modified."""

from __future__ import annotations

import hashlib
import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from maas_helpers.admin_client import AdminClient
from maas_helpers.catalogue import Catalogue, resolve_path
from maas_helpers.kit import Kit
from maas_helpers.reconcile.context import Context
from maas_helpers.reconcile.portal import _content_difference, mime_type
from maas_helpers.results import Change, StepResult
from maas_sandbox.control import SandboxInfo

LOGO, CSS = "/images/maas-logo.svg", "/css/maas.css"
EXPECTED_TYPES = {CSS: "text/css", "/javascripts/maas.js": "text/javascript", LOGO: "image/svg+xml"}


@pytest.fixture
def portal_copy(tmp_path: Path) -> Path:
    target = tmp_path / "portal-copy"
    shutil.copytree(resolve_path("portal"), target)
    return target


@pytest.fixture
def kit(fresh_sandbox: SandboxInfo, portal_copy: Path) -> Iterator[Kit]:
    kit = Kit.configure(target="sandbox", state_dir=str(fresh_sandbox.state_dir), org_name="MaaS Test Org")
    kit.catalogue.portal.path = str(portal_copy)
    yield kit


def _admin_files(kit: Kit) -> dict[str, dict]:
    return {f["path"]: f for f in kit.admin.get_json("/admin/api/cms/files.json", params={"per_page": 100})
            ["collection"]}


def _by_change(result: StepResult, change: Change) -> set[tuple[str, str]]:
    return {(a.kind, a.name) for a in result.actions if a.change is change}


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{path} no longer contains {old!r}; pick another edit point"
    path.write_text(text.replace(old, new, 1))


def test_mime_types_do_not_depend_on_host_tables() -> None:
    assert mime_type(Path("a/maas.CSS")) == "text/css"
    assert mime_type(Path("x.svg")) == "image/svg+xml"
    assert mime_type(Path("x.js")) == "text/javascript"
    assert mime_type(Path("x.unknown-ext")) == "application/octet-stream"


def test_changed_files_and_templates_are_updated_and_published_nothing_else(
    kit: Kit, fresh_sandbox: SandboxInfo, portal_copy: Path
) -> None:
    admin = kit.admin
    first = kit.apply("portal")
    created_files = {name for kind, name in _by_change(first, Change.CREATED) if kind == "CMS file"}
    assert created_files == set(EXPECTED_TYPES)
    files = _admin_files(kit)
    assert {p: files[p]["content_type"] for p in EXPECTED_TYPES} == EXPECTED_TYPES  # not octet-stream

    # Same-size edit of the logo (the size check cannot see it: the stored bytes are read and compared),
    # a longer stylesheet, and one template of each kind.
    logo = portal_copy / "files/images/maas-logo.svg"
    old_logo = logo.read_bytes()
    _edit(logo, 'fill="#ee0000"', 'fill="#0066cc"')
    new_logo = logo.read_bytes()
    assert len(new_logo) == len(old_logo) and new_logo != old_logo
    css = portal_copy / "files/css/maas.css"
    css.write_text(css.read_text() + "\n.h13-marker { color: #123456; }\n")
    _edit(portal_copy / "layouts/main_layout.html.liquid", "<main class=\"maas-main\">",
          "<main class=\"maas-main\" data-h13=\"layout-v2\">")
    _edit(portal_copy / "partials/maas_submenu.html.liquid", "<", "<span hidden>h13-partial-v2</span><")
    _edit(portal_copy / "pages/homepage.html.liquid", "<", "<p>h13-page-v2</p>\n<")
    _edit(portal_copy / "builtin/login_new.html.liquid", "<h1>Sign in</h1>", "<h1>Sign in (h13-builtin-v2)</h1>")
    expected = {("CMS file", LOGO), ("CMS file", CSS), ("CMS layout", "main_layout"),
                ("CMS partial", "maas_submenu"), ("CMS page", "homepage"), ("CMS builtin page", "login/new")}

    admin.reset_counts()
    planned = kit.plan("portal")
    assert admin.writes == 0
    assert _by_change(planned, Change.PLANNED_UPDATE) == expected

    admin.reset_counts()
    second = kit.apply("portal")
    assert _by_change(second, Change.UPDATED) == expected
    assert {a.change for a in second.actions} == {Change.UPDATED, Change.UNCHANGED}
    # 2 file PUTs (new attachment) + 4 × (template PUT + publish PUT); nothing created or deleted
    assert {verb: n for verb, n in admin.calls.items() if verb != "GET"} == {"PUT": 10}, dict(admin.calls)
    details = {a.name: a.detail for a in second.actions if a.change is Change.UPDATED}
    assert details[LOGO].startswith("content:") and details["homepage"] == "content; published"

    files_after = _admin_files(kit)
    assert files_after[LOGO]["id"] == files[LOGO]["id"]  # replaced in place, links stay valid
    assert requests.get(files_after[CSS]["url"], timeout=10).content == css.read_bytes()
    assert files_after[CSS]["content_type"] == "text/css"

    admin.reset_counts()
    third = kit.apply("portal")
    assert admin.writes == 0, dict(admin.calls)
    assert third.in_sync and not any("not compared" in n for n in third.notes)
    # provider, sections, templates, files: one read each; plus one read of each file's stored bytes
    assert dict(admin.calls) == {"GET": 4 + len(EXPECTED_TYPES)}

    portal = fresh_sandbox.portal_url
    served = requests.get(portal + LOGO, timeout=10)
    assert served.status_code == 200 and served.content == new_logo
    assert served.headers["content-type"].startswith("image/svg+xml")
    assert b".h13-marker" in requests.get(portal + CSS, timeout=10).content
    home = requests.get(portal + "/", timeout=10)
    assert home.status_code == 200
    for marker in ("h13-page-v2", 'data-h13="layout-v2"', "h13-partial-v2"):
        assert marker in home.text
    login = requests.get(portal + "/login", timeout=10)
    assert login.status_code == 200 and "Sign in (h13-builtin-v2)" in login.text


def test_wrong_type_and_unpublished_draft_are_repaired_with_one_write_each(
    kit: Kit, fresh_sandbox: SandboxInfo, portal_copy: Path
) -> None:
    admin = kit.admin
    # An earlier upload without a type: same bytes, stored as application/octet-stream.
    sections = {s["system_name"]: s for s in
                admin.get_json("/admin/api/cms/sections.json", params={"per_page": 100})["collection"]}
    css_bytes = (portal_copy / "files/css/maas.css").read_bytes()
    admin.request("POST", "/admin/api/cms/files.json",
                  data={"path": CSS, "section_id": str(sections["css"]["id"]), "downloadable": "false"},
                  files={"attachment": ("maas.css", css_bytes, "application/octet-stream")})
    first = kit.apply("portal")
    repaired = [a for a in first.actions if a.name == CSS]
    assert [(a.change, a.detail) for a in repaired] == [
        (Change.UPDATED, "type application/octet-stream → text/css")]
    assert _admin_files(kit)[CSS]["content_type"] == "text/css"

    # Someone saved the new homepage as a draft in the CMS but never published it: only the publish is missing.
    homepage = portal_copy / "pages/homepage.html.liquid"
    _edit(homepage, "<", "<p>h13-draft-only</p>\n<")
    templates = admin.get_json("/admin/api/cms/templates.json", params={"per_page": 100, "type": "page"})
    page_id = next(t["id"] for t in templates["collection"] if t["system_name"] == "homepage")
    admin.send_json("PUT", f"/admin/api/cms/templates/{page_id}.json", {"draft": homepage.read_text()})
    assert "h13-draft-only" not in requests.get(fresh_sandbox.portal_url + "/", timeout=10).text

    admin.reset_counts()
    result = kit.apply("portal")
    assert _by_change(result, Change.UPDATED) == {("CMS page", "homepage")}
    assert {verb: n for verb, n in admin.calls.items() if verb != "GET"} == {"PUT": 1}, dict(admin.calls)
    assert "h13-draft-only" in requests.get(fresh_sandbox.portal_url + "/", timeout=10).text
    admin.reset_counts()
    assert kit.apply("portal").in_sync and admin.writes == 0


class _EtagServer(ThreadingHTTPServer):
    """Serves one body with an MD5 ETag and answers a matching If-None-Match with 304 (as S3 does)."""

    def __init__(self, body: bytes) -> None:
        self.body, self.sent_bodies, self.seen_tokens = body, 0, []
        super().__init__(("127.0.0.1", 0), _EtagHandler)


class _EtagHandler(BaseHTTPRequestHandler):
    server: _EtagServer

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self.server.seen_tokens.append("access_token" in self.path)
        if self.path.startswith("/missing"):
            self.send_response(403)
            self.end_headers()
            return
        etag = f'"{hashlib.md5(self.server.body, usedforsecurity=False).hexdigest()}"'
        if self.headers.get("If-None-Match") == etag:
            self.send_response(304)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("ETag", etag)
        self.send_header("Content-Length", str(len(self.server.body)))
        self.server.sent_bodies += 1  # before writing: the client may check as soon as it has the body
        self.end_headers()
        self.wfile.write(self.server.body)

    def log_message(self, *args: object) -> None:
        pass


def test_porta_shaped_file_is_compared_through_its_url_with_etag() -> None:
    """porta's file JSON has only `url` (no size, no type): same bytes → 304 and no body; other bytes → changed."""
    stored = b"body { color: red; }\n"
    server = _EtagServer(stored)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_port}"
        client = AdminClient(base, "secret-token")
        ctx = Context(client=client, catalogue=Catalogue())
        # an S3-style absolute URL with a signature query, and porta's relative form on the 3scale host
        have = {"id": 1, "path": CSS, "url": f"{base}/bucket/maas.css?X-Amz-Signature=abc"}
        assert _content_difference(ctx, have, stored, "text/css") == (None, [])
        assert server.sent_bodies == 0  # answered 304: nothing downloaded
        assert _content_difference(ctx, have, stored + b"/* v2 */", "text/css") == ("content: 21 → 29 bytes", [])
        assert server.sent_bodies == 1
        relative = {**have, "url": "/system/provider/maas.css?1700000000"}
        assert _content_difference(ctx, relative, stored, "text/css") == (None, [])
        missing, notes = _content_difference(ctx, {**have, "url": f"{base}/missing"}, stored, "text/css")
        assert missing is None and len(notes) == 1 and "content not compared (HTTP 403" in notes[0]
        assert server.seen_tokens == [False] * 4  # the admin token is never sent with a file URL
        assert client.calls["GET"] == 4 and client.writes == 0
    finally:
        server.shutdown()
        server.server_close()
