"""Token budgets per language: from the teacher's tokenizer where it has one, else from bytes; a number in the
config sends exactly what it always did; the dataset card says what was chosen, how, and what it cut."""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence

import pytest
import yaml

from synthdistill.config import load_config, parse_config
from synthdistill.data import Example
from synthdistill.errors import TeacherError
from synthdistill.experiments.executors import InlineExecutor
from synthdistill.experiments.sharding import generate_sharded
from synthdistill.generation.samples import generate_samples
from synthdistill.generation.token_budgets import (
    MAX_TOKENS,
    MIN_TOKENS,
    TokenBudget,
    budget_from_lengths,
    default_budget,
    estimated_token_count,
    quantile_length,
    token_budgets,
)
from synthdistill.pipeline import generate
from synthdistill.teachers.cache import RequestCache
from synthdistill.teachers.protocol import Completion, CompletionRequest
from synthdistill.teachers.teacher import Teacher
from tests.conftest import POLITICS, SPORTS, FakeBackend, tiny_config_dict, topic_answer, write_jsonl
from tests.fault_server import fault_server

# Swahili sentences, longer in any tokenizer than the English ones of the same task
SWAHILI = [
    "Timu ya mpira wa miguu ilishinda mechi ya fainali katika dakika ya mwisho ya mchezo huo mkubwa.",
    "Mwanariadha huyo alikimbia mbio za marathoni kwa muda wa chini ya saa tatu mjini Nairobi jana.",
    "Bunge lilipitisha sheria mpya ya bajeti jana jioni baada ya mjadala mrefu sana wa wabunge wote.",
    "Rais alikutana na mawaziri wa mambo ya nje ili kujadili mkataba mpya wa biashara wa kanda yote.",
]


class TokenizingBackend(FakeBackend):
    """The fake teacher, with a tokenizer: `tokens_per_word` tokens a word, or None / a failure when told."""

    def __init__(self, tokens_per_word: int = 2, *, answers: str = "tokens", **options):
        super().__init__(topic_answer, **options)
        self.tokens_per_word = tokens_per_word
        self.answers = answers
        self.counted: list[list[str]] = []

    async def count_tokens(self, texts: Sequence[str]) -> list[int] | None:
        self.counted.append(list(texts))
        if self.answers == "none":
            return None
        if self.answers == "fail":
            raise TeacherError("tokenizer at http://127.0.0.1:1/tokenize failed after 3 attempts: HTTP 500")
        return [self.tokens_per_word * len(text.split()) for text in texts]


def seeds_for(*languages: str) -> dict[str, list[Example]]:
    pools = {"en": SPORTS + POLITICS, "sw": SWAHILI}
    return {lang: [Example(t, "sports", lang) for t in pools[lang]] for lang in languages}


def config(languages=("en",), **generation):
    raw = tiny_config_dict()
    raw["task"]["languages"] = list(languages)
    raw["generation"] = {**raw["generation"], "max_tokens": "auto", **generation}
    return parse_config(raw)


def words_p95(texts: list[str]) -> int:
    return max(len(t.split()) for t in texts)  # nearest-rank 95th percentile of fewer than 20 is the longest


def test_the_rule_in_numbers():
    assert quantile_length(list(range(1, 101))) == 95 and quantile_length([7, 3, 5]) == 7
    assert budget_from_lengths([10, 20, 30]) == (2 * 30 + 8, 30)
    assert budget_from_lengths([3, 4]) == (MIN_TOKENS, 4) and budget_from_lengths([400]) == (MAX_TOKENS, 400)
    # bytes / 2.5: a Latin letter 0.4 tokens, a Thai or Telugu one 1.2
    assert estimated_token_count("a" * 10) == 4 and estimated_token_count("ก" * 10) == 12
    assert [default_budget(code) for code in ("en", "swh_Latn", "ru", "heb_Hebr", "th", "tel_Telu")] == [
        160, 160, 320, 320, 480, 480,
    ]  # fmt: skip


def test_budget_from_the_teachers_tokenizer():
    backend = TokenizingBackend(tokens_per_word=3)
    budgets = token_budgets(config().generation, ["en"], seeds_for("en"), Teacher(backend, progress=False))
    p95 = 3 * words_p95(SPORTS + POLITICS)  # 3 tokens a word: 30
    assert budgets == {"en": TokenBudget("en", 2 * p95 + 8, "tokenizer", 12, p95)}
    assert backend.counted == [SPORTS + POLITICS]
    assert budgets["en"].describe() == f"teacher's tokenizer, 12 seed texts: 95th percentile {p95} tokens"


@pytest.mark.parametrize(
    ("answers", "note"),
    [("none", "the teacher offers no tokenizer"), ("fail", "the teacher's tokenizer failed (tokenizer at http")],
)
def test_the_estimate_stands_in_when_the_tokenizer_is_missing_or_fails(answers, note, recwarn):
    backend = TokenizingBackend(answers=answers)
    [budget] = token_budgets(config().generation, ["en"], seeds_for("en"), Teacher(backend, progress=False)).values()
    p95 = max(estimated_token_count(t) for t in SPORTS + POLITICS)  # 58 bytes: 24 tokens
    assert (budget.method, budget.tokens, budget.quantile_tokens) == ("estimate", 2 * p95 + 8, p95)
    assert budget.note.startswith(note) and note in budget.describe()
    assert budget.describe().startswith("estimate (UTF-8 bytes / 2.5), 12 seed texts")
    said = [w for w in recwarn if "max_tokens estimated from the seed texts" in str(w.message)]
    assert len(said) == (answers == "fail")  # a failure is said on the console too; a missing tokenizer is normal
    # a backend with no count_tokens at all is the same as one that answers None
    [plain] = token_budgets(config().generation, ["en"], seeds_for("en"), Teacher(FakeBackend(topic_answer))).values()
    assert (plain.method, plain.tokens) == ("estimate", budget.tokens)


def test_languages_with_longer_seed_texts_get_more_tokens_in_their_requests():
    backend = TokenizingBackend(tokens_per_word=2)
    cfg = config(("en", "sw", "th"), samples_per_call=2, samples_per_label=2)
    teacher = Teacher(backend, progress=False)
    generate_samples(cfg.task, cfg.generation, "completion", teacher, seeds_for("en", "sw"))
    sent = {}
    for request in backend.requests:
        language = "sw" if "in Swahili" in request.prompt else "th" if "in Thai" in request.prompt else "en"
        sent.setdefault(language, set()).add(request.max_tokens)
    english, swahili = 2 * 2 * words_p95(SPORTS + POLITICS) + 8, 2 * 2 * words_p95(SWAHILI) + 8
    assert swahili > english  # 17 words against 10
    assert sent == {"en": {2 * english}, "sw": {2 * swahili}, "th": {2 * 480}}  # two samples a request; no Thai seeds


def test_a_number_in_the_config_is_sent_as_before_and_no_tokenizer_is_asked():
    backend = TokenizingBackend()
    cfg = config(("en", "sw"), max_tokens=40, samples_per_call=3, samples_per_label=3)
    generate_samples(cfg.task, cfg.generation, "completion", Teacher(backend, progress=False), seeds_for("en", "sw"))
    assert {r.max_tokens for r in backend.requests} == {3 * 40} and backend.counted == []
    budgets = token_budgets(cfg.generation, ["en", "sw"], seeds_for("en", "sw"), Teacher(backend, progress=False))
    assert budgets["sw"] == TokenBudget("sw", 40, "configured") and budgets["sw"].describe() == "generation.max_tokens"


def test_counts_are_cached_so_a_rerun_asks_no_tokenizer(tmp_path):
    first = TokenizingBackend()
    with_cache = Teacher(first, RequestCache(tmp_path / "cache.sqlite"), progress=False)
    budgets = token_budgets(config().generation, ["en"], seeds_for("en"), with_cache)
    with_cache.close()
    again = TokenizingBackend(answers="fail")  # would fall back to the estimate if it were asked
    rerun = Teacher(again, RequestCache(tmp_path / "cache.sqlite"), progress=False)
    assert token_budgets(config().generation, ["en"], seeds_for("en"), rerun) == budgets and again.counted == []
    rerun.close()


def test_the_card_states_each_budget_how_it_was_found_and_what_it_cut(tmp_path):
    """Swahili answers come back cut by max_tokens every third request: the card counts them per language."""

    class Cutting(TokenizingBackend):
        def __init__(self):
            super().__init__(tokens_per_word=2)
            self.answer = self.cut_some

        def cut_some(self, request: CompletionRequest) -> Completion:
            answer = topic_answer(request)
            if "in Swahili" in request.prompt and request.seed % 3 == 0:
                answer.finish_reason = "length"
            return answer

    write_jsonl(tmp_path / "data/en/seed.jsonl", [{"text": t, "label": "sports"} for t in SPORTS[:3]]
                + [{"text": t, "label": "politics"} for t in POLITICS[:3]])  # fmt: skip
    write_jsonl(tmp_path / "data/sw/seed.jsonl", [{"text": t, "label": "sports"} for t in SWAHILI])
    for lang in ("en", "sw"):
        write_jsonl(tmp_path / f"data/{lang}/test.jsonl", [{"text": "The team won.", "label": "sports"}])
    raw = tiny_config_dict()
    raw["task"]["languages"] = ["en", "sw"]
    raw["generation"] = {"samples_per_label": 6, "demos_per_prompt": 1, "max_tokens": "auto"}
    raw["filters"] = {"language_id": False, "min_chars": 5, "near_duplicate_threshold": None}
    raw["data"] = {"seed": str(tmp_path / "data/{lang}/seed.jsonl"), "test": str(tmp_path / "data/{lang}/test.jsonl")}
    backend = Cutting()
    samples, dropped = generate(parse_config(raw), tmp_path / "out", Teacher(backend, progress=False))
    card = (tmp_path / "out/dataset_card.md").read_text(encoding="utf-8")

    english, swahili = 2 * words_p95(SPORTS[:3] + POLITICS[:3]), 2 * words_p95(SWAHILI)
    cut = sum(d.reason == "truncated" for d in dropped)
    assert cut > 0 and all(d.language == "sw" for d in dropped if d.reason == "truncated")
    made_sw = sum(s.language == "sw" for s in samples) + sum(d.language == "sw" for d in dropped)
    assert made_sw == 12
    assert "## Token budgets" in card
    assert (f"| en | {2 * english + 8} | teacher's tokenizer, 6 seed texts: 95th percentile {english} tokens "
            "| 0 of 12 (0.0%) |") in card  # fmt: skip
    assert (f"| sw | {2 * swahili + 8} | teacher's tokenizer, 4 seed texts: 95th percentile {swahili} tokens "
            f"| {cut} of 12 ({cut / 12:.1%}) |") in card  # fmt: skip
    assert "2 x the 95th percentile of the language's seed texts' lengths in tokens, + 8" in card
    assert f"max_tokens per sample sized per language (auto; see Token budgets): en {2 * english + 8}, sw " in card
    assert {r.max_tokens for r in backend.requests if "in Swahili" in r.prompt} == {2 * swahili + 8}
    assert cut == sum("in Swahili" in r.prompt and r.seed % 3 == 0 for r in backend.requests)


def test_shards_size_their_language_as_one_process_does_and_the_merged_card_has_every_budget(tiny_project):
    """Through a server with /tokenize (one token a word): each shard counts its own language's seeds."""
    (tiny_project / "data/sw").mkdir()
    write_jsonl(tiny_project / "data/sw/seed.jsonl", [{"text": t, "label": "sports"} for t in SWAHILI])
    shutil.copy(tiny_project / "data/en/test.jsonl", tiny_project / "data/sw/test.jsonl")
    with fault_server([("echo",)] * 100, tokenize=[]) as server:
        raw = tiny_config_dict(backend="openai", base_url=server.url, model="m", mode="completion")
        raw["task"]["languages"] = ["en", "sw"]
        raw["generation"]["max_tokens"] = "auto"
        raw["filters"] = {"min_chars": 10, "language_id": False, "near_duplicate_threshold": None}
        (tiny_project / "sharded.yaml").write_text(yaml.safe_dump(raw))
        config = load_config(tiny_project / "sharded.yaml")
        generate(config, tiny_project / "single", progress=False)
        single = sorted(json.dumps(body, sort_keys=True) for body in server.received)
        server.received.clear()
        generate_sharded(config, tiny_project / "sharded", InlineExecutor())
        assert sorted(json.dumps(body, sort_keys=True) for body in server.received) == single
    english, swahili = words_p95(SPORTS[:3] + POLITICS[:3]), words_p95(SWAHILI)  # 10 and 17 words
    assert {body["max_tokens"] for body in server.received} == {MIN_TOKENS, 2 * swahili + 8}  # 2 x 10 + 8 < 32
    card = (tiny_project / "sharded/dataset_card.md").read_text(encoding="utf-8")
    assert f"| sw | {2 * swahili + 8} | teacher's tokenizer, 4 seed texts: 95th percentile {swahili} tokens |" in card
    assert f"| en | {MIN_TOKENS} | teacher's tokenizer, 6 seed texts: 95th percentile {english} tokens |" in card
