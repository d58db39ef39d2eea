"""Tests of the local cloud: emulator, archives and snapshots, IAM evaluation, invoker and gateway."""
