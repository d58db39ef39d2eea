"""Who signed a request to the emulator, and what their identity policies say: read from
moto's IAM and STS backends in this process, the very objects moto's handlers read.

Three kinds of signer:

- the local cloud itself: a key that exists only in this process's memory (never in
  moto's IAM, never in a file or a worker's environment), so a reset of moto's state
  cannot lock the local cloud out of its own emulator;
- an IAM user's access key (the deployer, a stage's caller, any user made in the
  emulator);
- a temporary key that moto's STS ``AssumeRole`` issued for a role, used with its
  session token and before it expires (a function worker's credentials, as Lambda
  gives them).

The local cloud itself and the deployer (user ``localcloud-deployer``) have full rights;
every other signer has what its identity policies allow.

Lookups are cached per key and checked against moto's objects on every use (the same
backend, key, user or session object still in place, the key still active, the session
unexpired), so a reset, a deleted user or key, or a deactivated key is seen at once.
Policies are read on every request; only their parsing is cached, by their text.
"""
from __future__ import annotations

import datetime
import functools
import hmac
import json
import os
import threading
from dataclasses import dataclass, field
from typing import Any, Iterable
from urllib.parse import unquote

# The IAM user the emulator gives full rights: the local cloud's deployer, whose key
# localcloud.iam.callers makes on each start and writes to profile `deployer`.
DEPLOYER_USER = "localcloud-deployer"

LOCAL_CLOUD = "local-cloud"
USER = "user"
ASSUMED_ROLE = "assumed-role"


def as_document(document: Any) -> dict:
    """A policy document as a dict, whether moto/boto3 gave a dict, JSON or URL-encoded JSON."""
    if isinstance(document, (str, bytes)):
        text = document.decode() if isinstance(document, bytes) else document
        try:
            return json.loads(text)
        except ValueError:
            return json.loads(unquote(text))  # IAM returns URL-encoded documents
    return dict(document)


@functools.lru_cache(maxsize=1024)
def _parsed(text: str) -> dict:
    # Shared between requests: the evaluator only reads documents.
    return as_document(text)


def parsed_documents(documents: Iterable[Any]) -> list[dict]:
    """Policy documents parsed once per distinct text (a changed policy is a new text)."""
    return [_parsed(d) if isinstance(d, str) else as_document(d) for d in documents]


# --- policy documents, as IAM attaches them -----------------------------------------------

def _managed_documents(iam, holder) -> list[Any]:
    documents = []
    for managed in sorted(list(holder.managed_policies.values()), key=lambda p: p.arn):
        policy = iam.get_policy(managed.arn)
        documents.append(iam.get_policy_version(managed.arn, policy.default_version_id).document)
    return documents


def user_policy_documents(iam, user) -> list[Any]:
    """The user's inline and attached policies, then each of its groups' (raw documents)."""
    documents: list[Any] = []
    for holder in [user, *iam.get_groups_for_user(user.name)]:
        documents.extend(list(holder.policies.values()))
        documents.extend(_managed_documents(iam, holder))
    return documents


def role_policy_documents(iam, role) -> list[Any]:
    """The role's inline, then attached managed, policies (raw documents)."""
    documents = [doc for _, doc in list(role.policies.items())]
    attached = sorted((p for p in list(role.managed_policies.values())
                       if p.path.startswith("/")), key=lambda p: p.name)
    for managed in attached:
        policy = iam.get_policy(managed.arn)
        documents.append(iam.get_policy_version(managed.arn, policy.default_version_id).document)
    return documents


# --- the signer ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Principal:
    """Whoever holds an access key, as IAM knows them."""
    kind: str                 # LOCAL_CLOUD, USER or ASSUMED_ROLE
    access_key_id: str
    secret_access_key: str
    account: str
    arn: str                  # the user's or the assumed role's (sts) ARN
    name: str                 # user name, or role name
    user_id: str              # AIDA..., or AROA...:session
    role_arn: str | None = None
    session_token: str | None = None
    session_policy: str | None = None  # AssumeRole's Policy parameter, if any
    expiration: datetime.datetime | None = None  # naive UTC, as moto keeps it
    _holder: Any = field(default=None, repr=False, compare=False)   # moto's User / AssumedRole
    _iam: Any = field(default=None, repr=False, compare=False)

    @property
    def administrator(self) -> bool:
        return self.kind == LOCAL_CLOUD or (self.kind == USER and self.name == DEPLOYER_USER)

    def context(self, source_ip: str) -> dict[str, Any]:
        """The global condition keys IAM sets for this signer's request."""
        context = {"aws:userid": self.user_id, "aws:PrincipalAccount": self.account,
                   "aws:PrincipalArn": self.role_arn or self.arn,
                   "aws:PrincipalType": "AssumedRole" if self.kind == ASSUMED_ROLE else "User",
                   "aws:SourceIp": source_ip, "aws:SecureTransport": "false"}
        if self.kind == USER:
            context["aws:username"] = self.name
        return context


class Expired(Exception):
    """A temporary key whose session has expired."""


def _moto_account(access_key_id: str) -> str:
    # As moto's handlers pick the account of a request (BaseResponse.get_current_account).
    from moto.iam.models import get_account_id_from

    return os.environ.get("MOTO_ACCOUNT_ID") or get_account_id_from(access_key_id)


def _utcnow() -> datetime.datetime:
    from moto.core.utils import utcnow

    return utcnow()


class Identities:
    """The signers the emulator knows: the local cloud's own key, and moto's IAM and STS."""

    def __init__(self, local_cloud_key: tuple[str, str]) -> None:
        self._local_key_id, self._local_secret = local_cloud_key
        self._cache: dict[str, tuple] = {}
        self._lock = threading.Lock()

    def principal(self, access_key_id: str) -> Principal | None:
        """Who holds this key now; None for a key nobody holds. Raises Expired for a
        temporary key past its expiry."""
        if hmac.compare_digest(access_key_id.encode(), self._local_key_id.encode()):
            return Principal(LOCAL_CLOUD, access_key_id, self._local_secret,
                             _moto_account(access_key_id), "", "local cloud", "local-cloud")
        cached = self._cache.get(access_key_id)
        if cached is not None and _still_valid(access_key_id, *cached):
            principal = cached[-1]
        else:
            principal = self._look_up(access_key_id)
        if principal is not None and principal.expiration is not None \
                and principal.expiration <= _utcnow():
            raise Expired(access_key_id)
        return principal

    def _look_up(self, key_id: str) -> Principal | None:
        from moto.iam.models import iam_backends
        from moto.sts.models import sts_backends

        for account_id, account in list(iam_backends.items()):
            for partition in _partitions():
                backend = account[partition]
                key = backend.access_keys.get(key_id)
                if key is None:
                    continue
                if key.user_name is not None:
                    user = backend.users.get(key.user_name)
                    # moto keeps a deleted user's keys; IAM honours only a user's own.
                    if user is None or key.status != "Active" \
                            or all(k is not key for k in user.access_keys):
                        return None
                    principal = Principal(USER, key_id, key.secret_access_key, account_id,
                                          user.arn, user.name, user.id, _holder=user,
                                          _iam=backend)
                else:
                    session = next((s for s in list(sts_backends[account_id][partition]
                                                    .assumed_roles)
                                    if s.access_key_id == key_id), None)
                    if session is None:
                        return None
                    principal = Principal(
                        ASSUMED_ROLE, key_id, session.secret_access_key, account_id,
                        session.arn, session.role_arn.rsplit("/", 1)[-1], session.user_id,
                        role_arn=session.role_arn, session_token=session.session_token,
                        session_policy=session.policy or None, expiration=session.expiration,
                        _holder=session, _iam=backend)
                with self._lock:
                    if len(self._cache) > 10_000:  # a long run's many worker sessions
                        self._cache.clear()
                    self._cache[key_id] = (partition, backend, key, principal)
                return principal
        return None

    @staticmethod
    def policies(principal: Principal) -> list[dict]:
        """The signer's identity policies as IAM reads them now (parsed documents)."""
        iam = principal._iam
        if principal.kind == USER:
            user = iam.users.get(principal.name)
            return parsed_documents(user_policy_documents(iam, user)) if user else []
        if principal.kind == ASSUMED_ROLE:
            role = next((r for r in list(iam.roles.values()) if r.arn == principal.role_arn),
                        None)
            return parsed_documents(role_policy_documents(iam, role)) if role else []
        return []


def _still_valid(key_id: str, partition: str, backend, key, principal: Principal) -> bool:
    """Whether a remembered lookup still holds: moto's same backend (no reset since), the
    same key object in it, and for a user, the same user holding it, still active."""
    from moto.iam.models import iam_backends

    if principal.account not in iam_backends \
            or iam_backends[principal.account][partition] is not backend \
            or backend.access_keys.get(key_id) is not key:
        return False
    if principal.kind == USER:
        user = principal._holder
        return (key.status == "Active" and backend.users.get(principal.name) is user
                and any(k is key for k in user.access_keys))
    return True  # moto never ends a session early; its expiry is checked on every use


def _partitions() -> list[str]:
    from moto.utilities.utils import PARTITION_NAMES

    return PARTITION_NAMES


def temporary_key_active(access_key_id: str) -> bool:
    """Whether moto still holds this temporary key (issued by its STS), unexpired: false
    after a reset of moto's state, or once the session expired."""
    from moto.iam.models import iam_backends
    from moto.sts.models import sts_backends

    for account_id, account in list(iam_backends.items()):
        for partition in _partitions():
            key = account[partition].access_keys.get(access_key_id)
            if key is None or key.user_name is not None:
                continue
            session = next((s for s in list(sts_backends[account_id][partition].assumed_roles)
                            if s.access_key_id == access_key_id), None)
            return session is not None and session.expiration > _utcnow()
    return False
