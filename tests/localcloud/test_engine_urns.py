"""The URNs the local cloud's engine tells users (e.g. in a `pulumi import --parent`) are
the Pulumi engine's: a type qualified by every parent's type, the root stack's left out
(pulumi/pulumi sdk/go/common/resource/urn/urn.go, New). The SDK's mocks keep only the
nearest parent's type, and the root stack's."""
from __future__ import annotations

import pulumi

from localcloud.engine.deployer import import_command
from localcloud.engine.program import current_options, run_program

PROGRAM = '''
import pulumi

class Outer(pulumi.ComponentResource):
    def __init__(self, name):
        super().__init__("pkg:index:Outer", name, None)
        Inner(f"{name}-inner", self)
        pulumi.CustomResource("pkg:index:Leaf", f"{name}-leaf", {},
                              pulumi.ResourceOptions(parent=self))

class Inner(pulumi.ComponentResource):
    def __init__(self, name, parent):
        super().__init__("pkg:index:Inner", name, None, pulumi.ResourceOptions(parent=parent))
        pulumi.CustomResource("pkg:index:Leaf", f"{name}-leaf", {},
                              pulumi.ResourceOptions(parent=self, protect=True))

Outer("outer")
pulumi.CustomResource("pkg:index:Leaf", "top", {})
'''


class Parents(pulumi.runtime.Mocks):
    def __init__(self):
        self.seen = {}

    def new_resource(self, args):
        if args.custom:
            options = current_options()
            self.seen[args.name] = (options.parent, options.protect)
        return f"{args.name}-id", {}

    def call(self, args):
        return {}, []


def test_each_resource_is_told_its_parents_engine_urn(tmp_path):
    program = tmp_path / "__main__.py"
    program.write_text(PROGRAM)
    mocks = Parents()
    run_program("dev", mocks, {}, organization="organization", program=program)
    prefix = "urn:pulumi:dev::user-service::"
    assert mocks.seen == {
        "outer-leaf": (f"{prefix}pkg:index:Outer::outer", False),
        "outer-inner-leaf": (f"{prefix}pkg:index:Outer$pkg:index:Inner::outer-inner", True),
        "top": ("", False),
    }


def test_the_import_command_names_the_parent_and_the_programs_protection():
    parent = "urn:pulumi:test::user-service::user-service:compute:UsersFunction::test"
    assert import_command("aws:cloudwatch/logGroup:LogGroup", "test-logs",
                          "/aws/lambda/test-user-service", parent, False, "test") == (
        "pulumi import aws:cloudwatch/logGroup:LogGroup test-logs /aws/lambda/test-user-service "
        f"--parent 'parent={parent}' --protect=false --generate-code=false -s test")
    assert import_command("aws:s3/bucket:Bucket", "top", "b", "", True, "prod") == (
        "pulumi import aws:s3/bucket:Bucket top b --generate-code=false -s prod")
