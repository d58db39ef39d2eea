"""A local cloud: every stage of the real program deployed into moto's AWS emulator on
127.0.0.1, plus what moto cannot do by itself. Laid out in layers, each importing only
from those below it (``tests/test_import_graph.py`` holds the table):

Foundation, for any part:

- ``emulator`` (moto's server on 127.0.0.1 and boto3 clients for it), behind
  ``emulator_auth`` (its front check: every request signed and allowed as IAM would),
  ``sigv4`` (the SigV4 steps that check and the gateway's share), ``control_plane``
  (reads stages, functions and policies from moto, in process when the emulator runs
  here), ``atomic`` (files written whole);
- ``kinds``: what a resource kind is made of (``Kind``: the create, update and delete of
  one resource type; ``Cloud``, the emulator it deploys into; ``DeployError``);
- ``policy``: IAM's policy language, evaluated (identity and resource policies);
- ``invocation``: what the caller of a function gets back (its result, its errors);
- ``http/``: an HTTP front door (waitress, and the framing it refuses); the service
  behind it gives its limits and answers.

Services, each on its own (``resources``: the service's resource kinds):

- ``apigateway/``: ``gateway`` serves REST API stages as API Gateway does, from the
  ``snapshots`` frozen when each Deployment was created, behind the front door with API
  Gateway's rules; ``auth`` (SigV4 and callers' policies), ``throttling``,
  ``stage_logs``; ``resources``.
- ``awslambda/``: ``invoker`` (+ ``worker``) runs deployed functions in warm worker
  processes signed as their role; ``archives`` keeps their code; ``resources``.
- ``iam/``: ``callers`` (a local caller per stage, its keys); ``resources``.
- ``s3/``, ``dynamodb/``, ``logs/``: their ``resources``.

Engine: ``engine/`` deploys, the way `pulumi up` does: ``stackfiles`` (stack config as
the CLI hands it over), ``program`` (runs __main__.py under Pulumi's mock runtime,
recording each registration), ``deployer`` (mocks that create each resource in moto and
apply the difference against the stack's last ``state``), ``registry`` (every service's
kinds, by resource type).

Composition: ``session`` (the running local cloud), ``tail`` (a stack's logs, followed for
the CLI), ``__main__`` (the CLI) and ``cli`` (how a command ends: one error line, never a
traceback).
"""
