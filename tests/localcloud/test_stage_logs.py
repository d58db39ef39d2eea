"""Stage log lines as API Gateway writes them."""
from __future__ import annotations

import json

import pytest

from infra.access_log import access_log_format
from localcloud.apigateway.stage_logs import (
    StageLogWriter, log_group_of, logs_at, render_access_line)


def test_the_programs_access_format_renders_to_one_json_line():
    line = render_access_line(access_log_format(), {
        "requestId": "r-1", "identity.sourceIp": "127.0.0.1", "httpMethod": "GET",
        "resourcePath": "/users/{id}", "status": 404, "integration.status": 200,
        "integration.error": None, "responseLatency": 12, "error.message": 'say "hi"'})
    record = json.loads(line)
    assert record["requestId"] == "r-1" and record["status"] == "404"
    assert record["integrationError"] == "-"  # no value: API Gateway writes "-"
    assert record["caller"] == "-"
    assert record["errorMessage"] == 'say "hi"'  # escaped, so the line stays JSON
    assert "\n" not in line


# A signature mismatch's message, as API Gateway words it: it quotes the canonical request,
# whose signed headers may hold quotes (an If-Match ETag), over several lines.
MISMATCH = ("The request signature we calculated does not match the signature you provided."
            "\n\nThe Canonical String for this request should have been\n'DELETE\n/dev/users/1"
            '\n\nhost:api\nif-match:"1"\n\nhost;if-match\nabc\'\n')


def test_plain_variables_are_inserted_as_they_are_and_missing_ones_as_a_dash():
    line = render_access_line('$context.status $context.identity.sourceIp "$context.path" '
                              "[$context.identity.caller] $context.error.messageString",
                              {"status": 403, "identity.sourceIp": "10.0.0.1",
                               "path": '/dev/a"b', "identity.caller": ""})
    assert line == '403 10.0.0.1 "/dev/a"b" [-] "-"'


def test_the_quoted_message_variable_is_a_json_string_of_the_message():
    line = render_access_line("$context.error.messageString",
                              {"error.message": MISMATCH})
    assert json.loads(line) == MISMATCH
    assert "\n" not in line


def test_a_format_that_quotes_the_message_itself_breaks_on_a_quote():
    old = '{"requestId":"$context.requestId","errorMessage":"$context.error.message"}'
    context = {"requestId": "r-1", "error.message": MISMATCH}
    with pytest.raises(json.JSONDecodeError):
        json.loads(render_access_line(old, context))
    shipped = json.loads(render_access_line(access_log_format(), context))
    assert shipped["requestId"] == "r-1" and shipped["errorMessage"] == MISMATCH


def test_a_request_without_an_error_logs_a_dash_as_its_message():
    record = json.loads(render_access_line(access_log_format(), {"requestId": "r-2",
                                                                 "status": 200}))
    assert record["errorMessage"] == "-" and record["status"] == "200"


def test_the_group_is_read_from_the_destination_arn():
    assert log_group_of("arn:aws:logs:us-east-1:1:log-group:/aws/apigateway/x/dev/access") \
        == "/aws/apigateway/x/dev/access"
    assert log_group_of("arn:aws:logs:us-east-1:1:log-group:grp:*") == "grp"
    assert log_group_of("arn:aws:s3:::bucket") is None


def test_levels_decide_which_execution_lines_are_written():
    assert logs_at("INFO", "INFO") and logs_at("INFO", "ERROR")
    assert logs_at("ERROR", "ERROR") and not logs_at("ERROR", "INFO")
    assert not logs_at("OFF", "ERROR") and not logs_at(None, "ERROR")


class RecordingPlane:
    def __init__(self, groups=()):
        self.groups = set(groups)
        self.events: list[tuple[str, str, str]] = []

    def log_group_exists(self, group):
        return group in self.groups

    def create_log_group(self, group):
        self.groups.add(group)

    def create_log_stream(self, group, stream):
        pass

    def put_log_events(self, group, stream, events):
        self.events += [(group, stream, e["message"]) for e in events]


def test_access_lines_need_their_group_and_execution_lines_make_theirs():
    plane = RecordingPlane(groups={"/access"})
    writer = StageLogWriter(plane)
    settings = {"destinationArn": "arn:aws:logs:r:1:log-group:/access", "format": "$context.status"}
    writer.access(settings, {"status": 200})
    writer.access({"destinationArn": "arn:aws:logs:r:1:log-group:/gone", "format": "x"}, {})
    writer.execution("api1", "dev", "ERROR", "INFO", "r-1", "Method request path: {}")
    writer.execution("api1", "dev", "ERROR", "ERROR", "r-1", "Execution failed")
    assert [(g, m) for g, _, m in plane.events] == [
        ("/access", "200"), ("API-Gateway-Execution-Logs_api1/dev", "(r-1) Execution failed")]


def test_a_document_snapshot_reads_security_as_api_gateway_does():
    from localcloud.apigateway.snapshots import authorization_types, snapshot_from_document
    integration = {"x-amazon-apigateway-integration": {"type": "aws_proxy", "uri": "u",
                                                       "httpMethod": "POST"}}
    document = {
        "security": [{"sigv4": []}],  # applies to every operation that names none
        "components": {"securitySchemes": {"sigv4": {
            "type": "apiKey", "name": "Authorization", "in": "header",
            "x-amazon-apigateway-authtype": "awsSigv4"}}},
        "paths": {
            "/users": {"parameters": [], "get": dict(integration),
                       "post": {**integration, "security": []}},
            "/{proxy+}": {"x-amazon-apigateway-any-method": dict(integration)},
        },
    }
    assert authorization_types(document) == {("GET", "/users"): "AWS_IAM",
                                             ("POST", "/users"): "NONE",
                                             ("ANY", "/{proxy+}"): "AWS_IAM"}
    snapshot = snapshot_from_document(document, {"/users": "r1"}, "api", "name")
    assert [(r["path"], sorted(r["methods"])) for r in snapshot["resources"]] == [
        ("/users", ["GET", "POST"]), ("/{proxy+}", ["ANY"])]


def test_a_line_whose_stream_has_gone_is_written_again_to_a_new_one():
    class LosingPlane(RecordingPlane):
        def __init__(self):
            super().__init__(groups={"/access"})
            self.streams = set()

        def create_log_stream(self, group, stream):
            self.streams.add((group, stream))

        def put_log_events(self, group, stream, events):
            if (group, stream) not in self.streams:
                raise RuntimeError("ResourceNotFoundException: the stream does not exist")
            super().put_log_events(group, stream, events)

    plane = LosingPlane()
    writer = StageLogWriter(plane)
    settings = {"destinationArn": "arn:aws:logs:r:1:log-group:/access", "format": "$context.status"}
    writer.access(settings, {"status": 200})
    plane.streams.clear()  # the group was replaced by a redeploy
    writer.access(settings, {"status": 201})
    assert [m for _, _, m in plane.events] == ["200", "201"]
