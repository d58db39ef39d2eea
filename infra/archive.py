"""The Lambda's code: which files go into the archive, the archive's bytes, and the hash
that names them.

Only the handler's own package goes in (boto3 comes from the Lambda runtime). The code
hash is the SHA-256 of the zip itself: it is what Lambda reports (as CodeSha256, in
base64) and what the archive is kept under in the artifacts bucket, so a build whose bytes
differ (another machine, another zlib) gets a key of its own and never overwrites the
archive a stage runs.
"""
from __future__ import annotations

import base64
import hashlib
import io
import os
import stat
import zipfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
FUNCTION_DIR = REPO_ROOT / "function"
PACKAGE = "user_service"
HANDLER = f"{PACKAGE}.handler.handler"
# The one environment variable the function reads: its table's full name, never empty
# (providers bridged from Terraform drop empty map values; prod's prefix is empty).
TABLE_NAME_ENV = "TABLE_NAME"
# Where the program writes the archive it uploads (ignored by git).
BUILD_DIR = REPO_ROOT / ".build"

# Everything in a zip that the building machine would otherwise choose is fixed here.
# CPython's zipfile.ZipInfo takes create_system from sys.platform (0 on Windows, 3
# elsewhere), the time from the file, and the deflate level from zlib's default.
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
UNIX = 3  # create_system: the entries' external attributes are Unix modes
_FILE_MODE = stat.S_IFREG | 0o644  # a regular file, rw-r--r-- (Lambda runs as another user)
COMPRESS_LEVEL = 9


def handler_files(function_dir: Path | None = None) -> dict[str, Path]:
    """Archive path -> file, for every source file of the handler package, sorted."""
    function_dir = function_dir or FUNCTION_DIR
    package = function_dir / PACKAGE
    if not (package / "handler.py").is_file():
        raise FileNotFoundError(f"the handler is missing: expected {package / 'handler.py'}")
    files = {
        path.relative_to(function_dir).as_posix(): path
        for path in package.rglob("*.py")
        if "__pycache__" not in path.parts
    }
    return dict(sorted(files.items()))


def read_handler_files(function_dir: Path | None = None) -> dict[str, bytes]:
    return {name: path.read_bytes() for name, path in handler_files(function_dir).items()}


def build_zip(files: dict[str, bytes], *, create_system: int = UNIX,
              compress_level: int = COMPRESS_LEVEL) -> bytes:
    """The zip of the given archive path -> content map, the same bytes wherever it is
    built with the same deflate implementation: entries in path order, one timestamp, one
    mode, a fixed create_system and deflate level. (zlib-ng deflates differently from zlib,
    so a machine with it still builds other bytes: hence the archive is named by its own
    hash.) The keywords build it as another machine would."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=_ZIP_EPOCH)
            info.create_system = create_system
            info.external_attr = _FILE_MODE << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, files[name], compresslevel=compress_level)
    return buffer.getvalue()


def code_hash(zip_bytes: bytes) -> str:
    """The archive's name: the hex SHA-256 of its bytes."""
    return hashlib.sha256(zip_bytes).hexdigest()


def lambda_code_sha256(hex_hash: str) -> str:
    """The CodeSha256 Lambda reports for the archive with this code hash: the same digest,
    in base64."""
    try:
        digest = bytes.fromhex(hex_hash)
    except (TypeError, ValueError):
        digest = b""
    if len(digest) != hashlib.sha256().digest_size:
        raise ValueError(f"not a code hash (the 64 hex digits of a SHA-256): {hex_hash!r}")
    return base64.b64encode(digest).decode("ascii")


def write_build_zip(zip_bytes: bytes, build_dir: Path | None = None) -> Path:
    """The archive, written once under its code hash: the name says which bytes it holds,
    so an existing file is never stale."""
    build_dir = build_dir or BUILD_DIR
    path = build_dir / f"{PACKAGE}-{code_hash(zip_bytes)}.zip"
    if not path.is_file():
        build_dir.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        partial.write_bytes(zip_bytes)
        os.replace(partial, path)
    return path
