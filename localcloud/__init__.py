"""A local cloud: moto's AWS emulator plus what moto cannot do by itself.

moto keeps the control-plane state (tables, roles, functions, REST APIs, stages,
permissions, log groups). This package adds the parts that need to *run* things:

- ``emulator``: start and stop moto's server on 127.0.0.1; boto3 clients for it.
- ``artifacts``: a state directory with function archives and deployment snapshots.
- ``iam_eval``: pure evaluation of identity and Lambda resource policies.
- ``invoker`` (+ ``worker``): runs deployed functions in warm worker processes,
  under their role's policy, and ships their logs to CloudWatch Logs in moto.
- ``gateway``: an HTTP server that serves API Gateway REST stages.
"""
