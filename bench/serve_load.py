"""`synthdistill serve` under load: do health checks and one-sentence predictions stay fast while other
clients send long batches (64 texts of 10,000 characters)? Goal: light requests under 50 ms at p99.

The server (`python -m synthdistill serve`, so the real CLI path) runs in its own process, with each pool kind;
this process generates the load on loopback only: `--clients` connections, of which `--heavy-clients` send long
batches back to back (a refused one again 0.1 s after its 503, ignoring Retry-After, to keep the queue full)
and the rest send a light request (GET /health and POST /predict of one short text, in turn) every
`--light-interval-s` on average. Each pool kind runs two phases of `--seconds`: light clients only, then light
and heavy together. Every request has a timeout, and each phase stops by itself.

Run: python bench/serve_load.py [--seconds 20] [--students tfidf] [--pools process thread]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import aiohttp
import bench_output

from synthdistill.students.base import Student

TOPICS = {
    "sports": (["The team", "Our striker", "The champion", "The coach", "The cyclist"],
               ["won the final", "scored twice", "lost the match", "broke the record", "trained all week"]),
    "politics": (["The parliament", "The minister", "The senate", "The mayor", "The opposition"],
                 ["passed the law", "called an election", "rejected the budget", "signed the treaty", "resigned"]),
    "science": (["The researchers", "The telescope", "The lab", "A new study", "The physicists"],
                ["found a new particle", "measured the gene", "observed a galaxy", "published the data", "ran trials"]),
    "business": (["The company", "The bank", "Investors", "The startup", "The retailer"],
                 ["raised prices", "reported profits", "cut jobs", "bought a rival", "listed its shares"]),
}  # fmt: skip
# mean seconds between a light client's requests: e5-small embeds about 50 short texts a second on 2 cores, so
# its light clients ask 20 times less often, or short predictions alone would saturate it
LIGHT_INTERVAL_S = {"tfidf": 0.2, "embed": 4.0}
WHEN = ["yesterday", "on Monday", "this season", "after a long debate", "in the spring", "at last", ""]


def synthetic_sentences(count: int, rng: random.Random) -> tuple[list[str], list[str]]:
    texts, labels = [], []
    for i in range(count):
        label = list(TOPICS)[i % len(TOPICS)]
        subjects, verbs = TOPICS[label]
        texts.append(f"{rng.choice(subjects)} {rng.choice(verbs)} {rng.choice(WHEN)}.".replace(" .", "."))
        labels.append(label)
    return texts, labels


def train_student(kind: str, folder: Path) -> Student:
    from synthdistill.config import EmbedStudentSpec
    from synthdistill.students.embed import EmbeddingStudent
    from synthdistill.students.tfidf import TfidfStudent

    texts, labels = synthetic_sentences(400, random.Random(0))
    student: Student = TfidfStudent() if kind == "tfidf" else EmbeddingStudent(EmbedStudentSpec(encoder="e5-small"))
    student.fit(texts, labels)
    student.save(folder)
    return student


@dataclass
class Phase:
    """Responses recorded after the warm-up: (kind, status, seconds) per request."""

    seconds: float
    records: list[tuple[str, int, float]] = field(default_factory=list)
    errors: int = 0
    other_cores: float = 0.0  # CPU cores taken by other programs on the machine, on average

    def latencies(self, kinds: tuple[str, ...], status: int = 200) -> list[float]:
        return sorted(s for k, code, s in self.records if k in kinds and code == status)

    def count(self, kinds: tuple[str, ...], status: int | None = None) -> int:
        return sum(1 for k, code, _ in self.records if k in kinds and (status is None or code == status))


def percentile(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


async def run_phase(url: str, args: argparse.Namespace, heavy: bool, long_texts: list[str], interval: float) -> Phase:
    phase = Phase(args.seconds)
    loop = asyncio.get_running_loop()
    measure_from = loop.time() + args.warmup_s
    stop_at = measure_from + args.seconds
    counter = 0

    async def send(session: aiohttp.ClientSession, kind: str, method: str, path: str, body: bytes | None) -> int:
        started = loop.time()
        try:
            async with session.request(method, url + path, data=body) as response:
                await response.read()
                status = response.status
        except (aiohttp.ClientError, TimeoutError):
            if started >= measure_from:
                phase.errors += 1
            return 0
        if started >= measure_from:
            phase.records.append((kind, status, loop.time() - started))
        return status

    async def light_client(session: aiohttp.ClientSession, rng: random.Random) -> None:
        nonlocal counter
        await asyncio.sleep(rng.uniform(0, interval))
        for i in range(args.max_requests_per_client):
            if loop.time() >= stop_at:
                return
            counter += 1
            if i % 2:
                text = f"The team won the final {counter}."  # distinct, so no cache answers it
                await send(session, "predict-short", "POST", "/predict", json.dumps({"text": text}).encode())
            else:
                await send(session, "health", "GET", "/health", None)
            await asyncio.sleep(interval * rng.uniform(0.5, 1.5))

    async def heavy_client(session: aiohttp.ClientSession) -> None:
        nonlocal counter
        body = b""
        for _ in range(args.max_requests_per_client):
            if loop.time() >= stop_at:
                return
            if not body:  # a new batch (distinct texts, so no cache answers them); a refused one is sent again
                counter += 1
                texts = [f"{counter}-{i} {text}"[:10_000] for i, text in enumerate(long_texts)]
                body = json.dumps({"texts": texts}).encode()
            if await send(session, "heavy", "POST", "/predict", body) == 200:
                body = b""
            else:
                await asyncio.sleep(args.heavy_retry_s)

    rng = random.Random(1)
    timeout = aiohttp.ClientTimeout(total=args.request_timeout_s)
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        light = [light_client(session, random.Random(rng.random())) for _ in range(args.clients - args.heavy_clients)]
        heavies = [heavy_client(session) for _ in range(args.heavy_clients if heavy else 0)]
        await asyncio.wait_for(
            asyncio.gather(*light, *heavies), args.warmup_s + args.seconds + args.request_timeout_s + 10
        )
    return phase


def busy_cpu_seconds() -> float:
    """CPU seconds spent so far by the whole machine (Linux /proc/stat), so that each phase can say how much
    other programs on a shared machine took."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def process_cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime + stime
    return total / os.sysconf("SC_CLK_TCK")


def process_tree(root: int) -> list[int]:
    """`root` and its children (the server and its pool workers)."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == root:
                children.append(int(stat.parent.name))
        except (OSError, IndexError, ValueError):
            continue
    return [root, *children]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(folder: Path, pool: str, args: argparse.Namespace, log: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    command = [sys.executable, "-m", "synthdistill", "serve", str(folder), "--port", str(port), "--pool", pool,
               "--workers", str(args.workers), "--max-queue", str(args.max_queue)]  # fmt: skip
    server = subprocess.Popen(command, stdout=log.open("w"), stderr=subprocess.STDOUT, cwd=HERE.parent)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and server.poll() is None:
        with socket.socket() as client:
            if client.connect_ex(("127.0.0.1", port)) == 0:  # the port opens once the workers are warm
                return server, f"http://127.0.0.1:{port}"
        time.sleep(0.1)
    server.kill()
    raise SystemExit(f"the server did not start; its log:\n{log.read_text()}")


def stop_server(server: subprocess.Popen) -> None:
    server.terminate()
    try:
        server.wait(20)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def row(student: str, pool: str, load: str, phase: Phase) -> str:
    light = phase.latencies(("health", "predict-short"))
    health = phase.latencies(("health",))
    short = phase.latencies(("predict-short",))
    heavy = phase.latencies(("heavy",))
    light_failed = phase.count(("health", "predict-short")) - len(light)
    total_rate = (len(phase.records) + phase.errors) / phase.seconds
    ms = [1000 * percentile(values, q) for values in (light, health, short) for q in (0.5, 0.99)]
    heavy_p50 = f"{percentile(heavy, 0.5):.2f}" if heavy else "-"
    return (
        f"| {student} | {pool} | {load} | {total_rate:,.0f} | {len(light) / phase.seconds:,.0f} | "
        + " | ".join(f"{value:.1f}" for value in ms)
        + f" | {1000 * light[-1]:.0f} | {len(heavy)} | {heavy_p50} | {phase.count(('heavy',), 503)} | "
        f"{light_failed + phase.errors} | {phase.other_cores:.2f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20.0, help="measured seconds per phase")
    parser.add_argument("--warmup-s", type=float, default=3.0, help="seconds before each phase's measurement")
    parser.add_argument("--students", nargs="+", default=["tfidf"], choices=["tfidf", "embed"])
    parser.add_argument("--pools", nargs="+", default=["process", "thread"], choices=["process", "thread"])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--heavy-clients", type=int, default=20)
    parser.add_argument("--light-interval-s", type=float, help=f"default: {LIGHT_INTERVAL_S}")
    parser.add_argument("--heavy-retry-s", type=float, default=0.1, help="wait before sending a refused batch again")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--max-queue", type=int, default=8)
    parser.add_argument("--request-timeout-s", type=float, default=30.0)
    parser.add_argument("--max-requests-per-client", type=int, default=10_000)
    args = parser.parse_args()
    rng = random.Random(2)
    words = [w.strip(".") for subjects, verbs in TOPICS.values() for w in " ".join(subjects + verbs).split()]
    long_texts = [" ".join(rng.choice(words) for _ in range(2_000))[:9_980] for _ in range(64)]
    lines = [
        f"# `synthdistill serve` under load ({bench_output.machine()})",
        "",
        f"The server (`python -m synthdistill serve --workers {args.workers} --max-queue {args.max_queue}`) and "
        "the load generator are separate processes on loopback, sharing this machine's "
        f"{os.cpu_count()} cores with the server's worker processes. {args.clients} client connections: "
        f"{args.clients - args.heavy_clients} light ones send a request at the mean interval of the load column "
        "(GET /health and POST /predict of one short text, in turn); under heavy load "
        f"{args.heavy_clients} more send 64 texts of 10,000 characters back to back (a refused batch again "
        f"{args.heavy_retry_s:g} s after its 503). Each phase: {args.warmup_s:g} s warm-up, then {args.seconds:g} s "
        "measured. Latencies in ms, of 200 answers; heavy p50 in s. Goal: light p99 under 50 ms with heavy load. "
        "The last column: CPU cores that programs other than this bench took on average during the phase (the "
        "machine may be shared; 0 is a clean measurement).",
        "",
        "| student | pool | load | req/s (all) | light req/s | light p50 | light p99 | health p50 | health p99 "
        "| short predict p50 | short predict p99 | light max | heavy done | heavy p50 s | heavy 503s | light errors "
        "| other programs' cores |",
        "|---|---|---|" + "---:|" * 14,
    ]
    with tempfile.TemporaryDirectory() as tmp:
        for kind in args.students:
            folder = Path(tmp) / kind
            started = time.perf_counter()
            train_student(kind, folder)
            print(f"{kind}: trained on 400 synthetic sentences in {time.perf_counter() - started:.1f} s")
            interval = args.light_interval_s or LIGHT_INTERVAL_S[kind]
            for pool in args.pools:
                server, url = start_server(folder, pool, args, Path(tmp) / f"{kind}-{pool}.log")
                try:
                    for heavy in (False, True):
                        load = "light + heavy" if heavy else "light only"
                        ours = [*process_tree(server.pid), os.getpid()]
                        before = busy_cpu_seconds(), process_cpu_seconds(ours), time.perf_counter()
                        gc.disable()  # no collector pauses in the load generator's own timings
                        try:
                            phase = asyncio.run(run_phase(url, args, heavy, long_texts, interval))
                        finally:
                            gc.enable()
                        elapsed = time.perf_counter() - before[2]
                        busy = (busy_cpu_seconds() - before[0]) / elapsed
                        phase.other_cores = busy - (process_cpu_seconds(ours) - before[1]) / elapsed
                        lines.append(row(kind, pool, f"{load}, light every {interval:g} s", phase))
                        print(lines[-1], flush=True)
                finally:
                    stop_server(server)
    bench_output.write_markdown("serve_load", lines)


if __name__ == "__main__":
    main()
