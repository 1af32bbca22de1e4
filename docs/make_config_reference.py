"""Write the field tables of docs/configuration.md from the pydantic config models, so the reference cannot drift.

    python docs/make_config_reference.py          # rewrite the tables in docs/configuration.md
    python docs/make_config_reference.py --check  # exit 1 (and show the difference) when they are stale

The models are walked generically from two roots, the run config (`synthdistill.config.Config`) and the
experiment config (`synthdistill.experiments.config.ExperimentConfig`): every field of every model reachable
through `list[...]`, `dict[...]`, `X | None`, `Annotated[...]` and unions. A union of several models (the
students, tagged by `type`; the teacher, tagged by `backend`) gets one table per member, titled by its tag;
the tag is found from the union's discriminator (`Field(discriminator=...)`, `Discriminator(...)`, `Tag(...)`)
or else from the one single-value `Literal` field all members share. A model met a second time (the teacher
inside an `icl` student, the students of an experiment) is not repeated: its row links to its table.

Each table lands between a pair of marker comments named after its block (the root's top level, or one
top-level field of it, e.g. `run.teacher`):

    <!-- BEGIN GENERATED config-reference run.teacher: python docs/make_config_reference.py -->
    ...
    <!-- END GENERATED config-reference run.teacher -->

Everything outside the markers is hand-written and left alone. A block with no markers in the page (a new
top-level section) goes into the `unplaced` block, so nothing is ever left out.
"""

from __future__ import annotations

import argparse
import difflib
import inspect
import json
import re
import sys
import types
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import annotated_types
from pydantic import BaseModel, Discriminator, Tag
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

DOC = Path(__file__).resolve().parent / "configuration.md"
COMMAND = "python docs/make_config_reference.py"
UNPLACED = "unplaced"
_BEGIN = re.compile(r"<!-- BEGIN GENERATED config-reference (?P<block>\S+): [^>]*-->\n")
_END = "<!-- END GENERATED config-reference {block} -->"


def roots() -> list[tuple[str, str, type[BaseModel]]]:
    """(name, title, model) of each root; imported here so that `--help` works without the package."""
    from synthdistill.config import Config
    from synthdistill.experiments.config import ExperimentConfig

    return [("run", "The run config", Config), ("experiment", "The experiment config", ExperimentConfig)]


@dataclass
class Group:
    """The models one annotation holds: one model, or the model members of one union, with their tags."""

    suffix: str  # "[]" inside a list, ".*" inside a dict's values
    members: list[tuple[type[BaseModel], str | None]]  # (model, tag value)
    tag_field: str | None  # the discriminator's field, when known


@dataclass
class Table:
    block: str
    anchor: str
    title: str
    model: type[BaseModel]
    path: str  # field path of the model's fields, "" at a root
    tag_field: str | None = None
    rows: list[tuple[str, FieldInfo]] = field(default_factory=list)  # (field path, field)


# ---------------------------------------------------------------------------------------------- the walk


def is_model(tp: Any) -> bool:
    return inspect.isclass(tp) and issubclass(tp, BaseModel)


def _is_union(tp: Any) -> bool:
    return get_origin(tp) in (Union, types.UnionType)


def _discriminator(metadata: list[Any]) -> str | None:
    """The field name a discriminator names, from Field(discriminator=...), Discriminator(...) or a nested
    FieldInfo; None for a callable discriminator (its members carry Tag(...) instead)."""
    for item in metadata:
        if isinstance(item, str):
            return item
        if isinstance(item, Discriminator) and isinstance(item.discriminator, str):
            return item.discriminator
        if isinstance(item, FieldInfo) and item.discriminator is not None:
            return _discriminator([item.discriminator])
    return None


def _strip(tp: Any) -> tuple[Any, list[Any]]:
    """An annotation without its Annotated layers, and their metadata."""
    metadata: list[Any] = []
    while get_origin(tp) is Annotated:
        tp, *more = get_args(tp)
        metadata.extend(more)
    return tp, metadata


def _single_literal(model: type[BaseModel], name: str) -> str | None:
    info = model.model_fields.get(name)
    if info is None:
        return None
    tp, _ = _strip(info.annotation)
    args = get_args(tp) if get_origin(tp) is Literal else ()
    return str(args[0]) if len(args) == 1 else None


def _tag_matches(model: type[BaseModel], name: str, tag: str | None) -> bool:
    """`name` is a single-value Literal field of `model` whose value is `tag` (when a Tag gives one)."""
    value = _single_literal(model, name)
    return value is not None and tag in (None, value)


def _tags(models: list[tuple[type[BaseModel], str | None]], tag_field: str | None) -> tuple[list, str | None]:
    """Each member's tag and the field that holds it: the discriminator's field when it names one; else (a
    callable discriminator, members tagged with Tag(...), or none at all) the one single-value Literal field
    that every member has, whose value is the member's tag where a Tag gives one."""
    if tag_field is None and len(models) > 1:
        shared = set.intersection(*(set(model.model_fields) for model, _ in models))
        literal = [name for name in sorted(shared) if all(_tag_matches(m, name, tag) for m, tag in models)]
        tag_field = literal[0] if len(literal) == 1 else None
    if tag_field is None:
        return models, None
    return [(model, tag if tag is not None else _single_literal(model, tag_field)) for model, tag in models], tag_field


def model_groups(tp: Any, metadata: list[Any] | None = None, suffix: str = "") -> list[Group]:
    """Every model inside an annotation, unions kept together as one group."""
    tp, more = _strip(tp)
    metadata = [*(metadata or []), *more]
    if is_model(tp):
        return [Group(suffix, [(tp, None)], None)]
    origin, args = get_origin(tp), get_args(tp)
    if _is_union(tp):
        members: list[tuple[type[BaseModel], str | None]] = []
        groups: list[Group] = []
        for arg in args:
            inner, inner_metadata = _strip(arg)
            if is_model(inner):
                tag = next((m.tag for m in inner_metadata if isinstance(m, Tag)), None)
                members.append((inner, tag))
            else:
                groups.extend(model_groups(arg, suffix=suffix))
        if members:
            members, tag_field = _tags(members, _discriminator(metadata))
            groups.insert(0, Group(suffix, members, tag_field))
        return groups
    if origin is dict:
        return model_groups(args[1], suffix=suffix + ".*") if len(args) == 2 else []
    if origin in (list, tuple, set, frozenset) or (origin is not None and args):
        return [group for arg in args if arg is not Ellipsis for group in model_groups(arg, suffix=suffix + "[]")]
    return []


def _field_metadata(info: FieldInfo) -> list[Any]:
    return [*info.metadata, *([info.discriminator] if info.discriminator is not None else [])]


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def tables(root_models: list[tuple[str, str, type[BaseModel]]] | None = None) -> list[Table]:
    """Every model's table, in reading order: each root, then depth first through its fields. `root_models`:
    (name, title, model) of each root; default: the run config and the experiment config."""
    found: list[Table] = []
    seen: set[type[BaseModel]] = set()

    def visit(model: type[BaseModel], path: str, block: str, root: str, title: str, tag: tuple[str, str] | None):
        anchor = f"{root}-{_slug(path) or 'top'}" + (f"-{_slug(tag[1])}" if tag else "")
        table = Table(block, anchor, title, model, path, tag[0] if tag else None)
        found.append(table)
        seen.add(model)
        for name, info in model.model_fields.items():
            key = info.alias or name
            field_path = f"{path}.{key}" if path else key
            table.rows.append((field_path, info))
            for group in model_groups(info.annotation, _field_metadata(info)):
                child_path = field_path + group.suffix
                for member, tag_value in group.members:
                    if member in seen:
                        continue
                    member_tag = (group.tag_field or "tag", tag_value) if len(group.members) > 1 else None
                    member_title = f"`{child_path}`" + (
                        f" with `{member_tag[0]}: {member_tag[1]}`" if member_tag and group.tag_field
                        else f" (`{tag_value or member.__name__}`)" if member_tag else ""
                    )  # fmt: skip
                    visit(member, child_path, block if path else f"{root}.{key}", root, member_title, member_tag)

    for root, title, model in root_models or roots():
        visit(model, "", root, root, f"{title}: top level", None)
    return found


# ------------------------------------------------------------------------------------------- rendering


def render_type(tp: Any) -> str:
    tp, _ = _strip(tp)
    origin, args = get_origin(tp), get_args(tp)
    if tp is type(None):
        return "null"
    if origin is Literal:
        return " | ".join(json.dumps(arg) for arg in args)
    if _is_union(tp):
        parts = [render_type(arg) for arg in args if arg is not type(None)]
        return " | ".join(parts + (["null"] if type(None) in args else []))
    if is_model(tp):
        return tp.__name__
    if inspect.isclass(tp) and issubclass(tp, PurePath):
        return "path"
    if origin is not None:
        inner = ", ".join("..." if arg is Ellipsis else render_type(arg) for arg in args)
        name = getattr(origin, "__name__", str(origin))
        return f"{name}[{inner}]" if inner else name
    return getattr(tp, "__name__", str(tp).replace("typing.", ""))


def _number(value: Any) -> str:
    return json.dumps(value)


def render_constraints(info: FieldInfo) -> list[str]:
    tp, _ = _strip(info.annotation)
    plain = [arg for arg in get_args(tp) if arg is not type(None)] if _is_union(tp) else [tp]
    is_text = all(arg is str for arg in plain)
    out = []
    for item in info.metadata:
        if isinstance(item, annotated_types.Ge):
            out.append(f"≥ {_number(item.ge)}")
        elif isinstance(item, annotated_types.Gt):
            out.append(f"> {_number(item.gt)}")
        elif isinstance(item, annotated_types.Le):
            out.append(f"≤ {_number(item.le)}")
        elif isinstance(item, annotated_types.Lt):
            out.append(f"< {_number(item.lt)}")
        elif isinstance(item, annotated_types.MinLen):
            n = item.min_length
            out.append("non-empty" if n == 1 else f"at least {n} {'characters' if is_text else 'items'}")
        elif isinstance(item, annotated_types.MaxLen):
            out.append(f"at most {item.max_length} {'characters' if is_text else 'items'}")
    return out


def _plain(value: Any, tag_field: str | None) -> Any:
    """A default as JSON-able data; a model shows only what differs from its own defaults, and its tag."""
    if isinstance(value, BaseModel):
        dumped = value.model_dump(mode="json", exclude_defaults=True)
        if tag_field is not None and tag_field in type(value).model_fields:
            dumped = {tag_field: getattr(value, tag_field), **dumped}
        return dumped
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(item, tag_field) for item in value]
    if isinstance(value, dict):
        return {str(key): _plain(item, tag_field) for key, item in value.items()}
    if isinstance(value, PurePath):
        return str(value)
    return value


def render_default(info: FieldInfo, tag_field: str | None) -> str:
    if info.default_factory is not None:
        try:
            value = info.default_factory()  # type: ignore[call-arg]
        except TypeError:  # a factory that takes the validated data
            return "computed"
    elif info.default is PydanticUndefined:
        return "required"
    else:
        value = info.default
    if isinstance(value, BaseModel) and not _plain(value, tag_field):
        return "its defaults"
    return f"`{_cell(json.dumps(_plain(value, tag_field), ensure_ascii=False))}`"


def _cell(text: str) -> str:
    """One line of a table cell: `|` escaped."""
    return " ".join(text.split()).replace("|", "\\|")


def _prose(text: str) -> str:
    """Plain text for a cell outside code: `<...>` would be taken for HTML and vanish."""
    return _cell(text).replace("<", "&lt;").replace(">", "&gt;")


def _doc(model: type[BaseModel]) -> str:
    doc = model.__dict__.get("__doc__")
    return " ".join(inspect.cleandoc(doc).split()) if doc else ""


def render_table(table: Table, anchors: dict[type[BaseModel], str], titles: dict[type[BaseModel], str]) -> str:
    lines = [f'<a id="{table.anchor}"></a>', "", f"#### {table.title}"]
    doc = _doc(table.model)
    lines += ["", f"`{table.model.__name__}`" + (f": {_prose(doc)}" if doc else "")]
    lines += ["", "| field | type | default | description |", "|---|---|---|---|"]
    for path, info in table.rows:
        groups = model_groups(info.annotation, _field_metadata(info))
        tag_field = next((g.tag_field for g in groups if g.tag_field), None)
        kind = ", ".join([f"`{_cell(render_type(info.annotation))}`", *render_constraints(info)])
        description = _prose(info.description or "")
        links = [f"[{titles[m]}](#{anchors[m]})" for g in groups for m, _ in g.members]
        if links:
            description += ("; " if description else "") + "see " + ", ".join(links)
        if info.exclude:
            description += ("; " if description else "") + "internal: never written to a saved config"
        lines.append(f"| `{path}` | {kind} | {render_default(info, tag_field)} | {description} |")
    return "\n".join(lines)


def render_blocks(root_models: list[tuple[str, str, type[BaseModel]]] | None = None) -> dict[str, str]:
    """Block name -> the Markdown between its markers."""
    found = tables(root_models)
    anchors = {table.model: table.anchor for table in found}
    titles = {table.model: _cell(table.title.replace("`", "")) for table in found}
    blocks: dict[str, list[str]] = {}
    for table in found:
        blocks.setdefault(table.block, []).append(render_table(table, anchors, titles))
    return {block: "\n\n".join(parts) for block, parts in blocks.items()}


def _region(block: str) -> re.Pattern[str]:
    end = re.escape(_END.format(block=block))
    return re.compile(rf"(<!-- BEGIN GENERATED config-reference {re.escape(block)}: [^>]*-->\n)(.*?)({end})", re.S)


def update(text: str) -> str:
    """The page with every generated region rewritten from the models."""
    blocks = render_blocks()
    placed = {m.group("block") for m in _BEGIN.finditer(text)}
    for block in placed:
        if not _region(block).search(text):
            raise SystemExit(f"{DOC}: no `{_END.format(block=block)}` after the BEGIN marker of {block}")
    unplaced = [body for block, body in blocks.items() if block not in placed]
    if unplaced and UNPLACED not in placed:
        raise SystemExit(f"{DOC}: no markers for the `{UNPLACED}` block, which new sections go into")
    blocks[UNPLACED] = "\n\n".join(unplaced)
    for block in placed:
        body = blocks.get(block, "")
        text = _region(block).sub(lambda m, body=body: m.group(1) + (body + "\n" if body else "") + m.group(3), text)
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only say whether the page is up to date")
    args = parser.parse_args(argv)
    old = DOC.read_text(encoding="utf-8")
    new = update(old)
    if args.check:
        if new != old:
            diff = difflib.unified_diff(old.splitlines(), new.splitlines(), "committed", "generated", lineterm="")
            print("\n".join(diff))
            print(f"{DOC.name} is out of date: run `{COMMAND}`", file=sys.stderr)
            return 1
        return 0
    if new != old:
        DOC.write_text(new, encoding="utf-8")
        print(f"rewrote the config tables in {DOC}")
    else:
        print(f"{DOC} is up to date")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(DOC.parent.parent))  # the repository's package, installed or not
    sys.exit(main())
