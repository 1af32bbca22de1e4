import pytest

from synthdistill.config import parse_config
from synthdistill.data import Example
from synthdistill.generation.label_summaries import summarise_labels
from synthdistill.generation.parsing import parse_generated
from synthdistill.generation.planning import plan_generation
from synthdistill.generation.samples import generate_samples, taboo_words
from synthdistill.generation.self_revision import revise_samples
from synthdistill.teachers.protocol import Completion, CompletionRequest
from synthdistill.teachers.teacher import Teacher
from tests.conftest import POLITICS, SPORTS, FakeBackend, tiny_config_dict


def _parts(config):
    """What generation reads of a config: the task, the generation spec, the teacher's prompt mode."""
    return config.task, config.generation, config.teacher.prompt_mode


def _task_mode(config):
    return config.task, config.teacher.prompt_mode


SEEDS = {"en": [Example(t, "sports", "en") for t in SPORTS] + [Example(t, "politics", "en") for t in POLITICS]}


def config_with(**generation):
    raw = tiny_config_dict()
    raw["generation"] = {**raw["generation"], **generation}
    return parse_config(raw)


@pytest.mark.parametrize(
    ("raw", "finish", "mode", "n", "expected"),
    [
        (" The team won.", "stop", "completion", 1, [("The team won.", "ok")]),
        (' "The team won."', "stop", "completion", 1, [("The team won.", "ok")]),
        ("4. The team won.", "stop", "completion", 1, [("The team won.", "ok")]),
        ("Sentence 4: The team won.", "stop", "completion", 1, [("The team won.", "ok")]),
        ("   \n  ", "stop", "completion", 1, [(None, "empty")]),
        (" The team won the", "length", "completion", 1, [(None, "truncated")]),
        ("The team won.\nAnother one.", "stop", "chat", 1, [(None, "several_lines")]),
        ("«Timu ilishinda.»", "stop", "chat", 1, [("Timu ilishinda.", "ok")]),
        (" One.\nSentence 5: Two.\nSentence 6: Three.", "stop", "completion", 3,
         [("One.", "ok"), ("Two.", "ok"), ("Three.", "ok")]),
        ("1. One.\n2. Two.\n3. Thr", "length", "chat", 3, [("One.", "ok"), ("Two.", "ok"), (None, "truncated")]),
        ("1. One.\n2. Two.\n3. Three.\n4. Four.", "length", "chat", 3,
         [("One.", "ok"), ("Two.", "ok"), ("Three.", "ok")]),
        ("1. One.\n\n", "stop", "chat", 3, [("One.", "ok")]),
    ],
)  # fmt: skip
def test_parse_generated(raw, finish, mode, n, expected):
    assert [(text, reason) for text, reason, _ in parse_generated(raw, finish, mode, n)] == expected


def test_plan_has_every_language_label_and_sample_with_distinct_seeds():
    config = parse_config({**tiny_config_dict(), "task": {**tiny_config_dict()["task"], "languages": ["en", "sw"]}})
    jobs = plan_generation(*_parts(config), SEEDS)
    assert len(jobs) == 2 * 2 * 3
    expected_cells = {(lang, lab) for lang in ("en", "sw") for lab in ("sports", "politics")}
    assert {(j.language, j.label) for j in jobs} == expected_cells
    assert len({j.request.seed for j in jobs}) == len(jobs)
    english_sports = [j for j in jobs if j.language == "en" and j.label == "sports"]
    assert all(j.n_demos == 2 for j in english_sports)
    assert all(any(s in j.prompt.text for s in SPORTS) for j in english_sports)
    assert not any(p in j.prompt.text for j in english_sports for p in POLITICS)
    assert "in English" in english_sports[0].prompt.text
    swahili = [j for j in jobs if j.language == "sw"]
    assert all(j.n_demos == 0 and "in Swahili" in j.prompt.text for j in swahili)  # no seeds given for sw
    assert plan_generation(*_parts(config), SEEDS)[0].request == jobs[0].request  # deterministic


def test_chat_mode_sends_messages():
    raw = tiny_config_dict(backend="openai", base_url="http://127.0.0.1:1/v1", model="m")
    jobs = plan_generation(*_parts(parse_config(raw)), SEEDS)
    assert jobs[0].request.prompt is None
    assert jobs[0].request.messages[0][0] == "user"
    assert jobs[0].prompt.template == "generate.chat.v2"


def test_several_samples_per_call():
    config = config_with(samples_per_label=7, samples_per_call=3)
    jobs = plan_generation(*_parts(config), SEEDS)
    assert len(jobs) == 2 * 3  # ceil(7 / 3) calls per label
    assert jobs[0].request.max_tokens == 3 * 40 and jobs[0].request.stop == ("\n\n",)


def test_attributes_cycle_and_taboo_words_and_summaries_reach_the_prompt():
    config = config_with(samples_per_label=4, attributes={"sports": ["football", "tennis"], "*": ["local news"]})
    summaries = {"en": {"sports": "They are about ball games and races."}}
    taboo = {("en", "sports"): ["goal", "match"]}
    jobs = plan_generation(*_parts(config), SEEDS, summaries=summaries, taboo=taboo)
    sports = [j for j in jobs if j.label == "sports"]
    assert [j.attribute for j in sports] == ["football", "tennis", "football", "tennis"]
    assert {j.attribute for j in jobs if j.label == "politics"} == {"local news"}
    assert "about this: tennis" in sports[1].prompt.text
    assert "None of them uses the words goal, match." in sports[0].prompt.text
    assert "ball games and races" in sports[0].prompt.text
    assert "governments, elections and laws" in next(j for j in jobs if j.label == "politics").prompt.text


def test_demonstrations_from_another_language():
    config = config_with(demo_language="en")
    raw = tiny_config_dict()
    raw["task"]["languages"] = ["sw"]
    raw["generation"]["demo_language"] = "en"
    jobs = plan_generation(*_parts(parse_config(raw)), SEEDS)
    assert all(j.n_demos == 2 for j in jobs)
    assert "Some sentences in English" in jobs[0].prompt.text and "in Swahili" in jobs[0].prompt.text
    assert config.generation.demo_language == "en"


def test_taboo_words_are_typical_of_a_label_not_of_all():
    samples = [Example(f"the football match number {i} was great", "sports", "en") for i in range(4)]
    samples += [Example(f"the senate vote number {i} was close", "politics", "en") for i in range(4)]
    words = taboo_words(samples, 3)
    assert set(words[("en", "sports")]) == {"football", "match", "great"}
    assert "number" not in words[("en", "politics")]  # in every label: not a content word


def test_rounds_apply_taboo_words_from_earlier_rounds(fake_backend):
    config = config_with(samples_per_label=4, taboo_words=2, rounds=2)
    samples, dropped = generate_samples(*_parts(config), Teacher(fake_backend, progress=False), SEEDS)
    assert len(samples) == 8 and not dropped
    first_round = [r for r in fake_backend.requests if "None of them uses" not in r.prompt]
    second_round = [r for r in fake_backend.requests if "None of them uses" in r.prompt]
    assert len(first_round) == 4 and len(second_round) == 4
    assert {s.meta["round"] for s in samples} == {0, 1}
    # the fake's sentences share all words but the label's own name, which is the only typical word
    assert all(s.meta.get("n_taboo") == 1 for s in samples if s.meta["round"] == 1)
    assert any("None of them uses the words politics." in r.prompt for r in second_round)


def test_generate_samples_records_provenance(fake_backend):
    config = parse_config(tiny_config_dict())
    samples, dropped = generate_samples(*_parts(config), Teacher(fake_backend, progress=False), SEEDS)
    assert len(samples) == 6 and not dropped
    assert {s.label for s in samples} == {"sports", "politics"}
    first = samples[0]
    assert first.text.startswith("A sports sentence number")
    assert first.meta["teacher"] == "fake-teacher"
    assert first.meta["template"] == "generate.completion.v2"
    assert len(first.meta["prompt_hash"]) == 16 and first.meta["sample_index"] == 0


def test_label_summaries_condition_later_prompts():
    def answer(request: CompletionRequest) -> Completion:
        return Completion(text=" ball games.\n", finish_reason="stop")

    config = config_with(label_summaries=True)
    summaries = summarise_labels(
        config.task, config.teacher.prompt_mode, Teacher(FakeBackend(answer), progress=False), SEEDS, seed=0
    )
    assert summaries == {"en": {"sports": "They are about ball games.", "politics": "They are about ball games."}}
    assert (
        summarise_labels(
            config.task, config.teacher.prompt_mode, Teacher(FakeBackend(answer), progress=False), {}, seed=0
        )
        == {}
    )  # no seeds: no summary


def test_self_revision_drops_rejected_and_unanswered():
    verdicts = {"The team won.": {" yes": -0.1, " no": -2.5}, "Gibberish xx.": {" no": -0.1, " yes": -3.0}}

    def answer(request: CompletionRequest) -> Completion:
        text = request.prompt.rsplit("Sentence: ", 1)[1].split("\n")[0]
        return Completion(text="", top_logprobs=[verdicts.get(text, {" The": -0.1})])

    config = config_with(self_revision=True)
    samples = [Example("The team won.", "sports", "en"), Example("Gibberish xx.", "sports", "en"),
               Example("Unclear one.", "politics", "en")]  # fmt: skip
    backend = FakeBackend(answer)
    kept, dropped = revise_samples(
        config.task, config.teacher.prompt_mode, Teacher(backend, progress=False), samples, SEEDS, seed=0
    )
    assert [e.text for e in kept] == ["The team won."]
    assert [(d.text, d.reason) for d in dropped] == [
        ("Gibberish xx.", "revision:rejected"),
        ("Unclear one.", "revision:no_answer"),
    ]
    prompt = backend.requests[0].prompt
    assert "Passes: yes" in prompt and "Passes: no" in prompt and prompt.endswith("Passes:")


def test_self_revision_in_chat_mode_parses_strictly():
    answers = {"A": "Yes.", "B": "no", "C": "Maybe"}
    backend = FakeBackend(lambda r: Completion(text=answers[r.messages[0][1].split("Sentence: ")[1][0]]), mode="chat")
    raw = tiny_config_dict(backend="openai", base_url="http://127.0.0.1:1/v1", model="m")
    raw["generation"]["self_revision"] = True
    samples = [Example(t, "sports", "en") for t in ("A one.", "B two.", "C three.")]
    kept, dropped = revise_samples(
        *_task_mode(parse_config(raw)), Teacher(backend, progress=False), samples, SEEDS, seed=0
    )
    assert [e.text for e in kept] == ["A one."]
    assert [d.reason for d in dropped] == ["revision:rejected", "revision:no_answer"]
