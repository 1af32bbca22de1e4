"""The documentation keeps up with the code: every config field is in docs/configuration.md and its generated
tables are what docs/make_config_reference.py writes now; every relative link in the README and docs/ leads
somewhere; the README stays short; the README's quick-start commands are the ones CI runs. No network, no
models: only the pydantic models are walked."""

from __future__ import annotations

import importlib.util
import inspect
import re
import sys
from pathlib import Path
from typing import Annotated, Literal, get_args
from urllib.parse import unquote

import pytest
from pydantic import BaseModel, Discriminator, Field, Tag

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
README = ROOT / "README.md"
CONFIG_DOC = DOCS / "configuration.md"
RUN_GENERATOR = "run `python docs/make_config_reference.py` and commit docs/configuration.md"


def _load_generator():
    name = "make_config_reference"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, DOCS / "make_config_reference.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up while the file runs
        spec.loader.exec_module(module)
    return sys.modules[name]


gen = _load_generator()


# ------------------------------------------------------------------------------------- the config reference


def _generated_tables(text: str) -> dict[str, str]:
    """Anchor -> the text of its table, from the generated regions of the page."""
    regions = re.findall(r"<!-- BEGIN GENERATED config-reference \S+: [^>]*-->\n(.*?)<!-- END GENERATED", text, re.S)
    tables: dict[str, str] = {}
    for region in regions:
        for match in re.finditer(r'<a id="([^"]+)"></a>\n(.*?)(?=<a id="|\Z)', region, re.S):
            tables[match.group(1)] = match.group(2)
    return tables


def test_every_config_field_is_in_the_configuration_page():
    tables = _generated_tables(CONFIG_DOC.read_text(encoding="utf-8"))
    missing = []
    for table in gen.tables():
        body = tables.get(table.anchor)
        for path, _info in table.rows:
            if body is None or f"| `{path}` |" not in body:
                field = path.rsplit(".", 1)[-1]
                missing.append(f"{table.model.__name__}.{field} (`{path}` in the table {table.title})")
    listed = "\n  ".join(missing)
    assert not missing, f"docs/configuration.md lacks these config fields:\n  {listed}\n{RUN_GENERATOR}"


def _reachable_models(model: type[BaseModel], found: set[type[BaseModel]]) -> set[type[BaseModel]]:
    """Every model reachable through field annotations, by a walk that knows nothing of unions or tags."""

    def visit(annotation) -> None:
        if inspect.isclass(annotation) and issubclass(annotation, BaseModel):
            if annotation not in found:
                found.add(annotation)
                for info in annotation.model_fields.values():
                    visit(info.annotation)
        for arg in get_args(annotation):
            visit(arg)

    visit(model)
    return found


def test_the_generator_reaches_every_model_and_field():
    """The generator's walk (unions, Annotated, lists, dicts) finds every model a plain walk finds, and gives
    each of its fields a row."""
    expected: set[type[BaseModel]] = set()
    for _name, _title, model in gen.roots():
        _reachable_models(model, expected)
    found = {table.model: table for table in gen.tables()}
    assert set(found) == expected, f"models the generator misses: {sorted(m.__name__ for m in expected - set(found))}"
    for model, table in found.items():
        fields = [path.rsplit(".", 1)[-1] for path, _ in table.rows]
        assert fields == [info.alias or name for name, info in model.model_fields.items()], model.__name__


def test_the_configuration_tables_are_what_the_generator_writes_now():
    text = CONFIG_DOC.read_text(encoding="utf-8")
    fresh = gen.update(text)
    if fresh != text:
        import difflib

        lines = difflib.unified_diff(text.splitlines(), fresh.splitlines(), "committed", "generated", lineterm="", n=1)
        diff = "\n".join(list(lines)[:40])
        pytest.fail(f"docs/configuration.md is out of date with the config models: {RUN_GENERATOR}\n{diff}")


class _Embedded(BaseModel):
    backend: Literal["embedded"] = "embedded"
    path: str | None = Field(None, description="a | b <c>")


class _Remote(BaseModel):
    backend: Literal["remote"] = "remote"
    url: str = Field(description="where")


class _Small(BaseModel):
    kind: Literal["small"] = "small"


class _Large(BaseModel):
    kind: Literal["large"] = "large"
    depth: int = Field(3, ge=1, le=9)


def _backend_of(value) -> str:
    return value.get("backend", "embedded") if isinstance(value, dict) else value.backend


class _Root(BaseModel):
    teacher: Annotated[_Embedded | _Remote, Discriminator("backend")] = Field(default_factory=_Embedded)
    helper: Annotated[Annotated[_Embedded, Tag("embedded")] | Annotated[_Remote, Tag("remote")], Discriminator(
        _backend_of
    )] | None = None  # fmt: skip
    models: list[Annotated[_Small | _Large, Field(discriminator="kind")]] = Field(default_factory=list)
    by_name: dict[str, _Large] = Field(default_factory=dict)


def test_unions_get_one_table_per_member_titled_by_its_tag():
    tables = gen.tables([("demo", "A demo", _Root)])
    titles = {table.title: table for table in tables}
    assert set(titles) == {
        "A demo: top level",
        "`teacher` with `backend: embedded`",
        "`teacher` with `backend: remote`",
        "`models[]` with `kind: small`",
        "`models[]` with `kind: large`",
    }  # the callable discriminator's members (`helper`) are the teacher's: linked, not repeated
    assert [path for path, _ in titles["`teacher` with `backend: remote`"].rows] == ["teacher.backend", "teacher.url"]
    blocks = gen.render_blocks([("demo", "A demo", _Root)])
    assert set(blocks) == {"demo", "demo.teacher", "demo.models"}  # by_name's model was met in models[]
    top = blocks["demo"]
    assert '| `teacher` | `_Embedded \\| _Remote` | `{"backend": "embedded"}` |' in top
    assert "[models[] with kind: large](#demo-models-large)" in top.split("| `by_name` |")[1]
    assert "| `teacher.path` | `str \\| null` | `null` | a \\| b &lt;c&gt; |" in blocks["demo.teacher"]
    assert "| `models[].depth` | `int`, ≥ 1, ≤ 9 | `3` |" in blocks["demo.models"]


def test_a_tagged_union_without_a_string_discriminator_still_finds_its_tag_field():
    class Holder(BaseModel):
        helper: Annotated[
            Annotated[_Embedded, Tag("embedded")] | Annotated[_Remote, Tag("remote")], Discriminator(_backend_of)
        ]

    (group,) = gen.model_groups(Holder.model_fields["helper"].annotation, list(Holder.model_fields["helper"].metadata))
    assert group.tag_field == "backend"
    assert group.members == [(_Embedded, "embedded"), (_Remote, "remote")]
    assert get_args(Holder.model_fields["helper"].annotation)  # a union, as pydantic keeps it


# ---------------------------------------------------------------------------------------- links and length

PAGES = [README, *sorted(DOCS.glob("*.md"))]


def _strip_code(text: str) -> str:
    text = re.sub(r"^(```|~~~).*?^\1[^\n]*$", "", text, flags=re.S | re.M)
    return re.sub(r"`[^`\n]*`", "", text)


def _links(text: str) -> list[str]:
    text = _strip_code(text)
    inline = re.findall(r"\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)", text)
    references = re.findall(r"^\s*\[[^\]]+\]:\s*(\S+)", text, re.M)
    html = re.findall(r"""(?:href|src)=["']([^"']+)["']""", text)
    return inline + references + html


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: its text, lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).replace("`", "")
    text = re.sub(r"<[^>]+>", "", text).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    text = path.read_text(encoding="utf-8")
    anchors = set(re.findall(r"""<a (?:id|name)=["']([^"']+)["']""", text))
    seen: dict[str, int] = {}
    for heading in re.findall(r"^#{1,6} +(.+?) *#*$", re.sub(r"^```.*?^```", "", text, flags=re.S | re.M), re.M):
        slug = _slug(heading)
        anchors.add(slug if slug not in seen else f"{slug}-{seen[slug]}")
        seen[slug] = seen.get(slug, 0) + 1
    return anchors


@pytest.mark.parametrize("page", PAGES, ids=[p.relative_to(ROOT).as_posix() for p in PAGES])
def test_relative_links_lead_somewhere(page):
    broken = []
    for link in _links(page.read_text(encoding="utf-8")):
        if re.match(r"^[a-z][a-z0-9+.-]*:", link, re.I) or link.startswith("//"):
            continue  # https:, mailto: ...: not this repository's
        target, _, anchor = unquote(link).partition("#")
        path = (page.parent / target.split("?")[0]).resolve() if target else page
        if not path.exists():
            broken.append(f"{link} (no {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path})")
        elif anchor and path.suffix == ".md" and anchor not in _anchors(path):
            broken.append(f"{link} (no heading or anchor #{anchor} in {path.relative_to(ROOT)})")
    assert not broken, f"{page.relative_to(ROOT)}: broken relative links:\n  " + "\n  ".join(broken)


def test_there_is_a_page_for_each_part():
    for name in ("architecture", "configuration", "generation", "students", "evaluation", "experiments",
                 "benchmarks", "development"):  # fmt: skip
        assert (DOCS / f"{name}.md").is_file(), name
        assert f"(docs/{name}.md" in README.read_text(encoding="utf-8"), f"the README does not link docs/{name}.md"


def test_the_readme_stays_short():
    lines = README.read_text(encoding="utf-8").count("\n")
    assert lines <= 260, f"README.md has {lines} lines (at most 260): move detail into docs/"


def test_the_readme_quick_start_is_what_ci_runs():
    """.ci/run runs the README's two quick-start commands; neither may change on one side only."""
    readme = README.read_text(encoding="utf-8")
    quick_start = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"```bash\n(.*?)\n```", quick_start, re.S)
    assert len(commands) == 2, "the quick start has two bash blocks of one command each"
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    tests, main_job = commands[1], commands[0]
    assert tests in ci, f".ci/run does not run the README's test command: {tests}"
    assert any(line.startswith(main_job + " ") for line in ci), f".ci/run does not run the README's job: {main_job}"


def test_the_architecture_page_names_every_module():
    """A newcomer finds every file of the package on the architecture page, with a link to it."""
    page = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    modules = sorted(
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / "synthdistill").rglob("*.py")
        if path.name not in ("__init__.py", "__main__.py")
    )
    missing = [module for module in modules if f"(../{module})" not in page]
    assert not missing, f"docs/architecture.md does not link {', '.join(missing)}"
