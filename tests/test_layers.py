"""Dependencies point one way (issue 29): every import of our own code goes to the same layer or a
lower one. A module that reaches upward fails here with the file, the line and both layers."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Low to high. Each top-level package or module of the project belongs to exactly one layer.
LAYERS: list[set[str]] = [
    {"domain"},                              # pure rules, no I/O
    {"config"},                              # settings: refuses unsafe values at start
    {"db", "telemetry"},                     # tables and sessions; metric and trace definitions
    {"workflows"},                           # the durable case, its client and codec
    {"activities"},                          # side effects the workflows ask for
    {"api"},                                 # HTTP API and the application services behind it
    {"portal"},                              # server-rendered pages over the same services
    {"server", "worker", "ops", "bench", "scripts"},  # composition roots and tools
]
LAYER_OF = {name: index for index, names in enumerate(LAYERS) for name in names}


def own_modules() -> list[Path]:
    paths = []
    for name in LAYER_OF:
        package, module = ROOT / name, ROOT / f"{name}.py"
        if package.is_dir():
            paths += [p for p in package.rglob("*.py") if "node_modules" not in p.parts]
        elif module.is_file():
            paths.append(module)
    return sorted(paths)


def imported_top_levels(tree: ast.AST) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name.split(".")[0]) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module.split(".")[0]))
    return [(line, name) for line, name in found if name in LAYER_OF]


def upward_imports() -> list[str]:
    problems = []
    for path in own_modules():
        relative = path.relative_to(ROOT)
        own = relative.parts[0].removesuffix(".py")
        for line, target in imported_top_levels(ast.parse(path.read_text(), filename=str(path))):
            if LAYER_OF[target] > LAYER_OF[own]:
                problems.append(f"{relative}:{line}: {own} (layer {LAYER_OF[own]}) imports {target} "
                                f"(layer {LAYER_OF[target]})")
    return problems


def test_every_package_is_placed_in_a_layer():
    placed = set(LAYER_OF)
    packages = {p.name for p in ROOT.iterdir() if p.is_dir() and (p / "__init__.py").exists()} - {"tests"}
    modules = {p.stem for p in ROOT.glob("*.py")}
    assert packages | modules <= placed, f"not placed in a layer: {sorted((packages | modules) - placed)}"


def test_no_import_runs_upward():
    assert upward_imports() == []


def test_the_walk_sees_an_upward_import(tmp_path, monkeypatch):
    """The check itself: a domain module importing the API is reported."""
    (tmp_path / "domain").mkdir()
    (tmp_path / "domain" / "bad.py").write_text("from api.intake import open_case\n")
    monkeypatch.setattr(__import__(__name__, fromlist=["ROOT"]), "ROOT", tmp_path)
    assert upward_imports() == ["domain/bad.py:1: domain (layer 0) imports api (layer 5)"]


@pytest.mark.parametrize("package", ["portal"])
def test_no_import_circle_between_the_files_of(package):
    """The portal's pages share helpers through lower modules (portal/web.py, portal/forms.py),
    never through each other."""
    modules = {p.stem: p for p in (ROOT / package).glob("*.py")}
    edges: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                parts = node.module.split(".")
                if parts[0] == package and len(parts) > 1 and parts[1] in modules:
                    edges[name].add(parts[1])
                elif node.module == package:
                    edges[name] |= {alias.name for alias in node.names if alias.name in modules}
    cycles = []

    def visit(node: str, path: list[str]) -> None:
        for target in edges[node]:
            if target in path:
                cycles.append(path[path.index(target):] + [target])
            elif len(path) < len(modules):
                visit(target, path + [target])

    for start in modules:
        visit(start, [start])
    assert cycles == []


def test_the_portal_calls_services_not_the_apis_routes():
    """The portal and the JSON API are two doors onto the same services (api/cases.py,
    api/intake.py, api/directory_admin.py, ...): a page calling a route would inherit its HTTP
    contract (dependencies, status codes) and couple the two doors."""
    found = []
    for path in sorted((ROOT / "portal").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else \
                [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module == "api":
                names += [f"api.{alias.name}" for alias in node.names]
            found += [f"{path.relative_to(ROOT)}:{node.lineno}: {name}" for name in names
                      if name in ("api.routes", "api.main") or name.startswith(("api.routes.", "api.main."))]
    assert found == []
