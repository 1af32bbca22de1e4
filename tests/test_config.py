from pathlib import Path

import pytest
import yaml

from synthdistill.config import EmbeddedTeacherSpec, OpenAITeacherSpec, load_config, parse_config
from synthdistill.errors import ConfigError
from tests.conftest import tiny_config_dict


def write(tmp_path: Path, config: dict | str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(config if isinstance(config, str) else yaml.safe_dump(config), encoding="utf-8")
    return path


def error_of(tmp_path: Path, config: dict | str) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, config))
    return str(info.value)


def test_valid_config_resolves_paths_and_defaults(tmp_path):
    config = load_config(write(tmp_path, tiny_config_dict()))
    assert config.task.label_names == ["sports", "politics"]
    assert config.teacher.prompt_mode == "completion"
    assert config.data_path("test", "en") == tmp_path / "data/en/test.jsonl"
    assert config.data_path("dev", "en") is None
    dumped = yaml.safe_load(config.to_yaml())
    assert dumped["data"]["test"] == str((tmp_path / "data/{lang}/test.jsonl").resolve())


def test_misspelt_key_names_its_path(tmp_path):
    raw = tiny_config_dict()
    raw["generation"]["samples_per_lable"] = 5
    message = error_of(tmp_path, raw)
    assert "config.yaml" in message and "generation.samples_per_lable" in message


def test_bad_value_in_list_names_index(tmp_path):
    raw = tiny_config_dict()
    raw["students"][0]["C"] = -1
    assert "students[0].C" in error_of(tmp_path, raw)


def test_unknown_language_code(tmp_path):
    raw = tiny_config_dict()
    raw["task"]["languages"] = ["en", "qqq"]
    message = error_of(tmp_path, raw)
    assert "task.languages" in message and "qqq" in message


def test_duplicate_labels(tmp_path):
    raw = tiny_config_dict()
    raw["task"]["labels"].append({"name": "sports", "description": "again"})
    assert "repeated: sports" in error_of(tmp_path, raw)


def test_openai_backend_needs_url_and_model(tmp_path):
    raw = tiny_config_dict(backend="openai")
    message = error_of(tmp_path, raw)
    assert "teacher" in message and "base_url and model" in message


def test_shots_need_seed_data(tmp_path):
    raw = tiny_config_dict()
    del raw["data"]["seed"]
    raw["students"] = [{"type": "tfidf"}]
    assert "needs data.seed" in error_of(tmp_path, raw)


def test_missing_required_section(tmp_path):
    raw = tiny_config_dict()
    del raw["data"]
    assert "data: Field required" in error_of(tmp_path, raw)


def test_yaml_syntax_error_names_line(tmp_path):
    message = error_of(tmp_path, "task:\n  name: x\n  labels: [a, b\n")
    assert "config.yaml: line" in message and "invalid YAML" in message


def test_missing_and_non_utf8_files(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")
    path = tmp_path / "latin1.yaml"
    path.write_bytes("name: caf\xe9".encode("latin-1"))
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(path)


def test_top_level_must_be_mapping(tmp_path):
    assert "mapping" in error_of(tmp_path, "- a\n- b\n")


def test_parse_config_from_dict():
    config = parse_config(tiny_config_dict(), source="inline")
    assert config.generation.samples_per_label == 3
    with pytest.raises(ConfigError, match=r"^inline: generation.min_chars"):
        parse_config({**tiny_config_dict(), "generation": {"min_chars": 0}}, source="inline")


def test_student_types_and_their_fields(tmp_path):
    raw = tiny_config_dict()
    raw["students"] = [{"type": "tfidf"}, {"type": "embed", "encoder": "use-multilingual", "C": 2.0}]
    config = load_config(write(tmp_path, raw))
    assert [s.display_name for s in config.students] == ["tfidf", "embed"]
    assert (config.students[1].encoder, config.students[1].C) == ("use-multilingual", 2.0)
    raw["students"] = [{"type": "embed", "ngram_range": [1, 2]}]
    assert "students[0].ngram_range: Extra inputs" in error_of(tmp_path, raw)
    raw["students"] = [{"type": "magic"}]
    assert "students[0]" in error_of(tmp_path, raw) and "tfidf" in error_of(tmp_path, raw)


@pytest.mark.parametrize("url", ["127.0.0.1:8000/v1", "localhost:8000", "ftp://host/v1", ["http://a/v1", "b:1/v1"]])
def test_a_base_url_without_scheme_is_a_config_error(tmp_path, url):
    """Before: 127.0.0.1:8000/v1 passed validation and failed later with a 329-line ExceptionGroup."""
    message = error_of(tmp_path, tiny_config_dict(backend="openai", base_url=url, model="m"))
    assert "teacher.base_url" in message and "is not an http:// or https:// URL" in message


def test_urls_with_a_scheme_pass(tmp_path):
    for url in ("http://127.0.0.1:8000/v1", "https://api.openai.com/v1", "http://[::1]:8080/v1"):
        load_config(write(tmp_path, tiny_config_dict(backend="openai", base_url=url, model="m")))


@pytest.mark.parametrize("name", ["../../../escaped", "a/b", "..", ".hidden", "x" * 65, "a\\b"])
def test_student_names_that_would_leave_the_output_folder(tmp_path, name):
    raw = tiny_config_dict()
    raw["students"] = [{"type": "tfidf", "name": name}]
    assert "students[0].name: must be a plain folder name" in error_of(tmp_path, raw)


@pytest.mark.parametrize(
    "pasted", ["sk-proj-abc123DEF456ghi789", "AIzaSyD9fk3kdl2kdlsk3l2kdl3", "gsk_8s7d6f5g4h3j2k1l0p9o8i7u"]
)
def test_a_key_pasted_into_api_key_env_is_refused_and_never_echoed(tmp_path, pasted):
    message = error_of(
        tmp_path, tiny_config_dict(backend="openai", base_url="http://h/v1", model="m", api_key_env=pasted)
    )
    assert "teacher.api_key_env" in message and "looks like a key itself" in message
    assert pasted not in message and pasted[:8] not in message


def test_variable_names_pass_as_api_key_env(tmp_path):
    for name in ("OPENAI_API_KEY", "HF_TOKEN", "my_key", "GROQ_API_KEY_2"):
        load_config(
            write(tmp_path, tiny_config_dict(backend="openai", base_url="http://h/v1", model="m", api_key_env=name))
        )


# the teacher is a union by backend: a field of the other backend is an error that says whose it is
def test_an_embedded_field_on_an_openai_teacher_is_an_error_naming_it(tmp_path):
    message = error_of(tmp_path, tiny_config_dict(backend="openai", base_url="http://h/v1", model="m", n_parallel=8))
    assert "teacher.n_parallel: belongs to the embedded backend" in message


def test_an_openai_field_on_an_embedded_teacher_is_an_error_naming_it(tmp_path):
    message = error_of(tmp_path, tiny_config_dict(base_url="http://h/v1"))
    assert "teacher.base_url: belongs to the openai backend" in message
    assert "teacher.mode: Input should be 'completion'" in error_of(tmp_path, tiny_config_dict(mode="chat"))
    assert "teacher.n_paralel: Extra inputs are not permitted" in error_of(tmp_path, tiny_config_dict(n_paralel=2))
    assert "teacher: backend must be 'embedded' or 'openai'" in error_of(tmp_path, tiny_config_dict(backend="vllm"))


def test_a_teacher_without_backend_or_no_teacher_at_all_is_embedded(tmp_path):
    raw = tiny_config_dict(n_parallel=2)
    del raw["teacher"]["backend"]
    config = load_config(write(tmp_path, raw))
    assert isinstance(config.teacher, EmbeddedTeacherSpec) and config.teacher.n_parallel == 2
    del raw["teacher"]
    config = load_config(write(tmp_path, raw))
    assert config.teacher == EmbeddedTeacherSpec() and config.teacher.prompt_mode == "completion"
    openai = parse_config(tiny_config_dict(backend="openai", base_url="http://h/v1", model="m")).teacher
    assert isinstance(openai, OpenAITeacherSpec) and openai.prompt_mode == "chat"


def test_an_icl_students_own_model_names_the_field_of_the_wrong_backend(tmp_path):
    raw = tiny_config_dict()
    raw["students"] = [{"type": "icl", "model": {"backend": "openai", "base_url": "http://h/v1", "model": "m"}}]
    assert isinstance(load_config(write(tmp_path, raw)).students[0].model, OpenAITeacherSpec)
    raw["students"][0]["model"]["cache_ram_mib"] = 64
    assert "students[0].model.cache_ram_mib: belongs to the embedded backend" in error_of(tmp_path, raw)
    raw["students"][0]["model"] = {"model_path": "small.gguf", "api_key_env": "KEY"}
    assert "students[0].model.api_key_env: belongs to the openai backend" in error_of(tmp_path, raw)
    raw["students"][0]["model"] = {"backend": "openai"}
    assert "students[0].model: the openai backend needs base_url and model" in error_of(tmp_path, raw)


def test_a_teachers_dump_holds_only_its_own_backends_fields(tmp_path):
    embedded = yaml.safe_load(load_config(write(tmp_path, tiny_config_dict())).to_yaml())["teacher"]
    assert {"model_path", "n_parallel", "cache_ram_mib", "max_concurrency"} <= embedded.keys()
    assert not {"model", "base_url", "api_key_env"} & embedded.keys()
    raw = tiny_config_dict(backend="openai", base_url="http://h/v1", model="m")
    openai = yaml.safe_load(load_config(write(tmp_path, raw)).to_yaml())["teacher"]
    assert {"model", "base_url", "api_key_env", "max_concurrency"} <= openai.keys()
    assert not {"model_path", "n_parallel", "n_ctx", "n_threads", "cache_ram_mib"} & openai.keys()


# config.yaml as the code before the union wrote it: both backends' fields, the other backend's at their defaults
OLD_SHARED_FIELDS = """
  max_concurrency: 4
  timeout_s: 120.0
  max_retries: 5
  backoff_s: 0.5
  max_backoff_s: 30.0
  max_consecutive_errors: 20
  requests_per_minute: null
  tokens_per_minute: null
  max_requests: null
  max_tokens: null
  score_top_k: null
"""
OLD_OPENAI_TEACHER = f"""
teacher:
  backend: openai
  model: m
  base_url: http://127.0.0.1:8000/v1
  api_key_env: null
  mode: completion{OLD_SHARED_FIELDS}
  model_path: null
  n_parallel: 4
  n_ctx: 8192
  n_threads: null
  cache_ram_mib: {{cache_ram_mib}}
  price_per_million_prompt: null
  price_per_million_completion: null
"""
OLD_EMBEDDED_TEACHER = f"""
teacher:
  backend: embedded
  model: null
  base_url: null
  api_key_env: null
  mode: null{OLD_SHARED_FIELDS}
  model_path: null
  n_parallel: 2
  n_ctx: 8192
  n_threads: null
  cache_ram_mib: 512
  price_per_million_prompt: null
  price_per_million_completion: null
"""


@pytest.mark.parametrize("cache_ram_mib", [512, 256])  # 256: the default of its first version
def test_a_config_yaml_written_before_the_union_still_loads(tmp_path, cache_ram_mib):
    raw = tiny_config_dict()
    old_teacher = yaml.safe_load(OLD_OPENAI_TEACHER.format(cache_ram_mib=cache_ram_mib))["teacher"]
    raw["teacher"] = old_teacher
    raw["students"] = [{"type": "icl", "model": yaml.safe_load(OLD_EMBEDDED_TEACHER)["teacher"]}]
    config = load_config(write(tmp_path, raw))
    assert isinstance(config.teacher, OpenAITeacherSpec) and config.teacher.prompt_mode == "completion"
    icl_model = config.students[0].model
    assert isinstance(icl_model, EmbeddedTeacherSpec) and icl_model.n_parallel == 2
    again = load_config(write(tmp_path, config.to_yaml()))  # and its new dump re-runs as well
    assert again.teacher == config.teacher and again.students == config.students
    raw["teacher"]["n_parallel"] = 8  # a value the old code never wrote for an openai teacher: it was ignored
    assert "teacher.n_parallel: belongs to the embedded backend" in error_of(tmp_path, raw)


def test_a_default_valued_field_of_the_other_backend_written_by_hand_is_refused(tmp_path):
    """Only a whole old dump has its other backend's defaults dropped; one field written by hand is a mistake."""
    raw = tiny_config_dict(backend="openai", base_url="http://h/v1", model="m", n_parallel=4)
    assert "teacher.n_parallel: belongs to the embedded backend" in error_of(tmp_path, raw)
    raw = tiny_config_dict(base_url=None)
    assert "teacher.base_url: belongs to the openai backend" in error_of(tmp_path, raw)


def test_the_embedded_teacher_is_reproducible_by_default_and_says_when_it_cannot_be(tmp_path):
    """One slot and one request at a time by default; several slots are a choice of speed over exactness, and
    asking for both is one error naming the field."""
    plain = EmbeddedTeacherSpec()
    assert plain.n_parallel == 1 and plain.is_reproducible and plain.concurrency == 1
    fast = EmbeddedTeacherSpec(n_parallel=4, max_concurrency=8)
    assert not fast.is_reproducible and fast.concurrency == 8
    assert EmbeddedTeacherSpec(reproducible=False, max_concurrency=3).concurrency == 3
    assert OpenAITeacherSpec(base_url="http://h/v1", model="m", max_concurrency=16).concurrency == 16
    message = error_of(tmp_path, tiny_config_dict(n_parallel=4, reproducible=True))
    assert "teacher" in message and "reproducible: true needs n_parallel: 1 (got 4)" in message
