"""A transformer encoder fine-tuned for sequence classification, with the paper's defaults (lr 1e-5,
dropout 0.2, max length 256, batch size growing with N; 50 epochs as the research preset). Decoder backbones
work too (`gemma-270m`, or a hub name such as Qwen/Qwen2.5-0.5B): they classify from the last token, and the
dropout setting reaches only models whose config has hidden/classifier dropout (Gemma's has none).

It runs on a CUDA GPU when there is one (`device: auto`), else on the CPU; the device is no part of the
model: a student trained on a GPU loads and serves on a CPU. The epoch kept is the one best on a human dev
split when one is given, else the last: never chosen on synthetic data. Training checkpoints after every
epoch and resumes from there when interrupted. The saved model is safetensors plus JSON tokenizer files:
nothing is unpickled on load. Only the student modules that need them (this one, `lora`, `backbones`) import
torch and transformers (`pip install torch==2.13.0` first, then `synthdistill[finetune]`).
"""

from __future__ import annotations

import hashlib
import json
import random
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from synthdistill.errors import StudentError
from synthdistill.evaluation.scores import classification_scores
from synthdistill.students.backbones import (
    autocast,
    check_precision,
    resolve_backbone,
    restore_rng_states,
    rng_states,
    torch_device,
)
from synthdistill.students.base import check_training_set, read_student, write_student

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

    def __init__(
        self,
        backbone: str = "xlm-roberta-large",
        epochs: int = 10,
        learning_rate: float = 1e-5,
        dropout: float = 0.2,
        max_length: int = 256,
        batch_size: int | None = None,
        seed: int = 0,
        precision: str = "float32",
        checkpoint_dir: str | Path | None = None,
        progress: bool = True,
        device: str = "auto",
    ):
        self.device = device  # where it runs, not what it is: no part of params, checkpoints or the saved model
        self.params = {"backbone": backbone, "epochs": epochs, "learning_rate": learning_rate, "dropout": dropout,
                       "max_length": max_length, "batch_size": batch_size, "seed": seed,
                       "precision": check_precision(precision)}  # fmt: skip
        self.checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir else None
        self.progress = progress
        self.classes: list[str] = []
        self.history: list[dict[str, float]] = []  # per epoch: training loss and seconds, dev macro-F1
        self.best_epoch: int | None = None
        self._model: Any = None
        self._tokenizer: Any = None

    @classmethod
    def from_options(
        cls, options: dict, *, seed: int, workdir: Path, language: str = "", run_name: str | None = None, **_: object
    ) -> FineTunedStudent:
        """Checkpoints go to workdir/checkpoints/RUN_NAME (default finetune-LANGUAGE)."""
        checkpoints = workdir / "checkpoints" / (run_name or f"finetune-{language}")
        return cls(**options, seed=seed, checkpoint_dir=checkpoints)

    def _encode(self, texts: Sequence[str]) -> Any:
        return self._tokenizer(list(texts), truncation=True, max_length=self.params["max_length"], padding=True,
                               return_tensors="pt").to(self._model.device)  # fmt: skip

    def _fingerprint(self, texts: Sequence[str], labels: Sequence[str]) -> str:
        payload = json.dumps([self.params, list(texts), list(labels)], ensure_ascii=False)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    def fit(
        self, texts: Sequence[str], labels: Sequence[str], dev: tuple[Sequence[str], Sequence[str]] | None = None
    ) -> FineTunedStudent:
        check_training_set(texts, labels)
        torch, transformers = _libraries()
        from tqdm import tqdm

        device = torch_device(self.device)
        seed = self.params["seed"]
        random.seed(seed)
        np.random.seed(seed)
        torch.manual_seed(seed)
        self.classes = sorted(set(labels))
        index = {label: i for i, label in enumerate(self.classes)}
        source = resolve_backbone(self.params["backbone"])
        try:
            self._tokenizer = transformers.AutoTokenizer.from_pretrained(source)
            config = transformers.AutoConfig.from_pretrained(
                source, num_labels=len(self.classes), id2label=dict(enumerate(self.classes)), label2id=index
            )
            for name in ("hidden_dropout_prob", "classifier_dropout"):  # encoders have them; Gemma's config has not
                if hasattr(config, name):
                    setattr(config, name, self.params["dropout"])
            # float32: hub checkpoints stored in bfloat16 would otherwise train in it, badly on CPU
            self._model = transformers.AutoModelForSequenceClassification.from_pretrained(
                source, config=config, dtype=torch.float32
            )
        except OSError as err:
            raise StudentError(f"cannot load backbone {self.params['backbone']!r}: {err}") from None
        if self._tokenizer.pad_token is None:  # decoder backbones (Llama, Qwen) may ship without one
            self._tokenizer.pad_token = self._tokenizer.eos_token
        if self._model.config.pad_token_id is None:  # decoders classify at the last token that is not padding
            self._model.config.pad_token_id = self._tokenizer.pad_token_id
        self._model.to(device)
        optimizer = torch.optim.AdamW(self._model.parameters(), lr=self.params["learning_rate"])
        batch_size = self.params["batch_size"] or batch_size_for(len(texts))
        targets = torch.tensor([index[label] for label in labels], device=device)
        start_epoch, best_state, best_score = 0, None, -1.0
        checkpoint = self.checkpoint_dir / "checkpoint.pt" if self.checkpoint_dir else None
        fingerprint = self._fingerprint(texts, labels)
        if checkpoint is not None and checkpoint.is_file():
            saved = torch.load(checkpoint, weights_only=True, map_location=device)
            if saved["fingerprint"] == fingerprint:
                self._model.load_state_dict(saved["model"])
                optimizer.load_state_dict(saved["optimizer"])
                start_epoch, best_score = saved["epoch"] + 1, saved["best_score"]
                best_state, self.history = saved["best_state"], json.loads(saved["history"])
                self.best_epoch = saved["best_epoch"] if saved["best_epoch"] >= 0 else None
                restore_rng_states(saved, device)
        generator = torch.Generator().manual_seed(seed)
        if start_epoch:
            generator.set_state(saved["shuffle_rng"].cpu())
        for epoch in range(start_epoch, self.params["epochs"]):
            started = time.perf_counter()
            self._model.train()
            order = torch.randperm(len(texts), generator=generator).tolist()
            losses = []
            batches = range(0, len(order), batch_size)
            for start in tqdm(batches, desc=f"epoch {epoch + 1}/{self.params['epochs']}", leave=False,
                              file=sys.stderr, disable=None if self.progress else True):  # fmt: skip
                chosen = order[start : start + batch_size]
                inputs = self._encode([texts[i] for i in chosen])
                with autocast(device, self.params["precision"]):
                    loss = self._model(**inputs, labels=targets[chosen]).loss
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                losses.append(float(loss.detach()))
            record = {"epoch": epoch + 1, "train_loss": float(np.mean(losses)),
                      "seconds": round(time.perf_counter() - started, 3)}  # fmt: skip
            if dev is not None:
                dev_f1 = classification_scores(list(dev[1]), self.predict(dev[0]), self.classes)["macro_f1"]
                record["dev_macro_f1"] = dev_f1
                if dev_f1 > best_score:
                    best_score, self.best_epoch = dev_f1, epoch + 1
                    best_state = {k: v.detach().clone() for k, v in self._model.state_dict().items()}
            self.history.append(record)
            if checkpoint is not None:
                checkpoint.parent.mkdir(parents=True, exist_ok=True)
                torch.save({"fingerprint": fingerprint, "epoch": epoch, "model": self._model.state_dict(),
                            "optimizer": optimizer.state_dict(), "best_state": best_state, "best_score": best_score,
                            "best_epoch": self.best_epoch if self.best_epoch is not None else -1,
                            "history": json.dumps(self.history), **rng_states(device),
                            "shuffle_rng": generator.get_state()}, checkpoint)  # fmt: skip
        if best_state is not None:
            self._model.load_state_dict(best_state)
        else:
            self.best_epoch = self.params["epochs"]
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
        student = cls(**header["params"], device=device)
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
