"""Atomic file writes: a 2xx means the file is whole on disk, and a crash at any
moment leaves either the old file or the new one, never a mix."""

from __future__ import annotations

import contextlib
import itertools
import os
from pathlib import Path

TEMP_MARK = ".tmp-"
# Temp names need only be unique among this process's writes (O_EXCL refuses a
# clash; a crashed process's leftovers are removed at start-up): a counter
# beside the pid does it without a trip to the OS's random source per file.
_temp_numbers = itertools.count()


def write_temp(path: str | Path, data: bytes, fsync: bool = False) -> str:
    """Write ``data`` to a new temp file beside ``path``; return the temp file.

    Plain strings, not ``Path``s: a checkpoint writes thousands of files, and
    every ``Path`` is an object the cycle collector has to walk while it lives.
    """
    folder, name = os.path.split(path)
    while True:
        temp = f"{folder}/.{name}{TEMP_MARK}{os.getpid()}-{next(_temp_numbers)}"
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            break
        except FileExistsError:  # left by an earlier process that had this pid
            continue
    try:
        write_all(fd, data)
        if fsync:
            fsync_fd(fd, temp)
    except BaseException:
        os.close(fd)
        _remove(temp)  # a half-written temp file is of no use to anyone
        raise
    os.close(fd)
    return temp


def write_atomically(path: str | Path, data: bytes, fsync: bool = False) -> None:
    """Write to a temp file in the same folder, then rename it over ``path``."""
    temp = write_temp(path, data, fsync)
    replace_or_remove(temp, path)
    if fsync:
        sync_directory(Path(path).parent)


def replace_or_remove(temp: str, path: str | Path) -> None:
    """Rename ``temp`` over ``path``; if that fails, remove ``temp``."""
    try:
        os.replace(temp, path)
    except BaseException:
        _remove(temp)
        raise


def _remove(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def write_all(fd: int, data: bytes) -> None:
    """``os.write`` until every byte is written (it may write fewer)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


class FsyncFailed(OSError):
    """An fsync failed: what was written may be lost without a trace, so nothing
    the disk promised can be trusted any more (the server stops)."""


def fsync_fd(fd: int, what: str) -> None:
    """``os.fsync``, its failure raised as ``FsyncFailed``."""
    try:
        os.fsync(fd)
    except OSError as error:
        raise FsyncFailed(error.errno, f"fsync of {what} failed: {error.strerror}") from error


def fsync_path(path: Path) -> None:
    """fsync a file, or a folder (so a rename or unlink in it survives a power loss)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        fsync_fd(fd, str(path))
    finally:
        os.close(fd)


sync_directory = fsync_path


def is_temp_file(path: Path) -> bool:
    return path.name.startswith(".") and TEMP_MARK in path.name
