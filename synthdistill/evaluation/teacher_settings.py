"""Every way of asking the teacher, scored on dev, and the one chosen there: the teacher's line.

Test data never chooses a setting: with a human dev split, the setting best on dev is scored on test as
teacher-best-on-dev (the others too with `evaluation.teacher_test: all`); without one, no setting is chosen and
every setting is scored on test.
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
    TeacherPrediction,
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
    """The teacher's records for one language and its test predictions. With a dev split every setting is scored
    on dev and the best becomes teacher-best-on-dev; on test go that one only (`teacher_test: best`, the default)
    or every setting (`all`, and always without a dev split). `seed`: the human examples k-shot prompts draw from."""
    labels = task.label_names
    scoring = mode == "completion"
    raw: dict[tuple[int, str, str], list[TeacherPrediction]] = {}  # (shots, prompt style, split) -> predictions
    baselines: dict[tuple[int, str], dict[str, float]] = {}
    shots_of = {k: shots_per_label(seed, labels, k, seed=evaluation.seed) for k in evaluation.teacher_shots}
    settings = [
        TeacherSetting(k, style, calibrated)
        for k in evaluation.teacher_shots
        for style in (evaluation.teacher_prompts if scoring else ["label_name"])
        for calibrated in ((False, True) if scoring and evaluation.teacher_calibration else (False,))
    ]

    def predictions(setting: TeacherSetting, split: str, examples: Sequence[Example]) -> list[TeacherPrediction]:
        key = (setting.shots, setting.prompt, split)
        if key not in raw:  # a calibrated setting reuses its plain twin's answers
            raw[key] = classify_with_teacher(task, mode, teacher, language, [e.text for e in examples],
                                             shots_of[setting.shots], prompt=setting.prompt)  # fmt: skip
        if not setting.calibrated:
            return raw[key]
        if (setting.shots, setting.prompt) not in baselines:
            baselines[setting.shots, setting.prompt] = content_free_baseline(
                task, mode, teacher, language, shots_of[setting.shots], setting.prompt
            )
        return [calibrate(p, baselines[setting.shots, setting.prompt]) for p in raw[key]]

    def scores(examples: Sequence[Example], predicted: Sequence[TeacherPrediction]) -> dict[str, Any]:
        return classification_scores([e.label for e in examples], [p.label for p in predicted], labels)

    on_dev = {s: scores(dev, predictions(s, "dev", dev))["macro_f1"] for s in settings} if dev else {}
    chosen = max(settings, key=lambda s: (on_dev[s], -s.shots)) if on_dev else None  # ties: fewer shots
    on_test = settings if chosen is None or evaluation.teacher_test == "all" else [chosen]
    gold = [e.label for e in test]
    draws = language_resampling(len(test), seed=evaluation.seed, language=language)
    records: list[ResultRecord] = []
    rows: list[dict[str, Any]] = []
    for setting in on_test:
        predicted = predictions(setting, "test", test)
        record = ResultRecord(
            task=task.name, language=language, classifier=setting.name,
            train_source="human" if setting.shots else "none", n_train=len(shots_of[setting.shots]),
            model=teacher.model, **{key: scores(test, predicted)[key] for key in SCORE_FIELDS},
            **score_intervals(resampled_scores(gold, [p.label for p in predicted], labels, draws)),
            dev_macro_f1=on_dev.get(setting),
        )  # fmt: skip
        if setting == chosen:
            best = replace(record, classifier=BEST_TEACHER, setting=setting.name)
            best.dev_settings = {s.name: round(score, 4) for s, score in on_dev.items()}
            records += [record, best] if len(on_test) > 1 else [best]
        else:
            records.append(record)
        rows += [
            {"language": language, "classifier": setting.name, "text": e.text, "gold": e.label,
             "predicted": p.label, "probabilities": p.probabilities, "answer": p.answer}
            for e, p in zip(test, predicted, strict=True)
        ]  # fmt: skip
    return records, rows


def teacher_reference(records: Sequence[ResultRecord]) -> ResultRecord | None:
    """The teacher line students are compared with, in one language: best-on-dev, else (no dev split to choose
    on) the first setting; None without teacher scores."""
    teachers = [r for r in records if r.classifier.startswith("teacher")]
    return next((r for r in teachers if r.classifier == BEST_TEACHER), teachers[0] if teachers else None)
