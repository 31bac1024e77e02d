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


# The tools that build or run what ships: the data sets, the models, the predictor, the server, the phone's assets.
SHIPPING_TOOLS = ("tools.make_dataset", "tools.make_face_status_data", "tools.train", "tools.eval", "tools.export_model",
                  "tools.export_onnx", "tools.predict", "tools.infer", "tools.demo")


def reach(start) -> set:
    seen, todo = set(), [start]
    while todo:
        for target in GRAPH.get(todo.pop(), ()):
            module = target if target in GRAPH else target.rpartition(".")[0]
            if module in GRAPH and module not in seen:
                seen.add(module)
                todo.append(module)
    return seen


@pytest.mark.parametrize("tool", SHIPPING_TOOLS)
def test_what_ships_never_imports_a_study(tool):
    """studies/ only measure: the face-status data set was built by studies/realmask.py, which a shipped model then
    depended on."""
    assert tool in GRAPH
    studies = sorted(m for m in reach(tool) if m.split(".")[0] == "studies")
    assert not studies, f"{tool} reaches {studies}"


# Run as a program outside tools/: engine.benchmark, since DEVELOPERS.md has every session start with it
# (tools/benchmark.py training is the same measurement); and the child process that run_peer starts to time the
# masker's peer on its own clock, which no user runs.
COMMANDS_ELSEWHERE = {"engine.benchmark", "studies.peer_face_mask"}


def runs_as_a_command(path) -> bool:
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.If) and ast.unparse(node.test).replace("'", '"') == '__name__ == "__main__"':
            return True
    return False


def test_every_command_sits_in_tools():
    """serve, bench, loadtest and the Android packager were commands inside deploy/; a command now is a thin
    tools/ entry point over library code."""
    elsewhere = sorted(name for name, path in modules()
                       if name.split(".")[0] != "tools" and runs_as_a_command(path))
    assert elsewhere == sorted(COMMANDS_ELSEWHERE)
    android = ROOT / "deploy" / "android" / "package_model.py"
    assert not runs_as_a_command(android)
