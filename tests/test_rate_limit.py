import asyncio

from synthdistill.teachers import rate_limit
from synthdistill.teachers.rate_limit import RateLimiter


class FakeTime:
    def __init__(self):
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


def run_acquires(monkeypatch, limiter_args: dict, tokens: list[int]) -> list[float]:
    fake = FakeTime()
    monkeypatch.setattr(rate_limit.asyncio, "sleep", fake.sleep)
    limiter = RateLimiter(**limiter_args, clock=fake.clock)
    times = []

    async def main():
        for t in tokens:
            await limiter.acquire(t)
            times.append(fake.now)

    asyncio.run(main())
    return times


def test_requests_per_minute(monkeypatch):
    times = run_acquires(monkeypatch, {"requests_per_minute": 3}, [1] * 7)
    assert times == [0, 0, 0, 60, 60, 60, 120]


def test_tokens_per_minute(monkeypatch):
    times = run_acquires(monkeypatch, {"tokens_per_minute": 100}, [40, 40, 40, 40, 250])
    assert times == [0, 0, 60, 60, 120]  # a request above the limit goes alone in its window


def test_no_limits_never_wait(monkeypatch):
    assert run_acquires(monkeypatch, {}, [10**6] * 3) == [0, 0, 0]
