"""Files written atomically: a temporary file in the same directory, then os.replace,
so a reader never sees half a file. Never through a symbolic link: the local cloud
writes, truncates and deletes under its state directory, and a link planted there would
point those at files elsewhere."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path


class UnsafePath(Exception):
    """A path the local cloud would write through is a link, or a file where it needs a
    directory; the message names it and says what to do."""


def link_message(link: Path) -> str:
    return (f"{link} is a symbolic link (to {os.readlink(link)}); the local cloud writes and "
            "deletes its state there and never follows a link: remove the link "
            f"(`rm {link}`) and run again (the local cloud makes what it needs there)")


def refuse_links(path: Path, root: Path) -> None:
    """Refuse if `root` or any directory from it down to `path` is a symbolic link."""
    root, path = Path(root), Path(path)
    for directory in [root, *(root / part for part in _parts_between(root, path))]:
        if directory.is_symlink():
            raise UnsafePath(link_message(directory))


def _parts_between(root: Path, path: Path) -> list[Path]:
    parts = path.parent.relative_to(root).parts
    return [Path(*parts[:n]) for n in range(1, len(parts) + 1)]


def write_atomic(path: Path, data: bytes, *, root: Path | None = None) -> None:
    """Write `path` whole. Its directory (and, with `root`, every one from `root` down)
    must not be a symbolic link."""
    path = Path(path)
    refuse_links(path, root if root is not None else path.parent)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
