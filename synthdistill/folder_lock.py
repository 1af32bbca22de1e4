"""One synthdistill command at a time writes an output folder. A second one on the same folder (another
terminal, a run started again while the first still goes under nohup) would interleave appends to the same
files and replace outputs under the first; it is refused at once, naming the one that holds the folder.

The lock is the kernel's (flock on a file in the folder): it goes with its process, so a run that was killed
or crashed never leaves a stale lock behind, and the next run starts as usual."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from synthdistill.errors import ConfigError

RUN_LOCK = ".synthdistill.lock"
REVIEW_LOCK = ".review.lock"  # a review server beside a command that trains is fine; two servers are not


@contextmanager
def holding(folder: str | Path, command: str, lock_name: str = RUN_LOCK, wait: bool = False) -> Iterator[None]:
    """Hold `folder` for `command` (the words shown to a second one) until the block ends; with `wait`, a
    second one waits its turn instead of being refused."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if sys.platform == "win32":  # no flock there: unguarded, as before
        yield
        return
    import fcntl

    handle = open(folder / lock_name, "a+", encoding="utf-8")  # held until the block ends
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another synthdistill command"
            raise ConfigError(
                f"{folder}: {holder} is using this folder; wait for it to finish or stop it first"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"`synthdistill {command}` (pid {os.getpid()})")
        handle.flush()
        try:
            yield
        finally:
            handle.truncate(0)
    finally:
        handle.close()  # closing releases the lock
