"""Every way of asking the teacher, scored on test (and dev), and the one chosen on dev: the teacher's line.

Test data never chooses a setting: with a human dev split, the setting best on dev is reported once more as
teacher-best-on-dev; without one, no setting is chosen.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from synthdistill.config import EvaluationSpec, TaskSpec
from synthdistill.data import Example
from synthdistill.evaluation.intervals import language_resampling, resampled_scores, score_intervals
from synthdistill.evaluation.report import ResultRecord
from synthdistill.evaluation.scores import classification_scores
from synthdistill.evaluation.teacher_classifier import (
    TeacherSetting,
    calibrate,
    classify_with_teacher,
    content_free_baseline,
    shots_per_label,
)
from synthdistill.teachers.protocol import PromptMode
from synthdistill.teachers.teacher import Teacher

BEST_TEACHER = "teacher-best-on-dev"
SCORE_FIELDS = ("n_test", "macro_f1", "accuracy", "invalid_rate", "per_label_f1")


def score_teacher_settings(
    task: TaskSpec,
    mode: PromptMode,
    evaluation: EvaluationSpec,
    teacher: Teacher,
    language: str,
    *,
    seed: Sequence[Example],
    dev: Sequence[Example] | None,
    test: Sequence[Example],
) -> tuple[list[ResultRecord], list[dict[str, Any]]]:
    """Every teacher setting for one language: records on test (with dev macro-F1) and test predictions.
    `seed`: the human examples that k-shot prompts draw from."""
    labels = task.label_names
    scoring = mode == "completion"
    splits = {"test": test, **({"dev": dev} if dev else {})}
    records: list[ResultRecord] = []
    rows: list[dict[str, Any]] = []
    gold = [e.label for e in test]
    draws = language_resampling(len(test), seed=evaluation.seed, language=language)
    for k in evaluation.teacher_shots:
        shots = shots_per_label(seed, labels, k, seed=evaluation.seed)
        for style in evaluation.teacher_prompts if scoring else ["label_name"]:
            raw = {
                split: classify_with_teacher(task, mode, teacher, language, [e.text for e in examples], shots,
                                             prompt=style)
                for split, examples in splits.items()
            }  # fmt: skip
            variants = [(TeacherSetting(k, style), raw)]
            if scoring and evaluation.teacher_calibration:
                baseline = content_free_baseline(task, mode, teacher, language, shots, style)
                calibrated = {split: [calibrate(p, baseline) for p in preds] for split, preds in raw.items()}
                variants.append((TeacherSetting(k, style, calibrated=True), calibrated))
            for setting, predictions in variants:
                scores = {
                    split: classification_scores([e.label for e in splits[split]], [p.label for p in preds], labels)
                    for split, preds in predictions.items()
                }
                record = ResultRecord(
                    task=task.name,
                    language=language,
                    classifier=setting.name,
                    train_source="human" if shots else "none",
                    n_train=len(shots),
                    model=teacher.model,
                    **{key: scores["test"][key] for key in SCORE_FIELDS},
                    **score_intervals(resampled_scores(gold, [p.label for p in predictions["test"]], labels, draws)),
                )
                record.dev_macro_f1 = scores["dev"]["macro_f1"] if "dev" in scores else None
                records.append(record)
                rows += [
                    {"language": language, "classifier": setting.name, "text": e.text, "gold": e.label,
                     "predicted": p.label, "probabilities": p.probabilities, "answer": p.answer}
                    for e, p in zip(test, predictions["test"], strict=True)
                ]  # fmt: skip
    return records, rows


def best_on_dev(records: Sequence[ResultRecord]) -> ResultRecord | None:
    """The setting with the best dev macro-F1, renamed teacher-best-on-dev; ties go to fewer shots. None without
    a dev split."""
    on_dev = [r for r in records if r.dev_macro_f1 is not None]
    if not on_dev:
        return None
    best = max(on_dev, key=lambda r: (r.dev_macro_f1, -r.n_train))
    return replace(best, classifier=BEST_TEACHER, setting=best.classifier)


def teacher_reference(records: Sequence[ResultRecord]) -> ResultRecord | None:
    """The teacher line students are compared with, in one language: best-on-dev, else (no dev split to choose
    on) the first setting; None without teacher scores."""
    teachers = [r for r in records if r.classifier.startswith("teacher")]
    return next((r for r in teachers if r.classifier == BEST_TEACHER), teachers[0] if teachers else None)
