"""moto's store of custom domain names, made to answer as API Gateway does.

moto keeps a domain's base path mappings in a dict it creates only with the domain's
first mapping, so listing the mappings of a domain that has none yet fails with a
KeyError (an HTTP 500 that botocore retries); and it keeps a deleted domain's mappings,
which a domain created again under that name would then show. API Gateway answers a new
domain's mappings with an empty list, and a domain's mappings go with it. This runs in
the process that runs moto's server (the local cloud's own), before anything is deployed.
"""
from __future__ import annotations

_MARK = "_mappings_as_api_gateway"


def keep_domain_mappings_as_api_gateway_does() -> None:
    """A new domain starts with no mappings; a deleted one takes its mappings along
    (idempotent)."""
    from moto.apigateway.models import APIGatewayBackend

    moto_create, moto_delete = (APIGatewayBackend.create_domain_name,
                                APIGatewayBackend.delete_domain_name)
    if getattr(moto_create, _MARK, False):
        return

    def create_domain_name(self, domain_name: str, *args, **kwargs):
        created = moto_create(self, domain_name, *args, **kwargs)
        self.base_path_mappings[domain_name] = {}
        return created

    def delete_domain_name(self, domain_name: str) -> None:
        moto_delete(self, domain_name)
        self.base_path_mappings.pop(domain_name, None)

    setattr(create_domain_name, _MARK, True)
    APIGatewayBackend.create_domain_name = create_domain_name
    APIGatewayBackend.delete_domain_name = delete_domain_name
