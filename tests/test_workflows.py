"""The CI pipeline (.github/): linted with actionlint (with shellcheck on every `run:`) and
zizmor, both pinned in requirements.txt, and held to what the README says it does.

The linters run on a copy of .github/ (with an empty .git beside it, which is how
actionlint finds a project), so the same code lints the real files and the broken copies
that prove the linters catch a mistake."""
from __future__ import annotations

import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from localcloud.engine.stackfiles import known_stacks

ROOT = Path(__file__).resolve().parents[1]
GITHUB = ROOT / ".github"
WORKFLOWS = GITHUB / "workflows"
SETUP_ACTION = GITHUB / "actions" / "setup" / "action.yml"
# The venv's own scripts (not resolved: .venv/bin/python may link to the system's).
VENV_BIN = Path(sys.executable).parent
FULL_SHA = re.compile(r"^[0-9a-f]{40}$")


def tool(name: str) -> str:
    found = shutil.which(name, path=str(VENV_BIN))
    if found is None:
        pytest.fail(f"{name} is not in {VENV_BIN}: requirements.txt pins it; run "
                    "`python3 tasks.py setup` (or `make setup`) to install it")
    return found


def copy_of_github(into: Path) -> Path:
    shutil.copytree(GITHUB, into / ".github")
    (into / ".git").mkdir()
    return into


def actionlint(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [tool("actionlint"), "-no-color", "-oneline", "-shellcheck", tool("shellcheck"),
         "-pyflakes="],
        cwd=root, capture_output=True, text=True, timeout=300)


def zizmor(root: Path) -> subprocess.CompletedProcess:
    # --offline: no GitHub API (CI and this machine reach only the package registries);
    # the auditor persona: every finding zizmor has, false positives included.
    return subprocess.run(
        [tool("zizmor"), "--offline", "--no-progress", "--persona", "auditor", "--format",
         "plain", ".github"],
        cwd=root, capture_output=True, text=True, timeout=300,
        env={**os.environ, "NO_COLOR": "1"})


LINTERS = {"actionlint": actionlint, "zizmor": zizmor}


@pytest.mark.parametrize("linter", sorted(LINTERS))
def test_the_workflows_pass_the_linter(linter, tmp_path):
    result = LINTERS[linter](copy_of_github(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr


# A mistake each linter must catch, made in a copy: (linter, file, old text, new text,
# what the linter says).
MISTAKES = [
    ("actionlint", "tests.yml", "runs-on: ubuntu-24.04", "runs-on: ubuntu-linux",
     'label "ubuntu-linux" is unknown'),
    ("actionlint", "main.yml", "needs: dev", "needs: deb",
     'job "test" needs job "deb" which does not exist'),
    ("actionlint", "verify.yml", 'pulumi-cli: "true"', 'pulumi-cli: "true"\n          cli: x',
     'input "cli" is not defined in action "Set up the project"'),
    ("actionlint", "promote.yml", "run: .venv/bin/python -m promotion verify --stack prod",
     "run: cd $HOME/x && .venv/bin/python -m promotion verify --stack prod",
     "shellcheck reported issue in this script: SC2086"),
    ("zizmor", "pull-request.yml", "pull_request:\n    branches: [main]",
     "pull_request_target:\n    branches: [main]", "dangerous-triggers"),
    ("zizmor", "verify.yml", "@e6de054238d6b7531b4efff3b6587d9aade6a06c # v6.2.3", "@v6",
     "unpinned-uses"),
    ("zizmor", "tests.yml", "        with:\n          persist-credentials: false\n", "",
     "artipacked"),
    ("zizmor", "promote.yml", "run: .venv/bin/python -m promotion verify --stack prod",
     "run: echo ${{ github.event.head_commit.message }}", "template-injection"),
    ("zizmor", "tests.yml", "permissions: {}\n", "", "excessive-permissions"),
]


@pytest.mark.parametrize("linter, name, old, new, said", MISTAKES,
                         ids=[f"{m[0]}: {m[4]}" for m in MISTAKES])
def test_a_mistake_in_a_workflow_fails_the_linter(linter, name, old, new, said, tmp_path):
    root = copy_of_github(tmp_path)
    path = root / ".github" / "workflows" / name
    text = path.read_text()
    assert old in text, f"{name} no longer holds {old!r}: update this row"
    path.write_text(text.replace(old, new, 1))
    result = LINTERS[linter](root)
    assert result.returncode != 0
    assert said in result.stdout + result.stderr


# --- what the pipeline promises -------------------------------------------------------

def load(path: Path) -> dict:
    document = yaml.safe_load(path.read_text())
    # YAML 1.1 reads the key `on` as True.
    if True in document:
        document["on"] = document.pop(True)
    return document


WORKFLOW_FILES = sorted(WORKFLOWS.glob("*.yml"))
DOCUMENTS = {path.name: load(path) for path in WORKFLOW_FILES}


def jobs():
    for name, document in DOCUMENTS.items():
        for job_id, job in document["jobs"].items():
            yield name, job_id, job


def steps():
    for name, _, job in jobs():
        for step in job.get("steps", []):
            yield name, step
    for step in load(SETUP_ACTION)["runs"]["steps"]:
        yield SETUP_ACTION.name, step


def test_the_pipeline_has_its_workflows():
    assert sorted(DOCUMENTS) == ["main.yml", "promote.yml", "pull-request.yml",
                                 "pulumi-up.yml", "tests.yml", "verify.yml"]


def test_nothing_runs_with_the_base_repository_on_a_pull_requests_code():
    for name, document in DOCUMENTS.items():
        assert "pull_request_target" not in document["on"], name
        assert "workflow_run" not in document["on"], name


def test_every_workflow_grants_nothing_and_every_job_only_what_it_needs():
    for name, document in DOCUMENTS.items():
        assert document["permissions"] == {}, name
    for name, job_id, job in jobs():
        assert "permissions" in job, f"{name}: job {job_id} declares no permissions"
        granted = {scope for scope, level in job["permissions"].items() if level == "write"}
        # OIDC only where AWS is reached, the pull request only where the preview is posted,
        # the repository only where Pulumi.prod.yaml is committed.
        needs_aws = any("configure-aws-credentials" in step.get("uses", "")
                        for step in job.get("steps", [])) or \
            job.get("uses", "").endswith("/pulumi-up.yml")
        expected = {"id-token"} if needs_aws else set()
        if job_id == "preview":
            expected.add("pull-requests")
        if job_id == "promote":
            expected.add("contents")
        assert granted == expected, f"{name}: job {job_id}"


def test_every_action_is_pinned_to_a_commit_with_its_version_said():
    pins: dict[str, set[str]] = {}
    for path in [*WORKFLOW_FILES, SETUP_ACTION]:
        for line in path.read_text().splitlines():
            match = re.match(r"^\s*(?:- )?uses: (\S+)(.*)$", line)
            if not match or match.group(1).startswith("$/"):
                continue
            action, _, ref = match.group(1).partition("@")
            assert FULL_SHA.match(ref), f"{path.name}: {action} is pinned to {ref!r}"
            assert re.match(r"^ # v\d+\.\d+\.\d+$", match.group(2)), \
                f"{path.name}: {action}@{ref} does not say its version"
            pins.setdefault(action, set()).add(ref + match.group(2))
    assert {action for action in pins} == {
        "actions/checkout", "actions/setup-python", "aws-actions/configure-aws-credentials",
        "pulumi/actions"}
    assert {action: len(refs) for action, refs in pins.items()} == dict.fromkeys(pins, 1), \
        "an action is pinned to two different commits"


def test_every_checkout_leaves_no_credentials_behind():
    checkouts = [(name, step) for name, step in steps()
                 if step.get("uses", "").startswith("actions/checkout@")]
    assert len(checkouts) == len([1 for _, _, job in jobs() if "steps" in job])
    for name, step in checkouts:
        assert step["with"]["persist-credentials"] is False, name


def test_no_secret_is_written_in_the_files():
    secret_refs = set()
    for path in [*WORKFLOW_FILES, SETUP_ACTION]:
        text = path.read_text()
        secret_refs |= set(re.findall(r"secrets\.([A-Za-z_]+)", text))
        assert not re.search(r"AKIA[0-9A-Z]{16}|pul-[0-9a-f]{40}|aws-secret-access-key|"
                             r"aws-access-key-id", text), path.name
    assert secret_refs == {"PULUMI_ACCESS_TOKEN"}


def test_every_job_holding_a_secret_runs_in_an_environment():
    for name, job_id, job in jobs():
        if "secrets.PULUMI_ACCESS_TOKEN" in yaml.safe_dump(job.get("env", {})):
            assert job.get("environment"), f"{name}: job {job_id}"


def test_the_tests_are_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    command = "python3 tasks.py test"
    assert command in readme.split("\n\n")[1]  # the README's first commands
    assert command in (ROOT / ".ci" / "run").read_text()
    assert [step["run"] for step in DOCUMENTS["tests.yml"]["jobs"]["tests"]["steps"]
            if "run" in step] == [command]
    for name in ("pull-request.yml", "main.yml"):
        assert DOCUMENTS[name]["jobs"]["tests"]["uses"] == "$/.github/workflows/tests.yml"


def test_a_pull_request_previews_every_stack_and_posts_it():
    preview = DOCUMENTS["pull-request.yml"]["jobs"]["preview"]
    assert preview["needs"] == "tests"
    assert sorted(preview["strategy"]["matrix"]["stack"]) == known_stacks()
    pulumi = [s for s in preview["steps"] if s.get("uses", "").startswith("pulumi/actions@")]
    assert [s["with"] for s in pulumi] == [
        {"command": "preview", "stack-name": "${{ matrix.stack }}", "comment-on-pr": True}]


def test_main_updates_dev_then_test_and_never_prod():
    main = DOCUMENTS["main.yml"]
    assert main["on"] == {"push": {"branches": ["main"]}}
    calls = {job_id: (job.get("needs"), job.get("with", {}).get("stack"))
             for job_id, job in main["jobs"].items()}
    assert calls == {"tests": (None, None), "dev": ("tests", "dev"), "test": ("dev", "test")}
    up = DOCUMENTS["pulumi-up.yml"]["jobs"]["up"]
    assert up["environment"] == "${{ inputs.stack }}"
    assert [s["with"] for s in up["steps"] if s.get("uses", "").startswith("pulumi/actions@")] \
        == [{"command": "up", "stack-name": "${{ inputs.stack }}", "comment-on-summary": True}]


def test_prod_is_promoted_by_hand_behind_the_production_environment_then_verified():
    promote = DOCUMENTS["promote.yml"]
    assert promote["on"] == {"workflow_dispatch": None}
    job = promote["jobs"]["promote"]
    assert job["environment"] == "production"
    assert job["if"] == "github.ref == 'refs/heads/main'"
    runs = [step["run"] for step in job["steps"] if "run" in step]
    assert runs[:2] == [".venv/bin/python -m promotion promote --from test --to prod",
                        ".venv/bin/python -m promotion verify --stack prod"]
    assert "git push origin HEAD:main" in runs[2]
    assert job["steps"][-1]["if"] == "${{ !cancelled() }}"  # after a failed step too


def test_prod_is_verified_on_a_schedule_and_the_run_fails_on_drift():
    verify = DOCUMENTS["verify.yml"]
    assert list(verify["on"]) == ["schedule", "workflow_dispatch"]
    step = next(s for s in verify["jobs"]["verify"]["steps"]
                if "verify --stack prod --json" in s.get("run", ""))
    # `shell: bash` is bash -eo pipefail: verify's exit status, not tee's, ends the step.
    assert step["shell"] == "bash"
    assert step["run"].startswith(".venv/bin/python -m promotion verify --stack prod --json |")


def test_one_job_at_a_time_acts_on_a_stack_and_none_is_cancelled_halfway():
    groups = {}
    for name, job_id, job in jobs():
        if "concurrency" in job:
            groups[f"{name}:{job_id}"] = job["concurrency"]
    assert groups == {
        "promote.yml:promote": {"group": "deploy-prod", "cancel-in-progress": False},
        "pulumi-up.yml:up": {"group": "deploy-${{ inputs.stack }}", "cancel-in-progress": False},
        "verify.yml:verify": {"group": "deploy-prod", "cancel-in-progress": False},
    }


def test_the_readme_says_every_variable_secret_and_environment_to_set():
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## The pipeline"):]
    texts = "".join(path.read_text() for path in [*WORKFLOW_FILES, SETUP_ACTION])
    names = set(re.findall(r"\b(?:vars|secrets)\.([A-Z_]+)", texts))
    environments = {job["environment"] for _, _, job in jobs() if "environment" in job}
    environments = (environments - {"${{ inputs.stack }}"}) | {"dev", "test"}
    assert names == {"AWS_REGION", "AWS_ROLE_ARN", "PULUMI_ACCESS_TOKEN", "PULUMI_ORG"}
    for name in sorted(names | environments):
        assert f"`{name}`" in section, f"the README's pipeline section does not name {name}"


def test_the_pulumi_cli_is_the_release_of_the_pinned_sdk(tmp_path):
    # Run the setup action's own step: it must read the SDK's pin from requirements.txt.
    step = next(s for s in load(SETUP_ACTION)["runs"]["steps"] if s.get("id") == "pulumi")
    output = tmp_path / "output"
    subprocess.run(["bash", "-c", step["run"]], cwd=ROOT, check=True,
                   env={**os.environ, "GITHUB_OUTPUT": str(output)})
    assert output.read_text() == f"version={importlib.metadata.version('pulumi')}\n"
