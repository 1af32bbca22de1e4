"""The students by config `type`; it imports every student and nothing imports back into it."""

from __future__ import annotations

from pathlib import Path

from synthdistill.errors import StudentError
from synthdistill.students.base import Student, read_student_header


def student_registry() -> dict[str, type[Student]]:
    """Name to class; heavy students import their libraries only when built."""
    from synthdistill.students.embed import EmbeddingStudent
    from synthdistill.students.finetune import FineTunedStudent
    from synthdistill.students.icl import InContextStudent
    from synthdistill.students.lora import LoraStudent
    from synthdistill.students.tfidf import TfidfStudent

    return {
        "tfidf": TfidfStudent,
        "embed": EmbeddingStudent,
        "icl": InContextStudent,
        "finetune": FineTunedStudent,
        "lora": LoraStudent,
    }


def load_student(directory: str | Path) -> Student:
    """Load any saved student; nothing is unpickled, so a downloaded model cannot run code."""
    header = read_student_header(directory)
    registry = student_registry()
    if header["type"] not in registry:
        raise StudentError(f"{directory}: unknown student type {header['type']!r}")
    return registry[header["type"]].load(directory)
