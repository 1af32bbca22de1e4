"""The torch students on every device this machine has: they train there, resume there, and what they save
loads and serves on the CPU with the same answers. Tiny randomly initialised backbones (a BERT encoder and a
Gemma 3 decoder with a word-level tokenizer built here), so the test needs no download and runs in seconds on
the CPU; the CUDA cases run where there is a GPU (`python -m pytest tests/test_torch_devices.py` on one).
Also: a random backbone of a real model's shape has that model's size."""

import numpy as np
import pytest

pytest.importorskip("torch", reason="the torch students need torch (the test command installs it)")
pytest.importorskip("transformers")
pytest.importorskip("peft")

import torch

from synthdistill import parse_config
from synthdistill.config import FinetuneStudentSpec, LoraStudentSpec
from synthdistill.errors import ConfigError, StudentError
from synthdistill.students import training_loop
from synthdistill.students.backbones import torch_device
from synthdistill.students.finetune import FineTunedStudent
from synthdistill.students.lora import LoraStudent
from synthdistill.students.registry import load_student
from tests.conftest import POLITICS, SPORTS, tiny_config_dict
from tests.random_backbones import random_model, write_random_backbone, write_tiny_backbones

TEXTS, LABELS = SPORTS + POLITICS, ["sports"] * 6 + ["politics"] * 6
DEVICES = [
    "cpu",
    pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU here")),
]


@pytest.fixture(scope="module")
def backbones(tmp_path_factory) -> dict[str, str]:
    """A 2-layer BERT encoder and a 2-layer Gemma 3 causal LM, random weights, saved as safetensors."""
    return write_tiny_backbones(tmp_path_factory.mktemp("backbones"), [*TEXTS, *set(LABELS)])


def _on(model, device: str) -> bool:
    return all(p.device.type == device for p in model.parameters())


@pytest.mark.parametrize("device", DEVICES)
def test_finetune_trains_on_the_device_and_serves_on_the_cpu(backbones, device, tmp_path, monkeypatch):
    settings = {"backbone": backbones["encoder"], "epochs": 12, "learning_rate": 3e-3, "max_length": 32,
                "batch_size": 4, "device": device}  # fmt: skip
    student = FineTunedStudent(settings, progress=False).fit(TEXTS, LABELS)
    assert _on(student._model, device)
    assert student.history[-1]["train_loss"] < student.history[0]["train_loss"] / 2
    assert all(record["seconds"] > 0 for record in student.history)  # each epoch's training time
    assert student.predict(TEXTS) == LABELS  # a 2-layer model memorises its 12 sentences
    student.save(tmp_path / "model")
    assert "device" not in (tmp_path / "model/student.json").read_text()  # where it ran is no part of it
    on_cpu = FineTunedStudent.load(tmp_path / "model", device="cpu")
    assert _on(on_cpu._model, "cpu")
    assert np.allclose(on_cpu.predict_proba(TEXTS), student.predict_proba(TEXTS), atol=1e-4)

    # Ctrl-C after the 4th epoch's checkpoint, then a resumed run ends where the uninterrupted one did
    real_write, writes = training_loop.write_checkpoint, []

    def write_then_stop(path, state):
        real_write(path, state)
        writes.append(path)
        if len(writes) == 4:
            raise KeyboardInterrupt

    monkeypatch.setattr(training_loop, "write_checkpoint", write_then_stop)
    with pytest.raises(KeyboardInterrupt):
        FineTunedStudent(settings, checkpoint_dir=tmp_path / "ckpt", progress=False).fit(TEXTS, LABELS)
    monkeypatch.setattr(training_loop, "write_checkpoint", real_write)
    resumed = FineTunedStudent(settings, checkpoint_dir=tmp_path / "ckpt", progress=False).fit(TEXTS, LABELS)
    assert [h["epoch"] for h in resumed.history] == list(range(1, 13))
    assert [h["train_loss"] for h in resumed.history] == pytest.approx(
        [h["train_loss"] for h in student.history], rel=1e-3
    )
    assert np.allclose(resumed.predict_proba(TEXTS), student.predict_proba(TEXTS), atol=1e-4)


@pytest.mark.parametrize("device", DEVICES)
def test_lora_trains_on_the_device_and_serves_on_the_cpu(backbones, device, tmp_path, monkeypatch):
    settings = {"backbone": backbones["decoder"], "steps": 40, "learning_rate": 2e-2, "batch_size": 4,
                "max_length": 48, "checkpoint_every": 20, "lora_rank": 8, "lora_alpha": 16,
                "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj", "down_proj"], "device": device}  # fmt: skip
    student = LoraStudent(settings, progress=False).fit(TEXTS, LABELS)
    assert _on(student._model, device)
    # a random 2-layer model learns the answer format (a label, then EOS) in 40 steps, not yet the topics
    assert student.history[-1]["train_loss"] < student.history[0]["train_loss"] / 2
    assert [record["step"] for record in student.history] == [20, 40]
    assert all(record["seconds"] > 0 for record in student.history)  # the training time of those 20 steps
    scored = student.predict_proba(TEXTS)
    assert scored.shape == (12, 2) and np.allclose(scored.sum(axis=1), 1.0)
    student.params["decoding"] = "generate"
    generated = student.predict(TEXTS)  # greedy decoding on the device
    student.params["decoding"] = "score"
    assert set(generated) <= {"sports", "politics"}  # every answer is a label: the format was learnt
    student.save(tmp_path / "adapter")
    auto = load_student(tmp_path / "adapter")  # device auto: a GPU where there is one, else the CPU
    assert np.allclose(auto.predict_proba(TEXTS), scored, atol=1e-4)
    on_cpu = LoraStudent.load(tmp_path / "adapter", device="cpu")
    assert _on(on_cpu._model, "cpu")
    assert np.allclose(on_cpu.predict_proba(TEXTS), scored, atol=1e-4)

    # Ctrl-C in step 30: the checkpoint of step 20 is the last one; the resumed run ends on the same adapter
    real_step, calls = torch.optim.AdamW.step, []

    def step_unless_stopped(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 30:
            raise KeyboardInterrupt
        return real_step(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.AdamW, "step", step_unless_stopped)
    with pytest.raises(KeyboardInterrupt):
        LoraStudent(settings, checkpoint_dir=tmp_path / "ckpt", progress=False).fit(TEXTS, LABELS)
    monkeypatch.setattr(torch.optim.AdamW, "step", real_step)
    resumed = LoraStudent(settings, checkpoint_dir=tmp_path / "ckpt", progress=False).fit(TEXTS, LABELS)
    assert [h["step"] for h in resumed.history] == [20, 40]
    expected, got = student._adapter_state(), resumed._adapter_state()
    assert all(torch.allclose(got[name], expected[name], atol=1e-5) for name in expected)


@pytest.mark.parametrize("device", DEVICES)
def test_bfloat16_mixed_precision_learns_and_keeps_float32_weights(backbones, device):
    encoder = FineTunedStudent(FinetuneStudentSpec(backbone=backbones["encoder"], epochs=12, learning_rate=3e-3,
                               max_length=32, batch_size=4, precision="bfloat16", device=device),
                               progress=False)  # fmt: skip
    encoder.fit(TEXTS, LABELS)
    assert {p.dtype for p in encoder._model.parameters()} == {torch.float32}
    assert encoder.history[-1]["train_loss"] < encoder.history[0]["train_loss"] / 2
    assert encoder.predict(TEXTS) == LABELS
    decoder = LoraStudent(LoraStudentSpec(backbone=backbones["decoder"], steps=40, learning_rate=2e-2, batch_size=4,
                          max_length=48, checkpoint_every=20, lora_rank=8,
                          target_modules=["q_proj", "v_proj", "down_proj"], precision="bfloat16", device=device),
                          progress=False)  # fmt: skip
    decoder.fit(TEXTS, LABELS)
    assert {p.dtype for p in decoder._model.parameters()} == {torch.float32}
    assert decoder.history[-1]["train_loss"] < decoder.history[0]["train_loss"] / 2
    assert np.allclose(decoder.predict_proba(TEXTS).sum(axis=1), 1.0)
    with pytest.raises(StudentError, match="lora student: precision: Input should be 'float32' or 'bfloat16'"):
        LoraStudent({"precision": "float16"})


def test_a_device_that_is_not_here_is_a_clear_error_never_the_cpu():
    assert torch_device("cpu").type == "cpu"
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    if not torch.cuda.is_available() and not torch.backends.mps.is_available():
        assert torch_device("auto").type == "cpu"
        with pytest.raises(StudentError, match="'cuda' was asked for, but this machine has no CUDA device"):
            torch_device("cuda")
    else:
        assert torch_device("auto").type in (expected, "mps")
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    with pytest.raises(StudentError, match=f"'cuda:{count}' was asked for"):
        torch_device(f"cuda:{count}")
    if count == 0:  # fit checks the device before it loads anything
        with pytest.raises(StudentError, match="'cuda' was asked for"):
            FineTunedStudent({"backbone": "/no/such/model", "device": "cuda"}).fit(TEXTS, LABELS)
    raw = tiny_config_dict()
    raw["students"] = [{"type": "finetune", "device": "gpu"}]
    with pytest.raises(ConfigError, match=r"students\[0\]\.device: .*'gpu' is no device: give auto, cpu, cuda"):
        parse_config(raw)


def test_random_backbones_have_the_real_models_size(tmp_path):
    """Timings with them stand for the real models: same layers, same vocabulary, same parameter count."""
    # XLM-R large's published count; Gemma's is that of the real checkpoint converted from the offline GGUF
    sizes = {"xlm-roberta-large": 559_890_432, "gemma-3-270m": 268_098_176}
    for shape, expected in sizes.items():
        assert sum(p.numel() for p in random_model(shape).parameters()) == expected, shape
    with pytest.raises(StudentError, match="unknown backbone shape 'gpt-9'"):
        write_random_backbone(tmp_path, "gpt-9", TEXTS)


def test_a_saved_lora_student_loads_its_backbone_from_safetensors_only(backbones, tmp_path):
    """As finetune: a student folder never unpickles anything, the backbone it names included."""
    import shutil

    from safetensors.torch import load_file

    backbone = tmp_path / "pickled-backbone"
    shutil.copytree(backbones["decoder"], backbone)
    student = LoraStudent({"backbone": str(backbone), "steps": 2, "batch_size": 4, "max_length": 32}, progress=False)
    student.fit(TEXTS, LABELS).save(tmp_path / "model")
    assert LoraStudent.load(tmp_path / "model", device="cpu").classes == student.classes
    weights = backbone / "model.safetensors"
    torch.save(load_file(weights), backbone / "pytorch_model.bin")  # the same backbone as a pickle only
    weights.unlink()
    with pytest.raises(StudentError, match="loads its backbone from safetensors only"):
        load_student(tmp_path / "model")


def test_the_torch_students_are_built_from_their_config_specs(tmp_path):
    """Defaults live in the specs; from_options takes the protocol's arguments (no catch-all) and puts checkpoints
    under the working folder; the device is where the student runs, no part of its params."""
    import inspect

    config = parse_config(tiny_config_dict())
    expected = ["spec", "task", "teacher", "language", "seed", "workdir", "run_name"]
    for student_type, spec_type in ((FineTunedStudent, FinetuneStudentSpec), (LoraStudent, LoraStudentSpec)):
        signature = inspect.signature(student_type.from_options)
        assert list(signature.parameters) == expected
        assert all(p.kind == p.KEYWORD_ONLY for p in list(signature.parameters.values())[1:])
        default = student_type()
        assert default.device == spec_type().device
        assert {k: v for k, v in default.params.items() if k not in ("seed", "label_names")} == spec_type().model_dump(
            mode="json", exclude={"type", "name", "train_on", "device"}
        )
        spec = spec_type(device="cpu", learning_rate=0.5)
        built = student_type.from_options(spec, task=config.task, teacher=config.teacher, language="en", seed=7,
                                          workdir=tmp_path)  # fmt: skip
        assert built.checkpoint_dir == tmp_path / "checkpoints" / f"{student_type.kind}-en"
        assert (built.params["seed"], built.params["learning_rate"], built.device) == (7, 0.5, "cpu")
        named = student_type.from_options(spec, task=config.task, teacher=config.teacher, language="en", seed=7,
                                          workdir=tmp_path, run_name="cell-1")  # fmt: skip
        assert named.checkpoint_dir == tmp_path / "checkpoints" / "cell-1"
    assert built.params["label_names"] == ["sports", "politics"]  # lora lists the task's labels in its prompt
