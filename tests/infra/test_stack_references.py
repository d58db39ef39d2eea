"""What a stack reads of other stacks, on each backend: every reference fully qualified, a
reference the backend would refuse stopped before anything is declared (or failing with
the backend's own message), a missing or wrong owner, an open API under production, and a
production stack whose pins went missing."""
from __future__ import annotations

import hashlib
import subprocess
import sys

import pytest

from infra import stack_references
from infra.archive import build_zip
from infra.config import ConfigError
from localcloud.engine.stackfiles import REPO_ROOT
from tests.infra.conftest import HOME, WORLDS, deploy_stacks, run_stack, with_archives
from tests.infra.mocks import DIY, PULUMI_CLOUD, AwsMocks

# One world per backend, in the shipped region.
BACKEND_WORLDS = [w for w in WORLDS if w.region == "us-east-1"]
CLOUD_WORLD, DIY_WORLD = (next(w for w in BACKEND_WORLDS if w.backend is b)
                          for b in (PULUMI_CLOUD, DIY))
CLOUD_FORM = ("a stack reference's name should be of the form '<organization>/<project>/"
              "<stack>'. See https://www.pulumi.com/docs/using-pulumi/stack-outputs-and-"
              "references/#using-stack-references for more information.")


def with_api_stack(value: str) -> dict[str, str]:
    return {"user-service:apiStack": value}


@pytest.fixture(scope="module")
def dev_outputs() -> dict:
    return deploy_stacks(("dev",))["dev"].outputs


class CountingMocks(AwsMocks):
    declared: list[str] = []

    def new_resource(self, args):
        CountingMocks.declared.append(args.typ)
        return super().new_resource(args)


# --- the backends' rules, as pulumi/pulumi has them ---------------------------------------

@pytest.mark.parametrize("name", ["dev", "acme/dev", "acme/user-service/dev/x"])
def test_pulumi_cloud_resolves_only_organization_project_stack(name):
    with pytest.raises(stack_references.ReferenceRefused) as refused:
        stack_references.PULUMI_CLOUD.parse(name, "user-service")
    assert str(refused.value) == CLOUD_FORM
    assert stack_references.PULUMI_CLOUD.parse("acme/user-service/dev", "user-service") \
        == "acme/user-service/dev"


def test_diy_takes_a_plain_name_or_the_organization_organization_only():
    diy = stack_references.DIY
    assert diy.parse("dev", "user-service") == "organization/user-service/dev"
    assert diy.parse("organization/dev", "user-service") == "organization/user-service/dev"
    assert diy.parse("organization/other/dev", "user-service") == "organization/other/dev"
    for name in ("acme/user-service/dev", "acme/dev"):
        with pytest.raises(stack_references.ReferenceRefused,
                           match="^organization name must be 'organization'$"):
            diy.parse(name, "user-service")
    with pytest.raises(stack_references.ReferenceRefused,
                       match="^a stack name may only contain alphanumeric, hyphens, "
                             "underscores, or periods: invalid character ' ' at position 2$"):
        diy.parse("my stack", "user-service")


@pytest.mark.parametrize("backend", [stack_references.PULUMI_CLOUD, stack_references.DIY],
                         ids=lambda b: b.name)
def test_stack_names_are_judged_in_utf8_bytes_as_go_does(backend):
    # tokens.ParseStackName: len() and the failing position count bytes, and %q quotes the
    # failing byte taken as a rune ("é" is 0xC3 0xA9: 0xC3 is "Ã").
    def refusal(stack: str) -> str:
        with pytest.raises(stack_references.ReferenceRefused) as refused:
            backend.parse(f"organization/user-service/{stack}", "user-service")
        return str(refused.value)
    assert refusal("dév") == ("a stack name may only contain alphanumeric, hyphens, "
                              "underscores, or periods: invalid character 'Ã' at position 1")
    assert refusal("é" * 51) == "a stack name cannot exceed 100 characters"  # 102 bytes
    assert refusal("a\tb").endswith("invalid character '\\t' at position 1")
    assert refusal("it's").endswith("invalid character '\\'' at position 2")
    assert backend.parse("organization/user-service/" + "d" * 100, "user-service")


@pytest.mark.parametrize("backend", [stack_references.PULUMI_CLOUD, stack_references.DIY],
                         ids=lambda b: b.name)
def test_a_missing_stack_is_unknown_and_one_never_updated_has_no_outputs(backend):
    existing = {"organization/user-service/dev": {}}
    assert backend.outputs("organization/user-service/dev", "user-service", existing) == {}
    with pytest.raises(stack_references.ReferenceRefused) as refused:
        backend.outputs("organization/user-service/qa", "user-service", existing)
    assert str(refused.value) == 'unknown stack "organization/user-service/qa"'


# --- the program on each backend ------------------------------------------------------------

def test_every_reference_the_program_makes_is_fully_qualified(runs, world):
    names = {stack: sorted(r.inputs["name"] for r in runs[stack].of_type(
        "pulumi:pulumi:StackReference")) for stack in runs}
    organization = world.organization  # acme on Pulumi Cloud, organization on DIY
    assert names == {"dev": [],
                     "test": [f"{organization}/user-service/dev"],
                     "prod": [f"{organization}/user-service/dev",
                              f"{organization}/user-service/prod"]}


@pytest.mark.parametrize("world", BACKEND_WORLDS, ids=str)
def test_previewing_test_before_dev_is_deployed_names_the_stack_and_the_command(world):
    with pytest.raises(ConfigError) as caught:
        run_stack("test", world, {"dev": {}})  # `pulumi stack init dev`, never updated
    message = str(caught.value)
    assert f"'{world.organization}/user-service/dev'" in message
    assert "has no outputs" in message and "pulumi up -s dev" in message


@pytest.mark.parametrize("world", BACKEND_WORLDS, ids=str)
def test_a_stack_that_does_not_exist_fails_with_the_backends_own_message(world):
    # In its own process: the failed run leaves futures whose error asyncio prints when
    # the interpreter ends.
    script = ("from tests.infra.conftest import WORLDS, run_stack\n"
              f"world = next(w for w in WORLDS if str(w) == {str(world)!r})\n"
              "try:\n"
              "    run_stack('test', world, {})\n"
              "except Exception as err:\n"
              "    print('refused:', err)\n")
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=120)
    expected = f'refused: unknown stack "{world.organization}/user-service/dev"'
    assert expected in done.stdout, done.stdout + done.stderr


def test_on_diy_another_organization_is_refused_before_anything_is_declared(dev_outputs):
    CountingMocks.declared = []
    with pytest.raises(ConfigError) as caught:
        run_stack("test", DIY_WORLD, {"dev": dev_outputs},
                  with_api_stack("acme/user-service/dev"), mocks_class=CountingMocks)
    message = str(caught.value)
    assert "user-service:apiStack is 'acme/user-service/dev'" in message
    assert "DIY (pulumi login --local) backend refuses" in message
    assert "\"organization name must be 'organization'\"" in message
    assert ("on this backend every stack is in organization 'organization'; use the owner "
            "stack's name, e.g. dev, or its full name, e.g. organization/user-service/dev") \
        in message
    assert CountingMocks.declared == []  # not even the reference was read


def test_a_name_pulumi_cloud_refuses_stops_with_its_own_message_before_anything_is_declared():
    CountingMocks.declared = []
    for value in ("acme/dev", "acme/user-service/dev/x", "acme/user-service/my stack"):
        with pytest.raises(ConfigError) as caught:
            run_stack("test", CLOUD_WORLD, {}, with_api_stack(value), mocks_class=CountingMocks)
        message = str(caught.value)
        assert f"user-service:apiStack is '{value}', a reference the Pulumi Cloud backend " \
               "refuses (" in message
        assert message.endswith("use the owner stack's name, e.g. dev, or its full name, "
                                 "e.g. acme/user-service/dev")
    assert CountingMocks.declared == []
    assert f'("{CLOUD_FORM}")' in cloud_refusal("acme/dev")
    assert ('("a stack name may only contain alphanumeric, hyphens, underscores, or periods: '
            "invalid character ' ' at position 2\")") in cloud_refusal("acme/user-service/my stack")


def cloud_refusal(value: str) -> str:
    with pytest.raises(ConfigError) as caught:
        run_stack("test", CLOUD_WORLD, {}, with_api_stack(value))
    return str(caught.value)


@pytest.mark.parametrize("world, value", [(DIY_WORLD, "organization/dev"),
                                          (DIY_WORLD, "organization//dev"),
                                          (CLOUD_WORLD, "acme//dev")], ids=str)
def test_a_name_the_backend_takes_but_that_is_not_full_is_refused(world, value):
    # The backend itself resolves these (in the current project), but only a full name
    # resolves on both backends alike.
    assert world.backend.rules.parse(value, "user-service") \
        == f"{world.organization}/user-service/dev"
    with pytest.raises(ConfigError) as caught:
        run_stack("test", world, {"dev": {}}, with_api_stack(value))
    assert (f"user-service:apiStack is '{value}', which is not a full <organization>/"
            "<project>/<stack> name (Pulumi Cloud takes no other form); use the owner "
            f"stack's name, e.g. dev, or its full name, e.g. {world.organization}/"
            "user-service/dev") in str(caught.value)


def test_a_fully_qualified_owner_name_is_used_as_it_is(dev_outputs):
    # Pulumi Cloud: any organization the caller may read, e.g. a platform team's.
    cloud = run_stack("test", CLOUD_WORLD, {"platform/user-service/dev": dev_outputs},
                      with_api_stack("platform/user-service/dev"))
    [reference] = cloud.of_type("pulumi:pulumi:StackReference")
    assert reference.inputs["name"] == "platform/user-service/dev"
    assert cloud.outputs["restApiId"] == dev_outputs["restApiId"]
    # DIY: its one organization, spelled out.
    diy = run_stack("test", DIY_WORLD, {"dev": dev_outputs},
                    with_api_stack("organization/user-service/dev"))
    [reference] = diy.of_type("pulumi:pulumi:StackReference")
    assert reference.inputs["name"] == "organization/user-service/dev"
    assert diy.outputs["restApiId"] == dev_outputs["restApiId"]


@pytest.mark.parametrize("world", BACKEND_WORLDS, ids=str)
def test_an_api_stack_naming_this_very_stack_is_refused(world):
    for value in ("test", f"{world.organization}/user-service/test"):
        with pytest.raises(ConfigError, match="this very stack"):
            run_stack("test", world, {}, with_api_stack(value))


# --- what the owner's and the stack's own outputs must hold ----------------------------------

def test_an_api_stack_that_does_not_own_the_api_names_the_missing_outputs():
    not_an_owner = {"stage": "qa", "stageUrl": "https://example"}
    with pytest.raises(ConfigError) as caught:
        run_stack("test", HOME, {"qa": not_an_owner}, with_api_stack("qa"))
    message = str(caught.value)
    assert "lacks the outputs restApiId, executionArn, definitionHash, artifactBucket" in message
    assert "apiOwner: true" in message


def test_another_stage_that_re_exports_the_apis_outputs_is_not_an_owner(dev_outputs):
    test_outputs = deploy_stacks(("dev", "test"))["test"].outputs
    assert test_outputs["restApiId"] == dev_outputs["restApiId"]  # re-exported
    with pytest.raises(ConfigError, match="lacks the outputs apiOwnerStack"):
        run_stack("prod", HOME, {"dev": dev_outputs, "test": test_outputs},
                  with_api_stack("test"))


def test_production_refuses_an_api_whose_methods_need_no_authorization(dev_outputs):
    open_owner = {**dev_outputs, "apiAuthorization": "NONE"}
    with pytest.raises(ConfigError) as caught:
        run_stack("prod", HOME, {"dev": open_owner})
    message = str(caught.value)
    assert "need no authorization" in message and "AWS_IAM" in message
    # A non-production stage may run behind the team's own front door.
    assert run_stack("test", HOME, {"dev": open_owner}).outputs["apiAuthorization"] == "NONE"


@pytest.mark.parametrize("world", BACKEND_WORLDS, ids=str)
def test_production_refuses_an_update_that_drops_the_pins_it_last_ran(dev_outputs, world):
    last = {"pins": {"deploymentId": "abc123", "codeHash": "e" * 64, "functionVersion": "3"}}
    with pytest.raises(ConfigError) as caught:
        run_stack("prod", world, {"dev": dev_outputs, "prod": last})
    message = str(caught.value)
    assert "last ran the promoted deployment abc123" in message
    assert "git checkout Pulumi.prod.yaml" in message
    assert "pulumi config set user-service:promotedFunctionVersion 3 -s prod" in message


def archive_of(text: bytes) -> tuple[bytes, str]:
    """An archive of other code (as another checkout built it) and its code hash."""
    body = build_zip({"user_service/handler.py": text})
    return body, hashlib.sha256(body).hexdigest()


E_ARCHIVE, E_HASH = archive_of(b"# the code prod was promoted to\n")
F_ARCHIVE, F_HASH = archive_of(b"# the code of a newer promotion\n")


def test_production_refuses_an_update_that_drops_only_its_rollback_version(dev_outputs):
    last = {"pins": {"deploymentId": "abc123", "codeHash": E_HASH, "functionVersion": "7"}}
    same_code = {"user-service:promotedDeploymentId": "abc123",
                 "user-service:promotedCodeHash": E_HASH}
    with pytest.raises(ConfigError, match="last ran version 7 .* no longer has "
                                          "promotedFunctionVersion"):
        run_stack("prod", HOME, {"dev": dev_outputs, "prod": last}, same_code)
    # A new promotion (other code) publishes its own version: not a dropped pin.
    promoted = {"user-service:promotedDeploymentId": "def456",
                "user-service:promotedCodeHash": F_HASH}
    run = run_stack("prod", HOME, {"dev": dev_outputs, "prod": last}, promoted,
                    with_archives(F_ARCHIVE))
    assert run.outputs["pins"]["functionVersion"] == ""


def test_production_with_its_pins_or_never_pinned_deploys(dev_outputs):
    first = run_stack("prod", HOME, {"dev": dev_outputs})
    assert first.outputs["pins"] == {}
    pins = {"user-service:promotedDeploymentId": "abc123",
            "user-service:promotedCodeHash": E_HASH}
    last = {"pins": {"deploymentId": "abc123", "codeHash": E_HASH, "functionVersion": ""}}
    pinned = run_stack("prod", HOME, {"dev": dev_outputs, "prod": last}, pins,
                       with_archives(E_ARCHIVE))
    assert pinned.outputs["pins"] == last["pins"]


def test_a_pinned_stage_refuses_code_no_stage_uploaded_before_anything_is_declared(dev_outputs):
    pins = {"user-service:promotedDeploymentId": "abc123",
            "user-service:promotedCodeHash": "9" * 64}
    uploaded = with_archives(E_ARCHIVE)  # the bucket holds other code, not this
    CountingMocks.declared = []
    with pytest.raises(ConfigError) as caught:
        run_stack("prod", HOME, {"dev": dev_outputs}, pins, uploaded,
                  mocks_class=CountingMocks)
    # Only the references were read: nothing was declared.
    assert set(CountingMocks.declared) == {"pulumi:pulumi:StackReference"}
    message = str(caught.value)
    assert f"pins the code 999999999999…, but s3://{dev_outputs['artifactBucket']}/archives/" \
           in message and "does not exist" in message
    assert "only code a stage has deployed can be promoted" in message
