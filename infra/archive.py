"""The Lambda's code: which files go into the archive, and the hash that identifies them.

Only the handler's own package goes in (boto3 comes from the Lambda runtime). The code
hash is taken over the files themselves, not over a zip, so it is the same on every
machine and can be compared at preview time (promotion pins it for prod).
"""
from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
FUNCTION_DIR = REPO_ROOT / "function"
PACKAGE = "user_service"
HANDLER = f"{PACKAGE}.handler.handler"
# The one environment variable that tells the function its stage (prod: empty).
TABLE_PREFIX_ENV = "TABLE_PREFIX"

# A fixed timestamp keeps the zip byte-for-byte reproducible.
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


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


def code_hash(files: dict[str, bytes]) -> str:
    """Hex SHA-256 over the archive's paths and contents."""
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode() + b"\0")
        digest.update(hashlib.sha256(files[name]).digest())
    return digest.hexdigest()


def read_handler_files(function_dir: Path | None = None) -> dict[str, bytes]:
    return {name: path.read_bytes() for name, path in handler_files(function_dir).items()}


def build_zip(files: dict[str, bytes]) -> bytes:
    """A reproducible zip of the given archive path -> content map."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=_ZIP_EPOCH)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, files[name])
    return buffer.getvalue()
