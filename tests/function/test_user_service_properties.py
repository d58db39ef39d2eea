"""Property-based: whatever arrives, the handler answers with JSON, never a 5xx, and a
rejected request leaves the table exactly as it was. Every property also draws input
that the API's rules call valid, and that input must succeed: a handler or a check that
refused everything fails here."""
from __future__ import annotations

import base64
import json
import re
import string
import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import event as hypothesis_event
from hypothesis import strategies as st

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

# --- valid input, built from the API's rules (README, openapi.json), not from the code ---

# A name: 1 to 100 characters, not all spaces, and none a control, format, surrogate, line
# or paragraph separator character (Unicode categories Cc, Cf, Cs, Zl, Zp), nor one that
# shows nothing or only a blank (Unicode's default-ignorable code points, and U+2800). It
# is stored trimmed. Generated here: assigned characters (not Cn, where some reserved
# default-ignorable ranges lie) less the assigned blank-looking ones, by their names.
BLANK_LOOKING = {"COMBINING GRAPHEME JOINER", "HANGUL CHOSEONG FILLER",
                 "HANGUL JUNGSEONG FILLER", "KHMER VOWEL INHERENT AQ",
                 "KHMER VOWEL INHERENT AA", "BRAILLE PATTERN BLANK", "HANGUL FILLER",
                 "HALFWIDTH HANGUL FILLER"}
valid_names = st.text(st.characters(exclude_categories=("Cc", "Cf", "Cs", "Zl", "Zp", "Cn")).filter(
    lambda char: unicodedata.name(char, "") not in BLANK_LOOKING),
                      min_size=1, max_size=100).filter(lambda name: name.strip())
# An email: a dot-atom local part of at most 64 characters, @, dotted DNS labels, and a
# top-level domain of letters.
_ATEXT = string.ascii_letters + string.digits + "!#$%&'*+/=?^_`{|}~-"
_ALNUM = string.ascii_letters + string.digits
_local_parts = st.lists(st.text(_ATEXT, min_size=1, max_size=12), min_size=1, max_size=3).map(
    ".".join).filter(lambda local: len(local) <= 64)
_labels = st.sampled_from(_ALNUM) | st.tuples(
    st.sampled_from(_ALNUM), st.text(_ALNUM + "-", max_size=10), st.sampled_from(_ALNUM)).map(
    "".join)
_domains = st.tuples(st.lists(_labels, min_size=1, max_size=3),
                     st.text(string.ascii_letters, min_size=2, max_size=8)).map(
    lambda parts: ".".join([*parts[0], parts[1]]))
valid_emails = st.tuples(_local_parts, _domains).map("@".join)
valid_fields = st.fixed_dictionaries({"name": valid_names, "email": valid_emails})
valid_content_types = st.sampled_from(["application/json", "application/json; charset=utf-8",
                                       "Application/JSON;charset=UTF-8"])
# If-Match values the seeded user (version 1) satisfies; None sends no If-Match.
matching_if_match = st.sampled_from([None, '"1"', "*", '"7", "1"', 'W/"1", "1"', ' "1" ',
                                     ['"7"', '"1"']])
DEFAULT_PAGE = 20


def _with_if_match(headers: dict, if_match: str | list[str] | None) -> dict:
    return headers if if_match is None else {**headers, "If-Match": if_match}


# (method, path, build_event options, the status it must get); the seeded user exists.
valid_requests = st.one_of(
    st.builds(lambda query: ("GET", "/users", {"query": query}, 200),
              st.just({}) | st.integers(1, 100).map(lambda n: {"limit": str(n)})),
    st.builds(lambda fields, ct: ("POST", "/users",
                                  {"body": fields, "headers": {"Content-Type": ct}}, 201),
              valid_fields, valid_content_types),
    st.just(("GET", f"/users/{SEEDED_ID}", {}, 200)),
    st.builds(lambda fields, ct, im: ("PUT", f"/users/{SEEDED_ID}", {
        "body": fields, "headers": _with_if_match({"Content-Type": ct}, im)}, 200),
        valid_fields, valid_content_types, matching_if_match),
    st.builds(lambda im: ("DELETE", f"/users/{SEEDED_ID}",
                          {"headers": _with_if_match({}, im)}, 204), matching_if_match),
)
# Anything at all: the expected status is unknown (None).
any_requests = st.builds(
    lambda route, resource, body, headers, query, base64_body: (
        *route, {"resource": resource, "body": body, "headers": headers, "query": query,
                 "base64_body": base64_body}, None),
    routes, resources, bodies, headers, queries, st.booleans())


# The DynamoDB calls the handler makes, and its role grants (infra/policies.py).
GRANTED = {"GetItem", "PutItem", "DeleteItem", "Scan"}


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


def assert_done(method: str, path: str, options: dict, response: dict, stored: dict) -> None:
    """A valid request did what it asked: `stored` is the table afterwards, by id."""
    answer = json.loads(response["body"]) if response["body"] else None
    if method == "POST" or method == "PUT":
        sent = options["body"]
        assert (answer["name"], answer["email"]) == (sent["name"].strip(), sent["email"])
        item = stored[answer["id"]]
        assert (item["name"]["S"], item["email"]["S"]) == (answer["name"], answer["email"])
        assert item["version"]["N"] == str(answer["version"]) == ("1" if method == "POST" else "2")
    elif method == "DELETE":
        assert SEEDED_ID not in stored
    elif path == "/users":
        limit = int(options["query"].get("limit", DEFAULT_PAGE))
        assert 0 < len(answer["items"]) <= limit  # the seeded user exists, so a page has one
    else:
        assert (answer["id"], answer["name"], answer["version"]) == (SEEDED_ID, "Seed", 1)


# Half valid, half anything (`a | b` would flatten into one choice among valid's five).
valid_or_any = st.booleans().flatmap(lambda valid: valid_requests if valid else any_requests)


@given(case=valid_or_any)
@HANDLER_SETTINGS
def test_any_request_gets_json_valid_ones_succeed_and_rejections_write_nothing(
        granted_only, table, table_items, create_seeded_user, event, case):
    create_seeded_user()
    method, path, options, expected = case
    before = table_items(table)
    response = handler_module.handler(event(method, path, **options), None)
    status = assert_well_formed(response)
    hypothesis_event(f"status {status}")  # shown by --hypothesis-show-statistics
    if expected is not None:
        assert status == expected, response
        assert_done(method, path, options, response, table_items(table))
    if status >= 400:
        assert table_items(table) == before


EVENT_FIELDS = ["httpMethod", "path", "resource", "pathParameters", "headers",
                "multiValueHeaders", "queryStringParameters",
                "multiValueQueryStringParameters", "body", "isBase64Encoded", "requestContext"]
# The fields a GET /users does not depend on: whatever they hold, the list is served.
NOT_READ_BY_A_LIST = {"pathParameters", "headers", "multiValueHeaders", "body",
                      "isBase64Encoded", "requestContext"}


@given(fields=st.dictionaries(st.sampled_from(EVENT_FIELDS), json_values, max_size=8),
       onto_a_list_request=st.booleans())
@HANDLER_SETTINGS
def test_malformed_events_never_escape_as_exceptions(granted_only, table, table_items, event,
                                                     fields, onto_a_list_request):
    """Each field of the event with any JSON value at all (API Gateway would never): alone,
    or put onto a real GET /users event in the fields that request does not read."""
    if onto_a_list_request:
        proxy_event = {**event("GET", "/users"),
                       **{k: v for k, v in fields.items() if k in NOT_READ_BY_A_LIST}}
    else:
        proxy_event = fields
    response = handler_module.handler(proxy_event, None)
    status = assert_well_formed(response)
    if onto_a_list_request:
        assert status == 200 and json.loads(response["body"]) == {"items": [], "nextToken": None}
    if status >= 400:
        assert table_items(table) == {}


# Single If-Match lines, well-formed or not; the seeded user is at version 1.
if_match_lines = st.lists(st.sampled_from(['"1"', '"2"', 'W/"1"', "*", "", " ", "abc",
                                           '"1", "3"', '"x"', '"1', ","]),
                          min_size=1, max_size=4)


@given(lines=if_match_lines, data=st.data())
@HANDLER_SETTINGS
def test_if_match_lines_are_one_list_in_any_order(granted_only, table, create_seeded_user, event,
                                                  lines, data):
    """RFC 9110 5.3: the lines of a field are one value, joined by commas in order. So the
    answer is the one for that list, and the order of the lines never changes it."""
    combined = ", ".join(lines)
    tags = _entity_tags_of(combined)
    expected = (200 if combined.strip(" \t") == "*" else 400 if tags is None
                else 200 if '"1"' in tags else 412)
    for sent in (lines, data.draw(st.permutations(lines), label="the lines reordered")):
        create_seeded_user()
        response = handler_module.handler(event(
            "PUT", f"/users/{SEEDED_ID}", body={"name": "N", "email": "n@example.com"},
            headers={"Content-Type": "application/json", "If-Match": sent}), None)
        assert response["statusCode"] == expected, (sent, response)


# --- the pure functions the handler relies on ------------------------------------------

REFUSED_IN_TEXT = {"Cc", "Cf", "Cs", "Zl", "Zp"}


@given(case=valid_fields.map(lambda f: (f, True)) | st.one_of(json_values, user_like).map(
    lambda payload: (payload, False)))
@PURE_SETTINGS
def test_validate_user_fields_returns_clean_fields_or_a_400(case):
    payload, is_valid = case
    try:
        fields = validation.validate_user_fields(payload)
    except HttpError as err:
        assert not is_valid, (payload, err.message)
        assert err.status == 400 and err.message
        return
    if is_valid:
        assert fields == {"name": payload["name"].strip(), "email": payload["email"]}
    assert set(fields) == {"name", "email"}
    assert 0 < len(fields["name"]) <= 100 and len(fields["email"]) <= 254
    for value in fields.values():
        assert not {unicodedata.category(c) for c in value} & REFUSED_IN_TEXT, value
    assert "@" in fields["email"]


finite_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
    max_leaves=12,
)


@given(case=finite_json_values.map(lambda v: (json.dumps(v).encode(), True))
       | (st.binary(max_size=200) | json_values.map(lambda v: json.dumps(v).encode())).map(
           lambda raw: (raw, False)))
@PURE_SETTINGS
def test_parse_json_returns_a_value_or_a_400(case):
    raw, is_valid = case
    try:
        value = validation.parse_json(raw)
    except HttpError as err:
        assert not is_valid, (raw, err.message)
        assert err.status == 400 and err.message
        return
    assert value == json.loads(raw)  # what it accepts, it reads as the standard parser does


@given(user_id=st.uuids(version=4).map(str))
@PURE_SETTINGS
def test_next_token_round_trips(user_id):
    token = validation.encode_next_token(user_id)
    assert validation.decode_next_token(token) == user_id


def _token_for(user_id: str, separators: tuple[str, str]) -> str:
    """The documented token: the last key as JSON, base64url without padding."""
    key = json.dumps({"id": user_id}, separators=separators).encode()
    return base64.urlsafe_b64encode(key).decode().rstrip("=")


@given(case=st.tuples(st.uuids(version=4).map(str), st.sampled_from([(",", ":"), (", ", ": ")]))
       .map(lambda c: (_token_for(*c), c[0]))
       | (st.text(max_size=80) | st.binary(max_size=60).map(
           lambda b: base64.urlsafe_b64encode(b).decode().rstrip("="))).map(lambda t: (t, None)))
@PURE_SETTINGS
def test_decode_next_token_returns_an_id_or_a_400(case):
    token, expected_id = case
    try:
        user_id = validation.decode_next_token(token)
    except HttpError as err:
        assert expected_id is None, (token, err.message)
        assert err.status == 400
        return
    if expected_id is not None:
        assert user_id == expected_id
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",
                        user_id)


@given(value=st.text(max_size=30) | st.lists(
    st.sampled_from(['"1"', 'W/"1"', '""', '"a,b"', " ", ",", "*", '"', "W/", "\t"]),
    max_size=6).map("".join))
@PURE_SETTINGS
def test_parse_if_match_returns_a_condition_or_a_400(value):
    """A 400 exactly when the header is neither * nor a list of entity tags; what it reads,
    if_match_allows answers for: * allows every version, a list the strong tags in it."""
    try:
        condition = validation.parse_if_match(value)
    except HttpError as err:
        assert err.status == 400
        assert value.strip(" \t") != "*" and _entity_tags_of(value) is None, value
        return
    if value.strip(" \t") == "*":
        assert all(validation.if_match_allows(condition, v) for v in (1, 2, 10**18))
    else:
        tags = _entity_tags_of(value)
        assert condition == tags, value
        for version in (1, 2, 10):
            assert validation.if_match_allows(condition, version) == (f'"{version}"' in tags)


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


@given(version=st.integers(min_value=1, max_value=10**18),
       others=st.lists(st.text(st.characters(min_codepoint=0x23, max_codepoint=0x7e), max_size=5),
                       max_size=3),
       current_at=st.none() | st.integers(min_value=0, max_value=3))
@PURE_SETTINGS
def test_if_match_allows_exactly_the_strong_current_tag(version, others, current_at):
    """Half the lists name the current version somewhere, so a check that never allowed
    anything fails here too."""
    listed = list(others)
    if current_at is not None:
        listed.insert(current_at, str(version))
    condition = validation.parse_if_match(", ".join(f'"{t}"' for t in listed))
    assert validation.if_match_allows(condition, version) == (str(version) in listed)
    weak = validation.parse_if_match(f'W/"{version}"')
    assert not validation.if_match_allows(weak, version)
