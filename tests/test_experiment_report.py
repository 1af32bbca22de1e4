"""The experiment report: plots with the expected panels and cells, tables with the right crossovers, and an HTML
page that is self-contained and opens in headless Chromium without errors."""

from __future__ import annotations

import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from synthdistill.errors import DataError, SynthdistillError
from synthdistill.experiments.curves import curves_statistics, group_languages, group_scores, group_teacher
from synthdistill.experiments.report import write_experiment_report
from tests.web_helpers import chromium

TASK = "topic"
NS = [7, 14, 35, 70]
LANGUAGES = ["cy", "sw", "en"]
GROUPS = {"low-resource": ["cy", "sw"]}
TEACHER = {(TASK, "cy"): 0.50, (TASK, "sw"): 0.40, (TASK, "en"): 0.80}
STUDENT_LIFT = {"embed": 0.10, "tfidf": 0.0}
SOURCE_LIFT = {"synthetic": 0.0, "human": 0.04}


def score(language: str, student: str, source: str, step: int, repeat: int) -> float:
    """Relative to the teacher: embed on synthetic wins from N=14, tfidf on synthetic from N=70, and tfidf never
    wins in English; the repeat noise (±0.005) is too small to move any crossover."""
    penalty = 0.2 if (student, language) == ("tfidf", "en") else 0.0
    lift = STUDENT_LIFT[student] + SOURCE_LIFT[source] - penalty
    return TEACHER[(TASK, language)] - 0.15 + 0.07 * step + lift + 0.005 * (repeat - 1)


def experiment(teacher: dict[tuple[str, str], float]) -> dict:
    rows = [
        {"task": TASK, "language": language, "student": student, "source": source, "n": n, "repeat": repeat,
         "macro_f1": score(language, student, source, step, repeat)}
        for language in LANGUAGES for student in STUDENT_LIFT for source in SOURCE_LIFT
        for step, n in enumerate(NS) for repeat in range(3)
    ]  # fmt: skip
    curves = group_scores(rows)
    curves |= group_languages(curves, GROUPS)
    lines = {**teacher, **group_teacher(teacher, GROUPS)}
    points, crossovers = curves_statistics(curves, lines)  # no predictions: repeats resampled, the teacher fixed
    return {
        "title": "Topic <distillation> & friends",
        "points": points,
        "teacher": lines,
        "crossovers": crossovers,
        "languages": LANGUAGES,
        "groups": GROUPS,
        "notes": ["Teacher: a made-up 70B model", "3 repeats per N"],
    }


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_experiment_report(tmp_path_factory.mktemp("report"), **experiment(TEACHER))


def svg_ids(path: Path) -> dict[str, ET.Element]:
    return {element.get("id"): element for element in ET.parse(path).getroot().iter() if element.get("id")}


def cell_text(ids: dict[str, ET.Element], cell: str) -> str:
    return "".join(ids[cell].itertext()).strip()


def test_writes_markdown_html_and_plots(report: dict[str, Path]) -> None:
    assert sorted(report) == [
        "plots/heatmap-topic-embed.svg",
        "plots/heatmap-topic-tfidf.svg",
        "plots/learning-curves-topic.svg",
        "report.html",
        "report.md",
    ]
    assert all(path.is_file() and path.stat().st_size > 0 for path in report.values())


def test_learning_curves_have_one_panel_per_language_and_group(report: dict[str, Path]) -> None:
    ids = svg_ids(report["plots/learning-curves-topic.svg"])
    panels = sorted(i for i in ids if i.startswith("panel-"))
    assert panels == sorted(f"panel-topic-{name}" for name in [*LANGUAGES, "low-resource"])
    assert len([i for i in ids if i.startswith("teacher-")]) == 4
    text = "".join(ids["panel-topic-low-resource"].itertext())
    assert "low-resource (cy, sw)" in text
    assert all(str(n) in text for n in NS)


def test_heatmap_annotates_every_cell_with_the_signed_difference(report: dict[str, Path]) -> None:
    ids = svg_ids(report["plots/heatmap-topic-embed.svg"])
    assert "heatmap-topic-embed" in ids
    assert len([i for i in ids if i.startswith("cell-topic-embed-")]) == 4 * len(NS)
    assert cell_text(ids, "cell-topic-embed-cy-70") == "+0.16"
    assert cell_text(ids, "cell-topic-embed-low-resource-7").startswith("-")
    tfidf = svg_ids(report["plots/heatmap-topic-tfidf.svg"])
    assert cell_text(tfidf, "cell-topic-tfidf-en-7") == "-0.35"


def test_markdown_has_plots_crossovers_and_means(report: dict[str, Path]) -> None:
    markdown = report["report.md"].read_text(encoding="utf-8")
    assert markdown.startswith("# Topic <distillation> & friends\n")
    assert "- Teacher: a made-up 70B model" in markdown
    assert "](plots/learning-curves-topic.svg)" in markdown
    assert "](plots/heatmap-topic-tfidf.svg)" in markdown
    assert (
        "### Crossover: the smallest N at which the student is better than the teacher at 95%, over repeats and "
        "test texts\n" in markdown
    )
    assert "| crossover N [95% interval] | first N with mean above teacher |" in markdown
    assert "| cy | embed | synthetic | 0.500 | 14 [14, 14] | 14 |" in markdown
    assert "| sw | tfidf | synthetic | 0.400 | 70 [70, 70] | 70 |" in markdown
    assert "| cy | tfidf | human | 0.500 | 35 [35, 35] | 35 |" in markdown
    assert "| en | tfidf | synthetic | 0.800 | never within the grid | never within the grid |" in markdown
    assert "| low-resource | embed | synthetic | 0.450 | 14 [14, 14] | 14 |" in markdown
    assert "### embed on synthetic: macro-F1 mean ± std (3 repeats; ▲ better, ▼ worse than the teacher" in markdown
    # 0.05 below the teacher: worse; 0.02 above with repeats 0.015 to 0.025 above: better at 95%
    assert "| cy | 0.500 | 0.450 ± 0.005 ▼ | 0.520 ± 0.005 ▲ |" in markdown


def test_missing_teacher_score_means_no_line_no_cells_no_crossover(tmp_path: Path) -> None:
    teacher = {key: value for key, value in TEACHER.items() if key != (TASK, "en")}
    paths = write_experiment_report(tmp_path, **experiment(teacher))
    curves = svg_ids(paths["plots/learning-curves-topic.svg"])
    assert "panel-topic-en" in curves
    assert "teacher-topic-en" not in curves
    heatmap = svg_ids(paths["plots/heatmap-topic-embed.svg"])
    assert len([i for i in heatmap if i.startswith("cell-")]) == 3 * len(NS)
    markdown = paths["report.md"].read_text(encoding="utf-8")
    assert "| en | embed | synthetic |" not in markdown
    assert "| en | – | " in markdown  # the means table still lists English, without a teacher score


def test_rerun_gives_identical_files(report: dict[str, Path], tmp_path: Path) -> None:
    again = write_experiment_report(tmp_path, **experiment(TEACHER))
    for name, path in report.items():
        assert again[name].read_bytes() == path.read_bytes(), name


def test_open_upper_bound_is_written_beyond_the_grid(tmp_path: Path) -> None:
    inputs = experiment(TEACHER)
    inputs["crossovers"] = [
        c if (c.language, c.student, c.source) != ("cy", "tfidf", "synthetic") else type(c)(
            c.task, c.language, c.student, c.source, c.teacher, 35, 14, None, n_mean=14
        )
        for c in inputs["crossovers"]
    ]  # fmt: skip
    markdown = write_experiment_report(tmp_path, **inputs)["report.md"].read_text(encoding="utf-8")
    assert "| cy | tfidf | synthetic | 0.500 | 35 [14, > 70] | 14 |" in markdown


def test_html_is_self_contained_and_escaped(report: dict[str, Path]) -> None:
    page = report["report.html"].read_text(encoding="utf-8")
    assert 'src="http' not in page and "<link" not in page and "<img" not in page and "<script" not in page
    assert "http://" not in page.replace("http://www.w3.org/", "")
    assert page.count("<svg") == 3
    assert "<title>Topic &lt;distillation&gt; &amp; friends</title>" in page
    assert "<td>low-resource</td>" in page
    ids = re.findall(r'\sid="([^"]+)"', page)
    assert len(ids) == len(set(ids)), "ids repeat across the inlined figures"


@pytest.mark.parametrize("bad, message", [({"points": []}, "no learning-curve points"), ({"n": 0}, "at least 1")])
def test_raises_a_clear_error_on_bad_points(tmp_path: Path, bad: dict, message: str) -> None:
    inputs = experiment(TEACHER)
    if "n" in bad:
        point = inputs["points"][0]
        inputs["points"] = [type(point)(**{**point.to_dict(), "n": 0}), *inputs["points"][1:]]
    else:
        inputs.update(bad)
    with pytest.raises(DataError, match=message):
        write_experiment_report(tmp_path, **inputs)


def test_without_matplotlib_says_how_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(SynthdistillError, match="pip install matplotlib"):
        write_experiment_report(tmp_path, **experiment(TEACHER))


def test_html_opens_in_headless_chromium_without_errors(report: dict[str, Path], tmp_path: Path) -> None:
    page_url = report["report.html"].resolve().as_uri()
    errors: list[str] = []
    requests: list[str] = []
    with chromium() as browser:
        page = browser.new_page()
        page.on("pageerror", lambda error: errors.append(f"page error: {error}"))
        page.on("console", lambda message: message.type == "error" and errors.append(message.text))
        page.on("request", lambda request: requests.append(request.url))
        page.goto(page_url)
        text = page.inner_text("body")
        svg_count = page.locator("svg").count()
        screenshot = page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
    assert errors == []
    assert requests == [page_url]
    assert "Topic <distillation> & friends" in text
    assert "14 [14, 14]" in text and "0.450 ± 0.005" in text
    assert svg_count == 3
    assert len(screenshot) > 20_000


def test_cost_table_gives_median_training_seconds_per_n_and_prediction_speed(tmp_path: Path) -> None:
    inputs = experiment(TEACHER)
    # embed: 200 texts in 2 s, 120 of 200 computed in 1.2 s, then replayed from its cache (speeds left out)
    replayed = (0.0, 0.4, 0.9, 1.0)
    inputs["cells"] = [
        {"task": TASK, "student": "embed", "n": 7, "fit_seconds": s, "predict_seconds": p, "n_test": 200,
         "predict_replayed_share": r, "peak_rss_mb": 10.0 * s, "process_cells_before": before}
        for s, p, r, before in zip((1.0, 3.0, 9.0, 2.0), (2.0, 1.2, 0.01, 0.001), replayed, (0, 0, 1, 0), strict=True)
    ] + [
        {"task": TASK, "student": "tfidf", "n": 14, "fit_seconds": 0.5, "predict_seconds": 0.1, "n_test": 200,
         "predict_replayed_share": 0.0},
        {"task": TASK, "student": "tfidf", "n": 7, "fit_seconds": 0.25, "predict_seconds": 0.0, "n_test": 200,
         "predict_replayed_share": 0.0},
        {"task": TASK, "student": "tfidf", "n": 7, "fit_seconds": 0.25, "predict_seconds": 0.001, "n_test": 200},
        {"task": "other task", "student": "embed", "n": 7, "fit_seconds": 99.0, "predict_seconds": 1, "n_test": 1},
        {"task": TASK, "student": "old", "n": 7},  # a row from before costs were recorded: left out
    ]  # fmt: skip
    markdown = write_experiment_report(tmp_path, **inputs)["report.md"].read_text(encoding="utf-8")
    assert "| student | cells | training s, N=7 | training s, N=14 | test texts/s | peak MB |" in markdown
    # training: the median of 1, 2, 3, 9; speed: the median of 100 and 100 computed texts a second; the largest
    # peak of a cell that ran first in its process (90 MB came after another cell in the same worker)
    assert "| embed | 4 | 2.5 | – | 100.0 | 30 |" in markdown
    # no speed from a zero time, nor from a row stored before cells recorded their replayed share; no peak
    assert "| tfidf | 3 | 0.2 | 0.5 | 2,000.0 | – |" in markdown
    assert "| old |" not in markdown and "99.0" not in markdown
