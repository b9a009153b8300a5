"""CMS API rules read from porta 3scale-2.16-stable:
app/controllers/admin/api/cms/templates_controller.rb (+ base_controller.rb, app/lib/api_support/forbid_params.rb:
top-level keys outside the wrapper's include list and the whitelist are refused; the per-type permit list drops the
rest silently), app/models/cms/template.rb (publish!: published = draft, draft = nil),
app/representers/cms/page_representer.rb (hidden = published.nil?), app/representers/cms/file_representer.rb."""

from __future__ import annotations

import secrets
from typing import Any

API = "/admin/api/cms"


def _name(prefix: str) -> str:
    return f"{prefix}{secrets.token_hex(4)}"


def test_read_back_fields_are_accepted_and_read_only_ones_refused(admin_http: Any) -> None:
    partial = admin_http.post(API + "/templates.json", json={"type": "partial", "system_name": _name("p_"),
                                                              "draft": "a"}).json()
    assert set(partial) == {"id", "type", "created_at", "updated_at", "system_name", "draft", "published"}
    # id and type come back from a read and are whitelisted; title is not permitted for a partial: dropped
    sent = {"id": partial["id"], "type": "partial", "system_name": partial["system_name"], "draft": "b", "title": "x"}
    updated = admin_http.put(f"{API}/templates/{partial['id']}.json", json=sent)
    assert updated.status_code == 200, updated.text
    assert (updated.json()["draft"], "title" in updated.json()) == ("b", False)
    refused = admin_http.put(f"{API}/templates/{partial['id']}.json", json={"draft": "c", "created_at": "x"})
    assert (refused.status_code, refused.json()) == (422, {"error": 'Unpermitted parameters: ["created_at"]'})
    assert admin_http.get(f"{API}/templates/{partial['id']}.json").json()["draft"] == "b"  # nothing changed


def test_page_hidden_until_published_and_publish_clears_the_draft(admin_http: Any) -> None:
    path = "/" + _name("pg")
    page = admin_http.post(API + "/templates.json", json={"type": "page", "title": "T", "path": path,
                                                           "draft": "<p>v1</p>"}).json()
    assert (page["hidden"], page["published"], page["draft"]) == (True, None, "<p>v1</p>")
    published = admin_http.put(f"{API}/templates/{page['id']}/publish.json").json()
    assert (published["hidden"], published["published"], published["draft"]) == (False, "<p>v1</p>", None)
    again = admin_http.put(f"{API}/templates/{page['id']}/publish.json").json()  # no draft: nothing happens
    assert (again["published"], again["draft"]) == ("<p>v1</p>", None)
    unknown = admin_http.put(f"{API}/templates/{page['id']}.json", json={"section_id": 999999})
    assert (unknown.status_code, unknown.json()) == (422, {"error": "Unknown section: '999999'"})


def test_section_update_takes_its_read_back_fields(admin_http: Any) -> None:
    section = admin_http.post(API + "/sections.json", json={"title": _name("S ")}).json()
    new_name = _name("sec_")
    sent = {**section, "system_name": new_name}
    for read_only in ("created_at", "updated_at"):
        sent.pop(read_only)
    updated = admin_http.put(f"{API}/sections/{section['id']}.json", json=sent)
    assert (updated.status_code, updated.json()["system_name"]) == (200, new_name)
