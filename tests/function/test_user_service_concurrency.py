"""Many threads through the same handler and client against the moto server at once.

The server applies each request atomically (see conftest), as DynamoDB applies a
conditional write; what is under test is that the handler's read-then-conditional-write
never lets two writers both win or silently lose one's update.
"""
from __future__ import annotations

import json
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from user_service import handler as handler_module

THREADS = 16
JSON = {"Content-Type": "application/json"}


def run_together(tasks):
    """Run the callables in THREADS threads, released at the same moment; their results."""
    barrier = threading.Barrier(len(tasks))

    def start(task):
        barrier.wait()
        return task()

    with ThreadPoolExecutor(max_workers=len(tasks)) as pool:
        return list(pool.map(start, tasks))


def test_the_emulator_applies_conditional_writes_atomically(admin, table):
    """The premise of this module: like DynamoDB, one conditional put wins per version.

    A tiny thread switch interval makes interleaving inside moto likely; the suite's
    server (conftest) must still let exactly one writer through.
    """
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        for round_ in range(40):
            admin.put_item(TableName=table, Item={"id": {"S": "k"}, "version": {"N": "1"}})

            def conditional_put(t: int) -> bool:
                try:
                    admin.put_item(TableName=table,
                                   Item={"id": {"S": "k"}, "version": {"N": "2"}, "t": {"N": str(t)}},
                                   ConditionExpression="#v = :one",
                                   ExpressionAttributeNames={"#v": "version"},
                                   ExpressionAttributeValues={":one": {"N": "1"}})
                    return True
                except admin.exceptions.ConditionalCheckFailedException:
                    return False

            wins = run_together([lambda t=t: conditional_put(t) for t in range(THREADS)])
            assert wins.count(True) == 1, (round_, wins)
    finally:
        sys.setswitchinterval(interval)


@pytest.fixture
def invoke(event, table):
    def send(method: str, path: str, **kwargs) -> dict:
        return handler_module.handler(event(method, path, **kwargs), None)
    return send


def test_concurrent_creates_make_distinct_users(invoke, table, table_items):
    per_thread = 4

    def create_some(thread: int):
        return [invoke("POST", "/users", headers=JSON,
                       body={"name": f"T{thread}-{i}", "email": f"t{thread}.{i}@example.com"})
                for i in range(per_thread)]

    results = run_together([lambda t=t: create_some(t) for t in range(THREADS)])
    replies = [reply for batch in results for reply in batch]
    assert [r["statusCode"] for r in replies] == [201] * THREADS * per_thread
    ids = [json.loads(r["body"])["id"] for r in replies]
    assert len(set(ids)) == len(ids)
    stored = table_items(table)
    assert set(stored) == set(ids)
    assert sorted(item["name"]["S"] for item in stored.values()) == sorted(
        f"T{t}-{i}" for t in range(THREADS) for i in range(per_thread))


@pytest.mark.parametrize("round_", range(3))
def test_concurrent_puts_with_the_same_if_match_have_one_winner(invoke, create, table_items,
                                                                table, round_):
    user = create()
    path = f"/users/{user['id']}"
    replies = run_together([
        lambda t=t: invoke("PUT", path, headers={**JSON, "If-Match": '"1"'},
                           body={"name": f"Writer {t}", "email": f"w{t}@example.com"})
        for t in range(THREADS)])
    statuses = [r["statusCode"] for r in replies]
    assert statuses.count(200) == 1 and statuses.count(412) == THREADS - 1, statuses
    winner = json.loads(replies[statuses.index(200)]["body"])
    assert winner["version"] == 2
    stored = table_items(table)[user["id"]]
    assert (stored["name"]["S"], stored["email"]["S"], stored["version"]["N"]) == (
        winner["name"], winner["email"], "2")
    for reply in replies:
        if reply["statusCode"] == 412:
            assert json.loads(reply["body"])["message"]


def test_concurrent_puts_without_if_match_lose_no_update(invoke, create, table_items, table):
    """Each success bumps the version exactly once; a loser is told (409), never overwritten."""
    user = create()
    path = f"/users/{user['id']}"
    replies = run_together([
        lambda t=t: invoke("PUT", path, headers=JSON,
                           body={"name": f"Writer {t}", "email": f"w{t}@example.com"})
        for t in range(THREADS)])
    statuses = [r["statusCode"] for r in replies]
    assert set(statuses) <= {200, 409}, statuses
    successes = [json.loads(r["body"]) for r in replies if r["statusCode"] == 200]
    assert successes
    versions = sorted(s["version"] for s in successes)
    assert versions == list(range(2, 2 + len(successes))), "two writers got the same version"
    final = table_items(table)[user["id"]]
    last = max(successes, key=lambda s: s["version"])
    assert (final["version"]["N"], final["name"]["S"]) == (str(last["version"]), last["name"])


@pytest.mark.parametrize("round_", range(3))
def test_concurrent_deletes_with_the_same_if_match_have_one_winner(invoke, create, table_items,
                                                                   table, round_):
    user = create()
    replies = run_together([
        lambda: invoke("DELETE", f"/users/{user['id']}", headers={"If-Match": '"1"'})
        for _ in range(THREADS)])
    statuses = [r["statusCode"] for r in replies]
    assert statuses.count(204) == 1, statuses
    # The others either lost the conditional delete (412) or read after it (404).
    assert set(statuses) <= {204, 404, 412}, statuses
    assert table_items(table) == {}


def test_concurrent_reads_and_lists_while_writing_stay_consistent(invoke, create):
    users = [create(name=f"R{i}", email=f"r{i}@example.com") for i in range(4)]

    def reader(t: int):
        user = users[t % len(users)]
        if t % 2:
            reply = invoke("GET", f"/users/{user['id']}")
            body = json.loads(reply["body"])
            return reply["statusCode"] == 200 and body["id"] == user["id"] \
                and reply["headers"]["ETag"] == f'"{body["version"]}"'
        reply = invoke("PUT", f"/users/{user['id']}", headers=JSON,
                       body={"name": f"New {t}", "email": f"n{t}@example.com"})
        return reply["statusCode"] in (200, 409)

    assert all(run_together([lambda t=t: reader(t) for t in range(THREADS)]))
