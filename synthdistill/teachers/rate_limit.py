"""Requests-per-minute and tokens-per-minute limits over a sliding 60-second window."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable

WINDOW_S = 60.0


class RateLimiter:
    """`await acquire(tokens)` returns once sending `tokens` more keeps both limits over the last minute."""

    def __init__(
        self,
        requests_per_minute: int | None = None,
        tokens_per_minute: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.requests_per_minute = requests_per_minute
        self.tokens_per_minute = tokens_per_minute
        self._clock = clock
        self._sent: deque[tuple[float, int]] = deque()
        self._tokens = 0
        self._lock = asyncio.Lock()

    @property
    def active(self) -> bool:
        return self.requests_per_minute is not None or self.tokens_per_minute is not None

    def _fits(self, tokens: int) -> bool:
        if self.requests_per_minute is not None and len(self._sent) >= self.requests_per_minute:
            return False
        if self.tokens_per_minute is not None and self._sent and self._tokens + tokens > self.tokens_per_minute:
            return False  # a single request above the limit still goes, alone in its window
        return True

    async def acquire(self, tokens: int) -> None:
        if not self.active:
            return
        async with self._lock:
            while True:
                now = self._clock()
                while self._sent and now - self._sent[0][0] >= WINDOW_S:
                    self._tokens -= self._sent.popleft()[1]
                if self._fits(tokens):
                    self._sent.append((now, tokens))
                    self._tokens += tokens
                    return
                await asyncio.sleep(max(0.001, WINDOW_S - (now - self._sent[0][0])))
