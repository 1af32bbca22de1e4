"""synthdistill: an LLM teacher writes labelled examples; small students learn from them."""

from synthdistill.config import Config, load_config, parse_config
from synthdistill.data import Example, read_examples
from synthdistill.errors import ConfigError, DataError, StudentError, SynthdistillError, TeacherError
from synthdistill.pipeline import classify, evaluate, generate, predict, run, train
from synthdistill.students.registry import load_student

__version__ = "0.1.0"

__all__ = [
    "Config",
    "ConfigError",
    "DataError",
    "Example",
    "StudentError",
    "SynthdistillError",
    "TeacherError",
    "classify",
    "evaluate",
    "generate",
    "load_config",
    "load_student",
    "parse_config",
    "predict",
    "read_examples",
    "run",
    "train",
]
