"""Progress people can see anywhere: a bar on a terminal, and where standard error is no terminal (CI, nohup, a
notebook's log) a plain line every 30 seconds (SYNTHDISTILL_PROGRESS_INTERVAL_S changes it): done/total, rate,
time left, and what the stage adds (requests sent, tokens, cost). A stage shorter than that prints nothing;
`--no-progress` silences both kinds."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

PLAIN_INTERVAL_S = 30.0
INTERVAL_VARIABLE = "SYNTHDISTILL_PROGRESS_INTERVAL_S"  # seconds between plain lines, for logs that want more or fewer


def plain_interval_s() -> float:
    """PLAIN_INTERVAL_S, or the environment's choice; a value that is no positive number is ignored."""
    try:
        value = float(os.environ.get(INTERVAL_VARIABLE, PLAIN_INTERVAL_S))
    except ValueError:
        return PLAIN_INTERVAL_S
    return value if value >= 0 else PLAIN_INTERVAL_S


def _duration(seconds: float) -> str:
    hours, rest = divmod(round(seconds), 3600)
    minutes, whole_seconds = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m{whole_seconds:02d}s" if hours else f"{minutes}m{whole_seconds:02d}s"


class PlainProgress:
    """The part of tqdm's face the stages use (update, set_postfix, set_postfix_str, close, a context manager),
    written as one line per `interval_s` seconds, and a last line at the end of a stage that printed any."""

    disable = False

    def __init__(
        self,
        total: int | None,
        desc: str,
        unit: str = "it",
        *,
        initial: int = 0,
        interval_s: float | None = None,
        stream: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.total, self.desc, self.unit, self.n = total, desc, unit, initial
        self.interval_s = plain_interval_s() if interval_s is None else interval_s
        self.stream, self.clock = stream, clock
        self.postfix = ""
        self._started = self._last = clock()
        self._initial = initial
        self._printed = False

    def __enter__(self) -> PlainProgress:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def update(self, n: int = 1) -> None:
        self.n += n
        if n and self.clock() - self._last >= self.interval_s:
            self._print()

    def set_postfix(self, refresh: bool = False, **values: Any) -> None:
        self.postfix = ", ".join(f"{key} {value}" for key, value in values.items())

    def set_postfix_str(self, text: str, refresh: bool = False) -> None:
        self.postfix = text

    def close(self) -> None:
        if self._printed:
            self._print(final=True)

    def line(self, *, final: bool = False) -> str:
        elapsed = max(self.clock() - self._started, 1e-9)
        rate = (self.n - self._initial) / elapsed
        parts = [f"{self.desc}: {self.n}" + (f"/{self.total}" if self.total else "")]
        if self.total:
            parts[0] += f" ({self.n / self.total:.0%})"
        parts.append(f"{rate:.2f} {self.unit}/s")
        if final:
            parts.append(f"done in {_duration(elapsed)}")
        elif self.total and rate > 0:
            parts.append(f"about {_duration((self.total - self.n) / rate)} left")
        if self.postfix:
            parts.append(self.postfix)
        return ", ".join(parts)

    def _print(self, *, final: bool = False) -> None:
        print(self.line(final=final), file=self.stream or sys.stderr, flush=True)
        self._last, self._printed = self.clock(), True


def progress(
    total: int | None, desc: str, *, unit: str = "it", enabled: bool = True, initial: int = 0, leave: bool = False
) -> Any:
    """A tqdm bar on a terminal, plain lines elsewhere, nothing when not `enabled`."""
    from tqdm import tqdm

    if not enabled:
        return tqdm(total=total, desc=desc, disable=True)
    if sys.stderr.isatty():
        return tqdm(total=total, desc=desc, unit=unit, initial=initial, leave=leave, file=sys.stderr)
    return PlainProgress(total, desc, unit, initial=initial)
