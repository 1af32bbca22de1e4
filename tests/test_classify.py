import pytest

from synthdistill.classify import classify_with_teacher, parse_label_answer
from synthdistill.config import parse_config
from synthdistill.data import Example
from synthdistill.teachers.protocol import Completion
from synthdistill.teachers.teacher import Teacher
from tests.conftest import FakeBackend, tiny_config_dict

LABELS = ["sports", "politics", "science/technology"]


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("sports", "sports"),
        ("  Sports.", "sports"),
        ('"politics"', "politics"),
        ("science/technology\nbecause...", "science/technology"),
        ("sport", None),  # no loose matching
        ("sports and politics", None),
        ("1", None),  # no digit guessing
        ("", None),
    ],
)
def test_strict_answer_parsing(answer, expected):
    assert parse_label_answer(answer, LABELS) == expected


def test_completion_mode_scores_labels_and_shows_shots(fake_backend):
    config = parse_config(tiny_config_dict())
    shots = [Example("A tennis final.", "sports"), Example("A vote in parliament.", "politics")]
    texts = ["The team won the cup game.", "The minister resigned."]
    predictions = classify_with_teacher(config, Teacher(fake_backend, progress=False), "en", texts, shots)
    assert [p.label for p in predictions] == ["sports", "politics"]
    assert predictions[0].probabilities["sports"] == pytest.approx(1 / (1 + 2.718281828**-1.8), rel=1e-6)
    prompt = fake_backend.requests[0].prompt
    assert "Sentence: A tennis final.\nTopic: sports" in prompt and prompt.endswith("Topic:")
    assert "in English" in prompt


def test_no_label_among_top_tokens_is_invalid(fake_backend):
    backend = FakeBackend(lambda r: Completion(text="", top_logprobs=[{" The": -0.1, " A": -0.5}]))
    config = parse_config(tiny_config_dict())
    [prediction] = classify_with_teacher(config, Teacher(backend, progress=False), "en", ["Something."])
    assert prediction.label is None and prediction.probabilities == {}


def test_chat_mode_answers_are_parsed_strictly():
    answers = iter(["politics", "I think it is about sport"])
    backend = FakeBackend(lambda r: Completion(text=next(answers)), mode="chat")
    config = parse_config(tiny_config_dict(backend="openai", base_url="http://127.0.0.1:1/v1", model="m"))
    predictions = classify_with_teacher(config, Teacher(backend, max_concurrency=1, progress=False), "en", ["a", "b"])
    assert [p.label for p in predictions] == ["politics", None]
    assert predictions[1].answer == "I think it is about sport"
    assert backend.requests[0].temperature == 0.0 and backend.requests[0].messages[0][0] == "user"
