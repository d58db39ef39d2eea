"""Only the handler's files go into the Lambda archive; the code hash tracks them."""
from __future__ import annotations

import io
import zipfile

from infra import archive


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


def test_zip_and_hash_are_reproducible_and_follow_the_content(tmp_path):
    files = {"user_service/handler.py": b"a", "user_service/x.py": b"b"}
    assert archive.build_zip(files) == archive.build_zip(dict(reversed(files.items())))
    assert archive.code_hash(files) == archive.code_hash(dict(reversed(files.items())))
    assert archive.code_hash(files) != archive.code_hash({**files, "user_service/x.py": b"c"})
    assert archive.code_hash(files) != archive.code_hash(
        {"user_service/handler.py": b"a", "user_service/y.py": b"b"})


def test_real_handler_is_found():
    assert "user_service/handler.py" in archive.handler_files()


def test_missing_handler_says_where_it_was_expected(tmp_path):
    try:
        archive.handler_files(tmp_path)
    except FileNotFoundError as err:
        assert "user_service/handler.py" in str(err)
    else:
        raise AssertionError("a missing handler must be reported")
