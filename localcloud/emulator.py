"""moto's AWS emulator on 127.0.0.1, and boto3 clients that talk to it.

moto keeps its backends in module-level state, so every emulator started in one
process shares the same accounts and resources; use ``Emulator.reset()`` to wipe them.
"""
from __future__ import annotations

import logging
import socket
import threading
import urllib.request

import boto3
from moto.server import ThreadedMotoServer

ACCOUNT_ID = "123456789012"
REGION = "us-east-1"
HOST = "127.0.0.1"
# moto accepts any credentials; these keep boto3 from looking for real ones.
FAKE_ACCESS_KEY_ID = "testing"
FAKE_SECRET_ACCESS_KEY = "testing"
FAKE_SESSION_TOKEN = "testing"


def fake_credentials_env(endpoint_url: str, region: str = REGION) -> dict[str, str]:
    """Environment variables that point boto3 in a child process at the emulator."""
    return {
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_ACCESS_KEY_ID": FAKE_ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": FAKE_SECRET_ACCESS_KEY,
        "AWS_SESSION_TOKEN": FAKE_SESSION_TOKEN,
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
    }


# One boto3 session serves every client: building a Session (and its loaders' service
# data) costs ~60 ms, a client from a warm session a few. Sessions are not thread-safe
# for client creation, hence the lock; the clients themselves are.
_session: boto3.session.Session | None = None
_clients: dict[tuple[str, str, str], object] = {}
_clients_lock = threading.Lock()


def _shared_session() -> boto3.session.Session:
    global _session
    if _session is None:
        _session = boto3.session.Session(
            aws_access_key_id=FAKE_ACCESS_KEY_ID,
            aws_secret_access_key=FAKE_SECRET_ACCESS_KEY,
            aws_session_token=FAKE_SESSION_TOKEN,
            region_name=REGION,
        )
    return _session


def make_client(service: str, endpoint_url: str, region: str = REGION):
    """A boto3 client for ``service`` bound to the emulator, with fake credentials.

    Clients come from this module's own session (never the process's default session,
    its profile or its environment credentials) and are shared per (service, endpoint,
    region): callers must not change a client's event hooks.
    """
    key = (service, endpoint_url, region)
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            client = _clients[key] = _shared_session().client(
                service, endpoint_url=endpoint_url, region_name=region)
        return client


class PortInUse(OSError):
    """A port the local cloud was asked to listen on is taken; the message names it."""


def _check_port_free(host: str, port: int) -> None:
    # ThreadedMotoServer.start() waits forever if its server cannot bind, so fail early.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError as err:
            raise PortInUse(
                f"cannot start the AWS emulator on {host}:{port}: {err.strerror or err}; "
                "choose another port, or port 0 for a free one"
            ) from err


class Emulator:
    """moto's server in a background thread. ``port=0`` picks a free port."""

    def __init__(self, host: str = HOST, port: int = 0, *, quiet: bool = True,
                 region: str = REGION) -> None:
        self.host = host
        self.requested_port = port
        self.region = region
        self.quiet = quiet
        self._server: ThreadedMotoServer | None = None
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
        if self.quiet:
            # werkzeug logs every request at INFO on this logger; it keeps a level set here.
            logging.getLogger("werkzeug").setLevel(logging.WARNING)
        if self.requested_port:
            _check_port_free(self.host, self.requested_port)
        server = ThreadedMotoServer(ip_address=self.host, port=self.requested_port,
                                    verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        self._server = server
        self._endpoint_url = f"http://{host}:{port}"
        return self._endpoint_url

    def stop(self) -> None:
        server, self._server = self._server, None
        self._endpoint_url = None
        if server is not None:
            server.stop()

    def reset(self) -> None:
        """Wipe every resource in moto (all emulators of this process share them)."""
        request = urllib.request.Request(f"{self.endpoint_url}/moto-api/reset", method="POST",
                                         data=b"")
        with urllib.request.urlopen(request, timeout=30) as response:
            response.read()

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
