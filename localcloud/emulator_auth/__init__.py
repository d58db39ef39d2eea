"""The emulator's front check: every request to moto's HTTP port is authenticated and
authorized as the account's IAM would, before moto sees it.

- ``front``: the WSGI middleware (:class:`FrontCheck`) and the decisions it reports;
- ``principals``: who signed (the local cloud itself, an IAM user, a role session) and
  their identity policies, read from moto's backends;
- ``operations``: which service, operation, parameters, IAM actions and resources a
  request stands for, read with moto's own dispatcher, router and parser;
- ``errors``: each service's own error format for a refusal.
"""
from localcloud.emulator_auth.front import Decided, FrontCheck, listen

__all__ = ["Decided", "FrontCheck", "listen"]
