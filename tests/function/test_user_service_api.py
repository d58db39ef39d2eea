"""Every route and every kind of bad input, through the real handler against moto."""
from __future__ import annotations

import base64
import json
import re
import uuid
from datetime import datetime, timezone
from types import SimpleNamespace

import pytest
from botocore.stub import Stubber

from infra.policies import HANDLER_DYNAMODB_ACTIONS
from user_service import handler as handler_module
from user_service import routes, store

JSON = {"Content-Type": "application/json"}
UUID4 = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
UNKNOWN_ID = "0f0e0d0c-0b0a-4909-8807-060504030201"


@pytest.fixture(scope="module", autouse=True)
def module_operations(operation_log):
    """The DynamoDB operations the handler makes from the start of this module on."""
    start = len(operation_log)
    return lambda: set(operation_log[start:])


def parse_time(value: str) -> datetime:
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", value), value
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def assert_rejected(reply, status: int, *words: str) -> None:
    """A 4xx with a JSON {"message"} that mentions what is wrong."""
    assert reply.status == status, reply
    assert reply.headers["content-type"] == "application/json"
    assert isinstance(reply.message, str) and reply.message
    for word in words:
        assert word.lower() in reply.message.lower(), (word, reply.message)


@pytest.fixture
def seed_user(admin, table):
    """seed_user(id, version): store a user directly, at any version; returns its item."""
    def seed(user_id: str, version: int = 1) -> dict:
        item = {"id": {"S": user_id}, "name": {"S": "Seed"}, "email": {"S": "seed@example.com"},
                "createdAt": {"S": "2024-01-01T00:00:00.000Z"},
                "updatedAt": {"S": "2024-01-01T00:00:00.000Z"}, "version": {"N": str(version)}}
        admin.put_item(TableName=table, Item=item)
        return item
    return seed


# --- create -----------------------------------------------------------------------------

def test_create_returns_201_with_location_etag_and_the_stored_user(call, table, table_items):
    before = datetime.now(timezone.utc)
    reply = call("POST", "/users", body={"name": "Ada Lovelace", "email": "ada@example.com"},
                 headers=JSON, stage="test")
    assert reply.status == 201, reply
    user = reply.json
    assert set(user) == {"id", "name", "email", "createdAt", "updatedAt", "version"}
    assert UUID4.fullmatch(user["id"])
    assert (user["name"], user["email"], user["version"]) == ("Ada Lovelace", "ada@example.com", 1)
    assert user["createdAt"] == user["updatedAt"]
    assert before.replace(microsecond=0) <= parse_time(user["createdAt"]) <= datetime.now(timezone.utc)
    # Stage-qualified, because requestContext.path says the client called /test/users.
    assert reply.headers["location"] == f"/test/users/{user['id']}"
    assert reply.headers["etag"] == '"1"'
    assert reply.headers["content-type"] == "application/json"
    stored = table_items(table)[user["id"]]
    assert stored == {"id": {"S": user["id"]}, "name": {"S": "Ada Lovelace"},
                      "email": {"S": "ada@example.com"}, "createdAt": {"S": user["createdAt"]},
                      "updatedAt": {"S": user["updatedAt"]}, "version": {"N": "1"}}


def test_location_is_relative_when_the_event_has_no_outer_path(table, lambda_context):
    reply = handler_module.handler({
        "httpMethod": "POST", "resource": "/users", "path": "/users",
        "headers": {"content-type": "application/json"},
        "body": json.dumps({"name": "Bo", "email": "bo@example.org"}),
        "requestContext": {"stage": "prod", "requestId": "r-1"},
    }, lambda_context)
    assert reply["statusCode"] == 201
    user_id = json.loads(reply["body"])["id"]
    assert reply["headers"]["Location"] == f"/users/{user_id}"


@pytest.mark.parametrize("sent,prefix", [("/v1/users", "/v1"), ("/users", "")])
def test_location_keeps_a_custom_domains_base_path(table, lambda_context, sent, prefix):
    # On a custom domain API Gateway gives the path as sent, base path included, as both
    # `path` and `requestContext.path` (localstack/localstack#12296 lists AWS's answers).
    reply = handler_module.handler({
        "httpMethod": "POST", "resource": "/users", "path": sent,
        "headers": {"content-type": "application/json"},
        "body": json.dumps({"name": "Bo", "email": "bo@example.org"}),
        "requestContext": {"stage": "prod", "requestId": "r-1", "path": sent,
                           "domainName": "api.example.com"},
    }, lambda_context)
    assert reply["statusCode"] == 201
    user_id = json.loads(reply["body"])["id"]
    assert reply["headers"]["Location"] == f"{prefix}/users/{user_id}"


def test_creates_get_distinct_ids(create):
    ids = {create(name=f"User {i}", email=f"u{i}@example.com")["id"] for i in range(5)}
    assert len(ids) == 5


def test_name_is_trimmed_and_100_characters_are_allowed(call):
    reply = call("POST", "/users", body={"name": "  Grace  ", "email": "g@example.com"}, headers=JSON)
    assert reply.status == 201 and reply.json["name"] == "Grace"
    reply = call("POST", "/users", body={"name": "n" * 100, "email": "g@example.com"}, headers=JSON)
    assert reply.status == 201 and reply.json["name"] == "n" * 100


def test_unicode_names_round_trip(call):
    # Visible letters of many scripts, a combining mark (U+0308), a no-break space
    # (U+00A0) and an emoji with its variation selector (U+FE0F) are all kept as sent.
    name = "Zoë Ωmega 李小龍 אדה Zoe\u0308\u00a0Ada \U0001F680 \u2764\ufe0f"
    created = call("POST", "/users", body={"name": name, "email": "z@example.com"}, headers=JSON)
    assert created.status == 201
    fetched = call("GET", f"/users/{created.json['id']}")
    assert fetched.json["name"] == name


def test_content_type_with_utf8_charset_and_any_case_is_accepted(call):
    for headers in ({"CONTENT-TYPE": "Application/JSON; charset=UTF-8"},
                    {"content-type": "application/json;charset=utf-8"}):
        reply = call("POST", "/users", body={"name": "C", "email": "c@example.com"}, headers=headers)
        assert reply.status == 201, (headers, reply)


def test_header_only_in_multi_value_headers_is_found(call, event):
    body = json.dumps({"name": "M", "email": "m@example.com"})
    ev = event("POST", "/users", body=body)
    ev["headers"] = None
    ev["multiValueHeaders"] = {"Content-Type": ["application/json"]}
    reply = handler_module.handler(ev, None)
    assert reply["statusCode"] == 201, reply


def test_base64_encoded_body_is_decoded(call, table, table_items):
    reply = call("POST", "/users", body={"name": "B64", "email": "b64@example.com"},
                 headers=JSON, base64_body=True)
    assert reply.status == 201, reply
    assert table_items(table)[reply.json["id"]]["name"] == {"S": "B64"}


@pytest.fixture
def scripted_ids(monkeypatch):
    """scripted_ids(ids): the user ids the handler draws next, in order; returns the list of
    those it drew. Only the handler's draws are scripted (moto draws uuids too)."""
    def script(ids: list[str]) -> list[str]:
        pending, drawn = list(ids), []

        def uuid4() -> uuid.UUID:
            drawn.append(pending.pop(0))
            return uuid.UUID(drawn[-1])
        monkeypatch.setattr(routes, "uuid", SimpleNamespace(uuid4=uuid4))
        return drawn
    return script


TAKEN = ["aaaaaaaa-0000-4000-8000-00000000000" + str(i) for i in (1, 2, 3)]
FREE = "bbbbbbbb-0000-4000-8000-000000000004"


def test_a_create_never_overwrites_a_taken_id_and_retries_with_another(
        call, seed_user, table, table_items, scripted_ids):
    seed_user(TAKEN[0], version=3)
    existing = table_items(table)[TAKEN[0]]
    drawn = scripted_ids([TAKEN[0], FREE])
    reply = call("POST", "/users", body={"name": "Newcomer", "email": "new@example.com"},
                 headers=JSON)
    assert reply.status == 201, reply
    assert reply.json["id"] == FREE and reply.headers["location"] == f"/test/users/{FREE}"
    assert drawn == [TAKEN[0], FREE]
    items = table_items(table)
    assert items[TAKEN[0]] == existing  # the earlier user, untouched
    assert set(items) == {TAKEN[0], FREE}
    assert (items[FREE]["name"], items[FREE]["version"]) == ({"S": "Newcomer"}, {"N": "1"})


def test_a_create_gives_up_after_three_taken_ids_with_a_logged_500(
        call, seed_user, table, table_items, scripted_ids, capsys):
    for user_id in TAKEN:
        seed_user(user_id, version=2)
    before = table_items(table)
    drawn = scripted_ids([*TAKEN, FREE])  # a fourth draw would be free: it never comes
    capsys.readouterr()
    reply = call("POST", "/users", body={"name": "Newcomer", "email": "new@example.com"},
                 headers=JSON)
    assert reply.status == 500
    assert reply.message == "Could not allocate a new user id; try again."
    assert drawn == TAKEN
    assert table_items(table) == before
    (line,) = log_lines(capsys.readouterr().out)
    assert (line["status"], line["errorCode"], line["level"]) == (500, "IdCollision", "ERROR")


def test_post_with_unknown_query_parameters_is_400_and_writes_nothing(call, table, table_items):
    reply = call("POST", "/users", body={"name": "Q", "email": "q@example.com"}, headers=JSON,
                 query={"x": "1", "limit": "5"})
    assert_rejected(reply, 400, '"x"', '"limit"', "accepts: none")
    assert table_items(table) == {}


# --- read -------------------------------------------------------------------------------

def test_get_returns_the_user_with_its_etag(call, create):
    user = create()
    reply = call("GET", f"/users/{user['id']}")
    assert reply.status == 200
    assert reply.json == user
    assert reply.headers["etag"] == '"1"'


def test_get_unknown_user_is_404(call):
    assert_rejected(call("GET", f"/users/{UNKNOWN_ID}"), 404, UNKNOWN_ID)


@pytest.mark.parametrize("bad_id", ["not-a-uuid", "1234", UNKNOWN_ID.upper(),
                                    UNKNOWN_ID + "0", "0f0e0d0c-0b0a-1909-8807-060504030201",
                                    "%20", "' OR 1=1 --"])
@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_malformed_id_is_400_and_writes_nothing(call, table, table_items, create, method, bad_id):
    create()
    before = table_items(table)
    reply = call(method, f"/users/{bad_id}", body={"name": "X", "email": "x@example.com"},
                 headers=JSON)
    assert_rejected(reply, 400, "id")
    assert table_items(table) == before


# --- replace ----------------------------------------------------------------------------

def test_put_replaces_name_and_email_and_bumps_the_version(call, create, table, table_items):
    user = create()
    reply = call("PUT", f"/users/{user['id']}", body={"name": "Ada King", "email": "ak@example.com"},
                 headers=JSON)
    assert reply.status == 200, reply
    updated = reply.json
    assert updated["id"] == user["id"] and updated["createdAt"] == user["createdAt"]
    assert (updated["name"], updated["email"], updated["version"]) == ("Ada King", "ak@example.com", 2)
    assert parse_time(updated["updatedAt"]) >= parse_time(user["updatedAt"])
    assert reply.headers["etag"] == '"2"'
    assert call("GET", f"/users/{user['id']}").json == updated
    assert table_items(table)[user["id"]]["version"] == {"N": "2"}


@pytest.mark.parametrize("if_match", ['"1"', "*", '"7", "1"', ' "1" ', 'W/"1", "1"',
                                      '"x,y", "1"', ', "1",'])
def test_put_with_a_matching_if_match_succeeds(call, create, if_match):
    user = create()
    reply = call("PUT", f"/users/{user['id']}", body={"name": "N", "email": "n@example.com"},
                 headers={**JSON, "If-Match": if_match})
    assert reply.status == 200, reply
    assert reply.headers["etag"] == '"2"'


def test_put_with_a_stale_if_match_is_412_and_changes_nothing(call, create, table, table_items):
    user = create()
    assert call("PUT", f"/users/{user['id']}", body={"name": "Second", "email": "s@example.com"},
                headers={**JSON, "if-match": '"1"'}).status == 200
    before = table_items(table)
    reply = call("PUT", f"/users/{user['id']}", body={"name": "Third", "email": "t@example.com"},
                 headers={**JSON, "IF-MATCH": '"1"'})
    assert_rejected(reply, 412, "version 2", "etag")
    assert table_items(table) == before


@pytest.mark.parametrize("if_match", ["1", "abc", '"1", 2', '"1', '*, "1"', 'w/"1"', '"1""2"',
                                      '"1 2"', '"\u0100"', " ," * 5000 + "x"])
@pytest.mark.parametrize("method", ["PUT", "DELETE"])
def test_malformed_if_match_is_400_and_writes_nothing(call, create, table, table_items, method,
                                                      if_match):
    user = create()
    before = table_items(table)
    reply = call(method, f"/users/{user['id']}", body={"name": "N", "email": "n@example.com"},
                 headers={**JSON, "If-Match": if_match})
    assert_rejected(reply, 400, "If-Match")
    assert table_items(table) == before


@pytest.mark.parametrize("if_match", ['"stale-0"', '"one"', '""', '"01"', '"2", "3"', '"a,1"',
                                      "", " , ", 'W/"1"'])
@pytest.mark.parametrize("method", ["PUT", "DELETE"])
def test_a_well_formed_tag_that_is_not_ours_is_412_and_writes_nothing(call, create, table,
                                                                      table_items, method, if_match):
    """RFC 9110 13.1.1: If-Match compares (strongly); only a malformed header is a 400."""
    user = create()
    before = table_items(table)
    reply = call(method, f"/users/{user['id']}", body={"name": "N", "email": "n@example.com"},
                 headers={**JSON, "If-Match": if_match})
    assert_rejected(reply, 412, "version 1", "etag")
    assert table_items(table) == before


def test_a_weak_if_match_is_412_and_says_weak_tags_never_match(call, create):
    user = create()
    reply = call("PUT", f"/users/{user['id']}", body={"name": "N", "email": "n@example.com"},
                 headers={**JSON, "If-Match": 'W/"1"'})
    assert_rejected(reply, 412, "weak", "W/")


@pytest.mark.parametrize("if_match", [None, '"1"', "*", 'W/"1"', '"2", "3"'])
@pytest.mark.parametrize("method", ["PUT", "DELETE"])
def test_an_unknown_user_is_404_even_with_if_match(call, create, table, table_items, method,
                                                   if_match):
    """RFC 9110 13.2.1: without the condition the answer would be 404, so it is ignored."""
    create()
    before = table_items(table)
    headers = JSON if if_match is None else {**JSON, "If-Match": if_match}
    reply = call(method, f"/users/{UNKNOWN_ID}", body={"name": "N", "email": "n@example.com"},
                 headers=headers)
    assert_rejected(reply, 404, UNKNOWN_ID)
    assert table_items(table) == before


# --- If-Match (and any field) sent on several lines -------------------------------------

AT_SIX = "66666666-0000-4000-8000-000000000006"
SUCCESS = {"PUT": 200, "DELETE": 204}


@pytest.mark.parametrize("lines, outcome", [
    (['"6"', '"999"'], "success"), (['"999"', '"6"'], "success"),
    (['', '"6"'], "success"), (['"6"', ' '], "success"),
    (['"5"', '"7"'], 412), (['"7"', '"5"'], 412), (['"5"', 'W/"6"'], 412),
    (['"6"', 'abc'], 400), (['abc', '"6"'], 400),
    (['"6"', '*'], 400), (['*', '"6"'], 400), (['*', '*'], 400),
])
@pytest.mark.parametrize("method", ["PUT", "DELETE"])
def test_if_match_lines_are_one_list_whatever_their_order(call, seed_user, table, table_items,
                                                         method, lines, outcome):
    """RFC 9110 5.3: repeated field lines are one value, the lines joined by commas in order;
    If-Match is `*` or a list of entity tags (13.1.1). So the user at version 6 matches
    whichever line names "6", and one malformed line makes the whole field malformed."""
    seed_user(AT_SIX, version=6)
    before = table_items(table)
    reply = call(method, f"/users/{AT_SIX}", body={"name": "N", "email": "n@example.com"},
                 headers={**JSON, "If-Match": lines})
    if outcome == "success":
        assert reply.status == SUCCESS[method], reply
        if method == "PUT":
            assert table_items(table)[AT_SIX]["version"] == {"N": "7"}
        else:
            assert AT_SIX not in table_items(table)
    else:
        assert_rejected(reply, outcome, "If-Match")
        assert table_items(table) == before


@pytest.mark.parametrize("keys, status", [
    ({"If-Match": ['"999"'], "if-match": ['"6"']}, 200),
    ({"if-match": ['"6"'], "IF-MATCH": ['"999"']}, 200),
    ({"If-Match": ['"5"'], "if-match": ['"7"']}, 412),
    ({"If-Match": ['"6"'], "if-match": ["abc"]}, 400),
])
def test_if_match_keys_that_differ_only_in_case_are_one_field(call, seed_user, event, keys,
                                                              status):
    """Field names are case-insensitive (RFC 9110 5.1); the event may key each casing apart."""
    seed_user(AT_SIX, version=6)
    ev = event("PUT", f"/users/{AT_SIX}", body={"name": "N", "email": "n@example.com"},
               headers=JSON)
    ev["multiValueHeaders"].update(keys)
    ev["headers"].update({name: values[-1] for name, values in keys.items()})
    reply = handler_module.handler(ev, None)
    assert reply["statusCode"] == status, reply


@pytest.mark.parametrize("single, multi, status", [
    ('"6"', ['"5"'], 412),  # `headers` holds a line that multiValueHeaders does not
    ('"5"', ['"6"', '"5"'], 200),  # `headers` holds only the last line, as API Gateway sends it
])
def test_multi_value_headers_hold_every_line_and_win_over_headers(call, seed_user, event, single,
                                                                  multi, status):
    seed_user(AT_SIX, version=6)
    ev = event("PUT", f"/users/{AT_SIX}", body={"name": "N", "email": "n@example.com"},
               headers=JSON)
    ev["headers"]["If-Match"], ev["multiValueHeaders"]["If-Match"] = single, multi
    assert handler_module.handler(ev, None)["statusCode"] == status


@pytest.mark.parametrize("lines", [["application/json", "text/plain"],
                                   ["text/plain", "application/json"]])
@pytest.mark.parametrize("method", ["POST", "PUT"])
def test_content_type_on_two_lines_is_415_whatever_their_order(call, seed_user, table,
                                                               table_items, method, lines):
    """Content-Type is one media type; two lines are one value that names none (415)."""
    seed_user(AT_SIX)
    before = table_items(table)
    path = "/users" if method == "POST" else f"/users/{AT_SIX}"
    reply = call(method, path, body={"name": "A", "email": "a@example.com"},
                 headers={"Content-Type": lines})
    assert_rejected(reply, 415, "Content-Type: application/json")
    assert table_items(table) == before


# --- delete -----------------------------------------------------------------------------

def test_delete_is_204_with_an_empty_body_and_the_user_is_gone(call, create, table, table_items):
    user = create()
    reply = call("DELETE", f"/users/{user['id']}")
    assert reply.status == 204 and reply.text == ""
    assert "content-type" not in reply.headers
    assert table_items(table) == {}
    assert_rejected(call("GET", f"/users/{user['id']}"), 404)
    assert_rejected(call("DELETE", f"/users/{user['id']}"), 404)


def test_delete_honours_if_match(call, create, table, table_items):
    user = create()
    call("PUT", f"/users/{user['id']}", body={"name": "V2", "email": "v2@example.com"}, headers=JSON)
    assert_rejected(call("DELETE", f"/users/{user['id']}", headers={"If-Match": '"1"'}), 412)
    assert user["id"] in table_items(table)
    assert call("DELETE", f"/users/{user['id']}", headers={"If-Match": '"2"'}).status == 204
    assert table_items(table) == {}


# --- list -------------------------------------------------------------------------------

def test_list_of_an_empty_table(call):
    reply = call("GET", "/users")
    assert reply.status == 200
    assert reply.json == {"items": [], "nextToken": None}


def test_pagination_returns_every_user_exactly_once(call, create, admin, table):
    created = {create(name=f"P{i}", email=f"p{i}@example.com")["id"] for i in range(23)}
    seen: list[str] = []
    query: dict[str, str] = {"limit": "5"}
    pages = 0
    while True:
        reply = call("GET", "/users", query=query)
        assert reply.status == 200, reply
        assert len(reply.json["items"]) <= 5
        seen += [user["id"] for user in reply.json["items"]]
        pages += 1
        token = reply.json["nextToken"]
        if token is None:
            break
        assert re.fullmatch(r"[A-Za-z0-9_-]+", token)  # URL-safe, opaque
        query = {"limit": "5", "nextToken": token}
        assert pages < 20, "pagination does not terminate"
    assert len(seen) == len(set(seen)), "a user appeared on two pages"
    assert set(seen) == created
    assert pages >= 5


def test_default_page_is_20_and_limit_100_is_allowed(call, create):
    for i in range(25):
        create(name=f"D{i}", email=f"d{i}@example.com")
    first = call("GET", "/users")
    assert len(first.json["items"]) == 20 and first.json["nextToken"]
    assert len(call("GET", "/users", query={"limit": "100"}).json["items"]) == 25


def test_list_reads_one_page_from_dynamodb_not_the_table(call, create, handler_client):
    """The cost of a list request follows its page size: each Scan has Limit = the page."""
    for i in range(12):
        create(name=f"S{i}", email=f"s{i}@example.com")
    scans: list[dict] = []

    def capture(params, **_):
        scans.append(dict(params))

    handler_client.meta.events.register("provide-client-params.dynamodb.Scan", capture)
    try:
        first = call("GET", "/users", query={"limit": "4"})
        call("GET", "/users", query={"limit": "4", "nextToken": first.json["nextToken"]})
    finally:
        handler_client.meta.events.unregister("provide-client-params.dynamodb.Scan", capture)
    assert [scan["Limit"] for scan in scans] == [4, 4]
    assert "ExclusiveStartKey" not in scans[0]
    assert scans[1]["ExclusiveStartKey"] == {"id": {"S": first.json["items"][-1]["id"]}}


def _token(obj: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


@pytest.mark.parametrize("query, word", [
    ({"limit": "0"}, "limit"), ({"limit": "101"}, "limit"), ({"limit": "abc"}, "limit"),
    ({"limit": "-1"}, "limit"), ({"limit": "1.5"}, "limit"), ({"limit": ""}, "limit"),
    ({"limit": " 5"}, "limit"), ({"limit": "1e2"}, "limit"), ({"limit": ["5", "6"]}, "once"),
    ({"nextToken": "!!!"}, "nextToken"), ({"nextToken": "x" * 300}, "nextToken"),
    ({"nextToken": "bm90IGpzb24"}, "nextToken"),  # base64 of "not json"
    ({"nextToken": _token({"id": "not-a-uuid"})}, "nextToken"),
    ({"nextToken": _token({"id": UNKNOWN_ID, "extra": 1})}, "nextToken"),
    ({"nextToken": _token([UNKNOWN_ID])}, "nextToken"),
    ({"nextToken": _token({"id": {"S": UNKNOWN_ID}})}, "nextToken"),
    ({"nextToken": "e30"}, "nextToken"),  # {}
    ({"page": "2"}, "page"),
])
def test_bad_list_parameters_are_400(call, query, word):
    assert_rejected(call("GET", "/users", query=query), 400, word)


def test_a_well_formed_token_for_a_deleted_user_still_pages(call, create):
    """A token is a key position, valid even if that user is gone meanwhile."""
    for i in range(3):
        create(name=f"K{i}", email=f"k{i}@example.com")
    first = call("GET", "/users", query={"limit": "1"})
    call("DELETE", f"/users/{first.json['items'][0]['id']}")
    rest = call("GET", "/users", query={"limit": "10", "nextToken": first.json["nextToken"]})
    assert rest.status == 200, rest
    assert len(rest.json["items"]) == 2


# --- stages -----------------------------------------------------------------------------

def test_prod_uses_the_table_named_user(admin, operation_log, use_table, event, table_items,
                                       create_users_table):
    create_users_table("User")
    use_table("User")
    try:
        reply = handler_module.handler(event("POST", "/users", headers=JSON, stage="prod",
                                             body={"name": "Prod", "email": "p@example.com"}), None)
        assert reply["statusCode"] == 201, reply
        user = json.loads(reply["body"])
        assert reply["headers"]["Location"] == f"/prod/users/{user['id']}"
        assert list(table_items("User")) == [user["id"]]
        got = handler_module.handler(event("GET", f"/users/{user['id']}", stage="prod"), None)
        assert json.loads(got["body"]) == user
    finally:
        admin.delete_table(TableName="User")


def test_the_suite_works_in_its_own_moto_account(admin, table):
    """Other suites share moto's process-wide state; ours lives in an account of its own."""
    arn = admin.describe_table(TableName=table)["Table"]["TableArn"]
    assert arn == f"arn:aws:dynamodb:us-east-1:111122223333:table/{table}"


# --- routing ----------------------------------------------------------------------------

@pytest.mark.parametrize("method, path, allow", [
    ("PATCH", f"/users/{UNKNOWN_ID}", "DELETE, GET, PUT"),
    ("POST", f"/users/{UNKNOWN_ID}", "DELETE, GET, PUT"),
    ("HEAD", f"/users/{UNKNOWN_ID}", "DELETE, GET, PUT"),
    ("DELETE", "/users", "GET, POST"),
    ("PUT", "/users", "GET, POST"),
    ("OPTIONS", "/users", "GET, POST"),
])
def test_unsupported_method_is_405_with_allow(call, table, table_items, method, path, allow):
    reply = call(method, path, body={"name": "N", "email": "n@example.com"}, headers=JSON)
    assert_rejected(reply, 405, allow)
    assert reply.headers["allow"] == allow
    assert table_items(table) == {}


@pytest.mark.parametrize("path", ["/", "/accounts", "/users/a/b", "/Users", "/users/"])
def test_unknown_path_is_404(call, path):
    assert_rejected(call("GET", path), 404, "/users")


def test_routes_by_path_when_the_event_has_no_resource(call, create):
    user = create()
    by_path = call("GET", f"/users/{user['id']}", resource=None, path_parameters=None)
    assert by_path.status == 200 and by_path.json == user
    listed = call("GET", "/users", resource=None)
    assert listed.status == 200 and [u["id"] for u in listed.json["items"]] == [user["id"]]
    assert call("POST", "/users", resource=None, headers=JSON,
                body={"name": "R", "email": "r@example.com"}).status == 201
    assert_rejected(call("GET", "/elsewhere", resource=None), 404)


def test_unknown_query_parameters_are_rejected_on_item_routes(call, create):
    user = create()
    assert_rejected(call("GET", f"/users/{user['id']}", query={"x": "1"}), 400, '"x"')


@pytest.mark.parametrize("bad_event", [None, [], "GET /users", {"httpMethod": "GET"}, {}])
def test_events_that_are_not_proxy_events_get_4xx(bad_event):
    reply = handler_module.handler(bad_event, None)
    assert 400 <= reply["statusCode"] < 500
    assert json.loads(reply["body"])["message"]


# --- bad bodies -------------------------------------------------------------------------

BAD_BODIES = [
    ("not json at all", 400, "not valid JSON"),
    ('{"name": "A", "email": "a@example.com"', 400, "not valid JSON"),
    ("[]", 400, "object"),
    ('"a string"', 400, "object"),
    ("42", 400, "object"),
    ("null", 400, "object"),
    ("{}", 400, "Missing"),
    ('{"name": "A"}', 400, "email"),
    ('{"email": "a@example.com"}', 400, "name"),
    ('{"name": "A", "email": "a@example.com", "age": 3}', 400, '"age"'),
    ('{"id": "x", "name": "A", "email": "a@example.com"}', 400, "set by the server"),
    ('{"name": "A", "email": "a@example.com", "version": 9}', 400, "set by the server"),
    ('{"name": 123, "email": "a@example.com"}', 400, "must be a string"),
    ('{"name": ["A"], "email": "a@example.com"}', 400, "must be a string"),
    ('{"name": "A", "email": null}', 400, "must be a string"),
    ('{"name": true, "email": "a@example.com"}', 400, "must be a string"),
    ('{"name": "", "email": "a@example.com"}', 400, "empty"),
    ('{"name": "   ", "email": "a@example.com"}', 400, "empty"),
    (json.dumps({"name": "n" * 101, "email": "a@example.com"}), 400, "100"),
    ('{"name": "A\\u0000B", "email": "a@example.com"}', 400, "control"),
    ('{"name": "A\\nB", "email": "a@example.com"}', 400, "control"),
    ('{"name": "\\ud800", "email": "a@example.com"}', 400, "Unicode"),
    ('{"name": "A", "name": "B", "email": "a@example.com"}', 400, "twice"),
    ('{"name": NaN, "email": "a@example.com"}', 400, "NaN"),
    ("[" * 5000 + "]" * 5000, 400, "nested"),
    ('{"name": "A", "email": ' + "1" * 5000 + "}", 400, "JSON"),
    ("\ufeff{}", 400, "JSON"),
]
BAD_EMAILS = ["", "plain", "a@", "@example.com", "a@b", "a b@example.com", "a@example..com",
              "a@-example.com", "a@example.com.", "a@@example.com", "a@exam_ple.com",
              "a@example.com\n", "ä@example.com", "x" * 65 + "@example.com",
              "a@" + "b" * 250 + ".com", ".a@example.com", "a.@example.com"]


@pytest.mark.parametrize("method", ["POST", "PUT"])
@pytest.mark.parametrize("body, status, word", BAD_BODIES,
                         ids=[f"body{i}" for i in range(len(BAD_BODIES))])
def test_bad_bodies_are_400_and_write_nothing(call, create, table, table_items, method, body,
                                              status, word):
    user = create()
    before = table_items(table)
    path = "/users" if method == "POST" else f"/users/{user['id']}"
    assert_rejected(call(method, path, body=body, headers=JSON), status, word)
    assert table_items(table) == before


# Every character a name or email refuses, with the code point the answer must name.
REFUSED_CHARACTERS = [
    # Unicode format characters (category Cf): invisible, they change what is displayed.
    ("\u202e", "U+202E"),  # RIGHT-TO-LEFT OVERRIDE
    ("\u202d", "U+202D"),  # LEFT-TO-RIGHT OVERRIDE
    ("\u2066", "U+2066"),  # LEFT-TO-RIGHT ISOLATE
    ("\u200f", "U+200F"),  # RIGHT-TO-LEFT MARK
    ("\u061c", "U+061C"),  # ARABIC LETTER MARK
    ("\ufeff", "U+FEFF"),  # ZERO WIDTH NO-BREAK SPACE (the byte order mark)
    ("\u200b", "U+200B"),  # ZERO WIDTH SPACE
    ("\u200d", "U+200D"),  # ZERO WIDTH JOINER (which also joins emoji sequences)
    ("\u00ad", "U+00AD"),  # SOFT HYPHEN
    ("\U000e0041", "U+E0041"),  # TAG LATIN CAPITAL LETTER A
    # The line and paragraph separators.
    ("\u2028", "U+2028"),
    ("\u2029", "U+2029"),
    # Control characters (C0, DEL, C1).
    ("\x00", "U+0000"), ("\t", "U+0009"), ("\n", "U+000A"), ("\r", "U+000D"),
    ("\x1b", "U+001B"), ("\x7f", "U+007F"), ("\x85", "U+0085"), ("\x9f", "U+009F"),
    # Lone surrogates: not Unicode text at all.
    ("\ud800", "U+D800"), ("\udfff", "U+DFFF"),
    # Default-ignorable code points outside those categories (Unicode's
    # DerivedCoreProperties.txt, Default_Ignorable_Code_Point), each end of each range.
    ("\u034f", "U+034F"),  # COMBINING GRAPHEME JOINER (Mn)
    ("\u115f", "U+115F"), ("\u1160", "U+1160"),  # HANGUL CHOSEONG/JUNGSEONG FILLER (Lo)
    ("\u17b4", "U+17B4"), ("\u17b5", "U+17B5"),  # KHMER VOWEL INHERENT AQ, AA (Mn)
    ("\u2065", "U+2065"),  # reserved (Cn)
    ("\u3164", "U+3164"),  # HANGUL FILLER (Lo)
    ("\uffa0", "U+FFA0"),  # HALFWIDTH HANGUL FILLER (Lo)
    ("\ufff0", "U+FFF0"), ("\ufff8", "U+FFF8"),  # reserved (Cn)
    ("\U000e0000", "U+E0000"), ("\U000e0002", "U+E0002"), ("\U000e0080", "U+E0080"),
    ("\U000e00ff", "U+E00FF"), ("\U000e01f0", "U+E01F0"), ("\U000e0fff", "U+E0FFF"),  # Cn
    # A blank lookalike: renders as a space, category So.
    ("\u2800", "U+2800"),  # BRAILLE PATTERN BLANK
]


@pytest.mark.parametrize("char, code_point", REFUSED_CHARACTERS,
                         ids=[code for _, code in REFUSED_CHARACTERS])
@pytest.mark.parametrize("method", ["POST", "PUT"])
def test_a_name_with_an_invisible_or_control_character_is_400_naming_it_and_where(
        call, create, table, table_items, method, char, code_point):
    user = create()
    before = table_items(table)
    path = "/users" if method == "POST" else f"/users/{user['id']}"
    reply = call(method, path, body={"name": f"Ada{char}Lovelace", "email": "a@example.com"},
                 headers=JSON)
    assert_rejected(reply, 400, '"name"', code_point, "character 4")
    assert table_items(table) == before


@pytest.mark.parametrize("char, code_point", REFUSED_CHARACTERS,
                         ids=[code for _, code in REFUSED_CHARACTERS])
def test_an_email_with_an_invisible_or_control_character_is_400_naming_it(call, table,
                                                                          table_items, char,
                                                                          code_point):
    reply = call("POST", "/users", body={"name": "E", "email": f"ada{char}@example.com"},
                 headers=JSON)
    assert_rejected(reply, 400, '"email"', code_point, "character 4")
    assert table_items(table) == {}


def test_a_blank_lookalike_is_refused_with_its_name_and_what_is_wrong(call, table, table_items):
    reply = call("POST", "/users", headers=JSON,
                 body={"name": "\u3164", "email": "a@example.com"})
    assert_rejected(reply, 400, '"name" may not contain invisible or blank characters',
                    "U+3164 HANGUL FILLER", "character 1", "Remove it")
    assert table_items(table) == {}


# Ordinary names in many scripts, with the visible neighbours of the refused code points
# (Hangul letters and jamo beside the fillers, Khmer vowels beside the inherent ones, a
# braille letter beside the blank) and emoji with their variation selector: all stored.
ACCEPTED_NAMES = [
    "Ada Lovelace", "Zoë Ñúñez-Çelik", "Ωμέγα Παπαδοπούλου", "Анна Каренина",
    "אדה לאבלייס", "عائشة بنت أبي بكر", "देवनागरी नाम", "ทักษิณ ชินวัตร", "李小龍",
    "山田 花子", "やまだ ハナコ", "한국어 이름", "\u1100\u1161\u11a8 \u115e\u1161",
    "\u3131\u3163\u3165 \uffa1\uff9f", "ខ្មែរ \u17b3\u17b6", "ᠮᠣᠩᠭᠣᠯ \u1820",
    "ქართული", "Հայերեն", "தமிழ்", "አማርኛ", "ελληνικά Ελλάδα", "\u2801\u2803 braille",
    "Zoe\u0308", "Ada\u00a0Byron", "\u2764\ufe0f \U0001F680", "O'Brien-Smith Jr.",
]


@pytest.mark.parametrize("name", ACCEPTED_NAMES)
def test_names_in_many_scripts_are_stored_as_sent(call, name):
    created = call("POST", "/users", body={"name": name, "email": "n@example.com"}, headers=JSON)
    assert created.status == 201, created.json
    assert call("GET", f"/users/{created.json['id']}").json["name"] == name


def test_the_position_counts_characters_not_bytes_or_utf16_units(call):
    reply = call("POST", "/users", headers=JSON,
                 body={"name": "\U0001F680\u00e9\u202e", "email": "a@example.com"})
    assert_rejected(reply, 400, "U+202E", "character 3")


@pytest.mark.parametrize("email", BAD_EMAILS)
def test_malformed_email_is_400(call, table, table_items, email):
    reply = call("POST", "/users", body={"name": "E", "email": email}, headers=JSON)
    assert_rejected(reply, 400, "email")
    assert table_items(table) == {}


@pytest.mark.parametrize("headers", [
    {}, {"Content-Type": "text/plain"}, {"Content-Type": "application/x-www-form-urlencoded"},
    {"Content-Type": "application/json; charset=latin-1"}, {"Content-Type": "json"},
    {"Content-Type": "application/jsonx"},
])
@pytest.mark.parametrize("method", ["POST", "PUT"])
def test_wrong_or_missing_content_type_is_415(call, create, table, table_items, method, headers):
    user = create()
    before = table_items(table)
    path = "/users" if method == "POST" else f"/users/{user['id']}"
    reply = call(method, path, body={"name": "A", "email": "a@example.com"}, headers=headers)
    assert_rejected(reply, 415, "Content-Type: application/json")
    assert table_items(table) == before


@pytest.mark.parametrize("base64_body", [False, True])
def test_body_over_16_kb_is_413(call, table, table_items, base64_body):
    body = json.dumps({"name": "A", "email": "a@example.com", "pad": "x" * 16400})
    reply = call("POST", "/users", body=body, headers=JSON, base64_body=base64_body)
    assert_rejected(reply, 413, "16 KB")
    assert table_items(table) == {}


def test_body_of_16_kb_multibyte_characters_counts_bytes(call, table_items, table):
    body = json.dumps({"name": "A", "email": "a@example.com", "pad": "é" * 8200}, ensure_ascii=False)
    assert len(body) < 16 * 1024 < len(body.encode())
    assert_rejected(call("POST", "/users", body=body, headers=JSON), 413)


@pytest.mark.parametrize("raw", ["not base64!", "YWJ", "YW Jj", "é", "{\"name\": 1}"])
def test_bad_base64_is_400(call, event, table, table_items, raw):
    ev = event("POST", "/users", headers=JSON)
    ev["body"], ev["isBase64Encoded"] = raw, True
    reply = handler_module.handler(ev, None)
    assert reply["statusCode"] == 400
    assert "base64" in json.loads(reply["body"])["message"]
    assert table_items(table) == {}


def test_base64_body_that_is_not_utf8_is_400(call, event):
    ev = event("POST", "/users", headers=JSON)
    ev["body"], ev["isBase64Encoded"] = base64.b64encode(b'{"name": "\xff"}').decode(), True
    reply = handler_module.handler(ev, None)
    assert reply["statusCode"] == 400 and "UTF-8" in json.loads(reply["body"])["message"]


@pytest.mark.parametrize("body", [None, ""])
def test_missing_body_is_400(call, table_items, table, body):
    assert_rejected(call("POST", "/users", body=body, headers=JSON), 400, "no body")
    assert table_items(table) == {}


# --- DynamoDB failures ------------------------------------------------------------------

def log_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


@pytest.mark.parametrize("code, status", [
    ("ProvisionedThroughputExceededException", 503), ("ThrottlingException", 503),
    ("RequestLimitExceeded", 503), ("AccessDeniedException", 500),
    ("ValidationException", 500), ("SomethingNew", 500),
])
def test_dynamodb_errors_give_a_json_5xx_and_a_log_line_with_the_code(call, create, handler_client,
                                                                      capsys, code, status):
    # moto cannot throttle or deny on demand; botocore's Stubber injects the error reply.
    user = create()
    capsys.readouterr()
    with Stubber(handler_client) as stub:
        stub.add_client_error("get_item", service_error_code=code, service_message="boom",
                              http_status_code=400)
        reply = call("GET", f"/users/{user['id']}", request_id="req-5xx")
        stub.assert_no_pending_responses()
    assert reply.status == status
    assert reply.headers["content-type"] == "application/json"
    assert "req-5xx" in reply.message and "Traceback" not in reply.text and "boom" not in reply.text
    if status == 503:
        assert reply.headers["retry-after"] == "1"
    (line,) = log_lines(capsys.readouterr().out)
    assert (line["status"], line["errorCode"], line["level"]) == (status, code, "ERROR")


def test_missing_table_is_a_500_logged_as_resource_not_found(call, use_table, capsys):
    use_table("nosuchstage-User")
    reply = call("GET", f"/users/{UNKNOWN_ID}")
    assert reply.status == 500 and reply.message
    (line,) = log_lines(capsys.readouterr().out)
    assert line["errorCode"] == "ResourceNotFoundException"


def test_unreachable_endpoint_is_503(call, monkeypatch, capsys):
    import socket

    import boto3
    from botocore.config import Config
    with socket.socket() as sock:  # a port that was free a moment ago: nobody listens
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    dead = boto3.client("dynamodb", endpoint_url=f"http://127.0.0.1:{port}",
                        config=Config(retries={"max_attempts": 1}, connect_timeout=1))
    monkeypatch.setattr(store, "_client", dead)
    reply = call("GET", f"/users/{UNKNOWN_ID}")
    assert reply.status == 503 and reply.headers["retry-after"] == "1"
    (line,) = log_lines(capsys.readouterr().out)
    assert line["errorCode"] == "EndpointConnectionError"


def test_a_bug_is_a_500_without_traceback_and_logged_with_its_location(call, monkeypatch, capsys):
    def broken(user_id):
        raise KeyError("secret@example.com")

    monkeypatch.setattr(store, "get_user", broken)
    reply = call("GET", f"/users/{UNKNOWN_ID}")
    assert reply.status == 500 and "secret" not in reply.text and "Traceback" not in reply.text
    out = capsys.readouterr().out
    (line,) = log_lines(out)
    assert line["errorCode"] == "KeyError" and any("routes.py" in w for w in line["where"])
    assert "secret" not in out


# --- logging ----------------------------------------------------------------------------

def test_one_structured_log_line_per_request_without_personal_data(call, capsys):
    capsys.readouterr()
    created = call("POST", "/users", headers=JSON, stage="dev", request_id="req-1",
                   body={"name": "Secretname Person", "email": "hidden.person@example.com"})
    user_id = created.json["id"]
    call("PUT", f"/users/{user_id}", headers=JSON, stage="dev", request_id="req-2",
         body={"name": "Othersecret", "email": "other.hidden@example.com"})
    call("GET", "/users", stage="dev", request_id="req-3")
    call("POST", "/users", headers=JSON, stage="dev", request_id="req-4",
         body={"name": "Badmail", "email": "bad-email-value"})
    out = capsys.readouterr().out
    lines = log_lines(out)
    assert len(out.splitlines()) == len(lines) == 4
    assert [(l["requestId"], l["stage"], l["route"], l["status"]) for l in lines] == [
        ("req-1", "dev", "POST /users", 201), ("req-2", "dev", "PUT /users/{id}", 200),
        ("req-3", "dev", "GET /users", 200), ("req-4", "dev", "POST /users", 400)]
    for line in lines:
        assert isinstance(line["durationMs"], (int, float)) and line["durationMs"] >= 0
        assert line["lambdaRequestId"] == "c0ffee00-0000-4000-8000-000000000000"
    for secret in ("Secretname", "hidden.person", "Othersecret", "other.hidden", "Badmail",
                   "bad-email-value", "@example.com"):
        assert secret not in out


def _with_identity(event: dict, **identity) -> dict:
    event["requestContext"]["identity"].update(identity)
    return event


SIGNED = {"Authorization": "AWS4-HMAC-SHA256 Credential=AKIAEXAMPLEKEY00001/20240501/us-east-1/"
                           "execute-api/aws4_request, SignedHeaders=host;x-amz-date, "
                           "Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7",
          "X-Amz-Security-Token": "FQoGZXIvYXdzEXAMPLESESSIONTOKEN"}


def test_the_log_line_names_the_iam_caller_and_never_its_keys(table, event, lambda_context, capsys):
    arn = "arn:aws:sts::123456789012:assumed-role/users-client/session-1"
    capsys.readouterr()
    reply = handler_module.handler(_with_identity(
        event("GET", "/users", headers=SIGNED), userArn=arn, caller="AROAEXAMPLEROLEID:session-1",
        accessKey="ASIAEXAMPLEACCESSKEY", user="AROAEXAMPLEROLEID:session-1",
        accountId="123456789012"), lambda_context)
    assert reply["statusCode"] == 200
    out = capsys.readouterr().out
    (line,) = log_lines(out)
    assert line["caller"] == arn
    for secret in ("ASIAEXAMPLEACCESSKEY", "AKIAEXAMPLEKEY00001", "Signature", "5d672d79",
                   "EXAMPLESESSIONTOKEN"):
        assert secret not in out


@pytest.mark.parametrize("identity, caller", [
    ({"caller": "AIDAEXAMPLEUSERID"}, "AIDAEXAMPLEUSERID"),  # no userArn: the caller id
    ({"userArn": "", "caller": "AIDAEXAMPLEUSERID"}, "AIDAEXAMPLEUSERID"),
    ({}, None),  # an unsigned call (e.g. the console's test-invoke): null, not a guess
    ({"userArn": 12, "caller": ["x"]}, None),
])
def test_the_log_line_falls_back_to_the_caller_id_then_null(table, event, capsys, identity,
                                                           caller):
    capsys.readouterr()
    handler_module.handler(_with_identity(event("GET", "/users"), **identity), None)
    (line,) = log_lines(capsys.readouterr().out)
    assert line["caller"] == caller


def test_a_log_line_without_any_identity_in_the_event_has_a_null_caller(table, capsys):
    capsys.readouterr()
    handler_module.handler({"httpMethod": "GET", "path": "/users",
                            "requestContext": {"identity": "not an object"}}, None)
    (line,) = log_lines(capsys.readouterr().out)
    assert line["caller"] is None and line["status"] == 200


# --- caching ----------------------------------------------------------------------------

def test_every_response_says_cache_control_no_store(call, create, handler_client):
    """Users and lists are personal data; error messages may quote an email back."""
    user = create()
    path = f"/users/{user['id']}"
    replies = {
        "create": call("POST", "/users", body={"name": "Bo", "email": "bo@example.com"},
                       headers=JSON),
        "get": call("GET", path),
        "list": call("GET", "/users"),
        "put": call("PUT", path, body={"name": "Cy", "email": "cy@example.com"}, headers=JSON),
        "400 quoting an email": call("POST", "/users", headers=JSON,
                                     body={"name": "D", "email": "d@@example.com"}),
        "404": call("GET", f"/users/{UNKNOWN_ID}"),
        "405": call("PATCH", path),
        "412": call("DELETE", path, headers={"If-Match": '"1"'}),
        "delete": call("DELETE", path),
    }
    with Stubber(handler_client) as stub:
        stub.add_client_error("scan", service_error_code="ThrottlingException", http_status_code=400)
        replies["503"] = call("GET", "/users")
    assert [r.status for r in replies.values()] == [201, 200, 200, 200, 400, 404, 405, 412, 204, 503]
    assert "d@@example.com" in replies["400 quoting an email"].message
    for what, reply in replies.items():
        assert reply.headers.get("cache-control") == "no-store", what


# --- least privilege --------------------------------------------------------------------

def test_the_handler_calls_exactly_the_granted_dynamodb_actions(call, create, module_operations):
    """Across this module: nothing outside the role's grant, and every granted action used.

    The calls below use every route, so the test holds when run on its own too.
    """
    user = create()
    call("GET", f"/users/{user['id']}")
    call("GET", "/users")
    call("PUT", f"/users/{user['id']}", body={"name": "Z", "email": "z@example.com"}, headers=JSON)
    call("DELETE", f"/users/{user['id']}")
    used = {"GetItem", "PutItem", "DeleteItem", "Scan"}
    assert module_operations() == used
    assert set(HANDLER_DYNAMODB_ACTIONS) == {f"dynamodb:{action}" for action in used}
