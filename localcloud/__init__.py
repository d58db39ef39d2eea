"""A local cloud: every stage of the real program deployed into moto's AWS emulator on
127.0.0.1, plus what moto cannot do by itself.

Deploying (the real __main__.py under Pulumi's mock runtime):

- ``stackfiles``: stack config as the Pulumi CLI hands it to the program.
- ``program``: runs __main__.py for one stack under mocks, recording each registration.
- ``deployer`` (+ ``resources``, ``state``): mocks that create each resource in moto
  and apply the difference against the stack's last state, as `pulumi up` would.
- ``session``: the running local cloud (emulator + gateway); ``__main__``: its CLI,
  ``cli``: how the command-line tools end (one error line, never a traceback).

Serving (what API Gateway and Lambda do, which moto does not):

- ``emulator``: start and stop moto's server on 127.0.0.1; boto3 clients for it.
- ``artifacts``: a state directory with function archives and deployment snapshots.
- ``control_plane``: reads stages, functions and policies from moto (in process when
  the emulator runs here, through boto3 otherwise).
- ``iam_eval``: pure evaluation of identity and Lambda resource policies.
- ``invoker`` (+ ``worker``): runs deployed functions in warm worker processes,
  under their role's policy, and ships their logs to CloudWatch Logs in moto.
- ``gateway``: an HTTP server that serves API Gateway REST stages.
"""
