"""The OpenAPI 3.1 document, generated from the route specs (``api/routes``) and the pydantic
models (``api/schemas.py``): nothing here is written by hand per endpoint, so it cannot drift."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from api import schemas as s
from api.routes import RouteSpec

REF = "#/components/schemas/{model}"

DESCRIPTION = """\
dnsaas speaks OpenStack Designate's v2 API, so existing clients (python-designateclient,
openstacksdk, Terraform, …) work unchanged. Authenticate with `X-Auth-Token` (tokens made by
`dnsaas token create`), or run with `DNSAAS_AUTH=noauth` and send `X-Auth-Project-ID` and
`X-Roles`.

Where dnsaas deliberately differs from Designate:

* `limit` above 1000 is a 400 `invalid_limit` (Designate advertises 1000 but does not enforce it).
* `links.next` is sent only when another item exists (Designate sends it whenever a page is full,
  so the last page can be empty).
* Recordset writes return the new zone serial in the `X-Dnsaas-Serial` header; zone writes too.
* Filter values starting with `!`, `<`, `>` or `BETWEEN` are matched literally (Designate's
  undocumented operators are not supported).
* `application/json-patch+json` bodies are a 415 (Designate answers 500).
* An unreachable database is a 503 with `Retry-After`.
"""

HEADER_PARAMS: dict[str, dict[str, Any]] = {
    "X-Auth-All-Projects": {"description": "Admin only: act on every project", "schema": {
        "type": "string", "enum": ["true", "false"]}},
    "X-Auth-Sudo-Project-ID": {"description": "Admin only: act as this project",
                               "schema": {"type": "string"}},
    "X-Designate-Edit-Managed-Records": {"description": "Admin only: allow changing managed "
                                         "records", "schema": {"type": "string"}},
    "X-Designate-Hard-Delete": {"description": "Admin only: also remove backend files",
                                "schema": {"type": "string"}},
    "X-Designate-Delete-Shares": {"description": "Delete the zone's shares too",
                                  "schema": {"type": "string"}},
    "OpenStack-DNS-Hide-Counts": {"description": "`true` leaves out metadata.total_count",
                                  "schema": {"type": "string"}},
}
RESPONSE_HEADERS: dict[str, dict[str, Any]] = {
    "x-openstack-request-id": {"description": "`req-<uuid>`, on every response",
                               "schema": {"type": "string"}},
    "Location": {"description": "URL of the created resource", "schema": {"type": "string"}},
    "X-Dnsaas-Serial": {"description": "The zone's SOA serial after this change",
                        "schema": {"type": "integer"}},
}
SCOPE_HEADERS = ("X-Auth-All-Projects", "X-Auth-Sudo-Project-ID")


def _param_key(name: str) -> str:
    return name.replace("-", "")


def _schemas(specs: list[RouteSpec]) -> tuple[dict[Any, Any], dict[str, Any]]:
    models: list[type[BaseModel]] = [s.Error]
    for spec in specs:
        if spec.body is not None and spec.body not in models:
            models.append(spec.body)
        for model in spec.responses.values():
            if model is not None and model not in models:
                models.append(model)
    inputs = [(m, "validation") for m in models if issubclass(m, s.RequestModel)]
    outputs = [(m, "serialization") for m in models if not issubclass(m, s.RequestModel)]
    refs, top = models_json_schema(inputs + outputs, ref_template=REF)  # type: ignore[arg-type]
    return {model: ref for (model, _mode), ref in refs.items()}, top.get("$defs", {})


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _operation(spec: RouteSpec, refs: dict[Any, Any]) -> dict[str, Any]:
    op: dict[str, Any] = {"operationId": spec.operation_id, "summary": spec.summary,
                          "tags": [spec.tag]}
    description = spec.description + ("\n\nAdmin only." if spec.admin else "")
    if description.strip():
        op["description"] = description.strip()
    params: list[dict[str, Any]] = []
    for name in spec.path_params:
        schema = {"type": "string"} if name == "project_id" else {"type": "string",
                                                                   "format": "uuid"}
        params.append({"name": name, "in": "path", "required": True, "schema": schema})
    for q in spec.query:
        params.append({"name": q.name, "in": "query", "required": False,
                       "description": q.description, "schema": q.schema})
    headers = ([] if spec.public else list(SCOPE_HEADERS)) + list(spec.headers)
    params += [{"$ref": f"#/components/parameters/{_param_key(h)}"} for h in headers]
    if params:
        op["parameters"] = params
    if spec.body is not None:
        op["requestBody"] = {"required": True, "content": _json(refs[spec.body])}
    responses: dict[str, Any] = {}
    for status, model in sorted(spec.responses.items()):
        resp: dict[str, Any] = {"description": HTTPStatus(status).phrase}
        resp_headers = ["x-openstack-request-id", *spec.response_headers]
        if status == 201 or (status == 202 and spec.method == "POST"):
            resp_headers.append("Location")
        if status == 301:
            resp_headers.append("Location")
        resp["headers"] = {h: {"$ref": f"#/components/headers/{_param_key(h)}"}
                           for h in resp_headers}
        if model is not None:
            resp["content"] = _json(refs[model])
        elif spec.content_type != "application/json" and status == 200:
            resp["content"] = {spec.content_type: {"schema": {"type": "string"}}}
        elif spec.operation_id == "openapi_json":
            resp["content"] = _json({"type": "object"})
        responses[str(status)] = resp
    errors = set(spec.errors) | {406}
    if spec.body is not None:
        errors |= {400, 413, 415}
    if not spec.public:
        errors |= {401, 403, 503}
    for status in sorted(errors):
        responses[str(status)] = {"description": HTTPStatus(status).phrase,
                                  "content": _json(refs[s.Error])}
    op["responses"] = responses
    if spec.public:
        op["security"] = []
    return op


def openapi_document(specs: list[RouteSpec]) -> dict[str, Any]:
    """The OpenAPI 3.1 document for ``specs``."""
    refs, schemas = _schemas(specs)
    paths: dict[str, dict[str, Any]] = {}
    tags: list[dict[str, str]] = []
    for spec in specs:
        paths.setdefault(spec.path, {})[spec.method.lower()] = _operation(spec, refs)
        if spec.tag not in [t["name"] for t in tags]:
            tags.append({"name": spec.tag})
    return {
        "openapi": "3.1.0",
        "info": {"title": "dnsaas API (Designate v2 compatible)", "version": "2.4",
                 "description": DESCRIPTION},
        "servers": [{"url": "/"}],
        "tags": tags,
        "paths": paths,
        "components": {
            "schemas": schemas,
            "parameters": {_param_key(name): {"name": name, "in": "header", "required": False,
                                              **p} for name, p in HEADER_PARAMS.items()},
            "headers": {_param_key(name): h for name, h in RESPONSE_HEADERS.items()},
            "securitySchemes": {"token": {"type": "apiKey", "in": "header",
                                          "name": "X-Auth-Token"}},
        },
        "security": [{"token": []}],
    }
