"""Tests of the local cloud: emulator, artifacts, IAM evaluation, invoker and gateway."""
