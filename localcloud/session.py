"""A running local cloud: the emulator, the gateway in front of it, the deploys of every
stack of the real program into it, and its deployer (an IAM user with a new key each time
the cloud starts, profile `deployer` in the state directory's credentials file).

One local cloud runs per state directory (so per checkout): it holds the directory's lock
from before it touches anything until it has stopped, so a second one refuses to start
and leaves the first one's state alone."""
from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

from infra.config import FIELD_KEYS, PROJECT
from localcloud.engine.deployer import DeployResult, deploy_stack
from localcloud.emulator import ACCOUNT_ID, HOST, Emulator, PortInUse, make_client
from localcloud.apigateway.canary_store import keep_canary_settings_as_api_gateway_does
from localcloud.apigateway.domain_store import keep_domain_mappings_as_api_gateway_does
from localcloud.apigateway.gateway import Gateway
from localcloud.awslambda.invoker import Invoker
from localcloud.awslambda.qualified_policies import remove_permissions_per_qualifier
from localcloud.awslambda.versions import number_versions_as_lambda_does
from localcloud.kinds import Cloud, DeployError
from localcloud.engine.stackfiles import known_stacks, read_stack_config
from localcloud.engine.state import DEFAULT_STATE_DIR, AlreadyRunning, Session, StateStore
from localcloud.iam.callers import DEPLOYER_PROFILE, make_deployer, stage_credentials

DEFAULT_GATEWAY_PORT = 8080
# What a new local cloud keeps of the last one's config overrides: promotion's record
# (pins, canary pin, history). The rest named things of the old emulator (a hosted zone,
# a certificate) or was set for one run.
PINNED = ("promoted_deployment_id", "promoted_code_hash", "promoted_function_version",
          "canary_deployment_id", "canary_code_hash", "canary_percent", "canary_started_at")
PROMOTION_KEYS = frozenset(FIELD_KEYS[f] for f in (*PINNED, "deployment_history"))

log = logging.getLogger("localcloud.session")


def deploy_order(stacks: list[str]) -> list[str]:
    """The stack that owns the shared API first (the others reference it), then the
    rest, production last."""
    def rank(stack: str) -> tuple:
        config = read_stack_config(stack)
        return (config.get(f"{PROJECT}:apiOwner") != "true",
                config.get(f"{PROJECT}:production") == "true", stack)
    return sorted(stacks, key=rank)


def region_of(stack: str) -> str:
    return read_stack_config(stack).get("aws:region") or "us-east-1"


class LocalCloud:
    """Starts everything on 127.0.0.1; `stop()` (or the context manager) ends it."""

    def __init__(self, state_dir: Path = DEFAULT_STATE_DIR, gateway_port: int = DEFAULT_GATEWAY_PORT,
                 emulator_port: int = 0) -> None:
        self.store = StateStore(state_dir)
        self.gateway_port = gateway_port
        self.emulator = Emulator(port=emulator_port)
        self.invoker: Invoker | None = None
        self.gateway: Gateway | None = None
        self._warming: list[threading.Thread] = []

    def start(self) -> "LocalCloud":
        if not self.store.lock.acquire():
            raise AlreadyRunning(already_running_message(self.store))
        try:
            number_versions_as_lambda_does()  # moto's server runs in this process
            keep_domain_mappings_as_api_gateway_does()
            keep_canary_settings_as_api_gateway_does()
            remove_permissions_per_qualifier()
            endpoint = self.emulator.start()
            self.emulator.reset()  # moto's backends are per process, shared by its servers
            region = region_of(deploy_order(known_stacks())[0])
            self.invoker = Invoker(endpoint, self.store.dir, region=region)
            self.gateway = Gateway(endpoint, self.store.dir, self.invoker,
                                   port=self.gateway_port, region=region)
            self._start_gateway()
            # Only now, holding the lock and both ports: a new emulator is empty, so is
            # the state that describes it; the config overrides (promotion's) stay.
            self.store.clear(keep_config_keys=PROMOTION_KEYS)
            # A new key for each run: profile `deployer`, in the state before it is
            # announced as running.
            make_deployer(self.emulator, self.store.dir)
            self.store.save_session(Session(endpoint_url=endpoint, gateway_url=self.gateway.url,
                                            pid=os.getpid()))
        except BaseException:
            self.stop()
            raise
        return self

    def reset(self) -> None:
        """Forget every deployed stack, as a fresh start would (an empty emulator, no
        state), but keep this cloud's lock, ports and warm processes."""
        self.emulator.reset()
        self.store.clear()
        make_deployer(self.emulator, self.store.dir)
        self.store.save_session(Session(endpoint_url=self.emulator.endpoint_url,
                                        gateway_url=self.gateway.url, pid=os.getpid()))

    def _start_gateway(self) -> None:
        try:
            self.gateway.start()
        except OSError as err:
            raise PortInUse(f"cannot serve the gateway on {HOST}:{self.gateway_port}: "
                            f"{err.strerror or err}; pass another port with --port N "
                            "(--port 0 picks a free one)") from None

    @property
    def url(self) -> str:
        return self.gateway.url

    def cloud(self, stack: str) -> Cloud:
        return cloud_for(stack, self.store.load_session(), self.store)

    def deploy(self, stack: str, config_overrides: dict[str, str] | None = None) -> DeployResult:
        return deploy_stack(stack, self.cloud(stack), self.store, config_overrides)

    def deploy_all(self, on_deployed=lambda result: None,
                   on_note=lambda line: None, warm: bool = False) -> list[DeployResult]:
        """Every stack, the API owner first; `on_deployed` hears of each as it is done,
        `on_note` of promotion pins set aside (see `stale_promotion`). With `warm`, each
        stage's function gets a worker started as soon as its stack is deployed (see
        `warm`)."""
        results = []
        for stack in deploy_order(known_stacks()):
            aside = self.stale_promotion(stack)
            if aside:
                on_note(f"{stack}: its pins in {self.store.dir / 'config' / f'{stack}.json'} "
                        f"name deployment {aside[FIELD_KEYS['promoted_deployment_id']]}, which "
                        "this local cloud does not have (it started empty): it serves its own "
                        "checkout. The pins are kept; promote to it again to pin it here")
            results.append(self.deploy(stack, {key: "" for key in aside}))
            if warm:
                self.warm(results[-1])
            on_deployed(results[-1])
        return results

    def warm(self, result: DeployResult) -> None:
        """Start, in the background, a worker for the function alias a deployed stage
        serves (`functionName`:`functionAlias`, its stage variable), so its first request
        does not wait for one: worker processes start on another core while the next
        stacks deploy. Each is the worker that request would start (Invoker.warm)."""
        name, alias = result.outputs.get("functionName"), result.outputs.get("functionAlias")
        if not name or self.invoker is None:
            return
        function, invoker = f"{name}:{alias}" if alias else name, self.invoker

        def start() -> None:
            try:
                invoker.warm(function)
            except Exception as err:  # noqa: BLE001 -- the first request starts one instead
                log.info("%s: no worker started ahead of its first request: %s", function, err)
        thread = threading.Thread(target=start, name=f"warm-{function}", daemon=True)
        self._warming.append(thread)
        thread.start()

    def stale_promotion(self, stack: str) -> dict[str, str]:
        """The promotion keys of a stack's kept overrides whose pinned deployment the
        running emulator does not have (a restart starts it empty), else {}. Deployed
        set aside (as Pulumi.yaml's empty defaults), they stay in the file."""
        overrides = self.store.config_overrides(stack)
        pinned = overrides.get(FIELD_KEYS["promoted_deployment_id"])
        if not pinned:
            return {}
        apigw = self.cloud(stack).client("apigateway")
        known = {item["id"] for api in apigw.get_rest_apis().get("items", [])
                 for item in apigw.get_deployments(restApiId=api["id"]).get("items", [])}
        if pinned in known:
            return {}
        return {FIELD_KEYS[f]: overrides[FIELD_KEYS[f]] for f in PINNED
                if FIELD_KEYS[f] in overrides}

    def stop(self) -> None:
        gateway, self.gateway = self.gateway, None
        if gateway is not None:
            gateway.stop()
        warming, self._warming = self._warming, []
        for thread in warming:  # a worker being started is stopped with the others
            thread.join()
        invoker, self.invoker = self.invoker, None
        if invoker is not None:
            invoker.close()
        self.emulator.stop()
        if self.store.lock.held:  # never another cloud's session
            self.store.remove_session()
            self.store.lock.release()

    def __enter__(self) -> "LocalCloud":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()


def already_running_message(store: StateStore) -> str:
    pid = store.lock.holder() or "unknown"  # 0: it has not written its pid yet
    session = store.load_session()
    where = (f", gateway on {session.gateway_url}" if session and session.pid == pid
             else ", still starting")
    return (f"a local cloud is already running with the state in {store.dir} (pid {pid}{where}); "
            f"use that one, or stop it first (Ctrl-C in its terminal, or `kill {pid}`)")


def cloud_for(stack: str, session: Session | None, store: StateStore,
              credentials=None) -> Cloud:
    """The Cloud a stack deploys into; its clients sign with ``credentials`` (None: as the
    local cloud itself, in the process that runs it)."""
    if session is None:
        raise DeployError("no local cloud is running; start one with `python3 tasks.py run` "
                          "and run this command from another terminal")
    return Cloud(endpoint_url=session.endpoint_url, region=region_of(stack),
                 account_id=ACCOUNT_ID, state_dir=store.dir, gateway_url=session.gateway_url,
                 credentials=credentials)


def running_cloud(stack: str, state_dir: Path = DEFAULT_STATE_DIR) -> tuple[Cloud, StateStore]:
    """The Cloud of a local cloud started by another process (`localcloud up`), signed as
    its deployer (the profile it wrote when it started)."""
    store = StateStore(state_dir)
    store.check()
    # A session file whose process is gone (it was killed) describes no running cloud.
    session = store.load_session() if store.lock.holder() is not None else None
    deployer = stage_credentials(store.dir, DEPLOYER_PROFILE) if session is not None else None
    if session is not None and deployer is None:
        raise DeployError(f"the local cloud recorded in {store.dir / 'session.json'} left no "
                          f"{DEPLOYER_PROFILE!r} profile in {store.dir / 'credentials'}; start "
                          "it again with `python3 tasks.py run`")
    cloud = cloud_for(stack, session, store, deployer)
    try:
        make_client("sts", cloud.endpoint_url, cloud.region, deployer).get_caller_identity()
    except Exception:  # noqa: BLE001 -- any failure means the same thing to the user
        raise DeployError(f"the local cloud recorded in {store.dir / 'session.json'} does not "
                          "answer; start it again with `python3 tasks.py run`") from None
    return cloud, store
