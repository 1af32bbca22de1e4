import pytest

from synthdistill.config import parse_config
from synthdistill.data import Example
from synthdistill.generation import generate_samples, parse_generated, plan_generation
from synthdistill.teachers.teacher import Teacher
from tests.conftest import POLITICS, SPORTS, tiny_config_dict

SEEDS = {"en": [Example(t, "sports", "en") for t in SPORTS] + [Example(t, "politics", "en") for t in POLITICS]}


@pytest.mark.parametrize(
    ("raw", "finish", "mode", "expected"),
    [
        (" The team won.", "stop", "completion", ("The team won.", "ok")),
        (' "The team won."\nSentence 5: more', "stop", "completion", ("The team won.", "ok")),
        ("4. The team won.", "stop", "completion", ("The team won.", "ok")),
        ("Sentence 4: The team won.", "stop", "completion", ("The team won.", "ok")),
        ("   \n  ", "stop", "completion", (None, "empty")),
        (" The team won the", "length", "completion", (None, "truncated")),
        ("The team won.\nAnother one.", "stop", "chat", (None, "several_lines")),
        ("«Timu ilishinda.»", "stop", "chat", ("Timu ilishinda.", "ok")),
    ],
)
def test_parse_generated(raw, finish, mode, expected):
    assert parse_generated(raw, finish, mode) == expected


def test_plan_has_every_language_label_and_sample_with_distinct_seeds():
    config = parse_config({**tiny_config_dict(), "task": {**tiny_config_dict()["task"], "languages": ["en", "sw"]}})
    jobs = plan_generation(config, SEEDS)
    assert len(jobs) == 2 * 2 * 3
    assert {(j.language, j.label) for j in jobs} == {
        (lang, lab) for lang in ("en", "sw") for lab in ("sports", "politics")
    }
    assert len({j.request.seed for j in jobs}) == len(jobs)
    english_sports = [j for j in jobs if j.language == "en" and j.label == "sports"]
    assert all(j.n_demos == 2 for j in english_sports)
    assert all(any(s in j.prompt.text for s in SPORTS) for j in english_sports)
    assert not any(p in j.prompt.text for j in english_sports for p in POLITICS)
    assert "in English" in english_sports[0].prompt.text
    swahili = [j for j in jobs if j.language == "sw"]
    assert all(j.n_demos == 0 and "in Swahili" in j.prompt.text for j in swahili)  # no seeds given for sw
    assert plan_generation(config, SEEDS)[0].request == jobs[0].request  # deterministic


def test_chat_mode_sends_messages():
    raw = tiny_config_dict(backend="openai", base_url="http://127.0.0.1:1/v1", model="m")
    jobs = plan_generation(parse_config(raw), SEEDS)
    assert jobs[0].request.prompt is None
    assert jobs[0].request.messages[0][0] == "user"
    assert jobs[0].prompt.template == "generate.chat.v1"


def test_generate_samples_records_provenance(fake_backend):
    config = parse_config(tiny_config_dict())
    teacher = Teacher(fake_backend, progress=False)
    samples, dropped = generate_samples(config, teacher, SEEDS)
    assert len(samples) == 6 and not dropped
    assert {s.label for s in samples} == {"sports", "politics"}
    first = samples[0]
    assert first.text.startswith("A sports sentence number")
    assert first.meta["teacher"] == "fake-teacher"
    assert first.meta["template"] == "generate.completion.v1"
    assert len(first.meta["prompt_hash"]) == 16 and first.meta["sample_index"] == 0
