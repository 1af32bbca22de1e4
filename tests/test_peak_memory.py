"""Each experiment cell reports its own peak memory, not its worker's since the worker started."""

import sys

import pytest

from synthdistill import peak_memory

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc is Linux's")


SCRIPT = """
import json, numpy as np
from synthdistill import peak_memory
held = np.ones(40_000_000)  # 320 MB resident
del held
before = peak_memory.peak_mb()
reset = peak_memory.reset_peak()
after = peak_memory.peak_mb()
again = np.ones(20_000_000)  # 160 MB: the new peak sees it
print(json.dumps([before, reset, after, peak_memory.peak_mb()]))
"""


def test_the_peak_restarts_after_a_reset():
    """In a fresh small process: a long-lived one (the test session) may serve new arrays from memory that is
    resident already, which moves no peak."""
    import json
    import subprocess

    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True)
    before, reset, after, grown = json.loads(result.stdout)
    assert reset is True and before > 300
    assert after < before - 250
    assert grown > after + 100


def test_no_proc_means_no_figure(monkeypatch, tmp_path):
    monkeypatch.setattr(peak_memory, "_STATUS", tmp_path / "missing")
    monkeypatch.setattr(peak_memory, "_CLEAR_REFS", tmp_path / "no" / "clear_refs")
    assert peak_memory.peak_mb() is None
    assert peak_memory.reset_peak() is False
