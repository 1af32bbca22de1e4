"""The embed student with the real offline encoders (multilingual USE in numpy, multilingual-e5-small)."""

import numpy as np
import pytest

from synthdistill.config import EmbedStudentSpec
from synthdistill.errors import StudentError
from synthdistill.students.embed import EmbeddingStudent
from synthdistill.students.encoders import CachedEncoder, EmbeddingCache
from synthdistill.students.registry import load_student
from tests.conftest import POLITICS, SPORTS

TEXTS, LABELS = SPORTS + POLITICS, ["sports"] * 6 + ["politics"] * 6
# Swahili and Indonesian test texts: a multilingual encoder carries the English training across languages
NEW = [
    "Timu ya mpira wa miguu ilishinda mechi ya fainali.",
    "Bunge lilipitisha sheria mpya ya uchaguzi.",
    "Tim sepak bola memenangkan pertandingan final.",
    "Parlemen mengesahkan undang-undang pemilu yang baru.",
]


@pytest.mark.parametrize("encoder", ["use-multilingual", "e5-small"])
def test_learns_and_transfers_across_languages(encoder, tmp_path):
    spec = EmbedStudentSpec(encoder=encoder, C=10.0)
    student = EmbeddingStudent(spec, cache_path=tmp_path / "emb.sqlite").fit(TEXTS, LABELS)
    assert student.predict(NEW) == ["sports", "politics", "sports", "politics"]
    probabilities = student.predict_proba(NEW)
    assert np.allclose(probabilities.sum(axis=1), 1.0)
    student.save(tmp_path / "model")
    loaded = load_student(tmp_path / "model")
    assert isinstance(loaded, EmbeddingStudent) and loaded.encoder_name == encoder
    assert np.allclose(loaded.predict_proba(NEW), probabilities, atol=1e-6)


def test_embeddings_are_cached_per_text(tmp_path, monkeypatch):
    calls: list[list[str]] = []
    import synthdistill.students.encoders as encoders

    def counting_encoder(name: str):
        def encode(texts: list[str]) -> np.ndarray:
            calls.append(list(texts))
            return np.array([[len(t), t.count("a"), 1.0] for t in texts], dtype=np.float32)

        return encode

    monkeypatch.setattr(encoders, "build_encoder", counting_encoder)
    cache = EmbeddingCache(tmp_path / "emb.sqlite")
    encoder = CachedEncoder("fake", cache)
    first = encoder(["aa", "b", "aa"])
    assert calls == [["aa", "b"]] and first.shape == (3, 3) and encoder.last_reused_share == 0.0
    again = CachedEncoder("fake", cache)  # a new encoder object, same disk cache
    second = again(["b", "ccc"])
    assert calls == [["aa", "b"], ["ccc"]] and again.last_reused_share == 0.5  # "b" from disk, "ccc" computed
    assert np.array_equal(second[0], first[1])
    again(["ccc", "b", "ccc"])
    assert len(calls) == 2 and again.last_reused_share == 1.0


def test_vectors_held_in_memory_are_bounded(monkeypatch):
    """A server embeds every text it is sent: without a bound its memory grew by a vector per distinct text."""
    import synthdistill.students.encoders as encoders

    monkeypatch.setattr(encoders, "build_encoder", lambda name: lambda texts: np.ones((len(texts), 3), np.float32))
    encoder = CachedEncoder("fake", max_memory_vectors=100)
    for start in range(0, 1000, 50):
        assert encoder([f"text {i}" for i in range(start, start + 50)]).shape == (50, 3)
    assert len(encoder._memory) == 100
    assert encoder([f"text {i}" for i in range(300)]).shape == (300, 3)  # a call larger than the bound works


def test_bad_inputs():
    with pytest.raises(StudentError, match="one class"):
        EmbeddingStudent(EmbedStudentSpec(encoder="use-multilingual")).fit(["a", "b"], ["x", "x"])
    with pytest.raises(StudentError, match="unknown encoder 'nope'"):
        EmbeddingStudent(EmbedStudentSpec(encoder="nope")).fit(TEXTS, LABELS)
    with pytest.raises(StudentError, match="not trained"):
        EmbeddingStudent().predict(["x"])
