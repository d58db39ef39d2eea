"""Function archives, by their Lambda CodeSha256 (base64 of the zip's SHA-256): moto
stores the code but cannot run it, and the invoker needs the bytes back.

Layout: ``{state_dir}/archives/{filename-safe CodeSha256}.zip``.
"""
from __future__ import annotations

import base64
import os
from pathlib import Path

from infra import archive
from localcloud.atomic import write_atomic


def code_sha256(zip_bytes: bytes) -> str:
    """The CodeSha256 Lambda reports for this archive: base64 of its SHA-256 digest."""
    return archive.lambda_code_sha256(archive.code_hash(zip_bytes))


def _archive_name(sha: str) -> str:
    # base64 may hold "/" and "+": use the URL-safe alphabet for the file name.
    try:
        raw = base64.b64decode(sha, validate=True)
    except (ValueError, TypeError) as err:
        raise ValueError(f"not a CodeSha256 (base64 of a SHA-256 digest): {sha!r}") from err
    if len(raw) != 32:
        raise ValueError(f"not a CodeSha256 (base64 of a SHA-256 digest): {sha!r}")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=") + ".zip"


def archive_path(state_dir: str | os.PathLike, sha: str) -> Path:
    return Path(state_dir) / "archives" / _archive_name(sha)


def save_archive(state_dir: str | os.PathLike, zip_bytes: bytes) -> str:
    """Store a function archive; returns its CodeSha256 (equal to what Lambda reports)."""
    sha = code_sha256(zip_bytes)
    path = archive_path(state_dir, sha)
    if not path.exists():
        write_atomic(path, zip_bytes)
    return sha


def load_archive(state_dir: str | os.PathLike, code_sha256_value: str) -> bytes:
    """The archive with this CodeSha256. Raises FileNotFoundError if it was never saved."""
    path = archive_path(state_dir, code_sha256_value)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise FileNotFoundError(
            f"no archive with CodeSha256 {code_sha256_value} in {Path(state_dir) / 'archives'}; "
            "the deployer must call localcloud.awslambda.archives.save_archive(state_dir, zip_bytes) "
            "with the same zip it gives to lambda.create_function/update_function_code"
        ) from None
    if code_sha256(data) != code_sha256_value:
        raise ValueError(f"archive {path} is corrupt: its SHA-256 is not {code_sha256_value}")
    return data
