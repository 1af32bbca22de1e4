"""Orchestration overhead: synthdistill's generation against a minimal raw aiohttp loop, same instant local
server, same number of requests, measured side by side in one run. Goals: at most 1.2x the raw loop's time,
and at least 1,000 requests/s; and a re-run of a finished 10,000-sample job from the cache in under 5 s.

Run: python bench/generation_overhead.py [--requests 10000] [--cache-job 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import instant_server

from synthdistill.config import parse_config
from synthdistill.generation.planning import plan_generation
from synthdistill.generation.samples import generate_samples
from synthdistill.teachers import RequestCache, Teacher
from synthdistill.teachers.openai import OpenAICompatibleBackend
from synthdistill.teachers.protocol import CompletionRequest

CONCURRENCY = 64
TRIES = 5  # the server and the client share 2 cores: single tries move by +-30%


def config_for(url: str, n_requests: int) -> dict:
    labels = [{"name": f"label{i}", "description": f"texts of kind {i}"} for i in range(10)]
    return {
        "task": {"name": "bench", "domain": "benchmark texts", "labels": labels, "languages": ["en"]},
        "teacher": {"backend": "openai", "base_url": url, "model": "m", "mode": "completion",
                    "max_concurrency": CONCURRENCY},
        "generation": {"samples_per_label": n_requests // 10, "demos_per_prompt": 0},
        "filters": {"language_id": False, "near_duplicate_threshold": None},
        "data": {"test": "unused.jsonl"},
    }  # fmt: skip


async def raw_loop(url: str, requests: list[CompletionRequest]) -> None:
    """The least a client must do: post each payload at the same concurrency and decode the answer."""
    limit = asyncio.Semaphore(CONCURRENCY)
    payloads = [{"model": "m", "prompt": r.prompt, "max_tokens": r.max_tokens, "temperature": r.temperature,
                 "top_p": r.top_p, "stop": list(r.stop), "seed": r.seed} for r in requests]  # fmt: skip
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:

        async def one(payload: dict) -> None:
            async with limit, session.post(url + "/completions", json=payload) as response:
                body = await response.json()
                assert body["choices"][0]["text"]

        await asyncio.gather(*(one(p) for p in payloads))


def run_engine(url: str, requests: list[CompletionRequest], cache_path: Path | None) -> float:
    """synthdistill's engine on the same prepared requests: cache, concurrency limit, retries, token counts."""
    backend = OpenAICompatibleBackend(url, "m", mode="completion")
    teacher = Teacher(backend, RequestCache(cache_path) if cache_path else None, max_concurrency=CONCURRENCY,
                      progress=False)  # fmt: skip
    started = time.perf_counter()
    answers = teacher.complete_many(requests)
    elapsed = time.perf_counter() - started
    assert len(answers) == len(requests) and teacher.stats.sent == len(requests)
    teacher.close()
    return elapsed


def run_generation(url: str, n: int, cache_path: Path | None) -> tuple[float, int, Teacher]:
    config = parse_config(config_for(url, n))
    backend = OpenAICompatibleBackend(url, "m", mode="completion")
    teacher = Teacher(backend, RequestCache(cache_path) if cache_path else None, max_concurrency=CONCURRENCY,
                      progress=False)  # fmt: skip
    started = time.perf_counter()
    samples, _ = generate_samples(config.task, config.generation, config.teacher.prompt_mode, teacher, {})
    elapsed = time.perf_counter() - started
    teacher.close()
    return elapsed, len(samples), teacher


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=10000)
    parser.add_argument("--cache-job", type=int, default=10000)
    args = parser.parse_args()
    process, url = instant_server.start()
    try:
        print(
            f"machine: {platform.machine()}, {platform.python_implementation()} {platform.python_version()}, "
            f"{__import__('os').cpu_count()} CPUs; server: aiohttp in its own process; concurrency {CONCURRENCY}"
        )
        config = parse_config(config_for(url, args.requests))
        requests = [
            job.request for job in plan_generation(config.task, config.generation, config.teacher.prompt_mode, {})
        ]
        asyncio.run(raw_loop(url, requests[:200]))  # warm up both sides
        rows = []
        n = args.requests
        for attempt in range(TRIES):
            started = time.perf_counter()
            asyncio.run(raw_loop(url, requests))
            raw = time.perf_counter() - started
            with tempfile.TemporaryDirectory() as tmp:
                engine = run_engine(url, requests, Path(tmp) / "cache.sqlite")
            engine_no_cache = run_engine(url, requests, None)
            with tempfile.TemporaryDirectory() as tmp:
                full, n_samples, _ = run_generation(url, n, Path(tmp) / "cache.sqlite")
            rows.append((raw, engine, engine_no_cache, full))
            print(
                f"try {attempt + 1}: raw loop {raw:.2f} s ({n / raw:.0f} req/s) | engine with cache {engine:.2f} s "
                f"({engine / raw:.2f}x) | engine without cache {engine_no_cache:.2f} s ({engine_no_cache / raw:.2f}x)"
                f" | whole generation (plan, engine, parse) {full:.2f} s ({full / raw:.2f}x, {n_samples} samples)"
            )
        raw, engine, engine_no_cache, full = (min(column) for column in zip(*rows, strict=True))
        ratios = [sorted(row[i] / row[0] for row in rows) for i in (1, 2, 3)]
        medians = [r[len(r) // 2] for r in ratios]
        print(
            f"median over {TRIES} tries of each try's ratio to the raw loop: engine with cache {medians[0]:.2f}x "
            f"(goal <= 1.2x), engine without cache {medians[1]:.2f}x, whole generation {medians[2]:.2f}x"
        )
        print(
            f"best of {TRIES}, {n} requests: raw loop {n / raw:.0f} req/s; engine with cache {n / engine:.0f} req/s "
            f"= {engine / raw:.2f}x the raw loop's time (goal <= 1.2x); engine without cache {n / engine_no_cache:.0f}"
            f" req/s = {engine_no_cache / raw:.2f}x; whole generation {n / full:.0f} req/s = {full / raw:.2f}x "
            f"(goal >= 1000 req/s)"
        )

        with tempfile.TemporaryDirectory() as tmp:
            cache = Path(tmp) / "cache.sqlite"
            first, _, _ = run_generation(url, args.cache_job, cache)
            again, n_again, teacher = run_generation(url, args.cache_job, cache)
            print(
                f"{args.cache_job}-sample job: first run {first:.2f} s; re-run {again:.2f} s from the cache "
                f"({teacher.stats.sent} sent, {teacher.stats.cached} cached, {n_again} samples)"
            )
    finally:
        process.terminate()


if __name__ == "__main__":
    main()
