"""The YAML config as pydantic models; every error names the file and the field path."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, TypeVar, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, ValidationError, field_validator, model_validator
from pydantic_core import ErrorDetails

from synthdistill.data import data_source
from synthdistill.errors import ConfigError
from synthdistill.hf_datasets import is_hub_reference
from synthdistill.languages import resolve_language, same_language

_FOLDER_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9_+-]|\.(?!\.)){0,63}")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
_URL = re.compile(r"https?://(\[[0-9A-Fa-f:.]+\]|[^/\s:\[\]]+)(:[0-9]+)?(/\S*)?")


def looks_like_a_secret(value: str) -> bool:
    """A pasted key rather than a variable's name: not a name at all, or long with lower case and digits (names
    of environment variables are upper case by custom: OPENAI_API_KEY, HF_TOKEN)."""
    if not _ENV_NAME.fullmatch(value):
        return True
    return len(value) >= 24 and any(c.islower() for c in value) and any(c.isdigit() for c in value)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


ModelT = TypeVar("ModelT", bound=BaseModel)


def check_template(name: str | None, kind: str) -> str | None:
    """A field validator's body: a template of this kind (generate, translate) that ships with the package, so a
    typo fails when the config loads, not after the teacher has answered."""
    from synthdistill.prompts import known_templates

    if name is None:
        return None
    choices = [t for t in known_templates() if t.startswith(f"{kind}.")]
    if name not in choices:
        raise ValueError(f"unknown template {name!r}; the {kind} templates are {', '.join(choices)}")
    return name


def check_languages(languages: list[str]) -> list[str]:
    """A field validator's body: every code known, none twice."""
    for code in languages:
        try:
            resolve_language(code)
        except ConfigError as err:
            raise ValueError(str(err)) from None
    if len(set(languages)) != len(languages):
        raise ValueError("languages must be unique")
    return languages


class LabelSpec(_Strict):
    name: str = Field(min_length=1, description="the label exactly as the data files write it")
    description: str = Field(min_length=1, description="what texts of this label are about; prompts use it")


class TaskSpec(_Strict):
    name: str = Field(min_length=1, description="the task's name in reports and provenance")
    domain: str = Field(min_length=1, description="one sentence: what the texts are")
    text_kind: str = Field("sentence", description="what one example is called in prompts")
    label_kind: str = Field("label", description="what a label is called in prompts, e.g. topic")
    labels: list[LabelSpec] = Field(min_length=2, description="two or more, each with a name and a description")
    languages: list[str] = Field(
        min_length=1, description="ISO 639-1, ISO 639-3 or FLORES-200 codes; {lang} in data paths becomes each"
    )

    @field_validator("labels")
    @classmethod
    def _unique_labels(cls, labels: list[LabelSpec]) -> list[LabelSpec]:
        names = [label.name for label in labels]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"label names must be unique; repeated: {', '.join(repeated)}")
        return labels

    @field_validator("languages")
    @classmethod
    def _known_languages(cls, languages: list[str]) -> list[str]:
        return check_languages(languages)

    @property
    def label_names(self) -> list[str]:
        return [label.name for label in self.labels]


# config.yaml written before the teacher union (issue #12) lists every field of both backends, those of the backend
# not chosen at their defaults; these are the values it could have written (cache_ram_mib's default was 256 at
# first, and older dumps lack it). A section that holds all of the other backend's fields (such a dump; a person
# writes one or two) loads with those at such values dropped, as the old code ignored them, so old output folders
# re-run. Any other value, or such a field written by hand, is an error.
_OLD_DUMP_DEFAULTS: dict[str, dict[str, tuple[object, ...]]] = {
    "embedded": {"model": (None,), "base_url": (None,), "api_key_env": (None,)},
    "openai": {
        "model_path": (None,),
        "n_parallel": (4,),
        "n_ctx": (8192,),
        "n_threads": (None,),
        "cache_ram_mib": (256, 512),
    },
}


class _TeacherSpecBase(_Strict):
    """What every backend reads: the engine's concurrency, rate limits and budgets, and the settings of the
    OpenAI-protocol client (the embedded backend drives its llama.cpp server through the same client)."""

    default_mode: ClassVar[Literal["completion", "chat"]]
    backend: str  # each member narrows it to its tag
    mode: Literal["completion", "chat"] | None = Field(
        None, description="prompt style; default: completion for embedded, chat for openai"
    )
    max_concurrency: int = Field(
        4, ge=1, le=1024, description="requests in flight at once (a reproducible embedded teacher sends one)"
    )
    timeout_s: float = Field(120.0, gt=0, description="seconds one request may take before it is retried")
    max_retries: int = Field(5, ge=0, le=50, description="retries of a failed request (429, 5xx, timeouts)")
    backoff_s: float = Field(0.5, gt=0, description="first pause before a retry; doubles each time, with jitter")
    max_backoff_s: float = Field(30.0, gt=0, description="the longest pause between retries")
    max_consecutive_errors: int = Field(20, ge=1, description="stop after this many failed attempts in a row")
    requests_per_minute: int | None = Field(None, ge=1, description="client-side rate limit")
    tokens_per_minute: int | None = Field(None, ge=1, description="estimated before sending: prompt/4 + max_tokens")
    max_requests: int | None = Field(None, ge=0, description="budget: requests sent in one run (cache hits are free)")
    max_tokens: int | None = Field(None, ge=0, description="budget: tokens sent and received in one run")
    score_top_k: int | None = Field(None, ge=1, description="top log-probabilities asked for when scoring labels")
    price_per_million_prompt: float | None = Field(None, ge=0, description="for the cost estimate")
    price_per_million_completion: float | None = Field(None, ge=0, description="for the cost estimate")

    @model_validator(mode="before")
    @classmethod
    def _drop_old_dump_defaults(cls, data: Any) -> Any:
        if isinstance(data, dict):
            old = _OLD_DUMP_DEFAULTS[cls.model_fields["backend"].default]
            if all(key in data for key in old if key != "cache_ram_mib"):
                data = {key: value for key, value in data.items() if not (key in old and value in old[key])}
        return data

    @property
    def prompt_mode(self) -> Literal["completion", "chat"]:
        return self.mode or self.default_mode

    @property
    def concurrency(self) -> int:
        """Requests in flight at once."""
        return self.max_concurrency


class EmbeddedTeacherSpec(_TeacherSpecBase):
    """llama.cpp in this process, on a GGUF file: the default teacher."""

    default_mode: ClassVar[Literal["completion", "chat"]] = "completion"
    backend: Literal["embedded"] = "embedded"
    mode: Literal["completion"] | None = Field(None, description="prompt style: completion only (the default)")
    model_path: str | None = Field(None, description="GGUF file (default: Gemma 3 270M)")
    n_parallel: int = Field(
        1,
        ge=1,
        le=64,
        description="llama.cpp slots decoding at once; 1 (the default) repeats byte for byte, more is no faster on a "
        "small CPU and makes answers depend on which requests share a batch",
    )
    reproducible: bool | None = Field(
        None,
        description="two runs of one config on one machine write the same bytes: one slot, one request at a time in "
        "a fixed order (default: true when n_parallel is 1); false: max_concurrency requests in flight",
    )
    n_ctx: int = Field(8192, ge=512, description="context size shared by all slots")
    n_threads: int | None = Field(None, ge=1, description="CPU threads (default: OMP_NUM_THREADS, else all cores)")
    cache_ram_mib: int = Field(
        512, ge=0, description="llama.cpp's prompt cache in host memory, MiB (0: none; bounds the RSS)"
    )

    @model_validator(mode="after")
    def _one_slot_to_reproduce(self) -> EmbeddedTeacherSpec:
        if self.reproducible and self.n_parallel > 1:
            raise ValueError(
                f"reproducible: true needs n_parallel: 1 (got {self.n_parallel}): parallel slots make each answer "
                "depend on which requests share its batch; set reproducible: false to use several"
            )
        return self

    @property
    def is_reproducible(self) -> bool:
        return self.reproducible if self.reproducible is not None else self.n_parallel == 1

    @property
    def concurrency(self) -> int:
        """llama.cpp's prompt cache reuses a prefix's numbers as they were computed in an earlier request's batch, so
        an answer depends on the order requests reach the one slot: a reproducible run sends them one at a time."""
        return 1 if self.is_reproducible else self.max_concurrency


class OpenAITeacherSpec(_TeacherSpecBase):
    """Any OpenAI-compatible endpoint: vLLM, Ollama, a llama.cpp server, TGI, OpenAI."""

    default_mode: ClassVar[Literal["completion", "chat"]] = "chat"
    backend: Literal["openai"] = "openai"
    model: str | None = Field(None, description="model name sent to the endpoint")
    base_url: str | list[str] | None = Field(
        None, description="e.g. http://localhost:8000/v1, or a list of such endpoints used in turn"
    )
    api_key_env: str | None = Field(None, description="name of the environment variable holding the key")

    @field_validator("base_url")
    @classmethod
    def _absolute_urls(cls, value: str | list[str] | None) -> str | list[str] | None:
        for url in [value] if isinstance(value, str) else value or []:
            if not _URL.fullmatch(url):
                raise ValueError(f"{url!r} is not an http:// or https:// URL, e.g. http://127.0.0.1:8000/v1")
        return value

    @field_validator("api_key_env")
    @classmethod
    def _a_name_not_a_key(cls, value: str | None) -> str | None:
        if value is not None and looks_like_a_secret(value):  # never echo it: it may be the key itself
            raise ValueError(
                "give the name of the environment variable that holds the key (e.g. OPENAI_API_KEY); the value "
                "given looks like a key itself and is not shown"
            )
        return value

    @model_validator(mode="after")
    def _needs_endpoint(self) -> OpenAITeacherSpec:
        missing = [f for f in ("base_url", "model") if getattr(self, f) is None]
        if missing:
            raise ValueError(f"the openai backend needs {' and '.join(missing)}")
        return self


def _teacher_backend(value: Any) -> str:
    """The member a teacher section is: its `backend`, embedded where it names none (the default)."""
    if isinstance(value, dict):
        return str(value.get("backend", "embedded"))
    return getattr(value, "backend", "embedded")  # a member itself; anything else fails as an embedded section


TeacherSpec = Annotated[
    Annotated[EmbeddedTeacherSpec, Tag("embedded")] | Annotated[OpenAITeacherSpec, Tag("openai")],
    Discriminator(
        _teacher_backend,
        custom_error_type="teacher_backend",
        custom_error_message="backend must be 'embedded' or 'openai'",
    ),
]
# backend -> member, read from the union's tags
_TEACHER_SPECS: dict[str, type[_TeacherSpecBase]] = {
    tag.tag: member for member, tag in map(get_args, get_args(get_args(TeacherSpec)[0]))
}


class GenerationSpec(_Strict):
    """Strategies combine freely; defaults follow Anikina et al. (2025) where they measured one."""

    samples_per_label: int = Field(100, ge=1, description="samples asked for per language and label")
    samples_per_call: int = Field(1, ge=1, le=50, description="samples written by one request")
    demos_per_prompt: int = Field(10, ge=0, description="random human seed examples shown in each prompt")
    demo_language: str | None = Field(
        None, description="take demonstrations from this language's seed file (default: the target language)"
    )
    label_summaries: bool = Field(False, description="the teacher first describes each label from seed examples")
    self_revision: bool = Field(False, description="the teacher checks each sample; rejected ones are dropped")
    taboo_words: int = Field(0, ge=0, description="forbid this many of the most frequent content words so far")
    rounds: int | None = Field(None, ge=1, description="generation rounds (default: 4 with taboo words, else 1)")
    attributes: dict[str, list[str]] = Field(
        default_factory=dict, description="label (or '*') -> sub-topics/styles that prompts cycle through"
    )
    template: str | None = Field(None, description="prompt template name (default: generate.<mode>.v2)")
    temperature: float = Field(0.4, ge=0, le=2, description="sampling temperature of generation requests")
    top_p: float = Field(0.9, gt=0, le=1, description="nucleus sampling of generation requests")
    repetition_penalty: float | None = Field(
        None, gt=0, description="1.2 in the literature; sent only when set (OpenAI's own API rejects it)"
    )
    max_tokens: Literal["auto"] | Annotated[int, Field(ge=1)] = Field(
        "auto",
        description="tokens per sample (a request for several gets a multiple): a whole number ≥ 1, or auto: "
        "sized per language from its seed texts' lengths in the teacher's tokens",
    )
    seed: int = Field(0, description="seeds demonstrations, sampling and students; same seed, same requests")

    @field_validator("max_tokens", mode="before")
    @classmethod
    def _auto_or_tokens(cls, value: object) -> object:
        """One clear message instead of one per member of the union."""
        if value == "auto" or (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
            return value
        raise ValueError(f"must be auto or a whole number of tokens, at least 1 (got {value!r})")

    @field_validator("template")
    @classmethod
    def _known_template(cls, name: str | None) -> str | None:
        return check_template(name, "generate")

    @field_validator("demo_language")
    @classmethod
    def _known_demo_language(cls, code: str | None) -> str | None:
        return code if code is None else check_languages([code])[0]

    @field_validator("attributes")
    @classmethod
    def _non_empty_attributes(cls, attributes: dict[str, list[str]]) -> dict[str, list[str]]:
        empty = [key for key, values in attributes.items() if not values]
        if empty:
            raise ValueError(f"attribute lists must not be empty: {', '.join(empty)}")
        return attributes

    @property
    def effective_rounds(self) -> int:
        return self.rounds or (4 if self.taboo_words else 1)


SourceKind = Literal["in_language", "pivot", "translate", "mixed", "auto"]
SOURCE_KINDS: tuple[SourceKind, ...] = get_args(SourceKind)


class SourceSpec(_Strict):
    """Where each language's synthetic training data comes from: the teacher writing in it, writing in a pivot
    language it writes better (multilingual students carry the pivot's labels over), translating pivot samples,
    a mix, or auto: every candidate tried on the human dev split."""

    default: SourceKind = Field(
        "in_language",
        description="in_language, pivot (the pivot language's samples), translate (pivot samples translated by "
        "the teacher), mixed (pivot and in-language or translated samples), auto (the best on dev)",
    )
    languages: dict[str, SourceKind] = Field(
        default_factory=dict, description="task language -> its source, overriding default"
    )
    pivot: str | None = Field(
        "en", description="the language pivot samples are written in (a task language or any other)"
    )
    mixed_with: Literal["in_language", "translate"] = Field(
        "in_language", description="what mixed adds to the pivot samples"
    )
    pivot_share: float = Field(0.5, gt=0, lt=1, description="mixed: the pivot samples' share of each label")
    translations_per_request: int = Field(
        1, ge=1, le=20, description="pivot samples per translation request (more: a numbered list, fewer requests)"
    )
    translation_template: str | None = Field(None, description="prompt template (default: translate.<mode>.v1)")

    @field_validator("translation_template")
    @classmethod
    def _known_template(cls, name: str | None) -> str | None:
        return check_template(name, "translate")

    @field_validator("pivot")
    @classmethod
    def _known_pivot(cls, code: str | None) -> str | None:
        return code if code is None else check_languages([code])[0]

    def kind(self, language: str) -> SourceKind:
        return self.languages.get(language, self.default)


class FilterSpec(_Strict):
    """Filters over generated samples, in this order; each drop is kept in dropped.jsonl with its reason."""

    min_chars: int = Field(10, ge=1, description="shorter samples are dropped")
    max_chars: int = Field(400, ge=1, description="longer samples are dropped")
    min_distinct_share: float | None = Field(
        0.5,
        ge=0,
        le=1,
        description="repetition loops: a sample of 30+ characters whose distinct character 10-grams are fewer "
        "than this share of its 10-grams is dropped as repetitive (null: off)",
    )
    language_id: bool = Field(True, description="drop samples not in the target language (py3langid + script)")
    language_min_probability: float = Field(
        0.1, ge=0, le=1, description="the target language's least probability under py3langid"
    )
    near_duplicate_threshold: float | None = Field(
        0.8, gt=0, le=1, description="Jaccard over character 5-grams; null: exact duplicates only"
    )
    teacher_check: bool = Field(False, description="keep a sample only if the teacher classifies it as its label")
    teacher_check_shots: int = Field(1, ge=0, description="human examples per label in the check's prompt")

    @model_validator(mode="after")
    def _bounds(self) -> FilterSpec:
        if self.min_chars > self.max_chars:
            raise ValueError("min_chars must not exceed max_chars")
        return self


class DataSpec(_Strict):
    """Paths may contain {lang}, replaced by each task language; relative paths start at the config's folder. A
    path may name a file, a Hugging Face datasets folder (save_to_disk; FOLDER@SPLIT for a DatasetDict) or
    hf:NAME[:CONFIG][@SPLIT] on the hub."""

    format: Literal["auto", "jsonl", "csv", "parquet"] = Field("auto", description="auto: by file extension")
    text_column: str = Field("text", description="the column (or JSON key) that holds the text")
    label_column: str = Field("label", description="the column (or JSON key) that holds the label")
    seed: str | None = Field(None, description="few human examples: demonstrations and the human training set")
    dev: str | None = Field(None, description="human dev data: chooses the teacher's setting and students' epochs")
    test: str = Field(description="human-labelled test data")


class _StudentSpecBase(_Strict):
    placement_fields: ClassVar[frozenset[str]] = frozenset()  # where it runs, not what it learns
    # Fields added after results were first stored, with the value that behaves as before: left out of a
    # finished cell's key at that value, so that adding a setting keeps every stored result valid.
    later_fields: ClassVar[dict[str, Any]] = {}
    # Learns from text in one language to classify another (a multilingual encoder or LLM): pivot-language
    # training data helps it. A student of surface n-grams does not, and never trains on another language's text.
    crosses_languages: ClassVar[bool] = True
    name: str | None = Field(None, description="folder name under students/: letters, digits, . _ + -")
    train_on: list[Literal["synthetic", "human"]] = Field(
        default_factory=lambda: ["synthetic"], min_length=1, description="human: the seed file, as a baseline"
    )

    @field_validator("name")
    @classmethod
    def _safe_folder_name(cls, name: str | None) -> str | None:
        """The name becomes a folder under the output: nothing that could lead outside it."""
        if name is not None and not _FOLDER_NAME.fullmatch(name):
            raise ValueError(
                "must be a plain folder name: a letter or digit, then letters, digits, '.', '_', '+' or '-' "
                "(at most 64 characters, no '/', no '..')"
            )
        return name

    @property
    def display_name(self) -> str:
        return self.name or self.type  # type: ignore[attr-defined]

    def identity_options(self) -> dict:
        """What makes the student what it is (type and settings), for keys of finished work: a run moved from
        a CPU to a GPU keeps them."""
        as_before = {name for name, value in self.later_fields.items() if getattr(self, name) == value}
        return self.model_dump(mode="json", exclude={"name", "train_on", *self.placement_fields, *as_before})


class TfidfStudentSpec(_StudentSpecBase):
    crosses_languages: ClassVar[bool] = False
    type: Literal["tfidf"] = "tfidf"
    analyzer: Literal["char_wb", "char", "word"] = Field(
        "char_wb", description="n-grams of characters (in words) or of words"
    )
    ngram_range: tuple[int, int] = Field((2, 5), description="shortest and longest n-gram")
    max_features: int | None = Field(200_000, ge=1, description="the most frequent n-grams kept")
    C: float = Field(10.0, gt=0, description="inverse regularisation of the logistic regression")


class EmbedStudentSpec(_StudentSpecBase):
    type: Literal["embed"] = "embed"
    encoder: str = Field("e5-small", description="e5-small, use-multilingual, or st:<sentence-transformers model>")
    C: float = Field(1.0, gt=0, description="inverse regularisation of the logistic regression")


class IclStudentSpec(_StudentSpecBase):
    type: Literal["icl"] = "icl"
    shots_per_label: int = Field(2, ge=1, description="training examples per label in each prompt")
    selection: Literal["random", "nearest"] = Field("random", description="nearest: by sentence embeddings")
    encoder: str = Field("e5-small", description="encoder for nearest-neighbour selection")
    model: TeacherSpec | None = Field(None, description="the compact LLM that answers (default: the teacher)")
    calibration: bool = Field(
        False,
        description="contextual calibration: divide each label's probability by its probability for content-free "
        "inputs (N/A, empty, [MASK]) after the same examples; needs a completion-mode model. Random selection: 3 "
        "more prompts in all; nearest: 3 more per text",
    )
    later_fields: ClassVar[dict[str, Any]] = {"calibration": False}


class _TorchStudentSpec(_StudentSpecBase):
    placement_fields: ClassVar[frozenset[str]] = frozenset({"device"})
    device: str = Field("auto", description="auto: a CUDA GPU, else MPS, else the CPU; or cpu, cuda, cuda:N, mps")
    precision: Literal["float32", "bfloat16"] = Field(
        "float32", description="bfloat16: mixed precision (products in bfloat16, weights in float32); for GPUs"
    )

    @field_validator("device")
    @classmethod
    def _known_device(cls, value: str) -> str:
        if not re.fullmatch(r"auto|cpu|mps|cuda(:[0-9]+)?", value):
            raise ValueError(f"{value!r} is no device: give auto, cpu, cuda, cuda:N or mps")
        return value


class FinetuneStudentSpec(_TorchStudentSpec):
    type: Literal["finetune"] = "finetune"
    backbone: str = Field("xlm-roberta-large", description="hub name or path; minilm: the offline English model")
    epochs: int = Field(10, ge=1, description="the paper's research preset: 50")
    learning_rate: float = Field(1e-5, gt=0, description="AdamW's learning rate")
    dropout: float = Field(0.2, ge=0, lt=1, description="the backbone's hidden and classifier dropout")
    max_length: int = Field(256, ge=8, description="tokens per text; longer texts are cut")
    batch_size: int | None = Field(None, ge=1, description="default: 4 to 64, growing with N")
    train_embeddings: bool = Field(
        True, description="false: the input embeddings stay as loaded (2-3x faster on a CPU with a 262k vocabulary)"
    )


class LoraStudentSpec(_TorchStudentSpec):
    type: Literal["lora"] = "lora"
    backbone: str = Field("gemma-270m", description="a causal LM: hub name or path; gemma-270m: the offline one")
    steps: int = Field(100, ge=1, description="the paper's research preset: 600")
    learning_rate: float = Field(3e-5, gt=0, description="AdamW's learning rate")
    batch_size: int = Field(8, ge=1, description="texts per step")
    max_length: int = Field(256, ge=16, description="prompt and answer, in tokens; the text is cut to fit")
    decoding: Literal["score", "generate"] = Field(
        "score", description="score: label likelihoods; generate: a greedy answer that must name a label"
    )
    lora_rank: int = Field(16, ge=1, description="rank of the LoRA matrices")
    lora_alpha: int = Field(16, ge=1, description="LoRA scaling (alpha / rank)")
    lora_dropout: float = Field(0.05, ge=0, lt=1, description="dropout on the LoRA path")
    target_modules: list[str] = Field(
        default_factory=lambda: ["k_proj", "v_proj", "down_proj"], min_length=1, description="layers given LoRA"
    )
    checkpoint_every: int = Field(50, ge=1, description="steps between checkpoints (and dev evaluations)")


StudentSpec = Annotated[
    TfidfStudentSpec | EmbedStudentSpec | IclStudentSpec | FinetuneStudentSpec | LoraStudentSpec,
    Field(discriminator="type"),
]


class EvaluationSpec(_Strict):
    teacher_shots: list[int] = Field(
        default_factory=lambda: [0], description="examples per label in the teacher's classification prompt"
    )
    teacher_prompts: list[Literal["label_name", "numbered"]] = Field(
        default_factory=lambda: ["label_name"], min_length=1, description="numbered: needs a completion-mode teacher"
    )
    teacher_calibration: bool = Field(True, description="also score each setting with contextual calibration")
    teacher_test: Literal["best", "all"] = Field(
        "best",
        description="teacher settings scored on test: best, the one chosen on dev (the others are scored on dev "
        "only); all, every setting; without a dev split always all",
    )
    seed: int = Field(0, description="draws the k-shot examples")

    @field_validator("teacher_shots")
    @classmethod
    def _non_negative(cls, shots: list[int]) -> list[int]:
        if any(k < 0 for k in shots):
            raise ValueError("teacher_shots must be >= 0")
        return shots


class Config(_Strict):
    task: TaskSpec
    teacher: TeacherSpec = Field(default_factory=EmbeddedTeacherSpec)
    generation: GenerationSpec = Field(default_factory=GenerationSpec)
    source: SourceSpec = Field(default_factory=SourceSpec)
    filters: FilterSpec = Field(default_factory=FilterSpec)
    data: DataSpec
    students: list[StudentSpec] = Field(default_factory=lambda: [TfidfStudentSpec()])
    evaluation: EvaluationSpec = Field(default_factory=EvaluationSpec)
    base_dir: Path = Field(Path("."), exclude=True, description="folder that relative data paths start from")

    @model_validator(mode="after")
    def _shots_need_seed(self) -> Config:
        if self.data.seed is None:
            if any(k > 0 for k in self.evaluation.teacher_shots):
                raise ValueError("evaluation.teacher_shots > 0 needs data.seed")
            if any("human" in s.train_on for s in self.students):
                raise ValueError("a student with train_on: human needs data.seed")
            if self.filters.teacher_check and self.filters.teacher_check_shots > 0:
                raise ValueError("filters.teacher_check_shots > 0 needs data.seed")
            if self.generation.label_summaries:
                raise ValueError("generation.label_summaries needs data.seed")
        unknown = sorted(set(self.generation.attributes) - {"*", *self.task.label_names})
        if unknown:
            raise ValueError(f"generation.attributes names labels that are not in the task: {', '.join(unknown)}")
        names = [s.display_name for s in self.students]
        if len(set(names)) != len(names):
            raise ValueError("students need distinct names (set `name:`)")
        self._check_sources()
        return self

    def _check_sources(self) -> None:
        """Every choice of source that cannot work is an error here, before any teacher request."""
        source = self.source
        unknown = sorted(set(source.languages) - set(self.task.languages))
        if unknown:
            raise ValueError(f"source.languages names languages that are not in the task: {', '.join(unknown)}")
        pivot = None if source.pivot is None else resolve_language(source.pivot)
        for language in self.task.languages:
            kind = source.kind(language)
            field = f"source.languages.{language}" if language in source.languages else "source.default"
            if kind == "auto" and self.data.dev is None:
                raise ValueError(f"{field}: auto chooses a source on the human dev split, and data.dev is not set")
            if kind in ("pivot", "translate", "mixed") and pivot is None:
                raise ValueError(f"{field}: {kind} needs a pivot language (source.pivot)")
            same = pivot is not None and same_language(resolve_language(language), pivot)
            if same and kind in ("pivot", "translate", "mixed") and language in source.languages:
                raise ValueError(
                    f"{field}: {language} is the pivot language ({source.pivot}) itself; give it in_language"
                )

    def data_path(self, split: Literal["seed", "dev", "test"], lang: str) -> Path | None:
        """The file of one split for one language, or None when the config gives none."""
        template = getattr(self.data, split)
        if template is None:
            return None
        return data_source(template.replace("{lang}", lang), self.base_dir)

    def to_yaml(self) -> str:
        """The resolved config, with data paths made absolute, so that any output folder re-runs."""
        dumped = self.model_dump(mode="json")
        for split in ("seed", "dev", "test"):
            value = dumped["data"][split]
            if value is not None and not Path(value).is_absolute() and not is_hub_reference(value):
                dumped["data"][split] = str((self.base_dir / value).resolve())
        return yaml.safe_dump(dumped, sort_keys=False, allow_unicode=True)


# pydantic puts the chosen member of a tagged union into the error path: a student's type after its list index
# (students[0].tfidf.C), a teacher's backend after its field name (teacher.openai.n_parallel); these are the tags
_STUDENT_TAGS = {get_args(member.model_fields["type"].annotation)[0] for member in get_args(get_args(StudentSpec)[0])}


def _is_union_tag(part: int | str, previous: int | str) -> bool:
    return part in (_STUDENT_TAGS if isinstance(previous, int) else _TEACHER_SPECS)


def _field_path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for index, part in enumerate(loc):
        if index > 0 and _is_union_tag(part, loc[index - 1]):
            continue
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path or "(top level)"


def _message(error: ErrorDetails) -> str:
    """pydantic's message; for a field of the other teacher backend, whose it is (not just "extra")."""
    loc = error["loc"]
    in_a_teacher = len(loc) > 2 and loc[-2] in _TEACHER_SPECS and _is_union_tag(loc[-2], loc[-3])
    if error["type"] == "extra_forbidden" and in_a_teacher:
        owner = next((tag for tag, member in _TEACHER_SPECS.items() if loc[-1] in member.model_fields), None)
        if owner is not None:
            return f"belongs to the {owner} backend, not to this {loc[-2]} teacher"
    return error["msg"].removeprefix("Value error, ")


def read_yaml_mapping(path: str | Path, what: str = "task, teacher, data, ...") -> dict:
    """A YAML file's top-level mapping; ConfigError naming the file (and line) for anything else."""
    path = Path(path)
    try:
        raw_text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: config is not UTF-8 text") from None
    except OSError as err:
        raise ConfigError(f"{path}: cannot read config: {err.strerror}") from None
    try:
        raw = yaml.safe_load(raw_text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "YAML"
        problem = getattr(err, "problem", None) or str(err)
        raise ConfigError(f"{path}: {where}: invalid YAML: {problem}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping with {what} at the top level")
    return raw


def validate_model(model: type[ModelT], raw: dict, source: str, base_dir: Path | None = None) -> ModelT:
    """Validate a mapping; the first error names the source and the field path. `base_dir`: the folder that
    the model's relative paths start from (the config file's)."""
    try:
        validated = model.model_validate(raw)
    except ValidationError as err:
        first = err.errors()[0]
        more = f" (and {err.error_count() - 1} more)" if err.error_count() > 1 else ""
        raise ConfigError(f"{source}: {_field_path(first['loc'])}: {_message(first)}{more}") from None
    if base_dir is not None:
        validated.base_dir = base_dir  # type: ignore[attr-defined]
    return validated


def load_config(path: str | Path) -> Config:
    """Read and validate a YAML config; raise ConfigError naming the file and field."""
    raw = read_yaml_mapping(path)
    return parse_config(raw, source=str(path), base_dir=Path(path).resolve().parent)


def parse_config(raw: dict, source: str = "<config>", base_dir: Path | None = None) -> Config:
    """Validate an already-parsed config mapping (the Python API's entry point)."""
    return validate_model(Config, raw, source, base_dir)
