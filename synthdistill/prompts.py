"""Prompt templates are files, versioned by name; the name goes into the provenance of every row."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any, Protocol

import jinja2

from synthdistill.generation.social_text import social_text_kind
from synthdistill.languages import resolve_language


class DescribedTask(Protocol):
    """What templates say about a task (config.TaskSpec has it; prompts sit below the config, which checks
    template names against them)."""

    domain: str
    text_kind: str
    label_kind: str


TEMPLATE_SUFFIX = ".jinja"


@dataclass(frozen=True)
class RenderedPrompt:
    text: str
    template: str  # e.g. generate.completion.v1

    @cached_property
    def digest(self) -> str:
        return prompt_hash(self.text)


def prompt_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("synthdistill", "templates"),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=False,
        auto_reload=False,  # templates ship in the package: no file check on every render
    )


def known_templates() -> list[str]:
    """The template names that ship with the package (what `template` fields may name)."""
    names = _environment().list_templates()
    return sorted(n.removesuffix(TEMPLATE_SUFFIX) for n in names if n.endswith(TEMPLATE_SUFFIX))


def render(template: str, **variables: Any) -> RenderedPrompt:
    """Render `templates/<template>.jinja`; a missing variable is an error, not an empty string."""
    text = _environment().get_template(template + TEMPLATE_SUFFIX).render(**variables)
    return RenderedPrompt(text=text, template=template)


def task_variables(task: DescribedTask, language: str) -> dict[str, Any]:
    """What every template says about the task: the language's name, the domain, what texts and labels are, and
    whether they are social-media posts (whose handles and links generation asks to write as @user and http,
    as seed tweets have them)."""
    return {
        "language": resolve_language(language).name,
        "domain": task.domain,
        "text_kind": task.text_kind,
        "label_kind": task.label_kind,
        "social": social_text_kind(task.text_kind),
    }
