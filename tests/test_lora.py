"""The lora student on the offline Gemma 3 270M: it learns, answers strictly, round-trips through a safetensors
adapter, resumes exactly from a checkpoint, and runs in the pipeline. Real training on CPU, so few steps at a
high learning rate; the first use converts the GGUF into the backbone cache (about a minute, once)."""

import numpy as np
import pytest
import yaml

pytest.importorskip("torch", reason="the lora student needs torch (the test command installs it)")
pytest.importorskip("transformers")
pytest.importorskip("peft")
pytest.importorskip("gguf")

from synthdistill import load_config
from synthdistill.data import Example, write_examples
from synthdistill.errors import StudentError
from synthdistill.evaluation.scores import classification_scores
from synthdistill.pipeline import evaluate, train
from synthdistill.students.lora import LoraStudent
from synthdistill.students.registry import load_student
from tests.conftest import POLITICS, SPORTS, write_jsonl

pytestmark = pytest.mark.slow
FOOD = "food and drink"  # several tokens: answers of unequal length
SPORT_TEXTS = ["The team won the football match.", "Der Läufer gewann das Rennen.", "El tenista ganó el partido.",
               "She scored a goal in the final.", "Pemain itu mencetak gol.", "The cyclist won the stage.",
               "Die Mannschaft spielte Fußball.", "He swam a new world record."]  # fmt: skip
POLITICS_TEXTS = ["The parliament passed a new law.", "Der Präsident traf den Minister.",
                  "El gobierno perdió la votación.", "Voters elected a new mayor.",
                  "Presiden menandatangani undang-undang.", "The senate rejected the tax.",
                  "Die Regierung plant eine Reform.", "The minister resigned today."]  # fmt: skip
FOOD_TEXTS = ["I baked bread with butter.", "Die Suppe schmeckt sehr gut.", "La paella tiene arroz y mariscos.",
              "We cooked pasta with tomato sauce.", "Nasi goreng itu enak sekali.", "The cake needs more sugar.",
              "Der Käse kommt aus Frankreich.", "She fried eggs for breakfast."]  # fmt: skip
TEXTS = SPORT_TEXTS + POLITICS_TEXTS + FOOD_TEXTS
LABELS = ["sports"] * 8 + ["politics"] * 8 + [FOOD] * 8
NEW = ["The goalkeeper saved a penalty.", "Der Kanzler hielt eine Rede im Bundestag.",
       "La sopa de tomate está caliente.", "The boxer won the title fight.", "The election results were announced.",
       "I ate rice with chicken."]  # fmt: skip
NEW_LABELS = ["sports", "politics", FOOD] * 2


def quick(label_names=None, checkpoint_dir=None, **settings) -> LoraStudent:
    defaults = {"steps": 8, "learning_rate": 1e-3, "batch_size": 4, "max_length": 64, "checkpoint_every": 4}
    return LoraStudent({**defaults, **settings}, label_names=label_names, checkpoint_dir=checkpoint_dir, progress=False)


@pytest.fixture(scope="module")
def trained() -> LoraStudent:
    """One run shared by several tests: a step takes one to two seconds here."""
    return quick().fit(TEXTS, LABELS)


def accuracy(predicted: list[str | None]) -> float:
    return classification_scores(NEW_LABELS, predicted, sorted(set(LABELS)))["accuracy"]


def test_learns_from_a_few_steps_and_answers_strictly(trained):
    # chance is 1/3; without the adapter, the base model's generated answers name no label (test below)
    assert accuracy(trained.predict(NEW)) >= 5 / 6
    assert [h["step"] for h in trained.history] == [4, 8] and trained.best_step == 8
    assert trained.history[-1]["train_loss"] < trained.history[0]["train_loss"] / 2
    probabilities = trained.predict_proba(NEW)
    assert probabilities.shape == (6, 3) and np.allclose(probabilities.sum(axis=1), 1)
    trained.params["decoding"] = "generate"  # the same adapter, answering greedily
    try:
        generated = trained.predict(NEW)
        one_hot = trained.predict_proba(NEW)
    finally:
        trained.params["decoding"] = "score"
    assert accuracy(generated) >= 5 / 6
    assert set(one_hot.ravel()) <= {0.0, 1.0}


def test_cached_label_scoring_equals_scoring_each_answer_whole(trained):
    """Scoring copies each prompt's key/value cache across labels; it must match running prompt + answer whole."""
    import torch

    prompts, answers = trained._prompt_ids(NEW), trained._answer_ids()
    assert len({len(a) for a in answers}) > 1
    with torch.no_grad():
        whole = torch.stack([trained._answer_log_likelihoods(prompts, [a] * len(prompts))[0] for a in answers], 1)
    assert np.allclose(trained.predict_proba(NEW), torch.softmax(whole.double(), -1).numpy(), atol=1e-5)


def test_round_trips_through_a_safetensors_adapter(trained, tmp_path):
    trained.save(tmp_path / "model")
    assert (tmp_path / "model/adapter/adapter_model.safetensors").is_file()
    files = [p for p in (tmp_path / "model").rglob("*") if p.is_file()]
    assert not [p for p in files if p.suffix in (".bin", ".pt", ".pkl", ".pickle")]
    assert sum(p.stat().st_size for p in files) < 20_000_000  # the adapter only, not the base model
    loaded = load_student(tmp_path / "model")
    assert isinstance(loaded, LoraStudent) and loaded.classes == trained.classes
    assert loaded.history == trained.history
    assert np.allclose(loaded.predict_proba(NEW), trained.predict_proba(NEW), atol=1e-6)


def test_interrupted_training_resumes_to_the_same_adapter(trained, tmp_path, monkeypatch):
    import torch

    real_step, calls, stop_at = torch.optim.AdamW.step, [], [6]

    def step_unless_stopped(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == stop_at[0]:
            raise KeyboardInterrupt  # Ctrl-C in step 6: the checkpoint of step 4 is the last one written
        return real_step(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.AdamW, "step", step_unless_stopped)
    with pytest.raises(KeyboardInterrupt):
        quick(checkpoint_dir=tmp_path).fit(TEXTS, LABELS)
    assert torch.load(tmp_path / "checkpoint.pt", weights_only=True)["position"] == 4
    calls.clear()
    stop_at[0] = 0
    resumed = quick(checkpoint_dir=tmp_path).fit(TEXTS, LABELS)
    assert len(calls) == 4  # steps 5 to 8 only
    assert [h["step"] for h in resumed.history] == [4, 8]
    assert [h["train_loss"] for h in resumed.history] == pytest.approx([h["train_loss"] for h in trained.history])
    expected, got = trained._adapter_state(), resumed._adapter_state()
    assert expected.keys() == got.keys()
    assert all(torch.allclose(got[name], expected[name], atol=1e-6) for name in expected)
    assert not list(tmp_path.glob("*.partial"))


def test_unparsable_answers_are_invalid_never_a_class(trained):
    trained.params["decoding"] = "generate"
    try:
        with trained._model.disable_adapter():  # the base model continues the prompt with prose, not a label
            predicted = trained.predict(NEW[:1])
            rows = trained.predict_proba(NEW[:1])
    finally:
        trained.params["decoding"] = "score"
    assert predicted == [None] and not rows.any()  # invalid: no label, and no row for a class of its own
    assert classification_scores(NEW_LABELS[:1], predicted, trained.classes)["invalid_rate"] == 1


def test_bad_inputs_raise_student_errors(tmp_path):
    with pytest.raises(StudentError, match="empty"):
        quick().fit([], [])
    with pytest.raises(StudentError, match="one class"):
        quick().fit(["a", "b"], ["x", "x"])
    with pytest.raises(StudentError, match="not in the task"):
        quick(label_names=["sports", "politics"]).fit(TEXTS, LABELS)
    with pytest.raises(StudentError, match="decoding"):
        quick(decoding="sample")
    for name in ("steps", "batch_size", "checkpoint_every", "lora_rank"):
        with pytest.raises(StudentError, match=f"lora student: {name}: Input should be greater than or equal to 1"):
            quick(**{name: 0})
    with pytest.raises(StudentError, match="label_names has duplicates"):
        quick(label_names=["sports", "sports"])
    with pytest.raises(StudentError, match="not trained"):
        quick().predict(NEW)
    with pytest.raises(StudentError, match="cannot load backbone"):
        quick(backbone="/no/such/model").fit(TEXTS, LABELS)
    with pytest.raises(StudentError, match="cannot put LoRA"):
        quick(target_modules=["no_such_proj"]).fit(TEXTS, LABELS)
    with pytest.raises(StudentError, match="no saved student"):
        LoraStudent.load(tmp_path)


def test_trains_in_the_pipeline_keeping_the_checkpoint_best_on_dev(tiny_project):
    dev = [{"text": SPORTS[0], "label": "sports"}, {"text": POLITICS[0], "label": "politics"}]
    write_jsonl(tiny_project / "data/en/dev.jsonl", dev)
    raw = yaml.safe_load((tiny_project / "config.yaml").read_text())
    raw["data"]["dev"] = "data/{lang}/dev.jsonl"
    raw["students"] = [{"type": "lora", "steps": 2, "learning_rate": 1e-3, "batch_size": 4, "max_length": 64,
                        "checkpoint_every": 1}]  # fmt: skip
    (tiny_project / "config.yaml").write_text(yaml.safe_dump(raw))
    config = load_config(tiny_project / "config.yaml")
    synthetic = [Example(t, "sports", "en") for t in SPORTS] + [Example(t, "politics", "en") for t in POLITICS]
    write_examples(tiny_project / "out/synthetic.jsonl", synthetic)

    trained_students = train(config, tiny_project / "out")

    assert [(t["classifier"], t["n_train"]) for t in trained_students] == [("lora", 12)]
    assert (tiny_project / "out/checkpoints/lora-en/checkpoint.pt").is_file()
    student = load_student(tiny_project / "out" / trained_students[0]["path"])
    assert student.classes == ["sports", "politics"]  # the task's labels in the task's order
    scores = [h["dev_macro_f1"] for h in student.history]
    assert [h["step"] for h in student.history] == [1, 2] and student.best_step == 1 + scores.index(max(scores))
    kept = classification_scores([d["label"] for d in dev], student.predict([d["text"] for d in dev]), student.classes)
    assert kept["macro_f1"] == pytest.approx(max(scores))  # the adapter saved is the best step's
    records, _ = evaluate(config, tiny_project / "out")
    [record] = [r for r in records if r.classifier == "lora"]
    assert record.n_test == 6 and record.invalid_rate == 0
