"""One small exception family: the CLI prints these as one line; anything else is a bug."""


class SynthdistillError(Exception):
    """Base of every error a user can cause and fix."""


class ConfigError(SynthdistillError):
    """The YAML config is missing, malformed or invalid."""


class DataError(SynthdistillError):
    """A data file is missing, empty, not UTF-8, or holds a label the task lacks."""


class TeacherError(SynthdistillError):
    """The teacher failed after retries, or answered something unusable."""


class StudentError(SynthdistillError):
    """A student cannot be trained, saved or loaded as asked."""


class BudgetExhaustedError(TeacherError):
    """The configured request or token budget is spent; what was answered so far is kept."""
