"""Durable file operations: fsync, atomic replacement, exclusive locks.

The store's publisher (docs/DESIGN.md §5.1, §5.2) and the fetcher (its state file and its
downloads) both rely on the same three guarantees, so they share these helpers:

- :func:`fsync_path`: a file's data, or a directory's entries (a rename), reach the disk;
- :func:`atomic_write_text`: a small file is replaced as a whole or not at all, durably;
- :func:`exclusive_lock`: one writer at a time, released by the kernel if its process dies.

>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> atomic_write_text(d / "CURRENT", "7\\n")
>>> (d / "CURRENT").read_text()
'7\\n'
>>> with exclusive_lock(d / "LOCK", "busy", RuntimeError):
...     with exclusive_lock(d / "LOCK", "busy", RuntimeError):
...         pass
Traceback (most recent call last):
RuntimeError: busy
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
from pathlib import Path
from typing import Iterator


def fsync_path(path: Path, directory: bool = False) -> None:
    """Flushes a file (or, with ``directory=True``, a directory's entries) to disk."""
    fd = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if directory else 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_text(path: Path, text: str) -> None:
    """Replaces ``path`` with ``text``: written to a temporary sibling, fsynced, renamed over
    ``path`` and the directory fsynced, so a crash leaves the old content or the new, never a mix."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)  # a full or failing disk leaves no temporary file behind
        raise
    fsync_path(path.parent, directory=True)


@contextlib.contextmanager
def exclusive_lock(path: Path, busy: str, error: type[Exception]) -> Iterator[None]:
    """Holds an exclusive, non-blocking flock on ``path`` (created if absent; released by the
    kernel if the process dies). Raises ``error(busy)`` at once if another process holds it."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise error(f"{path}: cannot open the lock file: {exc.strerror or exc}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise error(busy) from None
            raise
        yield
    finally:
        os.close(fd)
