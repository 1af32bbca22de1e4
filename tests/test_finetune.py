"""The finetune student on the offline all-MiniLM-L6-v2 backbone: it learns, selects its epoch on dev,
resumes from a checkpoint, and round-trips through safetensors."""

import numpy as np
import pytest

pytest.importorskip("torch", reason="the finetune student needs torch (the test command installs it)")
pytest.importorskip("transformers")

from synthdistill.errors import StudentError
from synthdistill.evaluation.scores import classification_scores
from synthdistill.students import training_loop
from synthdistill.students.finetune import FineTunedStudent, batch_size_for
from synthdistill.students.registry import load_student
from tests.conftest import POLITICS, SPORTS

pytestmark = pytest.mark.slow
TEXTS, LABELS = SPORTS + POLITICS, ["sports"] * 6 + ["politics"] * 6
NEW = ["The striker scored a goal in the cup final.", "The president signed the new election law.",
       "The runner won the gold medal in the race.", "The senate voted on the new tax law."]  # fmt: skip
NEW_LABELS = ["sports", "politics", "sports", "politics"]


def quick(checkpoint_dir=None, **settings) -> FineTunedStudent:
    defaults = {"backbone": "minilm", "epochs": 6, "learning_rate": 1e-4, "max_length": 64}
    return FineTunedStudent({**defaults, **settings}, checkpoint_dir=checkpoint_dir, progress=False)


def test_learns_and_round_trips_through_safetensors(tmp_path):
    student = quick().fit(TEXTS, LABELS)
    assert student.predict(NEW) == NEW_LABELS
    assert [h["epoch"] for h in student.history] == [1, 2, 3, 4, 5, 6]
    assert student.history[-1]["train_loss"] < student.history[0]["train_loss"]
    student.save(tmp_path / "model")
    assert (tmp_path / "model/model/model.safetensors").is_file()
    assert not list((tmp_path / "model").rglob("*.bin")) and not list((tmp_path / "model").rglob("*.pt"))
    loaded = load_student(tmp_path / "model")
    assert np.allclose(loaded.predict_proba(NEW), student.predict_proba(NEW), atol=1e-5)


def test_epoch_is_chosen_on_dev(tmp_path):
    student = quick(epochs=4).fit(TEXTS, LABELS, dev=(NEW, NEW_LABELS))
    scores = [h["dev_macro_f1"] for h in student.history]
    assert student.best_epoch == 1 + scores.index(max(scores))
    # the model kept is the best epoch's: its dev score now is that epoch's, not the last one's
    kept = classification_scores(NEW_LABELS, student.predict(NEW), student.classes)["macro_f1"]
    assert kept == pytest.approx(max(scores))


def test_interrupted_training_resumes_from_its_checkpoint(tmp_path, monkeypatch):
    import torch

    uninterrupted = quick(epochs=4).fit(TEXTS, LABELS)
    real_write, writes = training_loop.write_checkpoint, []

    def write_then_stop(path, state):
        real_write(path, state)
        writes.append(path)
        if len(writes) == 2:
            raise KeyboardInterrupt  # Ctrl-C right after the second epoch's checkpoint

    monkeypatch.setattr(training_loop, "write_checkpoint", write_then_stop)
    with pytest.raises(KeyboardInterrupt):
        quick(epochs=4, checkpoint_dir=tmp_path).fit(TEXTS, LABELS)
    monkeypatch.setattr(training_loop, "write_checkpoint", real_write)
    resumed = quick(epochs=4, checkpoint_dir=tmp_path)
    trained_epochs = []
    real_randperm = torch.randperm
    monkeypatch.setattr(torch, "randperm", lambda *a, **k: trained_epochs.append(1) or real_randperm(*a, **k))
    resumed.fit(TEXTS, LABELS)
    assert len(trained_epochs) == 2  # only epochs 3 and 4 ran again
    assert [h["epoch"] for h in resumed.history] == [1, 2, 3, 4]
    assert np.allclose(resumed.predict_proba(NEW), uninterrupted.predict_proba(NEW), atol=1e-4)


def test_bad_inputs_and_batch_sizes():
    with pytest.raises(StudentError, match="one class"):
        quick().fit(["a", "b"], ["x", "x"])
    with pytest.raises(StudentError, match="finetune student: epochs: Input should be greater than or equal to 1"):
        quick(epochs=0)
    with pytest.raises(StudentError, match="steps: Extra inputs are not permitted"):
        quick(steps=10)
    with pytest.raises(StudentError, match="cannot load backbone"):
        quick(backbone="/no/such/model").fit(TEXTS, LABELS)
    assert [batch_size_for(n) for n in (10, 70, 280, 1400, 5000)] == [4, 8, 32, 64, 64]


def test_gemma_decoder_backbone_classifies_from_its_last_token(tmp_path):
    """The offline Gemma 3 270M through AutoModelForSequenceClassification: padding set, trained, round-tripped."""
    pytest.importorskip("gguf")
    student = quick(backbone="gemma-270m", epochs=1, batch_size=6).fit(TEXTS, LABELS)
    assert student._model.config.pad_token_id == student._tokenizer.pad_token_id is not None
    assert set(student.predict(NEW)) <= {"sports", "politics"}
    student.save(tmp_path / "model")
    loaded = load_student(tmp_path / "model")
    assert np.allclose(loaded.predict_proba(NEW), student.predict_proba(NEW), atol=1e-5)


def test_frozen_embeddings_stay_as_loaded_while_the_rest_learns(tmp_path):
    """train_embeddings: false leaves the input embedding matrix untouched and out of the optimizer, and the
    setting is saved with the student."""
    import transformers

    from synthdistill.students.backbones import resolve_backbone

    frozen = quick(epochs=3, train_embeddings=False).fit(TEXTS, LABELS)
    trained = quick(epochs=3).fit(TEXTS, LABELS)
    loaded = transformers.AutoModel.from_pretrained(resolve_backbone("minilm")).get_input_embeddings().weight
    embeddings = [s._model.get_input_embeddings().weight.detach().numpy() for s in (frozen, trained)]
    assert np.array_equal(embeddings[0], loaded.detach().numpy())
    assert not np.allclose(embeddings[1], loaded.detach().numpy())
    assert frozen.predict(NEW) == NEW_LABELS
    frozen.save(tmp_path / "model")
    assert load_student(tmp_path / "model").params["train_embeddings"] is False


def test_the_new_head_is_no_load_report_but_missing_backbone_weights_are_named(tmp_path, capfd):
    from safetensors.torch import load_file, save_file

    from tests.random_backbones import write_random_backbone

    folder = write_random_backbone(tmp_path / "tiny", "tiny-encoder", [*TEXTS, "sports politics"])
    quick(backbone=folder, epochs=1).fit(TEXTS, LABELS)
    intact = capfd.readouterr().err
    assert "LOAD REPORT" not in intact and "MISSING" not in intact and "not in the checkpoint" not in intact

    weights = load_file(tmp_path / "tiny/model.safetensors")
    dropped = next(key for key in weights if "layer.1.attention.self.query.weight" in key)
    save_file({k: v for k, v in weights.items() if k != dropped}, tmp_path / "tiny/model.safetensors",
              metadata={"format": "pt"})  # fmt: skip
    quick(backbone=folder, epochs=1).fit(TEXTS, LABELS)
    damaged = capfd.readouterr().err
    assert "weights not in the checkpoint, trained from random values: " in damaged
    assert "encoder.layer.1.attention.self.query.weight" in damaged and "classifier" not in damaged
