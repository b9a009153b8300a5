"""CMS API: templates (builtins, draft/publish, content=true), sections, multipart files, paging, 422s."""

from __future__ import annotations

from typing import Any

from harness.names import suffixed as unique

API = "/admin/api/cms"


def test_builtins_exist_and_can_only_be_updated(admin_http: Any) -> None:
    listed = admin_http.get(API + "/templates.json", params={"type": "builtin_page", "per_page": 100}).json()
    names = {t["system_name"]: t for t in listed["collection"]}
    assert {"login/new", "signup/show", "applications/index", "applications/show", "applications/new"} <= set(names)
    login = names["login/new"]
    assert "draft" not in login  # content only with content=true
    url = f"{API}/templates/{login['id']}.json"
    updated = admin_http.put(url, json={"draft": "<form>{% csrf %}</form>"}).json()
    assert (updated["draft"], updated["type"]) == ("<form>{% csrf %}</form>", "builtin_page")
    published = admin_http.put(f"{API}/templates/{login['id']}/publish.json").json()
    assert published["published"] == "<form>{% csrf %}</form>"
    refused = admin_http.delete(url)
    assert (refused.status_code, refused.json()) == (422, {"error": "Built-in resources can't be deleted"})


def test_page_draft_publish_with_the_real_client(threescale: Any, admin_http: Any) -> None:
    path = "/" + unique("page")
    page = threescale.cms_pages.create(
        {
            "title": "Models",
            "system_name": path[1:],
            "path": path,
            "draft": "<p>draft</p>",
            "layout_name": "main_layout",
        }
    )
    assert (page["published"], page["draft"]) == (None, "<p>draft</p>")
    page.publish()
    fetched = admin_http.get(f"{API}/templates/{page.entity_id}.json").json()
    assert fetched["published"] == "<p>draft</p>"
    assert fetched["layout_id"] is not None
    assert page.entity_id in [p.entity_id for p in threescale.cms_pages.list()]
    with_content = admin_http.get(API + "/templates.json", params={"type": "page", "content": "true", "per_page": 100})
    assert any(
        t["id"] == page.entity_id and t["published"] == "<p>draft</p>" for t in with_content.json()["collection"]
    )
    dup = admin_http.post(API + "/templates.json", json={"type": "page", "title": "x", "path": path})
    assert (dup.status_code, dup.json()) == (422, {"errors": {"path": ["has already been taken"]}})
    admin_http.delete(f"{API}/templates/{page.entity_id}.json").raise_for_status()
    assert admin_http.get(f"{API}/templates/{page.entity_id}.json").status_code == 404


def test_layouts_and_partials(admin_http: Any) -> None:
    name = unique("partial_")
    created = admin_http.post(API + "/templates.json", data={"type": "partial", "system_name": name, "draft": "hi"})
    assert created.status_code == 201 and created.json()["type"] == "partial"
    again = admin_http.post(API + "/templates.json", data={"type": "partial", "system_name": name})
    assert again.json() == {"errors": {"system_name": ["has already been taken"]}}
    no_name = admin_http.post(API + "/templates.json", json={"type": "layout", "title": "L"})
    assert no_name.json() == {"errors": {"system_name": ["can't be blank"]}}
    builtin = admin_http.post(API + "/templates.json", json={"type": "builtin_page", "system_name": "x"})
    # porta admin/api/cms/template_service.rb UnknownTemplateTypeError
    assert builtin.json() == {"error": "Unknown template type 'builtin_page'"}


def test_unpermitted_parameters_and_paging(admin_http: Any) -> None:
    bad = admin_http.post(API + "/templates.json", json={"type": "page", "title": "t", "path": "/t", "colour": "red"})
    assert (bad.status_code, bad.json()) == (422, {"error": 'Unpermitted parameters: ["colour"]'})
    bad_list = admin_http.get(API + "/templates.json", params={"sort": "name"})
    assert bad_list.json() == {"error": 'Unpermitted parameters: ["sort"]'}
    page = admin_http.get(API + "/templates.json", params={"per_page": 1000}).json()
    assert page["metadata"]["per_page"] == 100
    default = admin_http.get(API + "/templates.json").json()
    assert default["metadata"]["per_page"] == 20 and len(default["collection"]) <= 20
    second = admin_http.get(API + "/templates.json", params={"per_page": 2, "page": 2}).json()
    first = admin_http.get(API + "/templates.json", params={"per_page": 2, "page": 1}).json()
    assert second["metadata"]["current_page"] == 2
    assert not {t["id"] for t in first["collection"]} & {t["id"] for t in second["collection"]}


def test_sections_and_files(admin_http: Any, sandbox: Any) -> None:
    sections = admin_http.get(API + "/sections.json").json()["collection"]
    root = next(s for s in sections if s["system_name"] == "root")
    title = unique("Assets ")
    section = admin_http.post(API + "/sections.json", json={"title": title, "public": True})
    assert section.status_code == 201
    sec = section.json()
    assert (sec["parent_id"], sec["public"]) == (root["id"], True)
    renamed = admin_http.put(f"{API}/sections/{sec['id']}.json", json={"title": "Renamed"}).json()
    assert renamed["title"] == "Renamed"
    assert admin_http.post(API + "/sections.json", json={"public": True}).json() == {
        "errors": {"title": ["can't be blank"]}
    }

    path = f"/{unique('f')}/logo.svg"
    svg = b"<svg xmlns='http://www.w3.org/2000/svg'/>"
    upload = admin_http.post(
        API + "/files.json",
        data={"path": path, "section_id": sec["id"], "downloadable": "false"},
        files={"attachment": ("logo.svg", svg, "image/svg+xml")},
    )
    assert upload.status_code == 201, upload.text
    item = upload.json()
    assert (item["path"], item["section_id"], item["content_type"]) == (path, sec["id"], "image/svg+xml")
    assert "size" not in item  # porta cms/file_representer.rb shows no size
    assert item["url"] == sandbox.portal_url + path
    no_file = admin_http.post(API + "/files.json", data={"path": "/x.css"})
    assert no_file.json() == {"errors": {"attachment": ["can't be blank"]}}
    listed = admin_http.get(API + "/files.json", params={"section_id": sec["id"]}).json()["collection"]
    assert [f["id"] for f in listed] == [item["id"]]

    admin_http.delete(f"{API}/sections/{sec['id']}.json").raise_for_status()
    assert admin_http.get(f"{API}/files/{item['id']}.json").json()["section_id"] == root["id"]
    admin_http.delete(f"{API}/files/{item['id']}.json").raise_for_status()
    assert admin_http.get(f"{API}/files/{item['id']}.json").status_code == 404
    refused = admin_http.delete(f"{API}/sections/{root['id']}.json")
    assert refused.status_code == 422
    denied = admin_http.get(API + "/sections.json", token="x")
    assert (denied.status_code, denied.json()) == (403, {"error": "Access denied"})
