"""A transformer encoder fine-tuned for sequence classification, with the paper's defaults (lr 1e-5,
dropout 0.2, max length 256, batch size growing with N; 50 epochs as the research preset). Decoder backbones
work too (`gemma-270m`, or a hub name such as Qwen/Qwen2.5-0.5B): they classify from the last token, and the
dropout setting reaches only models whose config has hidden/classifier dropout (Gemma's has none).

It runs on a CUDA GPU when there is one (`device: auto`), else on the CPU; the device is no part of the
model: a student trained on a GPU loads and serves on a CPU. The epoch kept is the one best on a human dev
split when one is given, else the last: never chosen on synthetic data. Training (the loop in `training_loop`,
shared with `lora`) checkpoints after every epoch and resumes from there when interrupted. The saved model is
safetensors plus JSON tokenizer files: nothing is unpickled on load. Only the student modules that need them
(this one, `lora`, `training_loop`, `backbones`) import torch and transformers (`pip install torch==2.13.0`
first, then `synthdistill[finetune]`). The settings' defaults live in the config's `FinetuneStudentSpec`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from synthdistill.config import FinetuneStudentSpec
from synthdistill.errors import StudentError
from synthdistill.progress import progress
from synthdistill.students import training_loop
from synthdistill.students.backbones import (
    autocast,
    resolve_backbone,
    spec_params,
    student_spec,
    torch_device,
    with_new_head,
)
from synthdistill.students.base import check_training_set, read_student, write_student

if TYPE_CHECKING:
    import torch

    from synthdistill.config import TaskSpec, TeacherSpec

PAPER_EPOCHS = 50
_MODEL_DIR = "model"


def batch_size_for(n_train: int) -> int:
    """4 for a handful of samples, growing with N up to 64 (the paper's range)."""
    return int(min(64, max(4, 2 ** round(np.log2(max(n_train, 1) / 8)))))


def _libraries() -> tuple[Any, Any]:
    try:
        import torch
        import transformers
    except ImportError:
        raise StudentError(
            "the finetune student needs torch and transformers: pip install torch==2.13.0 && "
            "pip install 'synthdistill[finetune]'"
        ) from None
    return torch, transformers


class FineTunedStudent:
    kind = "finetune"
    format_version = 1
    holds_torch_model = True  # an experiment gives each of its cells a new worker process

    def __init__(
        self,
        spec: FinetuneStudentSpec | Mapping[str, Any] | None = None,
        *,
        seed: int = 0,
        checkpoint_dir: str | Path | None = None,
        progress: bool = True,
    ):
        """`spec`: the settings, their defaults in the spec (a mapping is validated into one: StudentError naming
        a bad field); `checkpoint_dir`: where training checkpoints after each epoch and resumes from."""
        spec = student_spec(FinetuneStudentSpec, spec)
        self.device = spec.device  # where it runs, not what it is: no part of params, checkpoints or the saved model
        self.params = spec_params(spec, seed)
        self.checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir else None
        self.progress = progress
        self.classes: list[str] = []
        self.history: list[dict[str, float]] = []  # per epoch: training loss and seconds, dev macro-F1
        self.best_epoch: int | None = None
        self._model: Any = None
        self._tokenizer: Any = None

    @classmethod
    def from_options(
        cls,
        spec: FinetuneStudentSpec,
        *,
        task: TaskSpec,
        teacher: TeacherSpec,
        language: str,
        seed: int,
        workdir: Path,
        run_name: str | None = None,
    ) -> FineTunedStudent:
        """Checkpoints go to workdir/checkpoints/RUN_NAME (default finetune-LANGUAGE); the task's labels are
        whatever the training set has, and the teacher plays no part."""
        return cls(spec, seed=seed, checkpoint_dir=training_loop.checkpoint_dir(workdir, cls.kind, language, run_name))

    def _encode(self, texts: Sequence[str]) -> Any:
        return self._tokenizer(list(texts), truncation=True, max_length=self.params["max_length"], padding=True,
                               return_tensors="pt").to(self._model.device)  # fmt: skip

    def fit(
        self, texts: Sequence[str], labels: Sequence[str], dev: tuple[Sequence[str], Sequence[str]] | None = None
    ) -> FineTunedStudent:
        check_training_set(texts, labels)
        _libraries()
        device = torch_device(self.device)  # before anything loads: a device that is not here fails at once
        self.classes = sorted(set(labels))
        plan = training_loop.TrainingPlan(
            seed=self.params["seed"], unit="epoch", ends=tuple(range(1, self.params["epochs"] + 1)), device=device,
            fingerprint=training_loop.fingerprint(self.params, texts, labels, dev),
            checkpoint_dir=self.checkpoint_dir, dev=dev,
        )  # fmt: skip
        outcome = training_loop.train(_Epochs(self, texts, labels, device), plan)
        self.history, self.best_epoch = outcome.history, outcome.best
        self._model.eval()
        return self

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        if self._model is None:
            raise StudentError("the finetune student is not trained")
        torch, _ = _libraries()
        was_training = self._model.training
        self._model.eval()
        rows = []
        with torch.no_grad():
            for start in range(0, len(texts), 32):
                with autocast(self._model.device, self.params["precision"]):
                    logits = self._model(**self._encode(texts[start : start + 32])).logits
                rows.append(torch.softmax(logits.float(), dim=-1).cpu().numpy())
        self._model.train(was_training)
        return np.concatenate(rows) if rows else np.zeros((0, len(self.classes)))

    def predict(self, texts: Sequence[str]) -> list[str]:
        if not texts:
            return []
        return [self.classes[i] for i in self.predict_proba(list(texts)).argmax(axis=1)]

    def save(self, directory: str | Path) -> None:
        if self._model is None:
            raise StudentError("cannot save an untrained student")
        directory = Path(directory)
        self._model.save_pretrained(directory / _MODEL_DIR, safe_serialization=True)
        self._tokenizer.save_pretrained(directory / _MODEL_DIR)
        header = {"type": self.kind, "format_version": self.format_version, "classes": self.classes,
                  "params": self.params, "history": self.history, "best_epoch": self.best_epoch}  # fmt: skip
        write_student(directory, header, {})

    @classmethod
    def load(cls, directory: str | Path, device: str = "auto") -> FineTunedStudent:
        header, _ = read_student(directory, cls.kind, cls.format_version)
        _, transformers = _libraries()
        settings = dict(header["params"])
        seed = settings.pop("seed")
        student = cls({**settings, "device": device}, seed=seed)
        student.classes, student.history, student.best_epoch = (
            header["classes"],
            header["history"],
            header["best_epoch"],
        )
        path = Path(directory) / _MODEL_DIR
        student._tokenizer = transformers.AutoTokenizer.from_pretrained(path)
        student._model = transformers.AutoModelForSequenceClassification.from_pretrained(path, use_safetensors=True)
        student._model.to(torch_device(device)).eval()
        return student


class _Epochs:
    """The finetune student's part of the training loop: a sequence classifier trained one epoch per span, over
    batches in an order the loop's generator draws (one shuffle per epoch)."""

    def __init__(self, student: FineTunedStudent, texts: Sequence[str], labels: Sequence[str], device: Any):
        self.student, self.texts, self.labels, self.device = student, texts, labels, device
        self.batch_size = student.params["batch_size"] or batch_size_for(len(texts))
        self._optimizer: Any = None
        self._targets: Any = None

    def build(self) -> torch.optim.Optimizer:
        torch, transformers = _libraries()
        student, params = self.student, self.student.params
        index = {label: i for i, label in enumerate(student.classes)}
        source = resolve_backbone(params["backbone"])
        try:
            student._tokenizer = transformers.AutoTokenizer.from_pretrained(source)
            config = transformers.AutoConfig.from_pretrained(
                source, num_labels=len(student.classes), id2label=dict(enumerate(student.classes)), label2id=index
            )
            for name in ("hidden_dropout_prob", "classifier_dropout"):  # encoders have them; Gemma's config has not
                if hasattr(config, name):
                    setattr(config, name, params["dropout"])
            # float32: hub checkpoints stored in bfloat16 would otherwise train in it, badly on CPU
            student._model = with_new_head(
                transformers.AutoModelForSequenceClassification, source, config=config, dtype=torch.float32
            )
        except OSError as err:
            raise StudentError(f"cannot load backbone {params['backbone']!r}: {err}") from None
        if student._tokenizer.pad_token is None:  # decoder backbones (Llama, Qwen) may ship without one
            student._tokenizer.pad_token = student._tokenizer.eos_token
        if student._model.config.pad_token_id is None:  # decoders classify at the last token that is not padding
            student._model.config.pad_token_id = student._tokenizer.pad_token_id
        student._model.to(self.device)
        if not params.get("train_embeddings", True):  # students saved before the setting trained them
            student._model.get_input_embeddings().weight.requires_grad_(False)
        trained = [weight for weight in student._model.parameters() if weight.requires_grad]
        self._optimizer = torch.optim.AdamW(trained, lr=params["learning_rate"])
        self._targets = torch.tensor([index[label] for label in self.labels], device=self.device)
        return self._optimizer

    def train_span(self, start: int, end: int, shuffle: torch.Generator) -> float:
        torch, _ = _libraries()
        student, model, epochs = self.student, self.student._model, self.student.params["epochs"]
        model.train()
        losses = []
        for epoch in range(start, end):
            order = torch.randperm(len(self.texts), generator=shuffle).tolist()
            batches = range(0, len(order), self.batch_size)
            with progress(len(batches), f"epoch {epoch + 1}/{epochs}", unit="batch", enabled=student.progress) as bar:
                for first in batches:
                    chosen = order[first : first + self.batch_size]
                    inputs = student._encode([self.texts[i] for i in chosen])
                    with autocast(self.device, student.params["precision"]):
                        loss = model(**inputs, labels=self._targets[chosen]).loss
                    self._optimizer.zero_grad()
                    loss.backward()
                    self._optimizer.step()
                    losses.append(float(loss.detach()))
                    bar.update()
        return float(np.mean(losses))

    def weights(self) -> dict[str, torch.Tensor]:
        """The whole model: fine-tuning changes every weight."""
        return self.student._model.state_dict()

    def load_weights(self, weights: dict[str, torch.Tensor]) -> None:
        self.student._model.load_state_dict(weights)
