"""Only the handler's files go into the Lambda archive; its bytes do not depend on the
machine that builds it, and it is named by the SHA-256 of those bytes."""
from __future__ import annotations

import hashlib
import io
import os
import stat
import sys
import zipfile
import zlib

import pytest

from infra import archive, naming


def test_archive_holds_only_the_handler_package(tmp_path):
    package = tmp_path / "user_service"
    (package / "__pycache__").mkdir(parents=True)
    (package / "handler.py").write_text("def handler(e, c): pass\n")
    (package / "store.py").write_text("X = 1\n")
    (package / "__pycache__" / "handler.cpython-311.pyc").write_bytes(b"\0")
    (tmp_path / "conftest.py").write_text("")
    (tmp_path / "README.md").write_text("")
    files = archive.handler_files(tmp_path)
    assert list(files) == ["user_service/handler.py", "user_service/store.py"]
    zipped = zipfile.ZipFile(io.BytesIO(archive.build_zip(archive.read_handler_files(tmp_path))))
    assert zipped.namelist() == ["user_service/handler.py", "user_service/store.py"]


def test_two_builds_of_the_same_files_are_the_same_bytes_and_name(tmp_path):
    files = archive.read_handler_files()
    first = archive.build_zip(files)
    assert archive.build_zip(dict(reversed(files.items()))) == first
    assert archive.code_hash(first) == hashlib.sha256(first).hexdigest()
    # The files' modes and times on disk do not reach the archive.
    copy = tmp_path / archive.PACKAGE
    copy.mkdir()
    for name, content in files.items():
        path = tmp_path / name
        path.write_bytes(content)
        path.chmod(0o600)
        os.utime(path, (1_000_000_000, 1_000_000_000))
    assert archive.build_zip(archive.read_handler_files(tmp_path)) == first


def test_a_machine_with_other_defaults_builds_the_same_bytes(monkeypatch):
    """CPython's ZipInfo takes create_system from sys.platform (0 on win32) and the deflate
    level from zlib's default: a Windows machine, or one whose default level differs,
    must still build this machine's bytes."""
    files = archive.read_handler_files()
    here = archive.build_zip(files)
    monkeypatch.setattr(sys, "platform", "win32")
    assert archive.build_zip(files) == here
    monkeypatch.setattr(zlib, "Z_DEFAULT_COMPRESSION", 1)
    assert archive.build_zip(files) == here


def test_entries_are_world_readable_regular_files_lambda_can_import():
    # Lambda needs global read on Python files (644); create_system 3 makes unzip read
    # the external attributes as Unix modes.
    entries = zipfile.ZipFile(io.BytesIO(archive.build_zip({"user_service/a.py": b"x"}))).infolist()
    assert [(e.create_system, stat.S_ISREG(e.external_attr >> 16),
             stat.S_IMODE(e.external_attr >> 16), e.date_time) for e in entries] == [
        (3, True, 0o644, (1980, 1, 1, 0, 0, 0))]


def test_another_build_of_the_same_files_gets_a_key_of_its_own():
    files = archive.read_handler_files()
    here = archive.build_zip(files)
    elsewhere = [archive.build_zip(files, create_system=0),
                 archive.build_zip(files, compress_level=1)]
    for other in elsewhere:
        assert other != here
        assert zipfile.ZipFile(io.BytesIO(other)).read("user_service/handler.py") == \
            files["user_service/handler.py"]
    keys = {naming.archive_key(archive.code_hash(b)) for b in (here, *elsewhere)}
    assert len(keys) == 3
    assert naming.archive_key(archive.code_hash(here)) == \
        f"archives/{hashlib.sha256(here).hexdigest()}.zip"


def test_the_code_hash_follows_the_content():
    files = {"user_service/handler.py": b"a", "user_service/x.py": b"b"}
    hashes = {archive.code_hash(archive.build_zip(f)) for f in (
        files, {**files, "user_service/x.py": b"c"},
        {"user_service/handler.py": b"a", "user_service/y.py": b"b"})}
    assert len(hashes) == 3


def test_lambda_code_sha256_is_the_base64_of_the_same_digest():
    # Written down independently (openssl dgst -sha256 -binary | openssl enc -base64).
    assert archive.lambda_code_sha256(
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") == \
        "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0="  # sha256("abc")
    assert archive.lambda_code_sha256(
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855") == \
        "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="  # sha256("")
    for wrong in ("", "abc", "zz" * 32, "ab" * 31, "ab" * 33):
        with pytest.raises(ValueError, match="not a code hash"):
            archive.lambda_code_sha256(wrong)


def test_the_build_file_is_named_by_its_bytes_and_never_rewritten(tmp_path):
    files = archive.read_handler_files()
    here, other = archive.build_zip(files), archive.build_zip(files, create_system=0)
    first = archive.write_build_zip(here, tmp_path)
    second = archive.write_build_zip(other, tmp_path)
    assert first != second
    assert first.name == f"user_service-{hashlib.sha256(here).hexdigest()}.zip"
    assert (first.read_bytes(), second.read_bytes()) == (here, other)


def test_real_handler_is_found():
    assert "user_service/handler.py" in archive.handler_files()


def test_missing_handler_says_where_it_was_expected(tmp_path):
    try:
        archive.handler_files(tmp_path)
    except FileNotFoundError as err:
        assert "user_service/handler.py" in str(err)
    else:
        raise AssertionError("a missing handler must be reported")
