"""What the README tells a user to type on the local cloud works, and so does every command
line the run command and those commands print.

Every shell block of README.md is either the local cloud's (a line names it: `--local`,
`localcloud`, `127.0.0.1`, `tasks.py run`) or AWS's (a line runs the Pulumi CLI or the
promotion tool without `--local`); a block that is neither, or both, fails the test, so a
new command is never skipped unseen. The local cloud's lines run in the README's order, one
`bash -c` each, in a copy of this checkout, against a local cloud started for the test; after
each, and after the run command, the command lines it printed run too. Substituted, and
nothing else: the ports (`127.0.0.1:8080` is the gateway's, `127.0.0.1:PORT` the
emulator's, both free ones here). `NOT_RUN` lists the lines that are not run, and why.

They run as a user who also works on AWS: AWS keys, a session token, a profile and a
~/.aws/credentials of their own (none valid here), and no .venv/bin on PATH. Each must exit
0 without a traceback; each curl must answer HTTP 200 (a ~/.curlrc writes the status after
the body: the command itself is not changed) and each awscurl a page of users.
"""
from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from benchmarks.startup_bench import REPO_ROOT, RunningCloud, copy_checkout

README = REPO_ROOT / "README.md"
SHELL = {"sh", "bash", "shell", "console"}
LOCAL = re.compile(r"--local\b|localcloud|127\.0\.0\.1|tasks\.py run\b")
AWS = re.compile(r"(^|[\s($])pulumi\s|-m promotion\b")
NOT_RUN = {
    "python3 tasks.py run": "the local cloud itself: the test starts it as "
                            "`python3 tasks.py run --port 0` and the lines after it use it",
    "python3 tasks.py test": "the test suite, this test included",
}
# A line the run command or a README command prints is a command line when it starts so.
PRINTED_COMMAND = re.compile(r"^(?:[A-Z_]+=\S+\s+)*(?:[\w.-]*/)*(?:curl|aws|awscurl|python3?)\s")
EMULATOR_LINE = re.compile(r"AWS emulator on http://127\.0\.0\.1:(\d+)")
# What an operator of AWS may have around them; none of it is valid on the local cloud.
THEIR_KEYS = {"AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
              "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
              "AWS_SESSION_TOKEN": "their-session-token", "AWS_SECURITY_TOKEN": "their-token",
              "AWS_PROFILE": "default"}  # and no AWS_DEFAULT_REGION: the lines say theirs


@dataclass(frozen=True)
class Command:
    line: int       # where the README has it (0: printed by a command)
    text: str

    @property
    def program(self) -> str:
        """The program the command runs, its env assignments and path left out."""
        words = [w for w in shlex.split(self.text.splitlines()[0], comments=True)
                 if not re.fullmatch(r"[A-Z_]+=.*", w)]
        return Path(words[0]).name if words else ""


def shell_blocks(text: str) -> list[tuple[int, str, list[Command]]]:
    """(line, info string, commands) of every fenced block: backslash continuations joined,
    a here-document kept whole with its command, comment lines dropped."""
    blocks, lines, i = [], text.splitlines(), 0
    while i < len(lines):
        opening = re.match(r"^```(\S*)\s*$", lines[i])
        if not opening:
            i += 1
            continue
        info, start, body = opening.group(1), i + 1, []
        i += 1
        while i < len(lines) and lines[i] != "```":
            body.append((i + 1, lines[i]))
            i += 1
        i += 1
        commands, j = [], 0
        while j < len(body):
            number, text_ = body[j]
            while text_.endswith("\\") and j + 1 < len(body):
                j += 1
                text_ = text_[:-1].rstrip() + " " + body[j][1].strip()
            heredoc = re.search(r"<<-?'?(\w+)'?", text_)
            if heredoc:
                while j + 1 < len(body):
                    j += 1
                    text_ += "\n" + body[j][1]
                    if body[j][1].strip() == heredoc.group(1):
                        break
            if text_.strip() and not text_.lstrip().startswith("#"):
                commands.append(Command(number, text_))
            j += 1
        blocks.append((start, info, commands))
    return blocks


def without_comments(text: str) -> str:
    """The command without its shell comments (a `#` at a word's start, outside quotes)."""
    kept = []
    for line in text.splitlines():
        quote, out = None, []
        for i, char in enumerate(line):
            if quote is None and char == "#" and (i == 0 or line[i - 1].isspace()):
                break
            if char in "'\"" and quote in (None, char):
                quote = None if quote == char else char
            out.append(char)
        kept.append("".join(out))
    return "\n".join(kept)


def readme_local_commands(text: str) -> list[Command]:
    """The local cloud's command lines, in the README's order; refuses a shell block that is
    not clearly the local cloud's or AWS's, and a command line in an untagged block."""
    local, problems = [], []
    for start, info, commands in shell_blocks(text):
        code = {c: without_comments(c.text) for c in commands}
        is_local = [c for c in commands if LOCAL.search(code[c])]
        is_aws = [c for c in commands if AWS.search(code[c]) and not LOCAL.search(code[c])]
        if info == "" and is_local:
            problems.append(f"line {start}: a local-cloud command in an untagged block; tag it "
                            "sh (it is then run) or text (it is output)")
        if info not in SHELL:
            continue
        if is_local and is_aws:
            problems.append(f"line {start}: a block with both local-cloud and AWS commands "
                            f"(line {is_aws[0].line}: {is_aws[0].text!r}); split it")
        elif not is_local and not is_aws:
            problems.append(f"line {start}: a shell block that is neither the local cloud's "
                            "nor AWS's; say which (see LOCAL and AWS in this test)")
        elif is_local:
            local += commands
    assert not problems, "README.md:\n" + "\n".join(problems)
    return local


def skipped_because(command: Command) -> str | None:
    words = shlex.split(command.text, comments=True) if "\n" not in command.text else []
    return next((why for line, why in NOT_RUN.items() if words == shlex.split(line)), None)


def printed_commands(output: str) -> list[Command]:
    return [Command(0, line.strip()) for line in output.splitlines()
            if PRINTED_COMMAND.match(line.strip())]


def version_of_curl() -> tuple[int, ...]:
    curl = shutil.which("curl")
    if curl is None:
        return ()
    first = subprocess.run([curl, "--version"], capture_output=True, text=True).stdout.split()
    return tuple(int(p) for p in first[1].split(".")[:2]) if len(first) > 1 else ()


def missing_tool(command: Command) -> str | None:
    """Why this machine cannot run the command (a tool the README asks for is missing)."""
    if command.program == "curl" and version_of_curl() < (7, 75):
        return f"curl 7.75 or later (--aws-sigv4) is needed; this machine has " \
               f"{'.'.join(map(str, version_of_curl())) or 'none'}"
    if command.program == "aws" and shutil.which("aws") is None:
        return "the AWS CLI is not on PATH"
    return None


# --- pure: the extraction itself ---------------------------------------------------------

def test_blocks_are_told_apart_and_a_new_unmarked_command_is_refused():
    text = "\n".join([
        "```sh", ".venv/bin/python -m localcloud deploy test", "```",
        "```sh", "pulumi up -s test", 'curl "$URL/users"', "```",
        "```sh", "URL=$(pulumi stack output stageUrl -s test)", "```",
        "```text", "curl --user AKIA...:... http://127.0.0.1:8080/test/users", "```",
        "```sh", "curl --aws-sigv4 x \\", "    http://127.0.0.1:8080/dev/users", "```",
        "```sh", ".venv/bin/python - <<'PY'  # terminal 2", "import localcloud", "PY",
        "echo done", "```"])
    commands = readme_local_commands(text)
    assert [(c.line, c.text) for c in commands] == [
        (2, ".venv/bin/python -m localcloud deploy test"),
        (15, "curl --aws-sigv4 x http://127.0.0.1:8080/dev/users"),
        (19, ".venv/bin/python - <<'PY'  # terminal 2\nimport localcloud\nPY"),
        (22, "echo done")]
    assert [c.program for c in commands] == ["python", "curl", "python", "echo"]
    for block, refusal in (
            ("```sh\ncurl http://example.com/users\n```", "line 1: a shell block that is "
             "neither the local cloud's nor AWS's"),
            ("```sh\npython -m promotion history --stack prod\n"
             "python -m localcloud deploy test\n```", "line 1: a block with both local-cloud "
             "and AWS commands \\(line 2"),
            ("```\ncurl http://127.0.0.1:8080/dev/users\n```", "line 1: a local-cloud command "
             "in an untagged block")):
        with pytest.raises(AssertionError, match=refusal):
            readme_local_commands(block)


def test_the_readme_has_local_cloud_commands_and_the_run_lines_are_recognised():
    commands = readme_local_commands(README.read_text())
    texts = [c.text for c in commands]
    for expected in (".venv/bin/python -m localcloud deploy test",
                     ".venv/bin/python -m promotion promote --from test --to prod --local",
                     ".venv/bin/python -m promotion rollback --stack prod --local",
                     ".venv/bin/python -m localcloud caller test"):
        assert expected in texts
    # Each line NOT_RUN names is one the README has (a stale entry would hide nothing).
    assert {" ".join(shlex.split(line)) for line in NOT_RUN} <= {
        " ".join(shlex.split(c.text, comments=True)) for c in commands if "\n" not in c.text}
    assert [skipped_because(c) is not None for c in commands].count(True) >= len(NOT_RUN)
    printed = printed_commands('  curl --aws-sigv4 "a" --user "k:s" http://h/dev/users\n'
                               "  .venv/bin/awscurl --service execute-api http://h/dev/users\n"
                               "  dev  http://127.0.0.1:1/dev/users\n"
                               "the deployer: profile 'deployer' in x/credentials: ...\n"
                               "(`python -m localcloud caller STACK` prints a stage's lines)\n")
    assert [c.program for c in printed] == ["curl", "awscurl"]


# --- the commands, run ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def user(tmp_path_factory):
    """A copy of the checkout (with promotion/, which the run does not need) and the
    environment of a user with AWS credentials of their own."""
    checkout = copy_checkout(tmp_path_factory.mktemp("readme"))
    shutil.copytree(REPO_ROOT / "promotion", checkout / "promotion",
                    ignore=shutil.ignore_patterns("__pycache__"))
    home = tmp_path_factory.mktemp("home")
    (home / ".aws").mkdir()
    (home / ".aws" / "credentials").write_text("".join(
        f"[{p}]\naws_access_key_id = AKIAI44QH8DHBEXAMPLE\n"
        f"aws_secret_access_key = je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY\n"
        for p in ("default", "dev", "test", "prod", "deployer")))
    (home / ".aws" / "config").write_text("[default]\nregion = eu-west-1\n")
    (home / ".curlrc").write_text('silent\nshow-error\nwrite-out = "\\n%{http_code}"\n')
    venv_bin = str((REPO_ROOT / ".venv" / "bin").resolve())
    path = os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep)
                           if p and ".venv" not in p and Path(p).resolve() != Path(venv_bin))
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AWS_", "CURL_", "XDG_CONFIG")) and k != "VIRTUAL_ENV"}
    env.update(THEIR_KEYS, HOME=str(home), PATH=path,
               AWS_SHARED_CREDENTIALS_FILE=str(home / ".aws" / "credentials"))
    return checkout, env


@dataclass
class Ran:
    command: Command
    code: int
    out: str
    err: str


def run(command: Command, checkout: Path, env: dict, ports: dict[str, str]) -> Ran:
    text = command.text
    for placeholder, actual in ports.items():
        text = text.replace(placeholder, actual)
    done = subprocess.run(["bash", "-c", text], cwd=checkout, env=env, capture_output=True,
                          text=True, timeout=300)
    return Ran(command, done.returncode, done.stdout, done.stderr)


def problems_of(ran: Ran) -> list[str]:
    where = f"README line {ran.command.line}" if ran.command.line else "printed"
    said = f"\n  {ran.command.text}\n  stdout: {ran.out[-2000:]}\n  stderr: {ran.err[-2000:]}"
    problems = []
    if ran.code != 0:
        problems.append(f"{where}: exited {ran.code}{said}")
    if "Traceback" in ran.out + ran.err:
        problems.append(f"{where}: printed a traceback{said}")
    if ran.command.program == "curl" and ran.out.rpartition("\n")[2] != "200":
        problems.append(f"{where}: curl got HTTP {ran.out.rpartition(chr(10))[2]!r}{said}")
    if ran.command.program == "awscurl":
        try:
            page = json.loads(ran.out)
        except ValueError:
            page = None
        if not isinstance(page, dict) or set(page) != {"items", "nextToken"}:
            problems.append(f"{where}: awscurl did not get a page of users{said}")
    return problems


def test_every_local_cloud_command_of_the_readme_and_every_printed_line_works(user):
    checkout, env = user
    commands = readme_local_commands(README.read_text())
    cloud = RunningCloud.tasks_run(checkout)
    ran: list[Ran] = []
    not_run: list[str] = []
    try:
        gateway = cloud.wait_serving()
        emulator = EMULATOR_LINE.search(cloud.wait_for("AWS emulator on")).group(1)
        ports = {"127.0.0.1:8080": gateway.removeprefix("http://"),
                 "127.0.0.1:PORT": f"127.0.0.1:{emulator}"}
        queue = printed_commands("\n".join(cloud.lines))
        up_printed = list(queue)
        for command in commands:
            if skipped_because(command):
                continue
            queue.append(command)
            while queue:
                next_ = queue.pop(0)
                missing = missing_tool(next_)
                if missing:
                    not_run.append(f"{next_.text} ({missing})")
                    continue
                ran.append(run(next_, checkout, env, ports))
                if next_.line:  # what a README command prints is run after it
                    queue = printed_commands(ran[-1].out) + queue
    finally:
        cloud.stop()
    problems = [p for r in ran for p in problems_of(r)]
    assert not problems, "\n".join(problems)
    # The run command's own lines: a curl and an awscurl line per stage.
    assert sorted(c.program for c in up_printed) == ["awscurl"] * 3 + ["curl"] * 3
    done = [r.command.text for r in ran]
    for expected in ("--smoke-profile deployer --local", "-m promotion history --stack prod",
                     "-m localcloud caller test", "iam attach-user-policy",
                     "--connect-to api-test.example.com:80:127.0.0.1:"):
        assert any(expected in text for text in done) or not_run, expected
    if not_run:
        pytest.skip("ran the others; not run for lack of a tool:\n" + "\n".join(not_run))
