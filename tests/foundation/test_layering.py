"""The import structure, read from the source: imports only point down the layers, the modules
of our apps import each other without a cycle, and no function hides an import of ours (the usual
way to dodge a cycle) except the few places named here with their reason."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APPS = ["marketplace", "contributors", "payouts", "licensing", "web"]  # bottom to top (DESIGN.md)
OURS = (*APPS, "config")

# Function-local imports of our own modules that are there on purpose, not to dodge a cycle.
ALLOWED_LOCAL = {
    # Django's documented place to wire signals, registries and the Celery task registry.
    **{f"{app}/apps.py": "AppConfig.ready()" for app in APPS},
    # The inspectors load isal, Pillow, mutagen and re2: only workers running checks need them.
    "marketplace/services/ingestion.py": "inspectors loaded in workers only",
    # The benchmark measures the inspector's memory in its own process.
    "marketplace/ingestion/bench.py": "measured process only",
}


def modules() -> dict[str, Path]:
    found = {}
    for app in OURS:
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            rel = path.relative_to(ROOT).with_suffix("")
            parts = list(rel.parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def imported(node: ast.AST, module: str, is_package: bool) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom):
        if node.level:
            base = module.split(".")
            base = base if is_package else base[:-1]
            base = base[: len(base) - (node.level - 1)]
            target = ".".join([*base, node.module] if node.module else base)
        else:
            target = node.module or ""
        return [target] + [f"{target}.{alias.name}" for alias in node.names]
    return []


def resolve(name: str, known: dict[str, Path]) -> str | None:
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def graph():
    known = modules()
    edges: dict[str, set[str]] = {m: set() for m in known}
    local: list[tuple[str, int, str]] = []
    for module, path in known.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        is_package = path.name == "__init__.py"
        for node in tree.body:  # module level only: what runs at import time
            blocks = [node]
            if isinstance(node, ast.If | ast.Try):
                blocks = list(ast.walk(node))
            for inner in blocks:
                for name in imported(inner, module, is_package):
                    target = resolve(name, known)
                    if target and target != module:
                        edges[module].add(target)
        for func in ast.walk(tree):
            if isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
                for inner in ast.walk(func):
                    for name in imported(inner, module, is_package):
                        if name.split(".")[0] in OURS:
                            local.append((str(path.relative_to(ROOT)), inner.lineno, name))
    return edges, local


def test_imports_only_point_down_the_layers():
    edges, _ = graph()
    rank = {app: i for i, app in enumerate(APPS)}
    upward = [
        f"{source} imports {target}"
        for source, targets in edges.items()
        for target in targets
        if source.split(".")[0] in rank
        and target.split(".")[0] in rank
        and rank[target.split(".")[0]] > rank[source.split(".")[0]]
    ]
    assert upward == []


def test_no_import_cycle_between_our_modules():
    edges, _ = graph()
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles = []

    def visit(node):
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append(" → ".join([*stack[stack.index(nxt) :], nxt]))
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node)
    assert cycles == []


def test_no_function_hides_an_import_of_ours():
    _, local = graph()
    hidden = [f"{path}:{line} {name}" for path, line, name in local if path not in ALLOWED_LOCAL]
    assert hidden == []
