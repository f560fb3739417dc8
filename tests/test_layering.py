"""The telemetry package is embedded by orchestrators: standard library only."""

import subprocess
import sys

UI_PACKAGES = ("textual", "watchfiles", "click", "rich", "prometheus_client", "platformdirs")


def test_importing_telemetry_loads_no_ui_package() -> None:
    code = (
        "import sys, telemetry, telemetry.store, telemetry.records, telemetry.latest\n"
        "import pkgutil, importlib\n"
        "for m in pkgutil.iter_modules(telemetry.__path__):\n"
        "    importlib.import_module('telemetry.' + m.name)\n"
        f"print(sorted(p for p in {UI_PACKAGES!r} if p in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def _imports() -> tuple[dict[str, set[str]], list[tuple[str, str]]]:
    """Each project module's project imports (deferred ones too), and private names
    imported across modules."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent

    def name_of(path: Path) -> str:
        parts = list(path.relative_to(root).with_suffix("").parts)
        return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)

    modules = {name_of(p): p for pkg in ("telemetry", "tui") for p in (root / pkg).rglob("*.py")}
    graph: dict[str, set[str]] = {m: set() for m in modules}
    private: list[tuple[str, str]] = []
    for module, path in modules.items():
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ImportFrom):
                continue
            base = package.split(".")[: len(package.split(".")) - max(node.level - 1, 0)]
            target = ".".join([*base, node.module or ""]).strip(".") if node.level else node.module
            if not target or not target.startswith(("telemetry", "tui")):
                continue
            for alias in node.names:
                full = f"{target}.{alias.name}"
                graph[module].add(full if full in modules else target)
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    private.append((module, alias.name))
    return graph, private


def test_no_private_name_is_imported_across_modules() -> None:
    _, private = _imports()
    assert private == []


def _cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """A cycle in ``edges`` (as the modules along it), or ``None``."""
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return [*path, node, nxt]
            if nxt not in state and (found := visit(nxt, [*path, node])):
                return found
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (found := visit(node, [])):
            return found
    return None


def test_no_import_cycles_between_modules_or_between_screens_and_widgets() -> None:
    graph, _ = _imports()
    inits = {"telemetry", "tui", "tui.screens", "tui.widgets"}  # re-exports, not layers
    modules = {m: {t for t in ts if t not in inits and t != m} for m, ts in graph.items()}
    assert _cycle(modules) is None

    def layer(module: str) -> str:
        return next((p for p in ("tui.screens", "tui.widgets") if module.startswith(p)), module)

    layers: dict[str, set[str]] = {}
    for module, targets in graph.items():
        for target in targets:
            if layer(module) != layer(target) and target not in ("telemetry", "tui"):
                layers.setdefault(layer(module), set()).add(layer(target))
    assert _cycle(layers) is None


def test_every_live_consumer_runs_on_the_one_engine() -> None:
    """No module of ``tui/`` tails a file itself: each follows it through ``LiveFile``."""
    imports, _ = _imports()
    tails = sorted(
        m for m, names in imports.items() if m.startswith("tui") and "telemetry.tail" in names
    )
    assert not tails, f"{tails} tail a file themselves: follow it with telemetry.LiveFile"
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent / "tui"
    own = [
        p.name
        for p in root.rglob("*.py")
        if "TelemetryTail(" in p.read_text() or ".read_new(" in p.read_text()
    ]
    assert not own, f"{own} tail a file themselves: follow it with telemetry.LiveFile"
