"""The contract gate's comparison, as tables: a change made to a small users API on one
side, and the lines it must give, written out in full."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from promotion.contract import UnreadableDocument, compare, gate, read_document

ROOT = Path(__file__).resolve().parents[2]
REF = "#/components/schemas/{}"


def json_body(schema: str) -> dict:
    return {"content": {"application/json": {"schema": {"$ref": REF.format(schema)}}}}


def base() -> dict:
    """A small users API, written the way infra/openapi.py writes the project's."""
    error = {"description": "error", **json_body("Error")}
    user_id = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
    if_match = {"name": "If-Match", "in": "header", "required": False,
                "schema": {"type": "string"}}
    return {
        "openapi": "3.0.1",
        "info": {"title": "users", "version": "1.0"},
        "paths": {
            "/users": {
                "get": {
                    "parameters": [
                        {"name": "limit", "in": "query", "required": False,
                         "schema": {"type": "integer"}},
                        {"name": "nextToken", "in": "query", "required": False,
                         "schema": {"type": "string"}}],
                    "responses": {"200": {"description": "a page", **json_body("UserPage")},
                                  "400": error},
                    "security": [{"sigv4": []}]},
                "post": {
                    "requestBody": {"required": True, **json_body("UserFields")},
                    "responses": {"201": {"description": "created",
                                          "headers": {"ETag": {"schema": {"type": "string"}}},
                                          **json_body("User")},
                                  "400": error},
                    "security": [{"sigv4": []}]},
            },
            "/users/{id}": {
                "get": {"parameters": [user_id],
                        "responses": {"200": {"description": "the user", **json_body("User")},
                                      "404": error},
                        "security": [{"sigv4": []}]},
                "put": {"parameters": [user_id, if_match],
                        "requestBody": {"required": True, **json_body("UserFields")},
                        "responses": {"200": {"description": "the user", **json_body("User")},
                                      "404": error, "412": error},
                        "security": [{"sigv4": []}]},
                "delete": {"parameters": [user_id, if_match],
                           "responses": {"204": {"description": "deleted"}, "404": error},
                           "security": [{"sigv4": []}]},
            },
        },
        "components": {
            "schemas": {
                "UserFields": {
                    "type": "object", "required": ["name", "email"],
                    "properties": {
                        "name": {"type": "string", "minLength": 1, "maxLength": 100},
                        "email": {"type": "string", "maxLength": 254},
                        "role": {"type": "string", "enum": ["member", "admin"]},
                        "age": {"type": "integer"}}},
                "User": {
                    "type": "object", "required": ["id", "name", "email", "version"],
                    "properties": {
                        "id": {"type": "string"}, "name": {"type": "string"},
                        "email": {"type": "string"},
                        "role": {"type": "string", "enum": ["member", "admin"]},
                        "version": {"type": "integer", "minimum": 1}}},
                "UserPage": {
                    "type": "object", "required": ["items", "nextToken"],
                    "properties": {
                        "items": {"type": "array", "items": {"$ref": REF.format("User")}},
                        "nextToken": {"description": "null on the last page"}}},
                "Error": {"type": "object", "required": ["message"],
                          "properties": {"message": {"type": "string"}}},
            },
            "securitySchemes": {"sigv4": {"type": "apiKey", "name": "Authorization",
                                          "in": "header",
                                          "x-amazon-apigateway-authtype": "awsSigv4"}},
        },
    }


def schemas(doc: dict) -> dict:
    return doc["components"]["schemas"]


def lines(old: dict, new: dict) -> list[str]:
    return [f"{change.kind}: {change}" for change in compare(old, new)]


def edit(change):
    """A copy of base() with `change` applied to it."""
    def build() -> dict:
        doc = base()
        change(doc)
        return doc
    return build


# Each row: what changes, on which side ("new": the candidate is base() with the change;
# "old": what the target serves is base() with the change, and the candidate is base()),
# and every line the comparison must give.
ROWS = [
    ("unchanged", "new", lambda d: None, []),
    ("a removed path", "new", lambda d: d["paths"].pop("/users/{id}"), [
        "breaking: /users/{id}: path removed, with DELETE, GET and PUT; an old client that "
        "calls it is refused"]),
    ("a removed operation", "new", lambda d: d["paths"]["/users/{id}"].pop("delete"), [
        "breaking: DELETE /users/{id}: removed; an old client that calls it is refused"]),
    ("a new operation and a new path", "new", lambda d: (
        d["paths"]["/users/{id}"].update(patch={"responses": {"200": {"description": "ok"}}}),
        d["paths"].update({"/teams": {"get": {"responses": {"200": {"description": "ok"}}},
                                      "post": {"responses": {"201": {"description": "ok"}}}}})), [
        "compatible: PATCH /users/{id}: new operation",
        "compatible: /teams: new path, with GET and POST"]),
    ("authorization now required", "old",
     lambda d: d["paths"]["/users/{id}"]["get"].pop("security"), [
         "breaking: GET /users/{id}: now requires authorization (sigv4); an old client that "
         "does not sign is refused"]),
    # parameters
    ("a new required query parameter", "new",
     lambda d: d["paths"]["/users"]["get"]["parameters"].append(
         {"name": "team", "in": "query", "required": True, "schema": {"type": "string"}}), [
         "breaking: GET /users query parameter 'team': new and required; an old client does "
         "not send it"]),
    ("a new optional query parameter", "new",
     lambda d: d["paths"]["/users"]["get"]["parameters"].append(
         {"name": "team", "in": "query", "schema": {"type": "string"}}), [
         "compatible: GET /users query parameter 'team': new, optional"]),
    ("an optional parameter made required", "new",
     lambda d: d["paths"]["/users"]["get"]["parameters"][0].update(required=True), [
         "breaking: GET /users query parameter 'limit': now required; an old client may "
         "leave it out"]),
    ("a query parameter's type changed", "new",
     lambda d: d["paths"]["/users"]["get"]["parameters"][1]["schema"].update(type="integer"), [
         "breaking: GET /users query parameter 'nextToken': type changed from string to "
         "integer; a value an old client may send is refused"]),
    ("a removed query parameter (the function refuses unknown ones)", "new",
     lambda d: d["paths"]["/users"]["get"]["parameters"].pop(1), [
         "breaking: GET /users query parameter 'nextToken': removed; the API refuses unknown "
         "query parameters (400), so an old client that sends it is refused"]),
    ("a removed header parameter (headers are not refused)", "new",
     lambda d: d["paths"]["/users/{id}"]["delete"]["parameters"].pop(1), [
         "compatible: DELETE /users/{id} header parameter 'If-Match': removed; an old client "
         "that sends it is not refused, but it is no longer read"]),
    # request bodies
    ("a new required request field", "new", lambda d: (
        schemas(d)["UserFields"]["properties"].update(team={"type": "string"}),
        schemas(d)["UserFields"]["required"].append("team")), [
        "breaking: POST /users request body field 'team': new and required; an old client "
        "does not send it",
        "breaking: PUT /users/{id} request body field 'team': new and required; an old "
        "client does not send it"]),
    ("an optional request field made required", "new",
     lambda d: schemas(d)["UserFields"]["required"].append("age"), [
         "breaking: POST /users request body field 'age': now required; an old client may "
         "leave it out",
         "breaking: PUT /users/{id} request body field 'age': now required; an old client "
         "may leave it out"]),
    ("a required request field made optional", "new",
     lambda d: schemas(d)["UserFields"]["required"].remove("email"), [
         "compatible: POST /users request body field 'email': now optional",
         "compatible: PUT /users/{id} request body field 'email': now optional"]),
    ("a new optional request field", "new",
     lambda d: schemas(d)["UserFields"]["properties"].update(team={"type": "string"}), [
         "compatible: POST /users request body field 'team': new, optional",
         "compatible: PUT /users/{id} request body field 'team': new, optional"]),
    ("a removed request field (the function refuses unknown fields)", "new",
     lambda d: schemas(d)["UserFields"]["properties"].pop("age"), [
         "breaking: POST /users request body field 'age': removed; the API refuses unknown "
         "fields (400), so an old client that sends it is refused",
         "breaking: PUT /users/{id} request body field 'age': removed; the API refuses "
         "unknown fields (400), so an old client that sends it is refused"]),
    ("a request field's type narrowed (number to integer)", "old",
     lambda d: schemas(d)["UserFields"]["properties"]["age"].update(type="number"), [
         "breaking: POST /users request body field 'age': type narrowed from number to "
         "integer; a value an old client may send is refused",
         "breaking: PUT /users/{id} request body field 'age': type narrowed from number to "
         "integer; a value an old client may send is refused"]),
    ("a request field's type widened (integer to number)", "new",
     lambda d: schemas(d)["UserFields"]["properties"]["age"].update(type="number"), [
         "compatible: POST /users request body field 'age': type widened from integer to "
         "number",
         "compatible: PUT /users/{id} request body field 'age': type widened from integer to "
         "number"]),
    ("a request enum value removed", "new",
     lambda d: schemas(d)["UserFields"]["properties"]["role"]["enum"].remove("admin"), [
         "breaking: POST /users request body field 'role': enum narrowed: \"admin\" no longer "
         "allowed; a value an old client may send is refused",
         "breaking: PUT /users/{id} request body field 'role': enum narrowed: \"admin\" no "
         "longer allowed; a value an old client may send is refused"]),
    ("a request enum value added", "new",
     lambda d: schemas(d)["UserFields"]["properties"]["role"]["enum"].append("owner"), [
         "compatible: POST /users request body field 'role': enum widened: \"owner\" now "
         "allowed",
         "compatible: PUT /users/{id} request body field 'role': enum widened: \"owner\" now "
         "allowed"]),
    ("a request maxLength lowered", "new",
     lambda d: schemas(d)["UserFields"]["properties"]["name"].update(maxLength=50), [
         "breaking: POST /users request body field 'name': maxLength lowered from 100 to 50; "
         "a value an old client may send is refused",
         "breaking: PUT /users/{id} request body field 'name': maxLength lowered from 100 to "
         "50; a value an old client may send is refused"]),
    ("a request maxLength raised", "new",
     lambda d: schemas(d)["UserFields"]["properties"]["name"].update(maxLength=200), [
         "compatible: POST /users request body field 'name': maxLength raised from 100 to 200",
         "compatible: PUT /users/{id} request body field 'name': maxLength raised from 100 to "
         "200"]),
    ("a request minimum added", "new",
     lambda d: schemas(d)["UserFields"]["properties"]["age"].update(minimum=18), [
         "breaking: POST /users request body field 'age': minimum 18 added; a value an old "
         "client may send is refused",
         "breaking: PUT /users/{id} request body field 'age': minimum 18 added; a value an "
         "old client may send is refused"]),
    ("a pattern added to a request field", "new",
     lambda d: schemas(d)["UserFields"]["properties"]["email"].update(pattern="^[^@]+@[^@]+$"), [
         "breaking: POST /users request body field 'email': pattern '^[^@]+@[^@]+$' added; a "
         "value an old client may send is refused",
         "breaking: PUT /users/{id} request body field 'email': pattern '^[^@]+@[^@]+$' "
         "added; a value an old client may send is refused"]),
    ("a new required request body", "new",
     lambda d: d["paths"]["/users/{id}"]["delete"].update(
         requestBody={"required": True, **json_body("UserFields")}), [
         "breaking: DELETE /users/{id} request body: new and required; an old client sends "
         "none"]),
    ("an optional request body made required", "old",
     lambda d: d["paths"]["/users"]["post"]["requestBody"].update(required=False), [
         "breaking: POST /users request body: now required; an old client may leave it out"]),
    # responses
    ("a removed response status", "new",
     lambda d: d["paths"]["/users/{id}"]["get"]["responses"].pop("404"), [
         "breaking: GET /users/{id} response 404: removed; an old client that expects it "
         "gets another answer"]),
    ("a new response status", "new",
     lambda d: d["paths"]["/users/{id}"]["get"]["responses"].update(
         {"429": {"description": "throttled", **json_body("Error")}}), [
         "compatible: GET /users/{id} response 429: new"]),
    ("a removed response field", "new", lambda d: schemas(d)["User"]["properties"].pop("role"), [
        "breaking: GET /users response 200 field 'items[].role': removed; an old client that "
        "reads it finds nothing",
        "breaking: POST /users response 201 field 'role': removed; an old client that reads "
        "it finds nothing",
        "breaking: GET /users/{id} response 200 field 'role': removed; an old client that "
        "reads it finds nothing",
        "breaking: PUT /users/{id} response 200 field 'role': removed; an old client that "
        "reads it finds nothing"]),
    ("a response field that may now be absent", "new",
     lambda d: schemas(d)["UserPage"]["required"].remove("nextToken"), [
         "breaking: GET /users response 200 field 'nextToken': may now be absent; an old "
         "client that reads it may find nothing"]),
    ("a new response field", "new",
     lambda d: schemas(d)["UserPage"]["properties"].update(total={"type": "integer"}), [
         "compatible: GET /users response 200 field 'total': new"]),
    ("a response field's type changed", "new",
     lambda d: schemas(d)["Error"]["properties"]["message"].update(type="object"), [
         "breaking: GET /users response 400 field 'message': type changed from string to "
         "object; an old client may get a value it does not expect",
         "breaking: POST /users response 400 field 'message': type changed from string to "
         "object; an old client may get a value it does not expect",
         "breaking: DELETE /users/{id} response 404 field 'message': type changed from string "
         "to object; an old client may get a value it does not expect",
         "breaking: GET /users/{id} response 404 field 'message': type changed from string "
         "to object; an old client may get a value it does not expect",
         "breaking: PUT /users/{id} response 404 field 'message': type changed from string "
         "to object; an old client may get a value it does not expect",
         "breaking: PUT /users/{id} response 412 field 'message': type changed from string "
         "to object; an old client may get a value it does not expect"]),
    ("a response field's type narrowed (any to string)", "new",
     lambda d: schemas(d)["UserPage"]["properties"]["nextToken"].update(type="string"), [
         "compatible: GET /users response 200 field 'nextToken': type narrowed from any type "
         "to string"]),
    ("a response field's type widened (integer to number)", "new",
     lambda d: schemas(d)["User"]["properties"]["version"].update(type="number"), [
         "breaking: GET /users response 200 field 'items[].version': type widened from "
         "integer to number; an old client may get a value it does not expect",
         "breaking: POST /users response 201 field 'version': type widened from integer to "
         "number; an old client may get a value it does not expect",
         "breaking: GET /users/{id} response 200 field 'version': type widened from integer "
         "to number; an old client may get a value it does not expect",
         "breaking: PUT /users/{id} response 200 field 'version': type widened from integer "
         "to number; an old client may get a value it does not expect"]),
    ("a response enum value added (an old client may not know it)", "old",
     lambda d: schemas(d)["User"]["properties"]["role"]["enum"].remove("admin"), [
         "breaking: GET /users response 200 field 'items[].role': enum widened: \"admin\" "
         "now allowed; an old client may get a value it does not expect",
         "breaking: POST /users response 201 field 'role': enum widened: \"admin\" now "
         "allowed; an old client may get a value it does not expect",
         "breaking: GET /users/{id} response 200 field 'role': enum widened: \"admin\" now "
         "allowed; an old client may get a value it does not expect",
         "breaking: PUT /users/{id} response 200 field 'role': enum widened: \"admin\" now "
         "allowed; an old client may get a value it does not expect"]),
    ("a response enum value removed", "new",
     lambda d: schemas(d)["User"]["properties"]["role"]["enum"].remove("admin"), [
         "compatible: GET /users response 200 field 'items[].role': enum narrowed: \"admin\" "
         "no longer allowed",
         "compatible: POST /users response 201 field 'role': enum narrowed: \"admin\" no "
         "longer allowed",
         "compatible: GET /users/{id} response 200 field 'role': enum narrowed: \"admin\" no "
         "longer allowed",
         "compatible: PUT /users/{id} response 200 field 'role': enum narrowed: \"admin\" no "
         "longer allowed"]),
    ("a removed response header", "new",
     lambda d: d["paths"]["/users"]["post"]["responses"]["201"].pop("headers"), [
         "breaking: POST /users response 201 header 'ETag': removed; an old client that reads "
         "it finds nothing"]),
    ("a removed response body", "new",
     lambda d: d["paths"]["/users/{id}"]["get"]["responses"]["200"].pop("content"), [
         "breaking: GET /users/{id} response 200: no longer sends application/json; an old "
         "client that reads it finds nothing"]),
]


@pytest.mark.parametrize("name, side, change, expected", ROWS, ids=[row[0] for row in ROWS])
def test_each_change_in_plain_words(name, side, change, expected):
    changed = edit(change)()
    old, new = (base(), changed) if side == "new" else (changed, base())
    assert lines(old, new) == expected


def renamed_path_parameter(doc: dict) -> None:
    item = doc["paths"].pop("/users/{id}")
    for operation in item.values():
        for param in operation["parameters"]:
            if param["name"] == "id":
                param["name"] = "userId"
    doc["paths"]["/users/{userId}"] = item


def test_a_path_parameter_renamed_is_the_same_path():
    assert lines(base(), edit(renamed_path_parameter)()) == [
        "compatible: DELETE /users/{userId}: path parameter {id} is now named {userId}; the "
        "URL is the same",
        "compatible: GET /users/{userId}: path parameter {id} is now named {userId}; the URL "
        "is the same",
        "compatible: PUT /users/{userId}: path parameter {id} is now named {userId}; the URL "
        "is the same"]


def test_a_path_parameter_renamed_and_narrowed_is_compared_as_one_parameter():
    def change(doc):
        renamed_path_parameter(doc)
        doc["paths"]["/users/{userId}"]["get"]["parameters"][0]["schema"] = {"type": "integer"}
    assert "breaking: GET /users/{userId} path parameter 'userId': type changed from string " \
           "to integer; a value an old client may send is refused" in lines(base(), edit(change)())


def test_path_level_parameters_count_for_every_operation():
    def change(doc):
        doc["paths"]["/users/{id}"]["parameters"] = [
            {"name": "X-Team", "in": "header", "required": True, "schema": {"type": "string"}}]
    assert lines(base(), edit(change)()) == [
        "breaking: DELETE /users/{id} header parameter 'X-Team': new and required; an old "
        "client does not send it",
        "breaking: GET /users/{id} header parameter 'X-Team': new and required; an old "
        "client does not send it",
        "breaking: PUT /users/{id} header parameter 'X-Team': new and required; an old "
        "client does not send it"]


def test_header_names_compare_without_case():
    def change(doc):
        doc["paths"]["/users/{id}"]["delete"]["parameters"][1]["name"] = "if-match"
        doc["paths"]["/users"]["post"]["responses"]["201"]["headers"] = {
            "etag": {"schema": {"type": "string"}}}
    assert lines(base(), edit(change)()) == []


def test_api_gateway_model_references_resolve_like_component_references():
    # API Gateway's stored models name each other by URL; a document that says the same
    # with those references promises the same.
    def change(doc):
        page = schemas(doc)["UserPage"]["properties"]["items"]["items"]
        page["$ref"] = "https://apigateway.amazonaws.com/restapis/a1b2c3/models/User"
    assert lines(base(), edit(change)()) == []


def test_a_recursive_schema_is_compared_once_and_ends():
    # User.manager is a User: its email is the same schema, said once per operation.
    def recursive(doc):
        schemas(doc)["User"]["properties"]["manager"] = {"$ref": REF.format("User")}
    old, new = edit(recursive)(), edit(recursive)()
    schemas(new)["User"]["properties"]["email"]["maxLength"] = 10
    assert lines(old, new) == [
        "compatible: GET /users response 200 field 'items[].email': maxLength 10 added",
        "compatible: POST /users response 201 field 'email': maxLength 10 added",
        "compatible: GET /users/{id} response 200 field 'email': maxLength 10 added",
        "compatible: PUT /users/{id} response 200 field 'email': maxLength 10 added"]


def test_keywords_the_gate_cannot_reason_about_count_as_breaking():
    def change(doc):
        schemas(doc)["UserFields"]["allOf"] = [{"required": ["role"]}]
        doc["paths"]["/users/{id}"].pop("put")
    assert lines(base(), edit(change)()) == [
        "breaking: POST /users request body: allOf changed; the gate cannot tell whether that "
        "is compatible, so it counts as breaking",
        "breaking: PUT /users/{id}: removed; an old client that calls it is refused"]


def test_any_method_is_an_operation_of_its_own():
    def change(doc):
        doc["paths"]["/users"]["x-amazon-apigateway-any-method"] = {
            "responses": {"200": {"description": "ok"}}}
    assert lines(base(), edit(change)()) == ["compatible: ANY /users: new operation"]


# --- the project's own document --------------------------------------------------------

def reference() -> dict:
    return json.loads((ROOT / "openapi.json").read_text())


def test_the_reference_document_against_itself_is_unchanged():
    assert compare(reference(), reference()) == []


def test_the_reference_document_losing_a_route_and_gaining_a_field():
    new = reference()
    new["paths"]["/users/{id}"].pop("delete")
    new["components"]["schemas"]["User"]["properties"]["team"] = {"type": "string"}
    assert lines(reference(), new) == [
        "compatible: GET /users response 200 field 'items[].team': new",
        "compatible: POST /users response 201 field 'team': new",
        "breaking: DELETE /users/{id}: removed; an old client that calls it is refused",
        "compatible: GET /users/{id} response 200 field 'team': new",
        "compatible: PUT /users/{id} response 200 field 'team': new"]


# --- the gate --------------------------------------------------------------------------

PROD = "the deployment prod serves (abc123)"
CANDIDATE = "the candidate (deployment def456, which test serves)"


def test_the_gate_passes_an_unchanged_api():
    verdict = gate(base(), base(), old_label=PROD, new_label=CANDIDATE)
    assert (verdict.ok, verdict.lines) == (True, (
        "API contract: the candidate (deployment def456, which test serves) serves the same "
        "API as the deployment prod serves (abc123)",))


def test_the_gate_passes_and_lists_compatible_changes():
    new = edit(lambda d: schemas(d)["UserPage"]["properties"].update(total={"type": "integer"}))()
    verdict = gate(base(), new, old_label=PROD, new_label=CANDIDATE)
    assert (verdict.ok, verdict.lines) == (True, (
        "API contract: the candidate (deployment def456, which test serves) against the "
        "deployment prod serves (abc123)",
        "  compatible: GET /users response 200 field 'total': new",
        "passed: 1 compatible change, none breaking"))


def breaking_and_compatible(doc: dict) -> None:
    doc["paths"]["/users/{id}"].pop("delete")
    doc["paths"]["/users/{id}"]["get"]["responses"].pop("404")
    schemas(doc)["UserPage"]["properties"]["total"] = {"type": "integer"}


def test_the_gate_refuses_breaking_changes_and_says_each():
    verdict = gate(base(), edit(breaking_and_compatible)(), old_label=PROD, new_label=CANDIDATE)
    assert (verdict.ok, verdict.lines) == (False, (
        "API contract: the candidate (deployment def456, which test serves) against the "
        "deployment prod serves (abc123)",
        "  breaking: DELETE /users/{id}: removed; an old client that calls it is refused",
        "  breaking: GET /users/{id} response 404: removed; an old client that expects it "
        "gets another answer",
        "  compatible: GET /users response 200 field 'total': new",
        "refused: 2 breaking changes; nothing was changed. Keep the API compatible, or pass "
        "--allow-breaking to promote anyway"))


def test_allow_breaking_lets_them_through_and_still_says_each():
    verdict = gate(base(), edit(breaking_and_compatible)(), old_label=PROD, new_label=CANDIDATE,
                   allow_breaking=True)
    assert verdict.ok is True
    assert verdict.lines[1:] == (
        "  breaking: DELETE /users/{id}: removed; an old client that calls it is refused",
        "  breaking: GET /users/{id} response 404: removed; an old client that expects it "
        "gets another answer",
        "  compatible: GET /users response 200 field 'total': new",
        "allowed by --allow-breaking: 2 breaking changes; old clients may fail")


def test_the_gate_reads_json_text_and_bytes_as_an_export_gives_them():
    text = json.dumps(base())
    assert gate(text, text.encode(), old_label=PROD, new_label=CANDIDATE).ok is True


UNREADABLE = [
    ("missing", None,
     "cannot read the OpenAPI document of {label}: there is none (nothing was found to "
     "compare)"),
    ("not JSON", b"<html>Forbidden</html>",
     "cannot read the OpenAPI document of {label}: it is not valid JSON (Expecting value: "
     "line 1 column 1 (char 0))"),
    ("not UTF-8", b"\xff\xfe{}",
     "cannot read the OpenAPI document of {label}: it is not UTF-8 text"),
    ("an array", "[]",
     "cannot read the OpenAPI document of {label}: it is a JSON array, not an OpenAPI "
     "document (an object)"),
    ("swagger 2.0", {"swagger": "2.0", "paths": {}},
     "cannot read the OpenAPI document of {label}: it is not an OpenAPI 3 document (swagger "
     "'2.0'); export it as OpenAPI 3 (GetExport exportType oas30)"),
    ("no paths", {"openapi": "3.0.1"},
     "cannot read the OpenAPI document of {label}: it has no paths object"),
    ("an operation that is not an object", {"openapi": "3.0.1", "paths": {"/users": {"get": []}}},
     "cannot read the OpenAPI document of {label}: paths./users.get is not an object"),
    ("a $ref to nothing", edit(lambda d: schemas(d).pop("Error"))(),
     "cannot read the OpenAPI document of {label}: $ref '#/components/schemas/Error' names "
     "nothing in the document"),
    ("a $ref outside the document", edit(lambda d: schemas(d).update(
        Error={"$ref": "https://example.com/error.json"}))(),
     "cannot read the OpenAPI document of {label}: $ref 'https://example.com/error.json' "
     "points outside the document"),
]


@pytest.mark.parametrize("name, raw, expected", UNREADABLE, ids=[r[0] for r in UNREADABLE])
@pytest.mark.parametrize("side", ["old", "new"])
def test_the_gate_refuses_a_document_it_cannot_read_and_says_which(name, raw, expected, side):
    old, new = (raw, base()) if side == "old" else (base(), raw)
    label = PROD if side == "old" else CANDIDATE
    for allow_breaking in (False, True):
        verdict = gate(old, new, old_label=PROD, new_label=CANDIDATE,
                       allow_breaking=allow_breaking)
        assert (verdict.ok, verdict.lines) == (False, (
            expected.format(label=label),
            "refused: the API contract cannot be checked; nothing was changed"))


def test_both_unreadable_documents_are_named():
    verdict = gate(None, "{", old_label=PROD, new_label=CANDIDATE)
    assert verdict.lines == (
        "cannot read the OpenAPI document of the deployment prod serves (abc123): there is "
        "none (nothing was found to compare)",
        "cannot read the OpenAPI document of the candidate (deployment def456, which test "
        "serves): it is not valid JSON (Expecting property name enclosed in double quotes: "
        "line 1 column 2 (char 1))",
        "refused: the API contract cannot be checked; nothing was changed")


def test_compare_names_the_document_it_cannot_read():
    with pytest.raises(UnreadableDocument) as raised:
        compare(base(), {"openapi": "3.0.1"}, new_label="the candidate")
    assert raised.value.label == "the candidate"
    assert read_document(base(), "x") == base()


# --- definition_hash: what verify compares -------------------------------------------------

def test_one_deployment_exported_through_two_stages_hashes_equal_and_other_apis_not():
    from promotion.contract import definition_hash
    document = {"openapi": "3.0.1", "info": {"title": "users", "version": "1"},
                "paths": {"/users": {"get": {"responses": {"200": {"description": "ok"}}}}}}

    def through(stage):
        return {**document, "servers": [{"url": "https://x.execute-api.us-east-1.amazonaws.com/"
                                                 "{basePath}",
                                          "variables": {"basePath": {"default": f"/{stage}"}}}]}
    assert definition_hash(through("test"), "t") == definition_hash(through("prod"), "p")
    assert definition_hash(json.dumps(through("test")), "t") == definition_hash(document, "d")
    other = {**document, "paths": {"/users": {"get": {"responses": {
        "200": {"description": "ok"}, "404": {"description": "none"}}}}}}
    assert definition_hash(other, "o") != definition_hash(document, "d")
    with pytest.raises(UnreadableDocument, match="cannot read the OpenAPI document of prod's"):
        definition_hash({"swagger": "2.0"}, "prod's")
