"""Peak resident memory of one piece of work inside a long-lived process (an experiment worker runs many cells):
Linux lets a process reset its high-water mark, so each cell reports its own peak, not the worker's."""

from __future__ import annotations

from pathlib import Path

_STATUS, _CLEAR_REFS = Path("/proc/self/status"), Path("/proc/self/clear_refs")


def reset_peak() -> bool:
    """Start a new high-water mark; False where the system cannot (not Linux, or /proc not writable)."""
    try:
        _CLEAR_REFS.write_text("5")  # 5: reset the peak RSS (Linux 4.0+)
    except OSError:
        return False
    return True


def peak_mb() -> float | None:
    """Resident memory's high-water mark since the last reset, in MB; None where /proc has none."""
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except (OSError, ValueError, IndexError):
        return None
    return None
