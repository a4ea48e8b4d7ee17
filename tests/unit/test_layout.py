"""The folder tree is the architecture (ARCHITECTURE.md rule 11), checked from the source.

- at most 16 modules directly in ``mailflow/``, and no name-prefix families there;
- no import cycle among mailflow's modules, counting imports inside functions and
  under ``TYPE_CHECKING``;
- no module uses an underscore name that another mailflow module defines;
- ``docs/architecture.md`` names every module.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "mailflow"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}
TREES = {name: ast.parse(path.read_text(encoding="utf-8")) for name, path in MODULES.items()}


def _resolve(importer: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = importer.split(".")
    is_package = MODULES[importer].name == "__init__.py"
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports_of(name: str) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(TREES[name]):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            source = _resolve(name, node)
            targets = [source] + [f"{source}.{alias.name}" for alias in node.names]
        else:
            continue
        for target in targets:
            if target in MODULES and target != name:
                found.add(target)
    return found


def find_cycles() -> list[list[str]]:
    graph = {name: imports_of(name) for name in MODULES}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in graph[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for name in graph:
        if name not in index:
            visit(name)
    return cycles


def private_names_defined(tree: ast.AST) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            names.add(node.attr)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
    return {n for n in names if n.startswith("_") and not n.startswith("__")}


def foreign_private_uses() -> list[str]:
    defined = {name: private_names_defined(tree) for name, tree in TREES.items()}
    owners: dict[str, set[str]] = defaultdict(set)
    for name, names in defined.items():
        for private in names:
            owners[private].add(name)
    problems = []
    for name, tree in TREES.items():
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and _resolve(name, node).startswith("mailflow"):
                for alias in node.names:
                    if alias.name.startswith("_"):
                        problems.append(f"{name}: imports {alias.name} from {node.module}")
            elif isinstance(node, ast.Attribute) and node.attr.startswith("_"):
                if node.attr.startswith("__") or node.attr in defined[name]:
                    continue
                if owners.get(node.attr):
                    where = ", ".join(sorted(owners[node.attr]))
                    problems.append(f"{name}:{node.lineno}: uses {node.attr} of {where}")
    return problems


def test_top_level_is_short_and_has_no_prefix_families() -> None:
    top = sorted(p.stem for p in PACKAGE.glob("*.py"))
    assert len(top) <= 16, top
    prefixes = defaultdict(list)
    for stem in top:
        if "_" in stem.strip("_"):
            prefixes[stem.strip("_").split("_")[0]].append(stem)
    families = {
        prefix: stems for prefix, stems in prefixes.items()
        if len(stems) > 1 or prefix in top
    }
    assert not families, families


def test_no_import_cycles() -> None:
    assert find_cycles() == []


def test_no_module_uses_another_modules_underscore_names() -> None:
    assert foreign_private_uses() == []


def test_architecture_doc_names_every_module() -> None:
    doc = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    missing = []
    for path in MODULES.values():
        if path.name in {"__init__.py", "__main__.py"}:
            continue
        relative = path.relative_to(PACKAGE).as_posix()
        if relative not in doc:
            missing.append(relative)
    assert missing == []
