"""What every pool process of synthdistill does when it starts (experiment cells, serve's predictions, the
review page's neighbour matrices): its share of the cores, a lower priority where a server's own loop must win
the CPU, and an exit when the process that started it is gone."""

from __future__ import annotations

import contextlib
import os
import threading
import time

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
BACKGROUND_NICENESS = 10


def limit_threads(threads: int, *, keep_set: bool = False) -> None:
    """Native thread teams (OpenMP, BLAS) of `threads` each, set before a library starts them: torch with 2
    threads on a core another worker holds runs several times slower than with 1. `keep_set`: a value the
    user set wins."""
    for variable in THREAD_VARIABLES:
        if keep_set:
            os.environ.setdefault(variable, str(threads))
        else:
            os.environ[variable] = str(threads)


def lower_priority(niceness: int = BACKGROUND_NICENESS) -> None:
    with contextlib.suppress(OSError, AttributeError):  # AttributeError: no os.nice on Windows
        os.nice(niceness)


def _exit_when_orphaned(parent: int, every_seconds: float) -> None:
    while os.getppid() == parent:
        time.sleep(every_seconds)
    os._exit(1)


def exit_with_parent(parent: int | None = None, every_seconds: float = 1.0) -> None:
    """A watcher thread: when the parent (killed, out of memory) is gone, this process ends at once, rather
    than spending minutes of the cores on work nobody will read."""
    parent = os.getppid() if parent is None else parent
    watcher = threading.Thread(target=_exit_when_orphaned, args=(parent, every_seconds), daemon=True)
    watcher.name = "parent-watch"
    watcher.start()


def start_background_worker() -> None:
    """A helper process of a server: lower priority, gone with the server."""
    lower_priority()
    exit_with_parent()
