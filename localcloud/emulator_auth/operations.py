"""What a request to the emulator asks for, seen as moto will serve it.

Each question is answered by the code moto itself answers it with, so that what is
authorized is what runs:

- which service: moto's dispatcher (``DomainDispatcherApplication.get_application``),
  whose backend names the botocore service model;
- which region and access key: moto's own readings of the request
  (``BaseResponse.get_region_from_url``, ``BaseResponse.access_key_regex``);
- which operation and parameters: moto's router over botocore's operation models
  (``X-Amz-Target`` for JSON protocols, ``Action`` for query protocols, the HTTP method
  and path for REST protocols) and moto's request parser for that operation;
- which IAM actions on which resources: :func:`localcloud.policy.map_call`.
"""
from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from typing import Any

from localcloud import policy as iam_eval

log = logging.getLogger("localcloud.emulator_auth")


@dataclass(frozen=True)
class Call:
    """One API call: its operation, parameters, and the (action, resource ARN) pairs IAM
    authorizes it against."""
    operation: str
    params: dict
    pairs: list[tuple[str, str]]


def service_model(app) -> Any | None:
    """The botocore service model (moto's facade) of the backend moto dispatches to; None
    for moto's own routes (``/moto-api``, the instance metadata service...)."""
    from botocore.exceptions import DataNotFoundError
    from moto.core.responses import boto3_service_name
    from moto.core.utils import get_service_model

    backend = getattr(app, "service", None)
    if not isinstance(backend, str):
        return None
    try:
        return get_service_model(boto3_service_name.get(backend, backend))
    except DataNotFoundError:  # UnknownServiceError is one
        return None


def moto_request(environ: dict, body: bytes):
    """moto's Request over a copy of the WSGI environ, with its own copy of the body (the
    one moto serves is left unread)."""
    from moto.core.request import Request

    copy = dict(environ)
    copy["wsgi.input"] = io.BytesIO(body)
    return Request(copy)


_response = None


def moto_region_and_key(request) -> tuple[str, str | None]:
    """The region and access key id moto's handlers will act with for this request."""
    global _response
    from moto.core.responses import BaseResponse

    if _response is None:
        _response = BaseResponse()  # its readings use class attributes only
    region = _response.get_region_from_url(request, request.raw_url)
    match = BaseResponse.access_key_regex.search(request.headers.get("Authorization", ""))
    return region, (match.group(1) if match else None)


def identify(model, request, region: str, account: str) -> Call | None:
    """The operation a request calls, its parameters and what IAM authorizes; None when
    moto's router finds no operation of the service for it, or its parameters cannot be
    read."""
    from moto.core.parse import PROTOCOL_PARSERS
    from moto.core.request import determine_request_protocol
    from moto.core.routing import get_service_router

    try:
        operation, uri_params = get_service_router(model.service_name).match(request)
        protocol = determine_request_protocol(model, request.content_type)
        params = PROTOCOL_PARSERS[protocol](operation).parse({
            "method": request.method, "values": request.values, "headers": request.headers,
            "body": request.data, "url_path": request.path, "url_params": uri_params})
    except Exception as err:  # noqa: BLE001 -- no route (NotFound), an unreadable body...
        log.debug("no operation of %s for %s %s: %r", model.service_name, request.method,
                  request.path, err)
        return None
    pairs = iam_eval.map_call(iam_eval.iam_prefix(model.signing_name), operation.name,
                              params, region, account, method=request.method,
                              path=request.path)
    return Call(operation.name, dict(params), pairs)
