"""moto's AWS emulator on 127.0.0.1, behind the front check, and boto3 clients that talk
to it.

Every request to the emulator's port passes :class:`localcloud.emulator_auth.FrontCheck`
first: signed (SigV4) by a key the emulator knows, and allowed by the signer's IAM
policies, as on AWS. moto's own routes (``/moto-api``: reset, dashboard, data) are
refused over HTTP; ``Emulator.reset()`` resets moto in process instead.

The local cloud's own clients (this module's :func:`make_client` without credentials)
sign as the local cloud itself: a key made once per process and held only in its memory.
It has the deployer's full rights, but no outside client can hold it: it is in no file,
no worker's environment, and not in moto's IAM, so resetting moto (which deletes every
IAM user, the deployer included) cannot lock the local cloud out. Another process (the
CLI, the promotion tool) signs as the deployer, with its profile in the credentials file.

moto keeps its backends in module-level state, so every emulator started in one
process shares the same accounts and resources; use ``Emulator.reset()`` to wipe them.
"""
from __future__ import annotations

import logging
import secrets
import socket
import string
import threading
from urllib.parse import urlsplit

import boto3
from botocore.credentials import Credentials

from localcloud.emulator_auth import FrontCheck

ACCOUNT_ID = "123456789012"
REGION = "us-east-1"
HOST = "127.0.0.1"

_LOOPBACK = {"127.0.0.1", "localhost", "::1"}
_ANY_ADDRESS = {"0.0.0.0", "::", ""}


class PortInUse(OSError):
    """A port the local cloud was asked to listen on is taken; the message names it."""


def _check_port_free(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError as err:
            raise PortInUse(
                f"cannot start the AWS emulator on {host}:{port}: {err.strerror or err}; "
                "choose another port, or port 0 for a free one"
            ) from err


class NoCredentials(Exception):
    """A client for an emulator that this process does not run, without credentials."""


# --- the local cloud's own identity -------------------------------------------------------

_local_cloud: Credentials | None = None
_local_cloud_lock = threading.Lock()


def local_cloud_credentials() -> Credentials:
    """The local cloud's own key: made once per process, never written anywhere. Its id
    looks like an IAM key (20 letters and digits) because moto reads ids of that shape."""
    global _local_cloud
    with _local_cloud_lock:
        if _local_cloud is None:
            alphabet = string.ascii_uppercase + string.digits
            key_id = "AKIA" + "".join(secrets.choice(alphabet) for _ in range(16))
            _local_cloud = Credentials(key_id, secrets.token_urlsafe(30))
        return _local_cloud


# --- emulators of this process ------------------------------------------------------------

_running: dict[tuple[str, int], "Emulator"] = {}
_running_lock = threading.Lock()


def in_process(endpoint_url: str) -> "Emulator | None":
    """The emulator of this process that serves ``endpoint_url``, if one does."""
    url = urlsplit(endpoint_url)
    if url.scheme != "http" or url.hostname not in _LOOPBACK or url.port is None:
        return None
    with _running_lock:
        for (host, port), emulator in _running.items():
            if port == url.port and (host == url.hostname or host in _ANY_ADDRESS
                                     or (url.hostname == "localhost" and host in _LOOPBACK)):
                return emulator
    return None


# --- clients ------------------------------------------------------------------------------

# One boto3 session serves every client: building a Session (and its loaders' service
# data) costs ~60 ms, a client from a warm session a few. Sessions are not thread-safe
# for client creation, hence the lock; the clients themselves are.
_session: boto3.session.Session | None = None
_clients: dict[tuple, object] = {}
_clients_lock = threading.Lock()


def _shared_session() -> boto3.session.Session:
    global _session
    if _session is None:
        _session = boto3.session.Session(region_name=REGION)
    return _session


def make_client(service: str, endpoint_url: str, region: str = REGION,
                credentials: Credentials | None = None):
    """A boto3 client for ``service`` bound to the emulator.

    It signs with ``credentials`` (e.g. the deployer's, for an emulator that another
    process runs), else as the local cloud itself when this process runs the emulator at
    ``endpoint_url`` (NoCredentials otherwise). Clients come from this module's own
    session and are shared per (service, endpoint, region, credentials): callers must not
    change a client's event hooks.
    """
    if credentials is None:
        if in_process(endpoint_url) is None:
            raise NoCredentials(
                f"the AWS emulator at {endpoint_url} is not this process's: sign as the local "
                "cloud's deployer (profile `deployer` of its credentials file)")
        credentials = local_cloud_credentials()
    frozen = credentials.get_frozen_credentials()
    key = (service, endpoint_url, region, frozen.access_key, frozen.secret_key, frozen.token)
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            client = _clients[key] = _shared_session().client(
                service, endpoint_url=endpoint_url, region_name=region,
                aws_access_key_id=frozen.access_key, aws_secret_access_key=frozen.secret_key,
                aws_session_token=frozen.token)
        return client


# --- the emulator -------------------------------------------------------------------------

def _one_model_loader_for_moto() -> None:
    """moto loads each service's botocore model (on the first request to the service, and
    for the front check) with a Loader of its own, and a new Loader first lists every
    service botocore has data for (hundreds of directories). Give moto one Loader, as a
    botocore session shares one between its clients: the same files, read the same way."""
    from moto.core import utils as moto_utils

    if getattr(moto_utils.create_loader, "shared", False):
        return
    loader = moto_utils.create_loader()

    def create_loader():
        return loader
    create_loader.shared = True
    moto_utils.create_loader = create_loader


# Seconds a connection to the emulator may send (or take) nothing before it is closed,
# as the gateway's channel_timeout: werkzeug gives each connection a thread, which a
# silent client would otherwise hold for ever.
IDLE_TIMEOUT = 30.0


def _handler_with_timeout(seconds: float):
    """werkzeug's request handler with a timeout on each read and write of its socket
    (socketserver.StreamRequestHandler.setup applies ``timeout``); werkzeug drops a
    connection whose read times out, in the request head or in the body."""
    from werkzeug.serving import WSGIRequestHandler

    return type("EmulatorRequestHandler", (WSGIRequestHandler,), {"timeout": seconds})


class Emulator:
    """moto's server, behind the front check, in a background thread. ``port=0`` picks a
    free port."""

    def __init__(self, host: str = HOST, port: int = 0, *, quiet: bool = True,
                 region: str = REGION, idle_timeout: float = IDLE_TIMEOUT) -> None:
        self.host = host
        self.idle_timeout = idle_timeout
        self.requested_port = port
        self.region = region
        self.quiet = quiet
        self._server = None
        self._thread: threading.Thread | None = None
        self._endpoint_url: str | None = None

    @property
    def endpoint_url(self) -> str:
        if self._endpoint_url is None:
            raise RuntimeError("the emulator is not running; call start() first")
        return self._endpoint_url

    @property
    def port(self) -> int:
        return int(self.endpoint_url.rsplit(":", 1)[1])

    def start(self) -> str:
        """Start the server; returns its endpoint URL, e.g. ``http://127.0.0.1:50123``."""
        if self._server is not None:
            return self.endpoint_url
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
        from werkzeug.serving import make_server

        if self.quiet:
            # werkzeug logs every request at INFO on this logger; it keeps a level set here.
            logging.getLogger("werkzeug").setLevel(logging.WARNING)
        _one_model_loader_for_moto()
        credentials = local_cloud_credentials()
        app = FrontCheck(DomainDispatcherApplication(create_backend_app),
                         (credentials.access_key, credentials.secret_key))
        if self.requested_port:
            _check_port_free(self.host, self.requested_port)
        # Binds now, as moto's ThreadedMotoServer does (werkzeug exits the process on a
        # port taken meanwhile: the check above names the port first).
        server = make_server(self.host, self.requested_port, app, threaded=True,
                             request_handler=_handler_with_timeout(self.idle_timeout))
        host, port = server.server_address[:2]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, daemon=True,
                                        name=f"aws-emulator-{port}")
        self._thread.start()
        self._endpoint_url = f"http://{host}:{port}"
        with _running_lock:
            _running[(host, port)] = self
        return self._endpoint_url

    def stop(self) -> None:
        server, self._server = self._server, None
        thread, self._thread = self._thread, None
        self._endpoint_url = None
        if server is None:
            return
        with _running_lock:
            for key, emulator in list(_running.items()):
                if emulator is self:
                    del _running[key]
        server.shutdown()
        if thread is not None:
            thread.join()
        server.server_close()

    def reset(self) -> None:
        """Wipe every resource in moto (all emulators of this process share them), in
        process: moto's reset route is refused over HTTP."""
        from moto.moto_api._internal.models import moto_api_backend

        moto_api_backend.reset()  # what moto's POST /moto-api/reset runs

    def client(self, service: str):
        return make_client(service, self.endpoint_url, self.region)

    def __enter__(self) -> "Emulator":
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()


def start_emulator(port: int = 0, host: str = HOST) -> Emulator:
    """Start an emulator and return it (call ``.stop()`` when done)."""
    emulator = Emulator(host=host, port=port)
    emulator.start()
    return emulator
