"""`synthdistill review`: the sample index behind the page, its HTTP API (CSRF, API key, bad input), and the page
itself in headless Chromium: filter, relabel, drop and edit by keyboard, reload, then train on the decisions."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from synthdistill import load_config
from synthdistill.data import Example, write_examples, write_jsonl
from synthdistill.errors import DataError
from synthdistill.review_index import Filter, ReviewIndex
from synthdistill.review_server import CSRF_HEADER, build_review_app
from synthdistill.reviews import REVIEW_FILE, Decision, append_decision, example_id, read_reviews
from tests.conftest import POLITICS, SPORTS, tiny_config_dict
from tests.web_helpers import call, chromium, free_port, running, wait_for_port

SCRIPT = 'Goal! <script>window.pwned = 1</script><img src=x onerror="window.pwned = 2"> The striker scored.'
LABELS = ["sports", "politics"]


def scored(sports: float) -> dict:
    return {"teacher_probabilities": {"sports": sports, "politics": round(1 - sports, 4)}}


SYNTHETIC = (
    [Example(t, "sports", "en", {"template": "generate.completion.v2", "n_demos": 2, "round": 0, "sample_index": i,
                                 **scored(0.9 - 0.1 * i)}) for i, t in enumerate(SPORTS)]
    + [Example(SCRIPT, "sports", "en", {"template": "generate.completion.v2", "sample_index": 6})]
    + [Example(t, "politics", "en", {"template": "generate.completion.v2", "sample_index": i, **scored(0.1 + 0.05 * i)})
       for i, t in enumerate(POLITICS)]
)  # fmt: skip
DROPPED = [
    {"text": "Der Stürmer hat zweimal getroffen.", "language": "en", "label": "sports", "reason": "wrong_language:de"},
    {"text": "The minister won the match against the opposition.", "language": "en", "label": "sports",
     "reason": "teacher_check:politics", **scored(0.2)},
    {"text": SPORTS[0], "language": "en", "label": "sports", "reason": "duplicate"},  # a copy of a kept sample
    {"text": "", "language": "en", "label": "politics", "reason": "empty"},  # nothing to show
]  # fmt: skip


@pytest.fixture
def run_folder(tiny_project: Path) -> Path:
    """A run's output folder as `generate` leaves it: config.yaml, synthetic.jsonl, dropped.jsonl."""
    out = tiny_project / "out"
    raw = tiny_config_dict()
    raw["data"] = {split: str(tiny_project / path) for split, path in raw["data"].items()}
    raw["students"] = [{"type": "tfidf"}]
    out.mkdir()
    (out / "config.yaml").write_text(yaml.safe_dump(raw), encoding="utf-8")
    write_examples(out / "synthetic.jsonl", SYNTHETIC)
    write_jsonl(out / "dropped.jsonl", DROPPED)
    return out


def index_of(folder: Path) -> ReviewIndex:
    return ReviewIndex.from_folder(folder, LABELS, read_reviews(folder / REVIEW_FILE, LABELS))


# --- the index -------------------------------------------------------------------------------------------------


def test_the_index_lists_kept_and_dropped_samples_once_and_filters_them(run_folder):
    index = index_of(run_folder)
    assert len(index.samples) == 13 + 2 and index.hidden_copies == 1  # the duplicate of a kept sample, the empty left
    assert index.reasons == ["teacher_check:politics", "wrong_language:de"]
    assert len(index.select(Filter(label="politics"))) == 6
    assert len(index.select(Filter(status="dropped"))) == 2
    assert [index.texts[r] for r in index.select(Filter(reason="wrong_language:de"))] == [DROPPED[0]["text"]]
    assert [index.texts[r] for r in index.select(Filter(query="STRIKER SCORED"))] == [SCRIPT]
    # confidence: the teacher's probability of the sample's own label; an unscored sample passes no bound
    low = index.select(Filter(max_confidence=0.5))
    assert sorted(round(float(index.confidence()[r]), 2) for r in low) == [0.2, 0.4, 0.5]
    assert SCRIPT not in [index.texts[r] for r in index.select(Filter(min_confidence=0.0))]
    with pytest.raises(ValueError, match="unknown label 'weather'"):
        index.select(Filter(label="weather"))


def test_decisions_change_what_the_index_shows_and_the_summary_counts_them(run_folder):
    index = index_of(run_folder)
    politics = index.select(Filter(label="politics"))
    first, second = index.ids[politics[0]], index.ids[politics[1]]
    rescued = index.ids[index.select(Filter(reason="teacher_check:politics"))[0]]
    decisions = [Decision(first, "relabel", label="sports"), Decision(second, "drop"), Decision(rescued, "keep"),
                 Decision(second, "undo"), Decision(second, "drop")]  # fmt: skip
    index.apply(decisions)
    assert index.row(politics[0])["label"] == "sports" and index.row(politics[0])["generated_label"] == "politics"
    assert len(index.select(Filter(label="politics"))) == 5 and len(index.select(Filter(reason="person"))) == 1
    assert len(index.select(Filter(status="reviewed"))) == 3
    assert index.row(index.position[rescued])["kept"] is True
    [sports, politics_row] = index.summary()
    assert (politics_row["label"], politics_row["samples"], politics_row["reviewed"]) == ("politics", 5, 1)
    assert politics_row["dropped_by_person_share"] == 1.0
    assert (sports["samples"], sports["reviewed"], sports["relabelled_share"]) == (10, 2, 0.5)
    assert (sports["dropped_by_filters"], sports["kept"]) == (2, 9)  # the rescued one is kept now


def test_neighbours_are_the_most_alike_samples_of_the_same_language(run_folder):
    extra = Example(SPORTS[1] + " Really.", "politics", "en", {})
    write_examples(run_folder / "synthetic.jsonl", [*SYNTHETIC, extra])
    index = index_of(run_folder)
    found = index.neighbours(example_id(extra), k=2)
    assert found[0]["text"] == SPORTS[1] and 0.7 < found[0]["similarity"] < 1
    assert found[0]["similarity"] > found[1]["similarity"]


def test_a_run_whose_filters_dropped_everything_shows_the_dropped_ones(run_folder):
    (run_folder / "synthetic.jsonl").write_text("")
    index = index_of(run_folder)
    assert len(index.samples) == 3 and index.hidden_copies == 0  # the copy of a kept sample is listed now
    assert len(index.select(Filter(status="kept"))) == 0 and index.summary()[0]["dropped_by_filters"] == 3


def test_a_folder_without_samples_is_a_clear_error(tmp_path, run_folder):
    (run_folder / "synthetic.jsonl").unlink()
    with pytest.raises(DataError, match=r"no synthetic\.jsonl here"):
        build_review_app(run_folder)
    with pytest.raises(DataError, match="not a folder"):
        build_review_app(run_folder / "config.yaml")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=r"no config\.yaml here"):
        build_review_app(tmp_path / "empty")


# --- the HTTP API ----------------------------------------------------------------------------------------------


def test_decisions_need_the_csrf_token_and_bulk_actions_apply_to_the_whole_filter(run_folder):
    app = build_review_app(run_folder, reviewer="tester", csrf_token="t0ken")
    with running(app) as url:
        status, page = call(url, "GET", "/")
        assert status == 200 and 'content="t0ken"' in page
        status, listed = call(url, "GET", "/api/samples?label=politics&limit=2&offset=1")
        assert status == 200 and listed["total"] == 6 and len(listed["rows"]) == 2 and listed["offset"] == 1
        target = listed["rows"][0]["id"]
        body = json.dumps({"ids": [target], "action": "drop"})
        for headers in ({}, {CSRF_HEADER: "wrong"}):  # a cross-site form cannot send the token
            status, answer = call(url, "POST", "/api/decisions", body, headers)
            assert status == 403 and "decisions come only from the review page" in answer["error"]
        assert not (run_folder / REVIEW_FILE).exists()
        token = {CSRF_HEADER: "t0ken"}
        status, answer = call(url, "POST", "/api/decisions", body, token)
        assert status == 200 and answer["rows"][0]["person"] == "dropped"
        bad = [({"ids": [target], "action": "relabel", "label": "weather"}, 422, "not a label of the task"),
               ({"ids": ["nope"], "action": "drop"}, 404, "no sample 'nope'"),
               ({"ids": [], "action": "drop"}, 422, "ids"),
               ({"ids": [target], "action": "shred"}, 422, "action must be one of")]  # fmt: skip
        for request, code, message in bad:
            status, answer = call(url, "POST", "/api/decisions", json.dumps(request), token)
            assert status == code and message in answer["error"]
        status, answer = call(url, "POST", "/api/decisions", "{not json", token)
        assert status == 400
        ignored = json.dumps({"ids": [target], "action": "drop", "label": "weather", "text": "x"})
        status, answer = call(url, "POST", "/api/decisions", ignored, token)  # what a drop does not use is left out
        assert status == 200
        status, answer = call(url, "GET", "/api/samples?status=sideways")
        assert status == 400 and "unknown status" in answer["error"]
        # bulk: every sample the filter selects, beyond the page
        bulk = {"filter": {"label": "sports", "max_confidence": "0.55"}, "action": "relabel", "label": "politics"}
        status, answer = call(url, "POST", "/api/bulk", json.dumps(bulk), token)
        assert status == 200 and answer["count"] == 3  # 0.5, 0.4 and the teacher_check drop at 0.2
        status, listed = call(url, "GET", "/api/samples?label=politics&limit=50")
        assert listed["total"] == 6 + 3  # the one a person dropped is still labelled politics
        status, answer = call(url, "POST", "/api/decisions", json.dumps({"ids": answer["ids"], "action": "undo"}),
                              token)  # fmt: skip
        assert status == 200 and all(r["label"] == "sports" for r in answer["rows"])
        status, summary = call(url, "GET", "/api/summary")
        assert [(r["label"], r["samples"]) for r in summary] == [("sports", 9), ("politics", 6)]
    log = [json.loads(line) for line in (run_folder / REVIEW_FILE).read_text().splitlines()]
    assert [row["action"] for row in log] == ["drop", "drop"] + ["relabel"] * 3 + ["undo"] * 3
    assert "label" not in log[1] and "text" not in log[1]
    assert {row["by"] for row in log} == {"tester"} and all(row["at"] for row in log)


def test_an_api_key_is_asked_for_as_a_password_and_a_corrupt_log_line_is_reported(run_folder):
    import base64

    good = Decision(example_id(SYNTHETIC[0]), "drop")
    append_decision(run_folder, good, LABELS)
    with (run_folder / REVIEW_FILE).open("a") as log:
        log.write('{"id": "abc", "action": "relabel", "label": "weather"}\n{"torn')
    app = build_review_app(run_folder, api_key="s3cret")
    with running(app) as url:
        status, _ = call(url, "GET", "/")
        assert status == 401
        basic = base64.b64encode(b"anyone:s3cret").decode()
        status, meta = call(url, "GET", "/api/meta", headers={"Authorization": f"Basic {basic}"})
        assert status == 200
        assert [p.split(": ")[1] for p in meta["problems"]] == ["line 2", "line 3"]
        status, listed = call(url, "GET", "/api/samples?reason=person", headers={"X-API-Key": "s3cret"})
        assert [r["text"] for r in listed["rows"]] == [SPORTS[0]]  # the good line is honoured


def test_the_language_id_verdict_and_teacher_probabilities_are_in_the_detail(run_folder):
    app = build_review_app(run_folder)
    german = example_id(Example(DROPPED[0]["text"], "sports", "en"))
    with running(app) as url:
        status, found = call(url, "GET", f"/api/samples/{german}")
        assert status == 200 and found["filter_reason"] == "wrong_language:de"
        assert found["language_id"]["verdict"] == "wrong_language:de" and found["language_id"]["probability"] < 0.1
        assert found["probabilities"] is None
        status, found = call(url, "GET", f"/api/samples/{example_id(SYNTHETIC[0])}")
        assert found["probabilities"] == pytest.approx({"sports": 0.9, "politics": 0.1})
        provenance = {"template": "generate.completion.v2", "n_demos": 2, "round": 0, "sample_index": 0}
        assert found["provenance"] == provenance
        assert found["language_id"]["ok"] is True


# --- the page in a real browser -------------------------------------------------------------------------------


@pytest.fixture
def review_server(run_folder):
    """`synthdistill review OUT` as a user starts it, on a free loopback port."""
    port = free_port()
    command = [sys.executable, "-m", "synthdistill", "review", str(run_folder), "--port", str(port),
               "--reviewer", "ana"]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert wait_for_port(port, process), process.communicate()[1]
    yield f"http://127.0.0.1:{port}/"
    process.terminate()
    process.wait(10)


def test_in_the_browser_keyboard_decisions_persist_and_training_uses_them(run_folder, review_server, tmp_path):
    from playwright.sync_api import expect

    errors: list[str] = []
    requests: set[str] = set()
    edited = "The striker scored twice in the derby on Sunday."
    with chromium() as browser:
        page = browser.new_page()
        page.on("pageerror", lambda error: errors.append(f"page error: {error}"))
        page.on("console", lambda message: message.type == "error" and errors.append(message.text))
        page.on("request", lambda request: requests.add(urlsplit(request.url).netloc))
        page.goto(review_server)
        page.wait_for_selector("tr.row")
        # a sample holding HTML is shown as text and its script never runs
        assert SCRIPT in page.inner_text("#rows")
        assert page.evaluate("window.pwned") is None
        page.select_option("#f-label", "politics")
        expect(page.locator("#rows tr.row")).to_have_count(6)
        first_text = page.inner_text("#rows tr.row.selected td.text")
        page.keyboard.press("1")  # relabel to the first label (sports); the selection moves on
        page.wait_for_selector("#rows tr.row:nth-child(1) td.label:text-is('sports')")
        second_text = page.inner_text("#rows tr.row.selected td.text")
        page.keyboard.press("x")  # drop
        page.wait_for_selector("#rows tr.row.dropped")
        page.keyboard.press("k")  # back up to the dropped one, then on to the third: edit it
        page.keyboard.press("j")
        page.keyboard.press("j")
        page.keyboard.press("e")
        page.wait_for_selector("#edit-box")
        page.fill("#edit-box", edited)
        page.keyboard.press("Control+Enter")
        page.wait_for_selector(f"#rows td.text:text-is('{edited}')")
        page.screenshot(path=str(tmp_path / "review.png"))
        page.reload()
        page.wait_for_selector("tr.row")
        page.select_option("#f-status", "reviewed")
        expect(page.locator("#rows tr.row")).to_have_count(3)
        shown = page.inner_text("#rows")
        assert "relabelled from politics" in shown and "dropped by you" in shown and edited in shown
        assert first_text in shown and second_text in shown
        page.click("#show-summary")
        page.wait_for_selector("#summary table")
        summary = page.inner_text("#summary")
    assert errors == [] and requests == {urlsplit(review_server).netloc}  # nothing fetched from anywhere else
    # per language and label as labelled now: samples, kept now, dropped by filters, reviewed, shares of reviewed
    assert "en\tsports\t10\t8\t2\t1\t0%\t100%" in summary  # 7 generated + 2 filter drops + the relabelled one
    assert "en\tpolitics\t5\t4\t0\t2\t50%\t0%" in summary  # one dropped, one edited

    from synthdistill.pipeline import train

    config = load_config(run_folder / "config.yaml")
    [trained] = train(config, run_folder)
    assert (trained["n_train"], trained["n_reviewed"]) == (len(SYNTHETIC) - 1, 2)  # one dropped; relabel, edit
    log = [json.loads(line) for line in (run_folder / REVIEW_FILE).read_text().splitlines()]
    assert [(row["action"], row["by"]) for row in log] == [("relabel", "ana"), ("drop", "ana"), ("edit", "ana")]
    reviews = read_reviews(run_folder / REVIEW_FILE, LABELS)
    assert reviews.state(example_id(Example(first_text, "politics", "en"))).label == "sports"


def test_two_tabs_on_one_sample_the_later_decision_wins_and_both_are_logged(run_folder, review_server):
    with chromium() as browser:
        first, second = browser.new_page(), browser.new_page()
        for tab in (first, second):
            tab.goto(review_server)
            tab.wait_for_selector("tr.row.selected")
        first.keyboard.press("x")
        first.wait_for_selector("#status:text('saved')")
        second.keyboard.press("y")
        second.wait_for_selector("#status:text('saved')")
        first.reload()
        first.wait_for_selector("tr.row")
        state = first.inner_text("#rows tr.row:nth-child(1) td.state")
    log = [json.loads(line) for line in (run_folder / REVIEW_FILE).read_text().splitlines()]
    assert [row["action"] for row in log] == ["drop", "keep"] and log[0]["id"] == log[1]["id"] and "kept" in state
    assert read_reviews(run_folder / REVIEW_FILE, LABELS).state(log[0]["id"]).dropped is False
    # a second server on the same folder would not see these decisions: refused, naming the first
    second_server = subprocess.run([sys.executable, "-m", "synthdistill", "review", str(run_folder), "--port",
                                    str(free_port())], capture_output=True, text=True, timeout=120)  # fmt: skip
    assert second_server.returncode == 2 and "`synthdistill review` (pid" in second_server.stderr
    assert "is using this folder" in second_server.stderr and "Traceback" not in second_server.stderr


def test_a_kept_filter_drop_trains_once(run_folder):
    from synthdistill.pipeline import export_reviewed, train

    config = load_config(run_folder / "config.yaml")
    rescued = Example(DROPPED[1]["text"], "sports", "en")
    for decision in [Decision(example_id(rescued), "keep"), Decision(example_id(SYNTHETIC[0]), "keep")]:
        append_decision(run_folder, decision, LABELS)
    [trained] = train(config, run_folder)
    assert (trained["n_train"], trained["n_reviewed"]) == (len(SYNTHETIC) + 1, 2)  # the duplicate not rescued
    written, reviewed = export_reviewed(config, run_folder, run_folder / "reviewed.jsonl")
    rows = [json.loads(line) for line in (run_folder / "reviewed.jsonl").read_text().splitlines()]
    assert (written, reviewed) == (len(SYNTHETIC) + 1, 2)
    assert [r["reason"] for r in rows if "reason" in r] == ["teacher_check:politics"]


def test_the_cli_says_what_is_wrong_in_one_line(run_folder, tmp_path):
    command = [sys.executable, "-m", "synthdistill", "review"]
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        busy = subprocess.run([*command, str(run_folder), "--port", port], capture_output=True, text=True, timeout=120)
    assert busy.returncode == 2 and f"cannot listen on 127.0.0.1:{port}" in busy.stderr
    assert "Traceback" not in busy.stderr
    missing = subprocess.run([*command, str(tmp_path / "nowhere")], capture_output=True, text=True, timeout=60)
    assert missing.returncode == 2 and "not a folder" in missing.stderr
    no_key = subprocess.run([*command, str(run_folder), "--api-key-env", "SD_NO_SUCH_KEY"], capture_output=True,
                            text=True, timeout=60)  # fmt: skip
    assert no_key.returncode == 2 and "SD_NO_SUCH_KEY is not set" in no_key.stderr
