"""The portal (CMS) planners are pure: manifest + file contents + CMS listings → actions with the exact requests.
Requests as porta takes them: admin/api/cms/sections_controller.rb, templates_controller.rb (create as draft,
`PUT …/publish`), files_controller.rb (multipart `attachment`, replaced in place by PUT); the provider's
`site_access_code` through admin/api/providers_controller.rb. Live: tests/sandbox/test_reconcile_portal.py."""

from __future__ import annotations

from maas_helpers.reconcile.actions import Ref, Write
from maas_helpers.reconcile.context import _waves
from maas_helpers.reconcile.portal import plan_access_code, plan_files, plan_sections, plan_templates
from maas_helpers.results import Change, FieldChange

LINK = "https://admin.example/p/admin/cms"
SECTION = {"system_name": "docs", "title": "Docs", "partial_path": "/docs"}
PAGE = {"system_name": "homepage", "title": "Home", "path": "/", "layout": "main", "section": "docs",
        "file": "pages/homepage.html.liquid"}
HTML = "<h1>Models</h1>"


def test_access_code_removed_once() -> None:
    removed = plan_access_code({"id": 1, "site_access_code": "letmein"})
    assert (removed.change, removed.detail) == (Change.DELETED, "portal open to visitors")
    assert removed.writes == (Write("PUT", "/admin/api/provider.json", {"site_access_code": ""}),)
    assert "letmein" not in str(removed.changes)
    none = plan_access_code({"id": 1, "site_access_code": None})
    assert (none.change, none.detail, none.writes) == (Change.UNCHANGED, "none", ())


def test_sections_created_with_their_id_for_later_rounds_or_updated_by_field() -> None:
    (created,) = plan_sections([SECTION], {}, LINK)
    assert created.change is Change.CREATED and created.detail == "/docs"
    assert created.writes == (Write("POST", "/admin/api/cms/sections.json",
                                    {"system_name": "docs", "title": "Docs", "partial_path": "/docs", "public": True},
                                    provides="section:docs"),)
    have = {"id": 3, "system_name": "docs", "title": "Old", "partial_path": "/docs", "public": True}
    (updated,) = plan_sections([SECTION], {"docs": have}, LINK)
    assert (updated.change, updated.detail) == (Change.UPDATED, "title")
    assert updated.writes == (Write("PUT", "/admin/api/cms/sections/{}.json", {"title": "Docs"}, args=(3,)),)
    (same,) = plan_sections([SECTION], {"docs": {**have, "title": "Docs"}}, LINK)
    assert same.change is Change.UNCHANGED and same.writes == ()


def test_a_new_page_is_created_as_draft_then_published_by_the_id_its_create_returns() -> None:
    (action,), notes = plan_templates("page", [PAGE], {"homepage": HTML}, {}, {"docs": {"id": 3}}, LINK)
    assert notes == [] and (action.kind, action.change, action.detail) == ("CMS page", Change.CREATED, "published")
    create, publish = action.writes
    assert create == Write("POST", "/admin/api/cms/templates.json",
                           {"type": "page", "system_name": "homepage", "draft": HTML, "title": "Home", "path": "/",
                            "content_type": "text/html", "liquid_enabled": True, "section_id": 3,
                            "layout_name": "main"}, provides="template:page:homepage")
    assert publish == Write("PUT", "/admin/api/cms/templates/{}/publish.json", args=(Ref("template:page:homepage"),))
    assert len(_waves([action])) == 1  # the publish refers to its own action's create


def _page(**over):
    return {"id": 8, "type": "page", "system_name": "homepage", "title": "Home", "path": "/",
            "content_type": "text/html", "liquid_enabled": True, "section_id": 3, "layout_id": 5,
            "published": HTML, "draft": None, **over}


BY_KEY = {("layout", "main"): {"id": 5}}


def test_a_published_page_equal_to_the_file_is_left_alone() -> None:
    (action,), _ = plan_templates("page", [PAGE], {"homepage": HTML}, {**BY_KEY, ("page", "homepage"): _page()},
                                  {"docs": {"id": 3}}, LINK)
    assert action.change is Change.UNCHANGED and action.writes == ()


def test_changed_content_is_saved_and_published_and_a_saved_draft_only_published() -> None:
    (action,), _ = plan_templates("page", [PAGE], {"homepage": "<h1>v2</h1>"},
                                  {**BY_KEY, ("page", "homepage"): _page()}, {"docs": {"id": 3}}, LINK)
    assert (action.change, action.detail) == (Change.UPDATED, "content; published")
    assert action.writes == (Write("PUT", "/admin/api/cms/templates/{}.json", {"draft": "<h1>v2</h1>"}, args=(8,)),
                             Write("PUT", "/admin/api/cms/templates/{}/publish.json", args=(8,)))
    assert action.changes == (FieldChange("published", HTML, "<h1>v2</h1>"),)
    draft_saved = _page(draft="<h1>v2</h1>")
    (action,), _ = plan_templates("page", [PAGE], {"homepage": "<h1>v2</h1>"},
                                  {**BY_KEY, ("page", "homepage"): draft_saved}, {"docs": {"id": 3}}, LINK)
    assert action.writes == (Write("PUT", "/admin/api/cms/templates/{}/publish.json", args=(8,)),)


def test_moved_page_gets_its_fields_and_layout_by_name() -> None:
    moved = _page(path="/old", layout_id=6)
    (action,), _ = plan_templates("page", [PAGE], {"homepage": HTML}, {**BY_KEY, ("page", "homepage"): moved},
                                  {"docs": {"id": 3}}, LINK)
    assert action.detail == "path, layout_name; published"
    assert action.writes[0] == Write("PUT", "/admin/api/cms/templates/{}.json", {"path": "/", "layout_name": "main"},
                                     args=(8,))


def test_a_builtin_missing_from_this_3scale_is_skipped_and_said() -> None:
    spec = {"system_name": "login/new", "file": "builtin/login_new.html.liquid"}
    (action,), notes = plan_templates("builtin_page", [spec], {"login/new": HTML}, {}, {}, LINK)
    assert (action.kind, action.change, action.detail, action.writes) == (
        "CMS builtin page", Change.SKIPPED, "no such builtin", ())
    assert notes == ["builtin page 'login/new' does not exist in this 3scale; skipped"]


CSS = {"path": "/css/maas.css", "file": "files/css/maas.css", "section": "css"}
SOURCE = {"/css/maas.css": ("maas.css", b"body{}", "text/css")}


def test_a_new_file_is_one_multipart_post() -> None:
    (action,) = plan_files([CSS], SOURCE, {}, {}, {"css": {"id": 4}}, LINK)
    assert (action.change, action.detail) == (Change.CREATED, "6 bytes, text/css")
    (write,) = action.writes
    assert (write.method, write.path, write.body) == ("POST", "/admin/api/cms/files.json", None)
    assert write.form == {"path": "/css/maas.css", "downloadable": "false", "section_id": "4"}
    assert write.files == {"attachment": ("maas.css", b"body{}", "text/css")}


def test_an_existing_file_is_replaced_in_place_only_when_it_differs() -> None:
    have = {"/css/maas.css": {"id": 11, "path": "/css/maas.css", "section_id": 4}}
    (same,) = plan_files([CSS], SOURCE, have, {"/css/maas.css": None}, {"css": {"id": 4}}, LINK)
    assert same.change is Change.UNCHANGED and same.writes == ()
    (changed,) = plan_files([CSS], SOURCE, have, {"/css/maas.css": "content: 5 → 6 bytes"}, {"css": {"id": 4}}, LINK)
    assert (changed.change, changed.detail) == (Change.UPDATED, "content: 5 → 6 bytes")
    (write,) = changed.writes
    assert (write.method, str(write), write.form) == ("PUT", "PUT /admin/api/cms/files/11.json", {})
    assert write.files == {"attachment": ("maas.css", b"body{}", "text/css")}
    (moved,) = plan_files([CSS], SOURCE, have, {"/css/maas.css": None}, {"css": {"id": 9}}, LINK)
    assert moved.detail == "section_id: 4 → 9" and moved.writes[0].form == {"section_id": "9"}
    assert moved.writes[0].files is None  # same bytes: no new attachment
