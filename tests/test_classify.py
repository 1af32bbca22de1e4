import pytest

from synthdistill.config import parse_config
from synthdistill.data import Example
from synthdistill.errors import TeacherError
from synthdistill.evaluation.teacher_classifier import (
    TeacherPrediction,
    calibrate,
    classify_with_teacher,
    content_free_baseline,
    parse_label_answer,
)
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
    predictions = classify_with_teacher(
        config.task, config.teacher.prompt_mode, Teacher(fake_backend, progress=False), "en", texts, shots
    )
    assert [p.label for p in predictions] == ["sports", "politics"]
    assert predictions[0].probabilities["sports"] == pytest.approx(1 / (1 + 2.718281828**-1.8), rel=1e-6)
    prompt = fake_backend.requests[0].prompt
    assert "Sentence: A tennis final.\nTopic: sports" in prompt and prompt.endswith("Topic:")
    assert "in English" in prompt


def test_no_label_among_top_tokens_is_invalid(fake_backend):
    backend = FakeBackend(lambda r: Completion(text="", top_logprobs=[{" The": -0.1, " A": -0.5}]))
    config = parse_config(tiny_config_dict())
    [prediction] = classify_with_teacher(
        config.task, config.teacher.prompt_mode, Teacher(backend, progress=False), "en", ["Something."]
    )
    assert prediction.label is None and prediction.probabilities == {}


def test_chat_mode_answers_are_parsed_strictly():
    answers = iter(["politics", "I think it is about sport"])
    backend = FakeBackend(lambda r: Completion(text=next(answers)), mode="chat")
    config = parse_config(tiny_config_dict(backend="openai", base_url="http://127.0.0.1:1/v1", model="m"))
    predictions = classify_with_teacher(
        config.task, config.teacher.prompt_mode, Teacher(backend, max_concurrency=1, progress=False), "en", ["a", "b"]
    )
    assert [p.label for p in predictions] == ["politics", None]
    assert predictions[1].answer == "I think it is about sport"
    assert backend.requests[0].temperature == 0.0 and backend.requests[0].messages[0][0] == "user"


def test_numbered_options_score_the_numbers(fake_backend):
    config = parse_config(tiny_config_dict())
    texts = ["The team won the cup game.", "The minister resigned."]
    predictions = classify_with_teacher(
        config.task, config.teacher.prompt_mode, Teacher(fake_backend, progress=False), "en", texts, prompt="numbered"
    )
    assert [p.label for p in predictions] == ["sports", "politics"]
    prompt = fake_backend.requests[0].prompt
    assert "1. sports\n2. politics" in prompt and prompt.endswith("Answer:")


def test_numbered_needs_completion_mode():
    config = parse_config(tiny_config_dict(backend="openai", base_url="http://127.0.0.1:1/v1", model="m"))
    backend = FakeBackend(lambda r: Completion(text="sports"), mode="chat")
    with pytest.raises(TeacherError, match="numbered"):
        classify_with_teacher(
            config.task, config.teacher.prompt_mode, Teacher(backend, progress=False), "en", ["x"], prompt="numbered"
        )


def test_contextual_calibration_divides_out_the_bias():
    baseline = {"sports": 0.8, "politics": 0.2}
    raw = TeacherPrediction("sports", {"sports": 0.6, "politics": 0.4})
    calibrated = calibrate(raw, baseline)
    # 0.6 / 0.8 = 0.75 against 0.4 / 0.2 = 2.0
    assert calibrated.label == "politics"
    assert calibrated.probabilities["politics"] == pytest.approx(2.0 / 2.75)
    invalid = TeacherPrediction(None, {})
    assert calibrate(invalid, baseline) == invalid


def test_content_free_baseline_averages_the_teachers_bias(fake_backend):
    config = parse_config(tiny_config_dict())
    baseline = content_free_baseline(
        config.task, config.teacher.prompt_mode, Teacher(fake_backend, progress=False), "en", [], "label_name"
    )
    assert baseline["sports"] > 0.8 and baseline["sports"] + baseline["politics"] == pytest.approx(1.0)
