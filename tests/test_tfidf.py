import numpy as np
import pytest

from synthdistill.errors import StudentError
from synthdistill.students.registry import load_student
from synthdistill.students.tfidf import TfidfStudent
from tests.conftest import POLITICS, SPORTS


def trained() -> TfidfStudent:
    return TfidfStudent().fit(SPORTS + POLITICS, ["sports"] * 6 + ["politics"] * 6)


def test_learns_a_separable_set():
    student = trained()
    assert student.classes == ["politics", "sports"]
    new = ["The match ended in a draw after extra time.", "The government announced new elections."]
    assert student.predict(new) == ["sports", "politics"]
    probabilities = student.predict_proba(new)
    assert probabilities.shape == (2, 2)
    assert np.allclose(probabilities.sum(axis=1), 1.0)
    assert probabilities[0, 1] > 0.5 and probabilities[1, 0] > 0.5


def test_matches_scikit_learn_pipeline_exactly():
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    texts, labels = SPORTS + POLITICS, ["sports"] * 6 + ["politics"] * 6
    vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), max_features=200_000, sublinear_tf=True)
    model = LogisticRegression(C=10.0, max_iter=2000, random_state=0).fit(vectorizer.fit_transform(texts), labels)
    new = ["A vote in the senate", "A goal in the cup"]
    expected = model.predict_proba(vectorizer.transform(new))
    assert np.allclose(TfidfStudent().fit(texts, labels).predict_proba(new), expected, atol=1e-9)


def test_save_load_round_trip_is_identical_and_pickle_free(tmp_path):
    student = trained()
    student.save(tmp_path / "model")
    assert sorted(p.name for p in (tmp_path / "model").iterdir()) == ["student.json", "weights.npz"]
    loaded = load_student(tmp_path / "model")
    texts = SPORTS + POLITICS + ["unrelated words entirely"]
    assert loaded.predict(texts) == student.predict(texts)
    assert np.array_equal(loaded.predict_proba(texts), student.predict_proba(texts))


def test_three_classes():
    texts = SPORTS + POLITICS + ["The doctor prescribed rest.", "A new vaccine was approved.", "Hospitals are full."]
    labels = ["sports"] * 6 + ["politics"] * 6 + ["health"] * 3
    student = TfidfStudent().fit(texts, labels)
    assert student.predict_proba(["The hospital doctor"]).shape == (1, 3)


@pytest.mark.parametrize(
    ("texts", "labels", "message"),
    [
        ([], [], "empty"),
        (["a", "b"], ["x", "x"], "one class"),
        (["a"], ["x", "y"], "1 texts but 2 labels"),
    ],
)
def test_bad_training_sets(texts, labels, message):
    with pytest.raises(StudentError, match=message):
        TfidfStudent().fit(texts, labels)


def test_untrained_and_missing_models(tmp_path):
    with pytest.raises(StudentError, match="not trained"):
        TfidfStudent().predict(["x"])
    with pytest.raises(StudentError, match="no saved student"):
        load_student(tmp_path)
    (tmp_path / "student.json").write_text('{"type": "magic"}')
    with pytest.raises(StudentError, match="unknown student type"):
        load_student(tmp_path)
