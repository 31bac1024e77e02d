"""Layers import downward only: tools/ over studies/ over deploy/ over masker/ and engine/ over basics.py, and no
two modules of a package import each other (lazy imports inside functions count too)."""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("basics", "engine", "masker", "deploy", "studies", "tools")
# What each layer may import of the project's own packages.
ALLOWED = {
    "basics": set(),
    "engine": {"basics", "engine"},
    "masker": {"basics", "masker"},
    "deploy": {"basics", "engine", "masker", "deploy"},
    "studies": {"basics", "engine", "masker", "deploy", "studies"},
    "tools": set(PACKAGES),
}


def modules():
    yield "basics", ROOT / "basics.py"
    for package in PACKAGES[1:]:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "android" not in path.parts:
                yield ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"), path


def imported(name, path):
    """The project modules that `path` (module `name`) imports, anywhere in it."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            found |= {base} | {f"{base}.{alias.name}" for alias in node.names}
    return {m for m in found if m.split(".")[0] in PACKAGES}


GRAPH = {name: imported(name, path) for name, path in modules()}


@pytest.mark.parametrize("name", sorted(GRAPH))
def test_imports_go_downward(name):
    layer = name.split(".")[0]
    upward = sorted(m for m in GRAPH[name] if m.split(".")[0] not in ALLOWED[layer])
    assert not upward, f"{name} imports {upward}, above its layer"


def test_no_module_cycles():
    # A package's __init__ that imports basics for its side effect is no cycle of two modules: leave packages out.
    packages = {name for name, path in modules() if path.name == "__init__.py"}

    def reach(start):
        seen, todo = set(), [start]
        while todo:
            for target in GRAPH.get(todo.pop(), ()):
                if target in GRAPH and target not in packages and target not in seen:
                    seen.add(target)
                    todo.append(target)
        return seen
    cycles = sorted(name for name in GRAPH if name not in packages and name in reach(name))
    assert not cycles, f"modules in an import cycle: {cycles}"
