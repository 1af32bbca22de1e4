"""The layout holds: no import cycle between modules, and each stage imports only the stages before it."""

import ast
from pathlib import Path

import synthdistill

PACKAGE = Path(synthdistill.__file__).parent

# stage -> the stages (and top-level modules) it must never import, so data flows one way
FORBIDDEN = {
    "teachers": {"generation", "students", "evaluation", "experiments", "pipeline", "cli", "serve"},
    "generation": {"students", "experiments", "pipeline", "cli", "serve"},
    "evaluation": {"generation", "students", "experiments", "pipeline", "cli", "serve"},
    "students": {"generation", "experiments", "pipeline", "cli", "serve"},
    "experiments": {"cli", "serve"},
}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports() -> dict[str, set[str]]:
    """Every synthdistill module and the synthdistill modules it imports, at any depth of the file."""
    modules = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("synthdistill"):
                for alias in node.names:  # `from synthdistill.x import y`: y may be a module of its own
                    candidate = f"{node.module}.{alias.name}"
                    found.add(candidate if candidate in modules else node.module)
            elif isinstance(node, ast.Import):
                found |= {alias.name for alias in node.names if alias.name.startswith("synthdistill")}
        graph[name] = {m for m in found if m in modules and m != name}
    return graph


def test_no_module_imports_itself_back() -> None:
    graph = imports()
    state: dict[str, str] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = "open"
        for target in sorted(graph[node]):
            if target == "synthdistill":
                continue  # the package's face, imported by nothing inside
            assert state.get(target) != "open", "import cycle: " + " -> ".join([*path, node, target])
            if target not in state:
                visit(target, [*path, node])
        state[node] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [])


def test_stages_import_only_earlier_stages() -> None:
    broken = []
    for module, targets in imports().items():
        parts = module.split(".")
        stage = parts[1] if len(parts) > 1 else ""
        for target in targets:
            target_parts = target.split(".")
            if len(target_parts) > 1 and target_parts[1] in FORBIDDEN.get(stage, set()):
                broken.append(f"{module} imports {target}")
    assert not broken, broken


def test_the_package_face_is_imported_by_nothing_inside() -> None:
    assert not [m for m, targets in imports().items() if "synthdistill" in targets and m != "synthdistill.__main__"]
