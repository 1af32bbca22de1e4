"""A compact causal LM instruction-tuned with LoRA to answer a label name, with the paper's settings (r 16,
alpha 16, dropout 0.05 on the k/v/down projections, lr 3e-5; 600 steps as the research preset).

The prompt is plain completion text (the offline Gemma 3 270M is a base model): the label set, the text,
then "Label:"; the target is " <label>" plus EOS, and the loss falls on those answer tokens only. Two ways
to answer: `score` (default) sums each label's answer log-likelihood and softmaxes over the labels;
`generate` answers greedily (at most 20 new tokens) and the answer must name a label exactly, else it is
invalid (None from `predict`, a row of zeros from `predict_proba`) and counts as wrong, never as a class.

It runs on a CUDA GPU when there is one (`device: auto`), else on the CPU; a student trained on a GPU loads
and serves on a CPU. Training (the loop in `training_loop`, shared with `finetune`) checkpoints every
`checkpoint_every` steps and resumes exactly from the last checkpoint when the data and settings match; with a
human dev split, the adapter kept is the checkpoint best on it (never chosen on synthetic data). Only the
adapter is saved (peft safetensors) with student.json; loading rebuilds the base model from the backbone name,
so nothing is unpickled. The settings' defaults live in the config's `LoraStudentSpec`.
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from synthdistill.config import LoraStudentSpec
from synthdistill.errors import StudentError
from synthdistill.evaluation.teacher_classifier import parse_label_answer
from synthdistill.progress import progress
from synthdistill.students import training_loop
from synthdistill.students.backbones import autocast, resolve_backbone, spec_params, student_spec, torch_device
from synthdistill.students.base import check_training_set, read_student, write_student

if TYPE_CHECKING:
    import torch

    from synthdistill.config import TaskSpec, TeacherSpec

PAPER_STEPS = 600
MAX_NEW_TOKENS = 20  # the paper's cap on a generated answer
_ADAPTER_DIR = "adapter"
# prompt + label sequences per forward pass when predicting: small on a CPU (no gain beyond), large on a GPU,
# where 16 left it waiting on kernel launches (204 texts took 5.7 s on an H200 against 0.08 s a training step)
_PREDICT_BATCH = {"cpu": 16, "accelerator": 256}


def _libraries() -> tuple[Any, Any, Any]:
    try:
        import peft
        import torch
        import transformers
    except ImportError:
        raise StudentError(
            "the lora student needs torch, transformers and peft: pip install torch==2.13.0 && "
            "pip install 'synthdistill[finetune]'"
        ) from None
    return torch, transformers, peft


def _prompt_parts(classes: Sequence[str]) -> tuple[str, str]:
    """Text before and after the text to classify; the label list comes first so every answer can see it."""
    return f"Classify the text with one of these labels: {', '.join(classes)}.\n\nText:", "\nLabel:"


def _step_indices(step: int, batch_size: int, n: int, seed: int) -> list[int]:
    """Example indices of a training step: seeded shuffles of the set laid end to end, a pure function of the
    step, so a resumed run draws exactly the batches the interrupted one would have."""
    torch, _, _ = _libraries()
    orders: dict[int, list[int]] = {}
    chosen = []
    for position in range(step * batch_size, (step + 1) * batch_size):
        epoch, offset = divmod(position, n)
        if epoch not in orders:
            orders[epoch] = torch.randperm(n, generator=torch.Generator().manual_seed(seed * 100_003 + epoch)).tolist()
        chosen.append(orders[epoch][offset])
    return chosen


class LoraStudent:
    kind = "lora"
    format_version = 1
    holds_torch_model = True  # an experiment gives each of its cells a new worker process

    def __init__(
        self,
        spec: LoraStudentSpec | Mapping[str, Any] | None = None,
        *,
        label_names: Sequence[str] | None = None,
        seed: int = 0,
        checkpoint_dir: str | Path | None = None,
        progress: bool = True,
    ):
        """`spec`: the settings, their defaults in the spec (a mapping is validated into one: StudentError naming
        a bad field); `label_names`: the task's labels, listed in the prompt in this order (default: the training
        set's, sorted); `checkpoint_dir`: where training checkpoints and resumes from."""
        spec = student_spec(LoraStudentSpec, spec)
        if label_names is not None and len(set(label_names)) != len(label_names):
            raise StudentError("label_names has duplicates")
        self.device = spec.device  # where it runs, not what it is: no part of params, checkpoints or the saved adapter
        self.params = {**spec_params(spec, seed), "label_names": list(label_names) if label_names is not None else None}
        self.checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir else None
        self.progress = progress
        self.classes: list[str] = []
        self.history: list[dict[str, float]] = []  # per checkpoint: step, training loss and seconds, dev macro-F1
        self.best_step: int | None = None
        self._model: Any = None
        self._tokenizer: Any = None

    @classmethod
    def from_options(
        cls,
        spec: LoraStudentSpec,
        *,
        task: TaskSpec,
        teacher: TeacherSpec,
        language: str,
        seed: int,
        workdir: Path,
        run_name: str | None = None,
    ) -> LoraStudent:
        """The prompt lists the task's labels, in the task's order, even one missing from a training set;
        checkpoints go to workdir/checkpoints/RUN_NAME (default lora-LANGUAGE). The teacher plays no part."""
        checkpoints = training_loop.checkpoint_dir(workdir, cls.kind, language, run_name)
        return cls(spec, label_names=task.label_names, seed=seed, checkpoint_dir=checkpoints)

    def _load_base(self, *, safetensors_only: bool = False) -> Any:
        """Tokenizer and float32 base model (hub checkpoints in bfloat16 would train badly on CPU).

        `safetensors_only` when loading a saved student: its student.json names the backbone, and a pickled
        checkpoint there would run code on load."""
        torch, transformers, _ = _libraries()
        source = resolve_backbone(self.params["backbone"])
        try:
            self._tokenizer = transformers.AutoTokenizer.from_pretrained(source)
            model = transformers.AutoModelForCausalLM.from_pretrained(
                source, dtype=torch.float32, use_safetensors=True if safetensors_only else None
            )
            model.to(torch_device(self.device))
        except OSError as err:
            only = " (a saved student loads its backbone from safetensors only)" if safetensors_only else ""
            raise StudentError(f"cannot load backbone {self.params['backbone']!r}{only}: {err}") from None
        if self._tokenizer.eos_token_id is None:
            raise StudentError(f"backbone {self.params['backbone']!r}: its tokenizer has no end-of-sequence token")
        if self._tokenizer.pad_token_id is None:
            self._tokenizer.pad_token = self._tokenizer.eos_token
        return model

    def _tensor(self, rows: Any) -> Any:
        """A tensor on the model's device."""
        torch, _, _ = _libraries()
        return torch.tensor(rows, device=next(self._model.parameters()).device)

    def _predict_batch(self) -> int:
        device = next(self._model.parameters()).device
        return _PREDICT_BATCH["cpu" if device.type == "cpu" else "accelerator"]

    def _prompt_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """Prompt token ids per text; the text is cut so that prompt and longest answer fit in max_length.
        The pieces are tokenized apart, identically in training and prediction."""
        tokenize = self._tokenizer
        head, tail = _prompt_parts(self.classes)
        head_ids = tokenize(head)["input_ids"]  # with the backbone's BOS, if it uses one
        tail_ids = tokenize(tail, add_special_tokens=False)["input_ids"]
        longest_answer = max(len(ids) for ids in self._answer_ids())
        room = self.params["max_length"] - len(head_ids) - len(tail_ids) - longest_answer
        if room < 1:
            raise StudentError(f"max_length {self.params['max_length']} leaves no room for the text after the prompt")
        return [
            head_ids + tokenize(" " + text, add_special_tokens=False)["input_ids"][:room] + tail_ids for text in texts
        ]

    def _answer_ids(self) -> list[list[int]]:
        """Each label's answer: " <label>" then EOS, so scoring and generation both know where it ends."""
        eos = self._tokenizer.eos_token_id
        return [self._tokenizer(" " + label, add_special_tokens=False)["input_ids"] + [eos] for label in self.classes]

    def _answer_log_likelihoods(self, prompts: list[list[int]], answers: list[list[int]]) -> tuple[Any, Any]:
        """Summed log-probability of each answer after its prompt (one entry per pair), and the answer tokens'
        count.

        Sequences are left-padded so that every answer ends at the last position; only the last
        (longest answer + 1) positions go through the LM head, which over Gemma's 262k vocabulary would
        otherwise cost several times the rest of the model."""
        torch, _, _ = _libraries()
        sequences = [p + a for p, a in zip(prompts, answers, strict=True)]
        width = max(len(s) for s in sequences)
        keep = max(len(a) for a in answers) + 1
        pad = self._tokenizer.pad_token_id
        input_ids = self._tensor([[pad] * (width - len(s)) + s for s in sequences])
        mask = self._tensor([[0] * (width - len(s)) + [1] * len(s) for s in sequences])
        positions = (mask.cumsum(-1) - 1).clamp(min=0)  # padding does not shift the real tokens' positions
        logits = self._model(input_ids=input_ids, attention_mask=mask, position_ids=positions,
                             logits_to_keep=keep).logits[:, :-1]  # fmt: skip
        targets = input_ids[:, width - keep + 1 :]
        token_scores = torch.log_softmax(logits.float(), dim=-1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)
        lengths = self._tensor([len(a) for a in answers])
        in_answer = torch.arange(keep - 1, device=lengths.device).unsqueeze(0) >= (keep - 1 - lengths).unsqueeze(1)
        return (token_scores * in_answer).sum(-1), in_answer.sum()

    def _adapter_state(self) -> dict[str, Any]:
        """The LoRA weights only: a checkpoint of megabytes, not of the whole base model."""
        return {k: v.detach() for k, v in self._model.named_parameters() if v.requires_grad}

    def _restore(self, state: dict[str, Any]) -> None:
        unexpected = self._model.load_state_dict(state, strict=False).unexpected_keys
        if unexpected:
            raise StudentError(f"the checkpoint does not fit this model ({unexpected[0]} ...)")

    def fit(
        self, texts: Sequence[str], labels: Sequence[str], dev: tuple[Sequence[str], Sequence[str]] | None = None
    ) -> LoraStudent:
        check_training_set(texts, labels, allowed=self.params["label_names"])
        _libraries()
        device = torch_device(self.device)
        self.classes = list(self.params["label_names"] or sorted(set(labels)))
        steps, every = self.params["steps"], self.params["checkpoint_every"]
        plan = training_loop.TrainingPlan(
            seed=self.params["seed"], unit="step", ends=(*range(every, steps, every), steps), device=device,
            fingerprint=training_loop.fingerprint(self.params, texts, labels, dev),
            checkpoint_dir=self.checkpoint_dir, dev=dev,
        )  # fmt: skip
        outcome = training_loop.train(_Steps(self, texts, labels), plan)
        self.history, self.best_step = outcome.history, outcome.best
        self._model.eval()
        return self

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Rows over `classes`: softmax of label scores, or with `generate` one-hot, zeros where invalid."""
        if self._model is None:
            raise StudentError("the lora student is not trained")
        if not texts:
            return np.zeros((0, len(self.classes)))
        torch, _, _ = _libraries()
        was_training = self._model.training
        self._model.eval()
        with torch.no_grad(), autocast(next(self._model.parameters()).device, self.params["precision"]):
            if self.params["decoding"] == "generate":
                rows = self._generated_rows(texts)
            else:
                rows = self._scored_rows(texts)
        self._model.train(was_training)
        return rows

    def _scored_rows(self, texts: Sequence[str]) -> np.ndarray:
        """Each prompt runs once; its key/value cache is copied for every label's answer, so scoring L labels
        costs about one prompt pass, not L."""
        torch, _, _ = _libraries()
        answers = self._answer_ids()
        n_labels, pad = len(answers), self._tokenizer.pad_token_id
        answer_width = max(len(a) for a in answers)  # at least 2: EOS follows every label
        answer_ids = self._tensor([a + [pad] * (answer_width - len(a)) for a in answers])
        answer_mask = self._tensor([[1] * len(a) + [0] * (answer_width - len(a)) for a in answers])
        prompts = self._prompt_ids(texts)
        per_chunk = max(1, self._predict_batch() // n_labels)
        # transformers 5 renamed past_key_values to cache; the old name still works there, with a warning
        forward = inspect.signature(type(self._model.get_base_model()).forward).parameters
        cache_name = "cache" if "cache" in forward else "past_key_values"
        rows = []
        for start in range(0, len(prompts), per_chunk):
            chunk = prompts[start : start + per_chunk]
            width = max(len(p) for p in chunk)
            input_ids = self._tensor([[pad] * (width - len(p)) + p for p in chunk])
            mask = self._tensor([[0] * (width - len(p)) + [1] * len(p) for p in chunk])
            positions = (mask.cumsum(-1) - 1).clamp(min=0)
            prompt_pass = self._model(input_ids=input_ids, attention_mask=mask, position_ids=positions,
                                      use_cache=True, logits_to_keep=1)  # fmt: skip
            first = torch.log_softmax(prompt_pass.logits[:, -1].float(), dim=-1)  # (texts, vocab)
            cache = prompt_pass.cache if cache_name == "cache" else prompt_pass.past_key_values
            cache.batch_repeat_interleave(n_labels)  # text-major: text 0's labels, then text 1's, ...
            tiled_ids, tiled_mask = answer_ids.repeat(len(chunk), 1), answer_mask.repeat(len(chunk), 1)
            answer_pass = self._model(
                input_ids=tiled_ids[:, :-1],  # the last answer token predicts nothing we score
                attention_mask=torch.cat([mask.repeat_interleave(n_labels, 0), tiled_mask[:, :-1]], 1),
                position_ids=positions[:, -1:].repeat_interleave(n_labels, 0)
                + 1
                + torch.arange(answer_width - 1, device=mask.device),
                use_cache=True,
                **{cache_name: cache},
            )
            later = torch.log_softmax(answer_pass.logits.float(), dim=-1)  # (texts x labels, width - 1, vocab)
            later_scores = later.gather(-1, tiled_ids[:, 1:].unsqueeze(-1)).squeeze(-1) * tiled_mask[:, 1:]
            first_scores = first.repeat_interleave(n_labels, 0).gather(-1, tiled_ids[:, :1]).squeeze(-1)
            rows.append((first_scores + later_scores.sum(-1)).reshape(len(chunk), n_labels))
        return torch.softmax(torch.cat(rows).double(), dim=-1).cpu().numpy()

    def _generated_rows(self, texts: Sequence[str]) -> np.ndarray:
        rows = np.zeros((len(texts), len(self.classes)))
        pad, eos = self._tokenizer.pad_token_id, self._tokenizer.eos_token_id
        prompts = self._prompt_ids(texts)
        batch = self._predict_batch()
        for start in range(0, len(prompts), batch):
            chunk = prompts[start : start + batch]
            width = max(len(p) for p in chunk)
            input_ids = self._tensor([[pad] * (width - len(p)) + p for p in chunk])
            mask = self._tensor([[0] * (width - len(p)) + [1] * len(p) for p in chunk])
            output = self._model.generate(input_ids=input_ids, attention_mask=mask, max_new_tokens=MAX_NEW_TOKENS,
                                          do_sample=False, pad_token_id=pad, eos_token_id=eos)  # fmt: skip
            for offset, tokens in enumerate(output[:, width:]):
                answer = self._tokenizer.decode(tokens.tolist(), skip_special_tokens=True)
                label = parse_label_answer(answer, self.classes)
                if label is not None:
                    rows[start + offset, self.classes.index(label)] = 1.0
        return rows

    def predict(self, texts: Sequence[str]) -> list[str | None]:  # type: ignore[override]
        """None where a generated answer names no label: it counts as wrong, never as a class."""
        if not texts:
            return []
        return [self.classes[int(row.argmax())] if row.any() else None for row in self.predict_proba(list(texts))]

    def save(self, directory: str | Path) -> None:
        """The adapter only (a few MB of safetensors); the base model is rebuilt from the backbone name."""
        if self._model is None:
            raise StudentError("cannot save an untrained student")
        directory = Path(directory)
        self._model.save_pretrained(directory / _ADAPTER_DIR, safe_serialization=True)
        header = {"type": self.kind, "format_version": self.format_version, "classes": self.classes,
                  "params": self.params, "history": self.history, "best_step": self.best_step}  # fmt: skip
        write_student(directory, header, {})

    @classmethod
    def load(cls, directory: str | Path, device: str = "auto") -> LoraStudent:
        header, _ = read_student(directory, cls.kind, cls.format_version)
        _, _, peft = _libraries()
        settings = dict(header["params"])
        seed, label_names = settings.pop("seed"), settings.pop("label_names")
        student = cls({**settings, "device": device}, label_names=label_names, seed=seed)
        student.classes, student.history, student.best_step = header["classes"], header["history"], header["best_step"]
        adapter = Path(directory) / _ADAPTER_DIR
        if not (adapter / "adapter_model.safetensors").is_file():
            raise StudentError(f"{directory}: the LoRA adapter (safetensors) is missing")
        base = student._load_base(safetensors_only=True)
        with warnings.catch_warnings():  # as in fit
            warnings.simplefilter("ignore", FutureWarning)
            student._model = peft.PeftModel.from_pretrained(base, adapter, is_trainable=False)
        student._model.eval()
        return student


class _Steps:
    """The lora student's part of the training loop: `checkpoint_every` optimiser steps per span, each on a batch
    that is a pure function of the step (`_step_indices`), the loss on the answer tokens only."""

    def __init__(self, student: LoraStudent, texts: Sequence[str], labels: Sequence[str]):
        self.student, self.texts, self.labels = student, texts, labels
        self._optimizer: Any = None
        self._prompts: list[list[int]] = []
        self._targets: list[list[int]] = []
        self._bar: Any = None

    def build(self) -> torch.optim.Optimizer:
        torch, _, peft = _libraries()
        student, params = self.student, self.student.params
        base = student._load_base()
        config = peft.LoraConfig(
            r=params["lora_rank"], lora_alpha=params["lora_alpha"], lora_dropout=params["lora_dropout"],
            target_modules=params["target_modules"], task_type="CAUSAL_LM",
        )  # fmt: skip
        try:
            with warnings.catch_warnings():  # transformers' deprecation notice about peft's own call
                warnings.simplefilter("ignore", FutureWarning)
                student._model = peft.get_peft_model(base, config)
        except ValueError as err:  # target modules the architecture lacks
            raise StudentError(f"cannot put LoRA on backbone {params['backbone']!r}: {err}") from None
        trainable = [p for p in student._model.parameters() if p.requires_grad]
        self._optimizer = torch.optim.AdamW(trainable, lr=params["learning_rate"])
        self._prompts = student._prompt_ids(self.texts)
        answers = student._answer_ids()
        index = {label: i for i, label in enumerate(student.classes)}
        self._targets = [answers[index[label]] for label in self.labels]
        return self._optimizer

    def train_span(self, start: int, end: int, shuffle: torch.Generator) -> float:
        """Steps `start` to `end - 1`; one progress bar over all steps (LoRA dropout draws from torch's global
        generator, which the loop seeds and checkpoints; `shuffle` is not needed)."""
        student, params = self.student, self.student.params
        if self._bar is None:
            self._bar = progress(params["steps"], "lora", unit="step", enabled=student.progress, initial=start)
        student._model.train()
        losses = []
        for step in range(start, end):
            chosen = _step_indices(step, params["batch_size"], len(self.texts), params["seed"])
            with autocast(next(student._model.parameters()).device, params["precision"]):
                scores, n_tokens = student._answer_log_likelihoods(
                    [self._prompts[i] for i in chosen], [self._targets[i] for i in chosen]
                )
            loss = -scores.sum() / n_tokens  # mean over answer tokens
            self._optimizer.zero_grad()
            loss.backward()
            self._optimizer.step()
            losses.append(float(loss.detach()))
            self._bar.set_postfix(loss=f"{losses[-1]:.3f}")
            self._bar.update()
        if end == params["steps"]:
            self._bar.close()
        return float(np.mean(losses))

    def weights(self) -> dict[str, torch.Tensor]:
        return self.student._adapter_state()

    def load_weights(self, weights: dict[str, torch.Tensor]) -> None:
        self.student._restore(weights)
