"""The function's configuration: TABLE_NAME, checked once at init with one clear log line.

The init tests import the handler in a fresh Python process, as Lambda's init phase
does, with DynamoDB's endpoint pointed at a listener that counts connections.
"""
from __future__ import annotations

import json
import os
import socket
import string
import subprocess
import sys
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from infra import archive, naming
from user_service.settings import ConfigurationError, table_name_from

FUNCTION_DIR = archive.FUNCTION_DIR
TABLE_NAME_ENV = "TABLE_NAME"  # the variable, as the README and infra/function.py name it

# --- the pure check ---------------------------------------------------------------------


@pytest.mark.parametrize("name", ["dev-User", "test-User", "User", "a.b_c-9", "x" * 255])
def test_a_valid_table_name_is_returned_as_it_is(name):
    assert table_name_from({TABLE_NAME_ENV: name}) == name


@pytest.mark.parametrize("environ, problem", [
    ({}, "is not set"),
    ({"TABLE_PREFIX": "dev-"}, "is not set"),  # the old variable is no substitute
    ({TABLE_NAME_ENV: ""}, "is empty"),
    ({TABLE_NAME_ENV: "ab"}, '"ab" (2 characters)'),
    ({TABLE_NAME_ENV: "dev User"}, "not a valid DynamoDB table name"),
    ({TABLE_NAME_ENV: "dev-User\n"}, "not a valid DynamoDB table name"),
    ({TABLE_NAME_ENV: "x" * 256}, "(256 characters)"),
    ({TABLE_NAME_ENV: "arn:aws:dynamodb:us-east-1:123456789012:table/User"}, "not a valid"),
])
def test_a_bad_table_name_says_which_variable_and_what_it_must_hold(environ, problem):
    with pytest.raises(ConfigurationError) as raised:
        table_name_from(environ)
    message = str(raised.value)
    assert raised.value.variable == "TABLE_NAME"
    assert message.startswith("TABLE_NAME ") and problem in message
    assert "table name" in message and "3-255" in message and "dev-User" in message


def _is_dynamodb_table_name(value: str) -> bool:
    """DynamoDB's rule as its documentation words it (HowItWorks.NamingRulesDataTypes):
    3 to 255 characters, each a letter, a digit, '_', '-' or '.'."""
    allowed = set(string.ascii_letters + string.digits + "_-.")
    return 3 <= len(value) <= 255 and set(value) <= allowed


@given(st.text(max_size=260) | st.text("Uabcd-_. \n:/", max_size=8)
       | st.text(string.ascii_letters + "_-.", min_size=1, max_size=260)
       | st.sampled_from([0, 2, 3, 4, 254, 255, 256]).map("x".__mul__))  # around the limits
@settings(max_examples=300, deadline=None)
def test_the_handler_accepts_exactly_the_names_the_program_accepts(value):
    """The archive cannot import infra/naming.py: both copies of AWS's rule must be it."""
    try:
        table_name_from({TABLE_NAME_ENV: value})
        accepted = True
    except ConfigurationError:
        accepted = False
    assert accepted == _is_dynamodb_table_name(value)
    assert (naming.TABLE_NAME.fullmatch(value) is not None) == _is_dynamodb_table_name(value)


def test_the_program_sets_the_variable_the_handler_reads():
    assert archive.TABLE_NAME_ENV == "TABLE_NAME"


# --- init in a fresh process --------------------------------------------------------------

# Import the handler (Lambda's init), then invoke it once if the import succeeded.
_INIT_THEN_INVOKE = """
import json, sys
try:
    from user_service import handler
except Exception as err:
    print("INIT FAILED", type(err).__name__, err, file=sys.stderr)
    sys.exit(3)
event = {"httpMethod": "GET", "resource": "/users/{id}", "path": "/users/%s",
         "pathParameters": {"id": "%s"}, "requestContext": {"stage": "dev", "requestId": "r"}}
print("INVOKED", handler.handler(event, None)["statusCode"], file=sys.stderr)
"""
USER_ID = "0f0e0d0c-0b0a-4909-8807-060504030201"


@pytest.fixture
def dynamodb_listener():
    """An endpoint that accepts and drops connections; .connections counts them."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    state = {"connections": 0, "stop": False}

    def serve():
        while not state["stop"]:
            try:
                conn, _ = server.accept()
            except (TimeoutError, OSError):
                continue
            state["connections"] += 1
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield state, f"http://127.0.0.1:{server.getsockname()[1]}"
    state["stop"] = True
    thread.join(timeout=5)
    server.close()


def _init_and_invoke(endpoint: str, table_name: str | None, tmp_path) -> subprocess.CompletedProcess:
    empty = tmp_path / "none"
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(FUNCTION_DIR),
           "AWS_ENDPOINT_URL": endpoint, "AWS_REGION": "us-east-1",
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "testing",
           "AWS_SECRET_ACCESS_KEY": "testing", "AWS_CONFIG_FILE": str(empty),
           "AWS_SHARED_CREDENTIALS_FILE": str(empty), "AWS_MAX_ATTEMPTS": "1"}
    if table_name is not None:
        env[TABLE_NAME_ENV] = table_name
    return subprocess.run([sys.executable, "-c", _INIT_THEN_INVOKE % (USER_ID, USER_ID)],
                          env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("table_name, problem", [
    (None, "is not set"), ("", "is empty"), ("dev User", "not a valid DynamoDB table name")])
def test_a_misconfigured_function_fails_at_init_with_one_log_line(dynamodb_listener, tmp_path,
                                                                  table_name, problem):
    state, endpoint = dynamodb_listener
    result = _init_and_invoke(endpoint, table_name, tmp_path)
    assert result.returncode == 3, (result.stdout, result.stderr)
    (line,) = result.stdout.splitlines()  # exactly one line: JSON, like the request lines
    record = json.loads(line)
    assert record["level"] == "ERROR" and record["variable"] == "TABLE_NAME"
    assert problem in record["message"] and "table name" in record["message"]
    assert f"INIT FAILED ConfigurationError {record['message']}" in result.stderr
    assert state["connections"] == 0  # no request ever reached DynamoDB


def test_a_configured_function_starts_and_reaches_dynamodb(dynamodb_listener, tmp_path):
    """The control: the same harness sees the request when TABLE_NAME is valid."""
    state, endpoint = dynamodb_listener
    result = _init_and_invoke(endpoint, "dev-User", tmp_path)
    assert result.returncode == 0, result.stderr
    assert "INVOKED 503" in result.stderr  # the listener drops the connection: retry later
    (line,) = result.stdout.splitlines()
    assert json.loads(line)["route"] == "GET /users/{id}"
    assert state["connections"] >= 1
