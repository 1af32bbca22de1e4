"""Where experiment cells run: in this process, in a local process pool, or on a Ray cluster. Each executor
maps one top-level function over payloads and yields (index, result) as results arrive, so the caller can
store every finished cell at once; the results do not depend on the executor."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Any, Protocol

from synthdistill.errors import SynthdistillError
from synthdistill.worker_processes import exit_with_parent, limit_threads

Task = Callable[[dict[str, Any]], dict[str, Any]]


class Executor(Protocol):
    name: str

    def map_unordered(
        self, fn: Task, payloads: Sequence[dict[str, Any]], *, fresh_process_per_task: bool = False
    ) -> Iterator[tuple[int, dict[str, Any]]]:
        """`fresh_process_per_task`: a worker process runs one payload and is replaced, so what one task leaves
        resident (a torch model's freed memory) neither inflates the next one's peak nor piles up."""
        ...


class InlineExecutor:
    name = "inline"

    def map_unordered(
        self, fn: Task, payloads: Sequence[dict[str, Any]], *, fresh_process_per_task: bool = False
    ) -> Iterator[tuple[int, dict[str, Any]]]:
        """Everything in this process: `fresh_process_per_task` cannot apply."""
        for index, payload in enumerate(payloads):
            yield index, fn(payload)


def _start_worker(threads: int) -> None:
    """Worker start: numeric libraries get their share of the cores; the worker ends with the experiment."""
    limit_threads(threads)
    exit_with_parent()


class LocalExecutor:
    """A process pool sized to the machine (spawned workers: torch and threads do not survive fork); each
    worker's numeric libraries use cores / workers threads, and a worker ends when the experiment process does."""

    name = "local"

    def __init__(self, workers: int | None = None):
        self.workers = workers or len(os.sched_getaffinity(0))

    def map_unordered(
        self, fn: Task, payloads: Sequence[dict[str, Any]], *, fresh_process_per_task: bool = False
    ) -> Iterator[tuple[int, dict[str, Any]]]:
        if self.workers <= 1 or len(payloads) <= 1:
            yield from InlineExecutor().map_unordered(fn, payloads)
            return
        context = multiprocessing.get_context("spawn")
        threads = max(1, len(os.sched_getaffinity(0)) // self.workers)
        with ProcessPoolExecutor(
            max_workers=self.workers, mp_context=context, initializer=_start_worker, initargs=(threads,),
            max_tasks_per_child=1 if fresh_process_per_task else None,
        ) as pool:  # fmt: skip
            pending = {pool.submit(fn, payload): index for index, payload in enumerate(payloads)}
            try:
                while pending:
                    finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                    for future in finished:
                        index = pending.pop(future)
                        yield index, future.result()
            finally:
                for future in pending:
                    future.cancel()


class RayExecutor:
    """Ray tasks, one per payload: `address` joins a running cluster ("auto" or "ray://host:10001");
    without one a local Ray instance starts with `num_cpus` CPUs. `pip install 'synthdistill[ray]'`."""

    name = "ray"

    def __init__(self, address: str | None = None, num_cpus: int | None = None, cpus_per_task: float = 1.0):
        self.address, self.num_cpus, self.cpus_per_task = address, num_cpus, cpus_per_task

    def _ray(self) -> Any:
        try:
            import ray
        except ImportError:
            raise SynthdistillError("the ray executor needs Ray: pip install 'synthdistill[ray]'") from None
        if not ray.is_initialized():
            options: dict[str, Any] = {"include_dashboard": False, "logging_level": "WARNING", "log_to_driver": False}
            if self.address:
                ray.init(address=self.address, **options)
            else:
                ray.init(num_cpus=self.num_cpus or len(os.sched_getaffinity(0)), **options)
        return ray

    def map_unordered(
        self, fn: Task, payloads: Sequence[dict[str, Any]], *, fresh_process_per_task: bool = False
    ) -> Iterator[tuple[int, dict[str, Any]]]:
        ray = self._ray()
        options: dict[str, Any] = {"num_cpus": self.cpus_per_task, "max_retries": 2}
        if fresh_process_per_task:
            options["max_calls"] = 1  # Ray replaces the worker after one task (its default: no limit on CPU)
        remote = ray.remote(**options)(fn)
        pending = {remote.remote(payload): index for index, payload in enumerate(payloads)}
        try:
            while pending:
                finished, _ = ray.wait(list(pending), num_returns=1)
                for ref in finished:
                    index = pending.pop(ref)
                    try:
                        result = ray.get(ref)
                    except ray.exceptions.RayTaskError as err:
                        raise err.as_instanceof_cause() from None
                    yield index, result
        finally:
            for ref in pending:
                ray.cancel(ref)


def make_executor(name: str, *, workers: int | None = None, address: str | None = None) -> Executor:
    if name == "local":
        return LocalExecutor(workers)
    if name == "inline":
        return InlineExecutor()
    if name == "ray":
        return RayExecutor(address, num_cpus=workers)
    raise SynthdistillError(f"unknown executor {name!r}: choose local, inline or ray")
