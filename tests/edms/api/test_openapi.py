"""The OpenAPI document is made from the code: every route, the token scheme, the problems."""

from __future__ import annotations

import re
from typing import Any

import pytest
from openapi_spec_validator import validate

from edms.api.schemas import DocumentPatchSchema
from edms.api.views import blueprints
from edms.documents import services

METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.fixture
def spec(client) -> dict[str, Any]:
    response = client.get("/api/v1/openapi.json")  # no token needed
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    document: dict[str, Any] = response.get_json()
    return document


def _resolve(spec: dict[str, Any], item: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in item:
        *_, kind, name = item["$ref"].split("/")
        item = spec["components"][kind][name]
    return item


def test_the_document_is_valid_openapi(spec) -> None:
    validate(spec)
    assert spec["openapi"].startswith("3.")


def test_every_api_route_is_documented(app, spec) -> None:
    names = {blueprint.name for blueprint in blueprints}
    rules = [r for r in app.url_map.iter_rules() if r.endpoint.split(".")[0] in names]
    assert len(rules) >= 6
    for rule in rules:
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        assert path in spec["paths"], path
        documented = set(spec["paths"][path]) & METHODS
        assert documented == {m.lower() for m in rule.methods} & METHODS, path


def test_a_bearer_token_is_required_everywhere(spec) -> None:
    assert spec["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": spec["components"]["securitySchemes"]["bearerAuth"]["description"],
    }
    assert spec["security"] == [{"bearerAuth": []}]
    for path, item in spec["paths"].items():
        for method in set(item) & METHODS:
            assert "401" in item[method]["responses"], (method, path)


def test_errors_are_documented_as_problems(spec) -> None:
    problem = spec["components"]["schemas"]["Problem"]
    assert {"type", "title", "status", "detail", "instance", "errors"} <= set(problem["properties"])
    for path, item in spec["paths"].items():
        for method in set(item) & METHODS:
            for status, response in item[method]["responses"].items():
                if status == "default" or int(status) >= 400:
                    content = _resolve(spec, response)["content"]
                    assert list(content) == ["application/problem+json"], (method, path, status)
                    assert content["application/problem+json"]["schema"] == {
                        "$ref": "#/components/schemas/Problem"
                    }
    responses = spec["paths"]["/api/v1/documents"]["post"]["responses"]
    assert {"201", "400", "401", "403", "413", "415", "422"} <= set(responses)


def test_uploads_are_documented_as_multipart(spec) -> None:
    for path, required in [
        ("/api/v1/documents", {"file", "title", "journal"}),
        ("/api/v1/documents/{doc_id}/versions", {"file"}),
    ]:
        body = spec["paths"][path]["post"]["requestBody"]["content"]
        assert list(body) == ["multipart/form-data"]
        schema = _resolve(spec, body["multipart/form-data"]["schema"])
        assert set(schema["required"]) == required
        assert schema["properties"]["file"] == {
            "type": "string",
            "format": "binary",
            "description": schema["properties"]["file"]["description"],
        }
    register = _resolve(
        spec,
        spec["paths"]["/api/v1/documents"]["post"]["requestBody"]["content"]["multipart/form-data"][
            "schema"
        ],
    )
    assert register["properties"]["correspondent_tin"]["pattern"] == r"^[1-9]\d{8}$"
    download = spec["paths"]["/api/v1/documents/{doc_id}/file"]["get"]["responses"]["200"]
    assert "application/octet-stream" in download["content"]


def test_the_patch_schema_follows_the_service() -> None:
    assert set(DocumentPatchSchema().fields) == set(services.EDITABLE_FIELDS)
