"""One server per JSON data directory.

The JSON store keeps its state in memory and writes files from it, so two
servers on one directory would overwrite each other's changes and hand out the
same ``seq`` twice. Whoever opens the store holds an exclusive ``flock`` on
``DATA_DIR/.lock`` until it closes it; the kernel releases it when the process
ends in any way (``kill -9`` included), so a crash never leaves it stale.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from maestro.store.base import StoreUnavailable

LOCK_FILE = ".lock"


def lock_data_dir(root: Path) -> int:
    """Take the directory's lock; return the descriptor that holds it."""
    root.mkdir(parents=True, exist_ok=True)
    fd = os.open(root / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise StoreUnavailable(
            f"another Maestro process is using the data directory {root} (it holds "
            f"{root / LOCK_FILE}); stop it first, or use another --data-dir"
        ) from None
    return fd


def check_data_dir_free(root: Path) -> None:
    """Raise ``StoreUnavailable`` if another process holds the lock (a quick look
    before start-up; ``lock_data_dir`` at open is what actually guards)."""
    if root.is_dir():
        os.close(lock_data_dir(root))
