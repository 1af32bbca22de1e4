"""The dataset card's statistics: right on small sets, linear on large ones, no language-ID model unless asked."""

import json
import random
import tracemalloc
from itertools import combinations

import synthdistill.generation.near_duplicates as near_duplicates
from synthdistill.generation import language_id
from synthdistill.generation.dataset_card import distinct_ngrams, diversity_unit, mean_pairwise_similarity
from synthdistill.generation.filters import deduplicate
from synthdistill.generation.near_duplicates import jaccard, shingles
from synthdistill.pipeline import generate
from synthdistill.teachers.teacher import Teacher
from tests.conftest import tiny_config_dict

WORDS = "river mountain match vote doctor film island train market storm".split()


def random_texts(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choices(WORDS, k=8)) for _ in range(n)]


def test_distinct_ngrams_counts_within_texts_only():
    # unigrams a b a b a c: 3 of 6; bigrams ab ba ab ac (none across the two texts): 3 of 4; trigrams 2 of 2
    assert distinct_ngrams(["a b a b", "A c"], (1, 2, 3)) == [0.5, 0.75, 1.0]
    assert distinct_ngrams([], (1, 2)) == [0.0, 0.0]
    assert distinct_ngrams(["x"], (1, 2)) == [1.0, 0.0]


def test_distinct_ngrams_are_the_same_over_chunk_boundaries():
    texts = random_texts(12_000)
    bigrams = [tuple(t.split()[i : i + 2]) for t in texts for i in range(7)]
    assert distinct_ngrams(texts, (1, 2)) == [len(WORDS) / (8 * len(texts)), len(set(bigrams)) / len(bigrams)]


def test_pairwise_similarity_uses_every_pair_of_a_small_set():
    texts = random_texts(40)
    pairs = list(combinations(range(40), 2))
    exact = sum(jaccard(shingles(texts[i]), shingles(texts[j])) for i, j in pairs) / len(pairs)
    assert abs(mean_pairwise_similarity(texts) - exact) < 1e-12


def test_pairwise_similarity_of_a_large_set_never_builds_its_pairs():
    """Before: every pair was listed before 2,000 were drawn (3.75 GB for 10,000 samples)."""
    texts = random_texts(20_000)
    tracemalloc.start()
    similarity = mean_pairwise_similarity(texts)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 20_000_000  # the 200 million pairs alone would take gigabytes
    assert similarity == mean_pairwise_similarity(texts)  # seeded
    # an estimate of the mean over all pairs: two disjoint halves of the set agree with it
    halves = [mean_pairwise_similarity(texts[:10_000]), mean_pairwise_similarity(texts[10_000:])]
    assert all(abs(h - similarity) < 0.03 for h in halves)


def test_near_duplicate_groups_of_a_repeating_teacher_cost_linear_time(monkeypatch):
    """Thousands of near-identical samples in one LSH bucket: each joins its group after a few comparisons."""
    calls = 0
    real = near_duplicates.jaccard

    def counted(a, b):
        nonlocal calls
        calls += 1
        return real(a, b)

    monkeypatch.setattr(near_duplicates, "jaccard", counted)
    from synthdistill.data import Example

    n = 3000
    samples = [Example(f"The match was won by the home team, sample {i:05d}.", "sports", "en") for i in range(n)]
    kept, dropped = deduplicate(samples, near_threshold=0.8)
    assert len(kept) + len(dropped) == n
    assert len(kept) < 50 and {d.reason for d in dropped} == {"near_duplicate"}
    assert calls < 40 * n  # comparing every pair in the bucket: n * (n - 1) / 2 = 4.5 million


def test_exact_copies_are_compared_once(monkeypatch):
    seen: list[int] = []
    real = near_duplicates.near_duplicate_pairs
    monkeypatch.setattr(
        "synthdistill.generation.filters.near_duplicate_pairs",
        lambda texts, t: seen.append(len(texts)) or real(texts, t),
    )
    from synthdistill.data import Example

    samples = [Example("The same sentence, word for word.", "sports", "en") for _ in range(500)]
    kept, dropped = deduplicate([*samples, Example("Another sentence entirely here.", "sports", "en")], 0.8)
    assert seen == [2] and len(kept) == 2 and len(dropped) == 499


def test_no_language_id_model_without_the_filter(tmp_path, fake_backend):
    raw = tiny_config_dict()
    raw["filters"] = {"language_id": False}
    raw["data"] = {"test": str(tmp_path / "test.jsonl")}
    (tmp_path / "test.jsonl").write_text('{"text": "The team won.", "label": "sports"}\n')
    from synthdistill.config import parse_config

    raw["students"] = [{"type": "tfidf"}]
    raw["evaluation"] = {"teacher_shots": [0]}
    language_id._identifier.cache_clear()
    generate(parse_config(raw), tmp_path / "out", Teacher(fake_backend, progress=False))
    assert language_id._identifier.cache_info().currsize == 0
    assert "Language ID" not in (tmp_path / "out/dataset_card.md").read_text()


def test_card_records_what_decides_sampling_and_what_the_server_said(tmp_path):
    """A remote run can be matched later: temperature, top_p, the seeds, the model that answered and the
    server's fingerprint (two fingerprints in one run are flagged)."""
    from synthdistill.config import parse_config
    from tests.conftest import FakeBackend, topic_answer

    def answer(request):
        completion = topic_answer(request)
        completion.served_model = "llama-3-70b-2026-01"
        completion.fingerprint = "fp_a" if request.seed % 2 else "fp_b"
        return completion

    raw = tiny_config_dict()
    raw["filters"] = {"language_id": False}
    raw["generation"] = {**raw["generation"], "demos_per_prompt": 0, "temperature": 0.7, "top_p": 0.85}
    raw["data"] = {"test": str(tmp_path / "test.jsonl")}
    raw["evaluation"] = {"teacher_shots": [0]}
    raw["students"] = [{"type": "tfidf"}]
    (tmp_path / "test.jsonl").write_text('{"text": "The team won.", "label": "sports"}\n')
    generate(parse_config(raw), tmp_path / "out", Teacher(FakeBackend(answer), progress=False))
    card = (tmp_path / "out/dataset_card.md").read_text()
    assert "temperature 0.7, top_p 0.85" in card
    assert "the server answered as `llama-3-70b-2026-01`" in card
    assert "`fp_a`, `fp_b` (changed during the run" in card
    rows = [json.loads(line) for line in (tmp_path / "out/synthetic.jsonl").read_text().splitlines()]
    assert all(isinstance(r["seed"], int) for r in rows) and len({r["seed"] for r in rows}) == len(rows)
    assert {r["fingerprint"] for r in rows} == {"fp_a", "fp_b"}


def _whitespace_distinct_1(texts: list[str]) -> float:
    """distinct-1 as the card counted it before: runs of word characters."""
    import re

    words = [w for t in texts for w in re.findall(r"\w+", t.casefold())]
    return len(set(words)) / len(words)


# Repetitive sentences in scripts written without spaces: one template, a few words changed
JAPANESE = [f"今日は{city}で{weather}が降りました" for city in ("東京", "大阪", "京都", "札幌", "福岡")
            for weather in ("雨", "雪", "雹", "霧雨")]  # fmt: skip
THAI = [f"วันนี้ฝนตกที่{city}ตอน{time}" for city in ("กรุงเทพ", "เชียงใหม่", "ภูเก็ต", "ขอนแก่น", "พัทยา")
        for time in ("เช้า", "เย็น", "บ่าย", "กลางคืน")]  # fmt: skip


def test_distinct_n_counts_characters_where_words_are_not_spaced():
    """A whitespace word was a whole sentence in Japanese (distinct-1 0.96 for a repetitive run); characters
    with their marks are the unit there now, and the card says so."""
    assert _whitespace_distinct_1(JAPANESE) == 1.0  # every sentence one "word"
    # (Thai's were pieces cut at every vowel sign: วันนี้ฝนตกที่กรุงเทพตอนเช้า gave ว, นน, ฝนตกท, กร, งเทพตอนเช, า)
    for texts in (JAPANESE, THAI):
        distinct_1, distinct_2 = distinct_ngrams(texts, (1, 2))
        assert distinct_1 < 0.1 and distinct_2 < 0.15
    # the Japanese units are its characters: 20 sentences of 12 or 13, 18 distinct characters
    units = sum(len(t) for t in JAPANESE)
    assert distinct_ngrams(JAPANESE, (1,)) == [len(set("".join(JAPANESE))) / units]
    # a Thai vowel sign or tone mark stays with its consonant: ที่ is one unit, not three
    assert distinct_ngrams(["ที่ที่"], (1,)) == [0.5]
    assert [diversity_unit(code) for code in ("ja", "tha_Thai", "zh", "en", "tel_Telu")] == [
        "characters", "characters", "characters", "words", "words",
    ]  # fmt: skip


def test_a_word_with_vowel_signs_stays_one_word():
    """Telugu and Devanagari vowel signs are no word characters: before, they cut each word in pieces."""
    assert distinct_ngrams(["తెలుగు భాష తెలుగు", "नमस्ते दुनिया"], (1, 2)) == [4 / 5, 3 / 3]
    assert distinct_ngrams(["tiếng Việt tiếng"], (1,)) == [2 / 3]  # decomposed or not, one word
