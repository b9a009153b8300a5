"""ActiveDocs: spec validation, service link, envelopes `api_doc`/`api_docs`."""

from __future__ import annotations

import json
from typing import Any

from harness.names import suffixed as unique

SPEC = {"openapi": "3.0.3", "info": {"title": "Chat", "version": "1"}, "paths": {"/v1/chat/completions": {}}}


def test_active_doc_lifecycle_with_the_real_client(threescale: Any, admin_http: Any) -> None:
    name = unique("doc_")
    service = threescale.services.create({"name": name, "system_name": name})
    doc = threescale.active_docs.create(
        {"name": "Chat API", "system_name": name, "body": json.dumps(SPEC), "service_id": service.entity_id}
    )
    assert (doc["published"], doc["service_id"], json.loads(doc["body"])) == (False, service.entity_id, SPEC)
    assert doc.entity_id in [d.entity_id for d in threescale.active_docs.list()]
    raw = admin_http.get(f"/admin/api/active_docs/{doc.entity_id}.json").json()
    assert set(raw) == {"api_doc"} and raw["api_doc"]["system_name"] == name

    doc.update({"published": True, "description": "OpenAI-compatible"})
    fetched = threescale.active_docs.read(doc.entity_id)
    assert (fetched["published"], fetched["description"]) == (True, "OpenAI-compatible")
    doc.delete()
    assert admin_http.get(f"/admin/api/active_docs/{doc.entity_id}.json").status_code == 404


def test_active_doc_validation(admin_http: Any) -> None:
    url = "/admin/api/active_docs.json"
    invalid_json = admin_http.post(url, json={"name": "x", "body": "NOT JSON"})
    assert (invalid_json.status_code, invalid_json.json()) == (
        422,
        {"errors": {"body": ["Invalid JSON", "JSON Spec is invalid"]}},
    )
    not_a_spec = admin_http.post(url, json={"name": "x", "body": json.dumps({"hello": "world"})})
    assert not_a_spec.json() == {"errors": {"body": ["JSON Spec is invalid"]}}
    skipped = admin_http.post(
        url, json={"name": unique("skip"), "body": json.dumps({"hello": 1}), "skip_swagger_validations": True}
    )
    assert skipped.status_code == 201
    foreign = admin_http.post(url, json={"name": "x", "body": json.dumps(SPEC), "service_id": 999999999})
    assert foreign.json() == {"errors": {"service_id": ["Service not found"]}}
    system_name = unique("dup")
    wrapped = {"api_docs_service": {"name": "A", "system_name": system_name, "body": json.dumps(SPEC)}}
    assert admin_http.post(url, json=wrapped).status_code == 201
    dup = admin_http.post(url, json=wrapped)
    assert (dup.status_code, dup.json()) == (422, {"errors": {"system_name": ["has already been taken"]}})
    denied = admin_http.get(url, token=None)
    assert (denied.status_code, denied.json()) == (403, {"error": "Access denied"})
