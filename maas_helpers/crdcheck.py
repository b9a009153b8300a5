"""Check rendered objects against the real CRDs the way the API server would: schema errors, and fields it
would prune silently.

A CRD's ``openAPIV3Schema`` (for the served version) validates the object with ``jsonschema``; on top of
that, the API server drops every field the structural schema does not name unless the node says
``x-kubernetes-preserve-unknown-fields: true`` — an object that validates can still lose a setting on the
way in, which is what ``pruned_fields`` finds. Built-in kinds (Secret, Service, Deployment, …) have no CRD:
their schema is derived from the ``kubernetes`` client's models (generated from the Kubernetes OpenAPI
spec), with unknown fields refused as server-side apply does.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

Schema = dict[str, Any]
PRESERVE = "x-kubernetes-preserve-unknown-fields"
ROOT_FIELDS = {"apiVersion", "kind", "metadata"}


def load_crd_schemas(crd_dir: Path, pattern: str = "*.y*ml") -> dict[tuple[str, str], Schema]:
    """(apiVersion, kind) → openAPIV3Schema of every served version of every CRD file in ``crd_dir`` matching
    ``pattern`` (KServe's CRDs are megabytes: libyaml's loader when available)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    out: dict[tuple[str, str], Schema] = {}
    for path in sorted(crd_dir.glob(pattern)):
        for doc in yaml.load_all(path.read_text(encoding="utf-8"), Loader=loader):  # noqa: S506 - a safe loader
            if not isinstance(doc, dict) or doc.get("kind") != "CustomResourceDefinition":
                continue
            spec = doc["spec"]
            for version in spec.get("versions") or []:
                if version.get("served"):
                    schema = (version.get("schema") or {}).get("openAPIV3Schema")
                    if schema:
                        out[(f"{spec['group']}/{version['name']}", spec["names"]["kind"])] = schema
    return out


def load_core_schemas(core_json: Path) -> tuple[dict[tuple[str, str], Schema], Schema]:
    """The kinds and the ObjectMeta schema of ``core-v1.json`` (derived from the kubernetes client models)."""
    data = json.loads(core_json.read_text(encoding="utf-8"))
    kinds = {}
    for key, entry in data["kinds"].items():
        api_version, kind = key.rsplit("/", 1)
        kinds[(api_version, kind)] = entry["schema"]
    return kinds, data["objectMeta"]


_PRIMITIVES: dict[str, Schema] = {
    "str": {"type": "string"},
    "int": {"type": "integer"},
    "float": {"type": "number"},
    "bool": {"type": "boolean"},
    "datetime": {"type": "string"},
    "date": {"type": "string"},
    "object": {},  # IntOrString and free-form values
}


def model_schema(model: str | type) -> Schema:
    """JSON schema of a kubernetes client model (e.g. ``V1Deployment``): its attribute_map names the fields,
    openapi_types their types; unknown fields are refused (``additionalProperties: false``)."""
    import kubernetes.client.models as models

    def build(type_name: str, depth: int = 0) -> Schema:
        type_name = type_name.strip()
        if type_name in _PRIMITIVES:
            return dict(_PRIMITIVES[type_name])
        if match := re.fullmatch(r"[lL]ist\[(.+)\]", type_name):
            return {"type": "array", "items": build(match.group(1), depth)}
        if match := re.fullmatch(r"dict\(str, (.+)\)|Dict\[str, (.+)\]", type_name):
            return {"type": "object", "additionalProperties": build(match.group(1) or match.group(2), depth)}
        cls = getattr(models, type_name)
        if depth > 40:  # pragma: no cover - only recursive models (JSONSchemaProps) get here
            return {}
        props = {cls.attribute_map[attr]: build(t, depth + 1) for attr, t in cls.openapi_types.items()}
        return {"type": "object", "properties": props, "additionalProperties": False}

    name = model if isinstance(model, str) else model.__name__
    return build(name)


def said(error: Any) -> str:
    """A jsonschema-rs error's message, with every allowed value of an enum named (it names two and counts
    the rest), so the line says how to fix it."""
    import jsonschema_rs

    if isinstance(error.kind, jsonschema_rs.ValidationErrorKind.Enum):
        return f"{json.dumps(error.instance)} is not one of {', '.join(json.dumps(o) for o in error.kind.options)}"
    return str(error.message)


def schema_errors(obj: dict[str, Any], schema: Schema, object_meta: Schema | None = None) -> list[str]:
    """Schema errors as ``path: message`` (metadata checked against ObjectMeta when given).

    jsonschema-rs rather than python-jsonschema: `import jsonschema` loads its format checkers (rfc3987-syntax
    builds ~40 grammars, 0.8–2.8 s on this machine) in every process that validates once. Formats are not
    checked (`validate_formats=False`), as python-jsonschema does without a format checker."""
    import jsonschema_rs

    def problems(instance: Any, node: Schema, prefix: str) -> list[str]:
        validator = jsonschema_rs.Draft7Validator(node, validate_formats=False)
        return [f"{prefix}{'.'.join(str(p) for p in e.instance_path) or ('' if prefix else '<root>')}: {said(e)}"
                for e in validator.iter_errors(instance)]

    errors = problems(obj, schema, "")
    if object_meta is not None and isinstance(obj.get("metadata"), dict):
        errors += problems(obj["metadata"], object_meta, "metadata.")
    return sorted(errors)


def _properties(schema: Schema) -> dict[str, Schema] | None:
    """The named fields of an object node (including allOf/anyOf/oneOf branches); None = no field list."""
    props: dict[str, Schema] | None = None
    for node in [schema, *schema.get("allOf", []), *schema.get("anyOf", []), *schema.get("oneOf", [])]:
        if "properties" in node:
            props = {**(props or {}), **node["properties"]}
    return props


def pruned_fields(obj: Any, schema: Schema, *, strict: bool = False) -> list[str]:
    """Dotted paths of fields the API server would drop: present in ``obj``, absent from a schema node that
    neither names them, nor has ``additionalProperties`` (a schema), nor preserves unknown fields.

    ``strict`` also walks preserving nodes that list their fields: the APIManager's ``spec`` preserves
    unknown fields, so the API server keeps a misspelt one, but the operator decodes into its Go types
    (whose fields the schema lists) and ignores it just the same."""
    return list(_walk(obj, schema, "", True, strict))


def _walk(value: Any, schema: Schema, path: str, root: bool, strict: bool = False) -> Iterator[str]:
    if not isinstance(schema, dict):
        return
    if schema.get(PRESERVE) is True and not (strict and _properties(schema) is not None):
        return
    if isinstance(value, list):
        items = schema.get("items")
        if isinstance(items, dict):
            for index, item in enumerate(value):
                yield from _walk(item, items, f"{path}[{index}]", False, strict)
        return
    if not isinstance(value, dict):
        return
    props = _properties(schema)
    extra = schema.get("additionalProperties")
    for key, child in value.items():
        where = f"{path}.{key}" if path else key
        if root and key in ROOT_FIELDS:
            continue  # apiVersion/kind, and metadata (ObjectMeta, checked by schema_errors)
        if props is not None and key in props:
            yield from _walk(child, props[key], where, False, strict)
        elif isinstance(extra, dict):
            yield from _walk(child, extra, where, False, strict)
        elif extra is True:
            continue
        elif props is not None or extra is False or schema.get("type") == "object":
            yield where
