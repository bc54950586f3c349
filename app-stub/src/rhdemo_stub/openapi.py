"""The API's OpenAPI description, served at /v3/api-docs as springdoc-openapi serves a Spring Boot app's
(OpenAPI 3.0.1, its default title and version, a `Generated server url`). Built from the running release's
entity model, so release 1.1 describes `telephone` and 1.0 does not."""

from __future__ import annotations

from typing import Any

from rhdemo_stub.model import Model

API_DOCS_PATH = "/v3/api-docs"
_JSON = "application/json"
_ERROR_REF = {"$ref": "#/components/schemas/ErrorResponse"}
_REASONS = {"400": "Bad Request: invalid parameter or body", "404": "Not Found: no employe with this id",
            "409": "Conflict: an employe with this mail already exists",
            "413": "Payload Too Large: the body is over the size limit",
            "500": "Internal Server Error: e.g. no database connection within the pool's timeout"}


def _errors(*codes: str) -> dict[str, Any]:
    return {code: {"description": _REASONS[code], "content": {_JSON: {"schema": _ERROR_REF}}} for code in codes}


def _string(max_length: int | None, nullable: bool) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    if max_length is not None:
        schema["maxLength"] = max_length
    if nullable:
        schema["nullable"] = True
    return schema


def _schemas(model: Model, max_page_size: int) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    writable: dict[str, Any] = {}
    for column in model.columns:
        if column.generated:
            properties[column.name] = {"type": "integer", "format": "int64"}
            continue
        properties[column.name] = _string(column.max_length, column.nullable)
        request_field = _string(column.max_length, column.nullable)
        if not column.nullable:
            request_field["pattern"] = "\\S"  # @NotBlank: one non-blank character at least
        if column.name == "mail":
            request_field["format"] = "email"
        writable[column.name] = request_field
    page_fields = {"size": {"type": "integer", "format": "int32", "minimum": 1, "maximum": max_page_size},
                   "number": {"type": "integer", "format": "int32", "minimum": 0},
                   "totalElements": {"type": "integer", "format": "int64", "minimum": 0},
                   "totalPages": {"type": "integer", "format": "int32", "minimum": 0}}
    return {
        "Employe": {"type": "object", "required": list(properties), "properties": properties},
        "EmployeRequest": {"type": "object", "required": [c.name for c in model.writable if not c.nullable],
                           "properties": writable},
        "PageEmploye": {"type": "object", "required": ["content", "page"], "properties": {
            "content": {"type": "array", "items": {"$ref": "#/components/schemas/Employe"}},
            "page": {"type": "object", "required": list(page_fields), "properties": page_fields}}},
        "ErrorResponse": {"type": "object", "required": ["timestamp", "status", "error", "message", "path"],
                          "properties": {"timestamp": {"type": "string", "format": "date-time"},
                                         "status": {"type": "integer", "format": "int32"},
                                         "error": {"type": "string"}, "message": {"type": "string"},
                                         "path": {"type": "string"}}},
    }


def api_docs(model: Model, server_url: str, max_page_size: int) -> dict[str, Any]:
    """The description of /api/employes for `model`, with `server_url` as the generated server url."""
    employe = {"content": {_JSON: {"schema": {"$ref": "#/components/schemas/Employe"}}}}
    body = {"required": True, "content": {_JSON: {"schema": {"$ref": "#/components/schemas/EmployeRequest"}}}}
    employe_id = {"name": "id", "in": "path", "required": True, "schema": {"type": "integer", "format": "int64"}}
    paging = [
        {"name": "page", "in": "query", "required": False,
         "schema": {"type": "integer", "format": "int32", "default": 0, "minimum": 0}},
        {"name": "size", "in": "query", "required": False,
         "schema": {"type": "integer", "format": "int32", "default": 20, "minimum": 1, "maximum": max_page_size}},
        {"name": "sort", "in": "query", "required": False, "description": "field[,asc|desc], repeatable",
         "schema": {"type": "array", "items": {"type": "string"}}, "style": "form", "explode": True},
    ]
    return {
        "openapi": "3.0.1",
        "info": {"title": "OpenAPI definition", "version": "v0"},
        "servers": [{"url": server_url, "description": "Generated server url"}],
        "paths": {
            "/api/employes": {
                "get": {"tags": ["employe-controller"], "operationId": "list", "parameters": paging,
                        "responses": {"200": {"description": "OK", "content": {
                            _JSON: {"schema": {"$ref": "#/components/schemas/PageEmploye"}}}},
                            **_errors("400", "500")}},
                "post": {"tags": ["employe-controller"], "operationId": "create", "requestBody": body,
                         "responses": {"201": {"description": "Created", **employe, "headers": {
                             "Location": {"required": True, "schema": {"type": "string"}}}},
                             **_errors("400", "409", "413", "500")}},
            },
            "/api/employes/{id}": {
                "get": {"tags": ["employe-controller"], "operationId": "get", "parameters": [employe_id],
                        "responses": {"200": {"description": "OK", **employe}, **_errors("400", "404", "500")}},
                "put": {"tags": ["employe-controller"], "operationId": "update", "parameters": [employe_id],
                        "requestBody": body,
                        "responses": {"200": {"description": "OK", **employe},
                                      **_errors("400", "404", "409", "413", "500")}},
                "delete": {"tags": ["employe-controller"], "operationId": "delete", "parameters": [employe_id],
                           "responses": {"204": {"description": "No Content"}, **_errors("400", "404", "500")}},
            },
        },
        "components": {"schemas": _schemas(model, max_page_size)},
    }
