"""A local cloud: every stage of the real program deployed into moto's AWS emulator on
127.0.0.1, plus what moto cannot do by itself. Laid out by AWS service:

- ``engine/``: deploying, the way `pulumi up` does. ``stackfiles`` (stack config as the
  CLI hands it over), ``program`` (runs __main__.py under Pulumi's mock runtime,
  recording each registration), ``deployer`` (mocks that create each resource in moto
  and apply the difference against the stack's last ``state``), ``kinds`` and
  ``registry`` (each resource type's create, update and delete).
- ``apigateway/``: ``gateway`` serves REST API stages as API Gateway does, from the
  ``snapshots`` frozen when each Deployment was created; ``resources``: its kinds.
- ``awslambda/``: ``invoker`` (+ ``worker``) runs deployed functions in warm worker
  processes under their role's policy; ``archives`` keeps their code; ``resources``.
- ``iam/``: ``evaluation`` of identity and resource policies; ``resources``.
- ``dynamodb/``, ``logs/``: their ``resources``.

Shared: ``emulator`` (moto's server on 127.0.0.1 and boto3 clients for it),
``control_plane`` (reads stages, functions and policies from moto, in process when the
emulator runs here), ``session`` (the running local cloud), ``atomic`` (files written
whole), ``__main__`` (the CLI) and ``cli`` (how a command ends: one error line, never a
traceback).
"""
