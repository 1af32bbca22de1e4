"""Each experiment cell reports its own peak memory, not its worker's since the worker started."""

import sys

import numpy as np
import pytest

from synthdistill import peak_memory

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc is Linux's")


def test_the_peak_restarts_after_a_reset():
    held = np.ones(40_000_000)  # 320 MB resident
    del held
    before = peak_memory.peak_mb()
    assert before is not None and before > 300
    assert peak_memory.reset_peak()
    after = peak_memory.peak_mb()
    assert after is not None and after < before - 250
    again = np.ones(20_000_000)  # 160 MB: the new peak sees it
    assert peak_memory.peak_mb() > after + 100
    del again


def test_no_proc_means_no_figure(monkeypatch, tmp_path):
    monkeypatch.setattr(peak_memory, "_STATUS", tmp_path / "missing")
    monkeypatch.setattr(peak_memory, "_CLEAR_REFS", tmp_path / "no" / "clear_refs")
    assert peak_memory.peak_mb() is None
    assert peak_memory.reset_peak() is False
