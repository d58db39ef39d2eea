"""The parts of a REST API proxy event (payload format 1.0) the routes need, normalised.

API Gateway sends headers and query strings twice (single- and multi-value); field
names of headers are case-insensitive. Anything missing or of the wrong type is
treated as absent, so a malformed event becomes a 4xx, never an exception.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .responses import bad_request


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _string_lines(values: object) -> list[str]:
    return [v for v in values if isinstance(v, str)] if isinstance(values, list) else []


def _header_fields(event: dict) -> dict[str, str]:
    """lowercase name -> the field's value, every line of it.

    RFC 9110 5.3: field lines with the same name form one value, "concatenated in
    order", separated by a comma (the RFC's "comma SP"); a recipient that reads only
    one line reads a different request from the one the client sent (and signed). Field
    names are case-insensitive (5.1), so keys that differ only in case are one field
    (the local cloud's gateway keeps each casing as a key of its own).

    multiValueHeaders holds every line (single ones too); `headers` holds only the
    last line of each name, so it serves only for names that multiValueHeaders lacks
    (events made by hand).
    """
    lines: dict[str, list[str]] = {}
    multi = event.get("multiValueHeaders")
    if isinstance(multi, dict):
        for name, values in multi.items():
            if isinstance(name, str):
                lines.setdefault(name.lower(), []).extend(_string_lines(values))
    single = event.get("headers")
    if isinstance(single, dict):
        last: dict[str, list[str]] = {}
        for name, value in single.items():
            if isinstance(name, str) and isinstance(value, str):
                last.setdefault(name.lower(), []).append(value)
        for name, values in last.items():
            if not lines.get(name):
                lines[name] = values
    return {name: ", ".join(values) for name, values in lines.items() if values}


def _query_params(event: dict) -> dict[str, list[str]]:
    """name -> every value given; the multi-value form is preferred, it keeps repeats."""
    multi = event.get("multiValueQueryStringParameters")
    if isinstance(multi, dict):
        return {name: [v for v in values if isinstance(v, str)]
                for name, values in multi.items()
                if isinstance(name, str) and isinstance(values, list)}
    single = event.get("queryStringParameters")
    if isinstance(single, dict):
        return {name: [value] for name, value in single.items()
                if isinstance(name, str) and isinstance(value, str)}
    return {}


@dataclass(frozen=True)
class Request:
    method: str | None
    resource: str | None
    path: str | None
    path_parameters: dict
    headers: dict[str, str]
    query: dict[str, list[str]]
    body: object
    is_base64: bool
    request_context: dict = field(default_factory=dict)

    def header(self, name: str) -> str | None:
        """A header by its lowercase name: all its lines, joined by ", " (RFC 9110 5.3)."""
        return self.headers.get(name)


def parse_event(event: object) -> Request:
    if not isinstance(event, dict):
        raise bad_request("The request could not be read: expected an API Gateway proxy event.")
    path_parameters = event.get("pathParameters")
    context = event.get("requestContext")
    return Request(
        method=_str_or_none(event.get("httpMethod")),
        resource=_str_or_none(event.get("resource")),
        path=_str_or_none(event.get("path")),
        path_parameters=path_parameters if isinstance(path_parameters, dict) else {},
        headers=_header_fields(event),
        query=_query_params(event),
        body=event.get("body"),
        is_base64=event.get("isBase64Encoded") is True,
        request_context=context if isinstance(context, dict) else {},
    )
