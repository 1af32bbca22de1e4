"""One command at a time per output folder: a second is refused naming the first, and a killed first leaves
no stale lock behind."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from synthdistill.cli import main
from synthdistill.data import Example, write_examples
from synthdistill.folder_lock import RUN_LOCK
from tests.conftest import POLITICS, SPORTS

HOLDER = """
import sys, time
from synthdistill.folder_lock import holding
with holding(sys.argv[1], "run"):
    print("holding", flush=True)
    time.sleep(300)
"""


def contents(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_second_command_on_a_held_folder_is_refused_and_a_killed_holder_leaves_no_lock(tiny_project, capsys):
    out = tiny_project / "out"
    write_examples(out / "synthetic.jsonl", [Example(t, "sports", "en") for t in SPORTS] +
                   [Example(t, "politics", "en") for t in POLITICS])  # fmt: skip
    config = str(tiny_project / "config.yaml")
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(out)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        before = contents(out)
        assert main(["train", config, "--out", str(out)]) == 2
        error = capsys.readouterr().err
        assert f"{out}: `synthdistill run` (pid {holder.pid}) is using this folder" in error
        assert contents(out) == before  # nothing written, nothing removed
    finally:
        holder.kill()
        holder.wait()
    assert main(["train", config, "--out", str(out)]) == 0  # the kernel dropped the killed one's lock
    assert (out / RUN_LOCK).read_text() == ""  # and the one that finished left its lock file empty
