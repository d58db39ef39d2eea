"""Property-based: whatever arrives, the handler answers with JSON, never a 5xx, and a
rejected request leaves the table exactly as it was."""
from __future__ import annotations

import base64
import json
import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import event as hypothesis_event
from hypothesis import strategies as st

from infra.policies import HANDLER_DYNAMODB_ACTIONS
from user_service import handler as handler_module
from user_service import validation
from user_service.responses import HttpError

# Examples are kept modest: each handler example costs a few moto round trips.
HANDLER_SETTINGS = settings(max_examples=150, deadline=None, derandomize=False,
                            suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                   HealthCheck.too_slow])
PURE_SETTINGS = settings(max_examples=300, deadline=None)

SEEDED_ID = "11111111-2222-4333-8444-555555555555"
OTHER_ID = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"

text = st.text(max_size=30)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
    max_leaves=12,
)
# Bodies close to valid are the interesting ones: they reach the deepest checks.
user_like = st.fixed_dictionaries(
    {"name": st.one_of(st.just("Ada"), st.just("Ada"), text, json_values),
     "email": st.one_of(st.just("ada@example.com"), st.just("ada@example.com"), st.emails(),
                        text, json_values)},
    optional={"id": text, "version": st.integers(), "extra": json_values},
)
bodies = st.one_of(
    user_like.map(json.dumps),
    st.none(),
    text,
    st.binary(max_size=60).map(lambda b: b.decode("latin-1")),
    json_values.map(json.dumps),
    user_like.map(json.dumps),
    st.just("x" * 17000),
)
# Valid choices are repeated so that most examples get past routing to the deeper checks.
VALID_METHODS = ["GET", "POST", "PUT", "DELETE"]
methods = st.one_of(st.sampled_from(VALID_METHODS), st.sampled_from(VALID_METHODS),
                    st.sampled_from(VALID_METHODS + ["PATCH", "HEAD", "OPTIONS"]), text)
ids = st.one_of(st.just(SEEDED_ID), st.just(SEEDED_ID), st.just(OTHER_ID), text)
paths = st.one_of(
    st.just("/users"),
    ids.map(lambda i: f"/users/{i}"),
    ids.map(lambda i: f"/users/{i}"),
    st.text(alphabet=string.printable, max_size=40),
)
# Half the time a method and path that make a real route, the rest anything at all.
routes = st.one_of(
    st.sampled_from([("GET", "/users"), ("POST", "/users"), ("GET", f"/users/{SEEDED_ID}"),
                     ("PUT", f"/users/{SEEDED_ID}"), ("DELETE", f"/users/{SEEDED_ID}")]),
    st.tuples(methods, paths),
)
resources = st.sampled_from(["auto"] * 6 + [None, None, "/users", "/users/{id}", "/{proxy+}",
                                            "/other"])
header_names = st.sampled_from(["Content-Type", "content-type", "If-Match", "IF-MATCH",
                                "Accept", "X-Other"]) | text
header_values = st.one_of(
    st.sampled_from(["application/json", "application/json; charset=utf-8", "text/plain",
                     '"1"', '"2"', "*", 'W/"1"', "", "application/json; charset=latin-1"]),
    text,
)
content_types = st.one_of(st.just("application/json"), st.just("application/json"),
                          st.none(), header_values)
if_matches = st.one_of(st.none(), st.none(), st.sampled_from(['"1"', '"2"', "*"]), header_values)


def _headers(content_type, if_match, extra):
    result = dict(extra)
    if content_type is not None:
        result["Content-Type"] = content_type
    if if_match is not None:
        result["If-Match"] = if_match
    return result


headers = st.builds(_headers, content_types, if_matches,
                    st.dictionaries(header_names, header_values, max_size=3))
queries = st.just({}) | st.dictionaries(
    st.sampled_from(["limit", "nextToken", "x"]) | text,
    st.one_of(st.sampled_from(["1", "20", "100", "0", "101", "-1", "e30", "abc"]), text,
              st.lists(text, min_size=2, max_size=3)),
    max_size=3,
)


GRANTED = {action.split(":", 1)[1] for action in HANDLER_DYNAMODB_ACTIONS}


@pytest.fixture
def create_seeded_user(admin, table):
    """(Re)store one known user, so PUT and DELETE examples can hit an existing item."""
    def seed() -> None:
        admin.put_item(TableName=table, Item={
            "id": {"S": SEEDED_ID}, "name": {"S": "Seed"}, "email": {"S": "seed@example.com"},
            "createdAt": {"S": "2024-01-01T00:00:00.000Z"},
            "updatedAt": {"S": "2024-01-01T00:00:00.000Z"}, "version": {"N": "1"}})
    return seed


@pytest.fixture
def granted_only(operation_log):
    """After the test: every DynamoDB call the handler made is one the role grants."""
    start = len(operation_log)
    yield
    used = set(operation_log[start:])
    assert used <= GRANTED, used - GRANTED


def assert_well_formed(response: dict) -> int:
    assert set(response) == {"statusCode", "headers", "body"}
    status = response["statusCode"]
    assert isinstance(status, int) and 200 <= status < 500, response
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in response["headers"].items())
    assert isinstance(response["body"], str)
    assert response["headers"]["Cache-Control"] == "no-store"
    if status == 204:
        assert response["body"] == ""
    else:
        assert response["headers"]["Content-Type"] == "application/json"
        payload = json.loads(response["body"])
        assert isinstance(payload, dict)
        if status >= 400:
            assert isinstance(payload["message"], str) and payload["message"]
    return status


@given(route=routes, resource=resources, body=bodies, headers=headers,
       query=queries, base64_body=st.booleans())
@HANDLER_SETTINGS
def test_any_request_gets_json_and_rejections_write_nothing(
        granted_only, table, table_items, create_seeded_user, event, route, resource, body,
        headers, query, base64_body):
    create_seeded_user()
    method, path = route
    ev = event(method, path, body=body, headers=headers, query=query, base64_body=base64_body,
               resource=resource)
    before = table_items(table)
    status = assert_well_formed(handler_module.handler(ev, None))
    hypothesis_event(f"status {status}")  # shown by --hypothesis-show-statistics
    if status >= 400:
        assert table_items(table) == before


@given(event_body=st.dictionaries(st.sampled_from(
           ["httpMethod", "path", "resource", "pathParameters", "headers", "multiValueHeaders",
            "queryStringParameters", "multiValueQueryStringParameters", "body",
            "isBase64Encoded", "requestContext"]), json_values, max_size=8))
@HANDLER_SETTINGS
def test_malformed_events_never_escape_as_exceptions(granted_only, table, table_items, event_body):
    """Each field of the event with any JSON value at all (API Gateway would never)."""
    status = assert_well_formed(handler_module.handler(event_body, None))
    if status >= 400:
        assert table_items(table) == {}


# --- the pure functions the handler relies on ------------------------------------------

@given(payload=st.one_of(json_values, user_like))
@PURE_SETTINGS
def test_validate_user_fields_returns_clean_fields_or_a_400(payload):
    try:
        fields = validation.validate_user_fields(payload)
    except HttpError as err:
        assert err.status == 400 and err.message
        return
    assert set(fields) == {"name", "email"}
    assert 0 < len(fields["name"]) <= validation.MAX_NAME_CHARS
    fields["name"].encode("utf-8")  # storable: no lone surrogates
    assert "@" in fields["email"]


@given(raw=st.binary(max_size=200) | json_values.map(lambda v: json.dumps(v).encode()))
@PURE_SETTINGS
def test_parse_json_returns_a_value_or_a_400(raw):
    try:
        value = validation.parse_json(raw)
    except HttpError as err:
        assert err.status == 400 and err.message
        return
    assert value == json.loads(raw)  # what it accepts, it reads as the standard parser does


@given(user_id=st.uuids(version=4).map(str))
@PURE_SETTINGS
def test_next_token_round_trips(user_id):
    token = validation.encode_next_token(user_id)
    assert validation.decode_next_token(token) == user_id


@given(token=st.text(max_size=80) | st.binary(max_size=60).map(
    lambda b: base64.urlsafe_b64encode(b).decode().rstrip("=")))
@PURE_SETTINGS
def test_decode_next_token_returns_an_id_or_a_400(token):
    try:
        user_id = validation.decode_next_token(token)
    except HttpError as err:
        assert err.status == 400
        return
    assert validation.is_user_id(user_id)


@given(value=st.text(max_size=30) | st.lists(
    st.sampled_from(['"1"', 'W/"1"', '""', '"a,b"', " ", ",", "*", '"', "W/", "\t"]),
    max_size=6).map("".join))
@PURE_SETTINGS
def test_parse_if_match_returns_a_condition_or_a_400(value):
    """A 400 exactly when the header is neither * nor a list of entity tags."""
    try:
        condition = validation.parse_if_match(value)
    except HttpError as err:
        assert err.status == 400
        condition = None
    if value.strip(" \t") == "*":
        assert condition == validation.ANY_VERSION
    else:
        assert condition == _entity_tags_of(value)


def _entity_tags_of(value: str) -> frozenset[str] | None:
    """An independent left-to-right reading of RFC 9110's #entity-tag (None: malformed)."""
    tags, i, after_tag = set(), 0, False
    while i < len(value):
        char = value[i]
        if char in " \t":
            i += 1
        elif char == ",":
            i, after_tag = i + 1, False
        else:
            start = i + 2 if value.startswith("W/", i) else i
            end = value.find('"', start + 1)
            if after_tag or value[start:start + 1] != '"' or end < 0 or not all(
                    c == "\x21" or "\x23" <= c <= "\x7e" or "\x80" <= c <= "\xff"
                    for c in value[start + 1:end]):
                return None
            tags.add(value[i:end + 1])
            i, after_tag = end + 1, True
    return frozenset(tags)


@given(version=st.integers(min_value=1, max_value=10**18), others=st.lists(st.text(
    st.characters(min_codepoint=0x23, max_codepoint=0x7e), max_size=5), max_size=3))
@PURE_SETTINGS
def test_if_match_allows_exactly_the_strong_current_tag(version, others):
    tags = ", ".join(f'"{t}"' for t in others)
    condition = validation.parse_if_match(tags)
    assert validation.if_match_allows(condition, version) == (str(version) in others)
    weak = validation.parse_if_match(f'W/"{version}"')
    assert not validation.if_match_allows(weak, version)
