"""Sources of training data on the fake teacher: pivot samples written once and shared, translations with their
provenance, mixes, auto's choice on dev, students that cannot cross languages, and the config errors."""

import json
import random
import re

import pytest
import yaml

from synthdistill import load_config
from synthdistill.config import parse_config
from synthdistill.data import Example
from synthdistill.errors import ConfigError, StudentError
from synthdistill.pipeline import evaluate, generate, read_synthetic, train
from synthdistill.sources import mixed_rows, source_plan, source_rows
from synthdistill.teachers.protocol import Completion, CompletionRequest
from synthdistill.teachers.teacher import Teacher
from tests.conftest import POLITICS, SPORTS, FakeBackend, tiny_config_dict, topic_answer, write_jsonl


def translating_answer(request: CompletionRequest) -> Completion:
    """The topic teacher, which also 'translates': the source text with the target language's name after it (a
    numbered list of four comes back without its fourth line)."""
    prompt = request.prompt or request.messages[-1][1]
    if "numbered alike" in prompt:
        target = re.search(r"translated into (\w+)", prompt).group(1)
        texts = re.findall(r"^\d+\. (.+)$", prompt, re.M)
        lines = [f"{i}. {text} ({target})" for i, text in enumerate(texts, start=1)][: 3 if len(texts) == 4 else None]
        return Completion(text=" " + "\n".join(lines)[3:], finish_reason="stop", prompt_tokens=60, completion_tokens=30)
    if "translated into" in prompt:
        source_language, target = re.search(r"in (\w+), and the same \w+ translated into (\w+)", prompt).groups()
        text = re.search(rf"^{source_language}: (.*)$", prompt, re.M).group(1)
        return Completion(text=f" {text} ({target})", finish_reason="stop", prompt_tokens=30, completion_tokens=9)
    return topic_answer(request)


def project(tmp_path, languages=("de", "fr"), **source):
    """Seed, dev and test files for each language (English sentences: language ID is off), and a config."""
    half = {"sports": SPORTS, "politics": POLITICS}
    for language in languages:
        for split, rows in (("seed", slice(0, 2)), ("dev", slice(2, 4)), ("test", slice(4, 6))):
            chosen = [{"text": t, "label": label} for label, texts in half.items() for t in texts[rows]]
            write_jsonl(tmp_path / f"data/{language}/{split}.jsonl", chosen)
    raw = tiny_config_dict()
    raw["task"]["languages"] = list(languages)
    raw["data"]["dev"] = "data/{lang}/dev.jsonl"
    raw["filters"] = {"min_chars": 10, "language_id": False}
    raw["evaluation"] = {"teacher_shots": [0]}
    raw["source"] = source
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(raw))
    return load_config(tmp_path / "config.yaml")


def generation_requests(backend):
    return [r for r in backend.requests if not r.top_logprobs and "translated into" not in r.prompt]


def test_a_pivot_sample_is_written_once_and_shared_by_every_language_that_uses_it(tmp_path):
    config = project(tmp_path, default="pivot")
    backend = FakeBackend(translating_answer)

    samples, _ = generate(config, tmp_path / "out", Teacher(backend, progress=False))

    assert {s.language for s in samples} == {"en"}  # nothing written in de or fr
    assert len(generation_requests(backend)) == 3 * 2  # 3 per label, once, not once per target language
    assert all(s.meta["used_by"] == ["de", "fr"] for s in samples)
    assert {r["language"] for r in map(json.loads, (tmp_path / "out/synthetic.jsonl").open())} == {"en"}
    card = (tmp_path / "out/dataset_card.md").read_text()
    assert "| de | pivot:en | 0 | 6 | - | - |" in card and "shared by de, fr" in card  # no mix without de samples
    assert "| en |" in card.split("## Token budgets")[1]  # the pivot has its own token budget
    # the pivot's rows read back (they are not in a task language), and train the languages that use them
    assert len(read_synthetic(config, tmp_path / "out/synthetic.jsonl")) == 6


def test_translations_keep_their_source_and_pass_the_same_filters(tmp_path):
    config = project(tmp_path, default="translate")
    config.filters.max_chars = 60  # some translations get longer than their source: those are dropped
    backend = FakeBackend(translating_answer)

    samples, dropped = generate(config, tmp_path / "out", Teacher(backend, progress=False))

    pivot = [s for s in samples if s.language == "en"]
    translated = [s for s in samples if s.language != "en"]
    translation_requests = [r for r in backend.requests if "translated into" in (r.prompt or "")]
    assert len(translation_requests) == 2 * len(pivot)  # every kept pivot sample into each of two targets
    assert all(r.temperature == 0 for r in translation_requests)
    too_long = [d for d in dropped if d.reason == "too_long" and d.meta.get("origin") == "translated"]
    assert too_long and len(translated) + len(too_long) == 2 * len(pivot)
    by_text = {s.text: s for s in pivot}
    for sample in translated:
        source = sample.meta["translated_from"]
        original = by_text[source["text"]]
        name = {"de": "German", "fr": "French"}[sample.language]
        assert sample.text == f"{original.text} ({name})" and sample.label == original.label
        assert source["prompt_hash"] == original.meta["prompt_hash"] and source["language"] == "en"
        assert sample.meta["template"] == "translate.completion.v1" and sample.meta["used_by"] == [sample.language]
    assert all(s.meta["used_by"] == [] for s in pivot)  # en itself is no task language and nobody trains on it
    # the same config asks the same requests again (seeded by the generation seed and the prompt)
    again = FakeBackend(translating_answer)
    assert generate(config, tmp_path / "again", Teacher(again, progress=False))[0] == samples
    assert [r.canonical_json for r in again.requests] == [r.canonical_json for r in backend.requests]


def test_several_translations_per_request_come_back_by_number(tmp_path):
    config = project(tmp_path, default="translate", translations_per_request=4)
    backend = FakeBackend(translating_answer)

    samples, dropped = generate(config, tmp_path / "out", Teacher(backend, progress=False))

    requests = [r for r in backend.requests if "translated into" in (r.prompt or "")]
    assert len(requests) == 2 * 2  # 6 pivot samples in lists of 4 and 2, into de and fr
    assert all(
        r.stop == ("\n\n",) and r.max_tokens == 40 * r.prompt.count("\n1. ") * 0 + r.max_tokens for r in requests
    )
    translated = [s for s in samples if s.meta.get("origin") == "translated"]
    missing = [d for d in dropped if d.reason == "translation:missing"]
    assert len(translated) == 2 * 5 and len(missing) == 2  # the fourth of each list of four did not come back
    for sample in translated:
        name = {"de": "German", "fr": "French"}[sample.language]
        assert sample.text == f"{sample.meta['translated_from']['text']} ({name})"
    assert {d.meta["position"] for d in missing} == {3}


def test_numbered_answers_by_number():
    from synthdistill.generation.translation import numbered_answers

    assert numbered_answers(" one\n2. two\n\n3) three\n9. nine", 3, "completion") == {1: "one", 2: "two", 3: "three"}
    assert numbered_answers("Here you are:\n1. one\n2: two", 2, "chat") == {1: "one", 2: "two"}


def test_mixed_takes_the_stated_share_of_pivot_samples_per_label():
    pivot = [Example(f"p{i}", label, "en") for label in ("a", "b") for i in range(10)]
    other = [Example(f"o{i}", label, "de") for label in ("a", "b") for i in range(6)]

    rows = mixed_rows(pivot, other, 0.25, random.Random(0))

    for label in ("a", "b"):
        mine = [r for r in rows if r.label == label]
        assert len(mine) == 8  # the two pools' mean size
        assert sum(r.language == "en" for r in mine) == 2  # 25% of 8
    assert mixed_rows(pivot, other, 0.25, random.Random(0)) == rows


def test_auto_keeps_the_seed_when_no_synthetic_source_helps_and_says_why(tmp_path):
    config = project(tmp_path, languages=("de",), default="auto")
    backend = FakeBackend(translating_answer)  # writes "A sports sentence number N about sports.": no news at all
    teacher = Teacher(backend, progress=False)
    out = tmp_path / "out"
    samples, _ = generate(config, out, teacher)

    trained = train(config, out, samples)

    by_source = {(t["train_source"], t["language"]): t for t in trained}
    chosen = by_source["synthetic", "de"]
    sources = json.loads((out / "students/sources.json").read_text())
    [choice] = sources["choices"]
    names = [c["source"] for c in choice["candidates"]]
    # tfidf cannot cross languages: no pivot and no mixed candidates, the translations are in German
    assert names == ["in_language", "translate:en", "seed", "seed+in_language", "seed+translate:en"]
    scores = {c["source"]: c["dev_macro_f1"] for c in choice["candidates"]}
    best = max(scores.values())
    assert scores[choice["chosen"]] == best and choice["chosen"] == chosen["data_source"]
    assert names.index(choice["chosen"]) == min(i for i, n in enumerate(names) if scores[n] == best)  # ties: first
    card = (out / "dataset_card.md").read_text()
    assert "## Sources chosen on the dev split" in card and choice["reason"] in card
    records, report = evaluate(config, out)
    [record] = [r for r in records if r.train_source == "synthetic"]
    assert record.source_choice["chosen"] == choice["chosen"] and record.data_source == choice["chosen"]
    assert "Sources chosen on the dev split" in report and choice["reason"] in report
    # training again replaces the card's section rather than adding a second one
    train(config, out, samples)
    assert (out / "dataset_card.md").read_text().count("## Sources chosen on the dev split") == 1


def test_auto_reports_that_no_synthetic_source_beat_the_seed():
    from synthdistill.evaluation.source_choice import Candidate, choice_reason

    tried = [Candidate("in_language", 6, 0.33), Candidate("seed", 4, 0.9), Candidate("pivot:en", 0, None, "no samples")]
    assert choice_reason("seed", tried) == (
        "no synthetic source helped: the human seed alone scored 0.900 on dev, above every source with synthetic "
        "samples (best: in_language 0.330)"
    )
    assert choice_reason("in_language", [*tried[:1], Candidate("seed", 4, 0.2)]).startswith(
        "best macro-F1 on the dev split: 0.330, against 0.200 for seed"
    )


def test_a_student_that_cannot_cross_languages_never_trains_on_pivot_text(tmp_path):
    config = project(tmp_path, languages=("de",), default="pivot")
    out = tmp_path / "out"
    samples, _ = generate(config, out, Teacher(FakeBackend(translating_answer), progress=False))

    trained = train(config, out, samples)

    assert [(t["train_source"], t["data_source"]) for t in trained] == [("human", "seed")]
    [skipped] = json.loads((out / "students/sources.json").read_text())["skipped"]
    assert skipped == {"classifier": "tfidf", "language": "de", "source": "pivot:en",
                       "reason": "a tfidf student cannot learn de from en text"}  # fmt: skip
    _, report = evaluate(config, out)
    assert "tfidf for de was not trained on pivot:en: a tfidf student cannot learn de from en text." in report

    # mixed: the tfidf student gets the in-language part only, and the report says so
    mixed = project(tmp_path, languages=("de",), default="mixed")
    samples, _ = generate(mixed, tmp_path / "mixed", Teacher(FakeBackend(translating_answer), progress=False))
    trained = train(mixed, tmp_path / "mixed", samples)
    [synthetic] = [t for t in trained if t["train_source"] == "synthetic"]
    assert synthetic["data_source"] == "in_language" and synthetic["n_train"] == 6
    assert "trained on the in_language part of mixed" in synthetic["note"]


def test_source_rows_of_each_kind(tmp_path):
    config = project(tmp_path, languages=("en", "de"), default="auto")
    plan = source_plan(config)
    assert plan.pivot == "en" and plan.kinds == {"en": "auto", "de": "auto"}
    assert plan.writes_in() == ["en", "de"] and plan.translates_into() == ["de"]
    assert plan.candidates("en", has_seed=True, crosses_languages=True) == ["in_language", "seed", "seed+in_language"]
    synthetic = [Example("written en", "sports", "en"), Example("written de", "sports", "de"),
                 Example("translated de", "sports", "de", {"origin": "translated"})]  # fmt: skip
    seed = [Example("seed de", "sports", "de")]
    texts = {kind: [r.text for r in source_rows(plan, kind, "de", synthetic, seed, 0)]
             for kind in ("in_language", "pivot", "translate", "seed", "seed+pivot")}  # fmt: skip
    assert texts == {"in_language": ["written de"], "pivot": ["written en"], "translate": ["translated de"],
                     "seed": ["seed de"], "seed+pivot": ["seed de", "written en"]}  # fmt: skip


@pytest.mark.parametrize(
    ("source", "data", "message"),
    [
        ({"default": "auto"}, {}, "source.default: auto chooses a source on the human dev split, and data.dev is not"),
        (
            {"languages": {"de": "translate"}, "pivot": None},
            {"dev": "d"},
            "source.languages.de: translate needs a pivot language (source.pivot)",
        ),
        ({"languages": {"en": "pivot"}}, {"dev": "d"}, "source.languages.en: en is the pivot language (en) itself"),
        ({"pivot": "xx"}, {"dev": "d"}, "source.pivot: unknown language code 'xx'"),
        ({"languages": {"sw": "pivot"}}, {"dev": "d"}, "source.languages names languages that are not in the task: sw"),
        ({"default": "pivots"}, {"dev": "d"}, "source.default: Input should be 'in_language', 'pivot'"),
        (
            {"translation_template": "../generate.chat.v1"},
            {},
            "source.translation_template: unknown template "
            "'../generate.chat.v1'; the translate templates are translate.chat.v1, translate.completion.v1",
        ),
    ],
)
def test_sources_that_cannot_work_are_config_errors(source, data, message):
    raw = tiny_config_dict()
    raw["task"]["languages"] = ["en", "de"]
    raw["data"].update(data)
    raw["source"] = source
    with pytest.raises(ConfigError) as error:
        parse_config(raw, source="c.yaml")
    assert message in str(error.value) and str(error.value).startswith("c.yaml: ")


def test_the_pivot_language_itself_trains_on_its_own_samples(tmp_path):
    config = project(tmp_path, languages=("en", "de"), default="pivot")
    plan = source_plan(config)
    assert plan.kinds == {"en": "in_language", "de": "pivot"} and plan.writes_in() == ["en"]
    assert source_plan(project(tmp_path, languages=("eng_Latn", "de"), default="pivot")).pivot == "eng_Latn"


@pytest.mark.slow
def test_pivot_and_translation_on_the_embedded_teacher(tiny_project):
    """The real teacher: English written once, translated into Swahili (and filtered there), and shared as
    German's training data for a student that carries languages across."""
    from synthdistill.generation.language_id import check_language
    from synthdistill.languages import resolve_language

    raw = tiny_config_dict()
    raw["task"]["languages"] = ["en", "sw", "de"]
    raw["source"] = {"languages": {"sw": "translate", "de": "pivot"}, "pivot": "en"}
    raw["students"] = [{"type": "embed", "train_on": ["synthetic"]}]
    for language in ("sw", "de"):
        for split in ("seed", "test"):
            rows = [json.loads(line) for line in (tiny_project / f"data/en/{split}.jsonl").read_text().splitlines()]
            write_jsonl(tiny_project / f"data/{language}/{split}.jsonl", rows)
    (tiny_project / "pivot.yaml").write_text(yaml.safe_dump(raw))
    config = load_config(tiny_project / "pivot.yaml")
    out = tiny_project / "out"

    samples, dropped = generate(config, out, progress=False)

    english = [s for s in samples if s.language == "en"]
    swahili = [s for s in samples if s.language == "sw"]
    assert english and not [s for s in samples if s.language == "de"]  # German is written in English
    written = {(r.meta["prompt_hash"], r.meta["sample_index"]) for r in [*english, *dropped] if r.language == "en"}
    assert len(written) == 3 * 2  # each English sample asked for once, for en and de together
    assert all(s.meta["used_by"] == ["en", "de"] for s in english)
    translations = [*swahili, *(d for d in dropped if d.meta.get("origin") == "translated")]
    assert sorted(t.meta["translated_from"]["text"] for t in translations) == sorted(s.text for s in english)
    for sample in swahili:
        assert sample.meta["template"] == "translate.completion.v1" and sample.meta["used_by"] == ["sw"]
        assert check_language(sample.text, resolve_language("sw")).ok  # the language filter ran on translations

    # German trains on the English samples; Swahili on whatever translations passed the filters. This 270M
    # teacher mostly copies the English sentence (language ID drops those), and a source left empty is one
    # clear error naming the student and language, not a student trained on nothing.
    if swahili:
        trained = {t["language"]: t for t in train(config, out, samples)}
        assert trained["sw"]["data_source"] == "translate:en" and trained["sw"]["n_train"] == len(swahili)
    else:
        assert {d.reason for d in translations} <= {"wrong_language:en", "translation:empty", "translation:truncated"}
        with pytest.raises(StudentError, match="student embed on synthetic data for sw: the training set is empty"):
            train(config, out, samples)
        config.source.languages["sw"] = "pivot"  # what a user would do next: train Swahili on the English
        trained = {t["language"]: t for t in train(config, out, samples)}
        assert trained["sw"]["data_source"] == "pivot:en"
    assert trained["de"]["data_source"] == "pivot:en" and trained["de"]["n_train"] == len(english)


def test_auto_through_the_command_line(tmp_path, monkeypatch, capsys):
    """`synthdistill run` with source auto: the report prints each candidate's dev score; a config that cannot
    work is one line before any request."""
    from synthdistill import cli as command_line
    from synthdistill import pipeline
    from tests.test_cli import assert_one_line_error, cli

    project(tmp_path, languages=("en", "de"), default="auto")
    monkeypatch.setattr(
        pipeline, "open_teacher", lambda *a, **k: Teacher(FakeBackend(translating_answer), progress=False)
    )
    config, out = str(tmp_path / "config.yaml"), tmp_path / "out"

    assert command_line.main(["run", config, "--out", str(out), "--no-progress"]) == 0

    printed = capsys.readouterr().out
    assert printed.count("Sources chosen on the dev split (source: auto):") == 2  # en and de
    results = json.loads((out / "results.json").read_text())
    choices = [r["source_choice"] for r in results if r["train_source"] == "synthetic"]
    assert {c["language"] for c in choices} == {"en", "de"}
    assert all(c["chosen"] in printed and c["reason"] in printed for c in choices)

    raw = yaml.safe_load((tmp_path / "config.yaml").read_text())
    del raw["data"]["dev"]
    (tmp_path / "nodev.yaml").write_text(yaml.safe_dump(raw))
    result = cli("run", str(tmp_path / "nodev.yaml"), "--out", str(tmp_path / "nodev"))
    assert_one_line_error(result, "nodev.yaml: ", "source.default: auto chooses a source on the human dev split")
    assert not (tmp_path / "nodev" / "cache.sqlite").exists()


def test_sharded_generation_refuses_sources_it_cannot_share(tmp_path):
    from synthdistill.experiments.executors import InlineExecutor
    from synthdistill.experiments.sharding import generate_sharded

    config = project(tmp_path, default="pivot")
    with pytest.raises(ConfigError, match=r"source \(de: pivot, fr: pivot\): generation sharded per language"):
        generate_sharded(config, tmp_path / "out", InlineExecutor())
    assert not (tmp_path / "out").exists()
