"""run --repeats: each classifier's mean, sd and t-interval over the runs, and the verdict from that interval."""

import pytest

from synthdistill.evaluation.intervals import mean_interval
from synthdistill.evaluation.repeats import render_repeats, summarise_repeats
from synthdistill.evaluation.report import ResultRecord


def record(classifier: str, f1: float, difference: float | None = None) -> ResultRecord:
    versus = None
    if difference is not None:
        versus = {"teacher": "teacher-best-on-dev", "difference": difference, "ci": [difference - 0.05,
                  difference + 0.05], "verdict": "better" if difference > 0.05 else "not distinguishable"}  # fmt: skip
    return ResultRecord("t", "en", classifier, "synthetic", 10, 100, f1, f1, vs_teacher=versus)


def test_means_intervals_and_verdicts_over_runs():
    runs = [[record("teacher-best-on-dev", 0.5), record("embed", 0.5 + d, d)] for d in (0.10, 0.12, 0.08)]
    rows = summarise_repeats(runs)
    teacher, embed = rows
    mean, sd, low, high = mean_interval([0.6, 0.62, 0.58])
    assert embed["macro_f1"]["mean"] == pytest.approx(mean, abs=1e-4)
    assert embed["macro_f1"]["sd"] == pytest.approx(sd, abs=1e-4)
    assert embed["macro_f1"]["ci"] == pytest.approx([low, high], abs=1e-4)
    assert embed["vs_teacher"]["verdict"] == "better" and embed["vs_teacher"]["per_run"]["better"] == 3
    assert teacher["macro_f1"]["sd"] == 0.0 and "vs_teacher" not in teacher
    report = render_repeats(rows, title="x")
    assert "3 runs" in report and "better" in report


def test_a_difference_that_changes_sign_is_not_distinguishable():
    runs = [[record("embed", 0.5, d)] for d in (0.10, -0.10, 0.02)]
    [row] = summarise_repeats(runs)
    assert row["vs_teacher"]["verdict"] == "not distinguishable"


def test_the_verdict_over_runs_also_resamples_the_test_texts():
    """Three runs that each beat the teacher by 0.10 have an sd of 0 over the runs, but on 30 test texts the
    difference swings from -0.2 to +0.4 between resampled test sets: the runs alone must not say "better"."""
    import numpy as np

    from synthdistill.evaluation.intervals import over_repeats

    runs = [[record("embed", 0.6, 0.10)] for _ in range(3)]
    swings = np.linspace(-0.2, 0.4, 1000)  # one run's difference on each test resample
    paired = {("en", "embed", "synthetic"): np.stack([swings, swings, swings])}
    [row] = summarise_repeats(runs, {"vs_teacher": paired, "macro_f1": {k: v + 0.5 for k, v in paired.items()}})
    assert row["vs_teacher"]["sd"] == 0.0 and row["vs_teacher"]["verdict"] == "not distinguishable"
    assert row["vs_teacher"]["ci"][0] < 0 < row["vs_teacher"]["ci"][1]
    assert row["macro_f1"]["ci"][0] < 0.6 < row["macro_f1"]["ci"][1]  # the score's interval has the same width
    [without] = summarise_repeats(runs)  # the runs' t-interval alone: zero width, "better"
    assert without["vs_teacher"]["verdict"] == "better"
    # resample b of over_repeats: the mean of the drawn runs' scores on test resample b
    per_run = np.array([[0.0, 1.0, 2.0], [10.0, 11.0, 12.0]])
    combined = over_repeats(per_run, np.random.default_rng(3))
    drawn = np.random.default_rng(3).integers(2, size=(3, 2))
    assert combined.tolist() == [per_run[drawn[b], b].mean() for b in range(3)]
