"""The package's layering: no import cycles, no private helper imported across modules, every
module importable on its own.

The import graph is read from the source (every ``import`` statement, including those inside
functions, which a run-time cycle hides in; ``if TYPE_CHECKING:`` blocks excepted, since they
never run), so a cycle fails here even when no import order happens to trip over it.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE_DIR = Path(__file__).resolve().parents[1] / "python" / "jpki_fast"
PACKAGE = "jpki_fast"
#: The compiled Rust extension: imported everywhere, it imports nothing of ours.
EXTENSION = f"{PACKAGE}._core"


def module_name(path: Path) -> str:
    parts = [PACKAGE, *path.relative_to(PACKAGE_DIR).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE_DIR.rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST):
    """Every import statement that can run, with the module it sits in resolved later."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _is_type_checking(node):
            yield from (i for n in node.orelse for i in _imports_of(n))
            continue
        yield from _imports_of(node)


def _imports_of(node: ast.AST):
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        yield node
    elif not (isinstance(node, ast.If) and _is_type_checking(node)):
        yield from _imports(node)


def _resolve(module: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    is_package = MODULES[module].name == "__init__.py"
    base = module.split(".")
    base = base[: len(base) - node.level + (1 if is_package else 0)]
    return ".".join(base + ([node.module] if node.module else []))


def import_edges() -> dict[str, set[str]]:
    """module -> the package modules it imports (anywhere in its code)."""
    edges: dict[str, set[str]] = {}
    for module, path in MODULES.items():
        targets: set[str] = set()
        for node in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                base = _resolve(module, node)
                # `from . import x` imports the submodule x when there is one, else a name of base.
                names = [
                    f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES or f"{base}.{a.name}" == EXTENSION else base
                    for a in node.names
                ]
            targets.update(n for n in names if n in MODULES and n != module)
        edges[module] = targets
    return edges


def private_imports() -> list[str]:
    """``from <our module> import _name`` anywhere in the package (the extension excepted)."""
    found = []
    for module, path in MODULES.items():
        for node in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ImportFrom):
                continue
            base = _resolve(module, node)
            if not base.startswith(PACKAGE):
                continue
            for alias in node.names:
                target = f"{base}.{alias.name}"
                dunder = alias.name.startswith("__") and alias.name.endswith("__")
                if alias.name.startswith("_") and not dunder and target != EXTENSION and target not in MODULES:
                    found.append(f"{module} imports {alias.name} from {base} (line {node.lineno})")
    return found


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One import cycle, as the list of modules along it, or None."""
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    path: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        path.append(m)
        for n in sorted(edges.get(m, ())):
            if n == PACKAGE:
                continue  # the package itself is initialised before any of its modules
            if state.get(n) == 1:
                return path[path.index(n):] + [n]
            if n not in state and (cycle := visit(n)):
                return cycle
        path.pop()
        state[m] = 2
        return None

    for m in sorted(edges):
        if m not in state and (cycle := visit(m)):
            return cycle
    return None


def test_the_graph_reader_sees_a_cycle_hidden_in_a_function():
    """The check itself can fail: a lazy import back into an importer is a cycle."""
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_cycle(edges) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
    source = "def f():\n    from .store import Store\n"
    assert [n.module for n in _imports(ast.parse(source))] == ["store"]
    guarded = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .store import Store\n"
    assert [n.module for n in _imports(ast.parse(guarded))] == ["typing"]


def test_the_package_has_no_import_cycle():
    edges = import_edges()
    assert edges[f"{PACKAGE}.store"], "the graph reader found no imports at all"
    cycle = find_cycle(edges)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_no_private_helper_is_imported_across_modules():
    assert private_imports() == []


def test_the_store_facade_imports_neither_links_nor_ingest():
    """Reading depends on the format and publishing layers, never on what builds on it."""
    edges = import_edges()
    assert not edges[f"{PACKAGE}.store"] & {f"{PACKAGE}.links", f"{PACKAGE}.ingest", f"{PACKAGE}.history"}
    assert f"{PACKAGE}.store" not in edges[f"{PACKAGE}.publish"] | edges[f"{PACKAGE}.generation"]
    assert edges[f"{PACKAGE}.store_format"] <= {f"{PACKAGE}.errors", f"{PACKAGE}.serials"}


@pytest.mark.parametrize("module", sorted(m for m in MODULES if not m.endswith("__main__")))
def test_each_module_imports_first_in_a_fresh_interpreter(module):
    """Imported before anything else, each module still imports: no order-dependent import."""
    result = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


# --------------------------------------------------------------------------------------------
# Synthetic-data generation stays out of the production paths.

_PROBE = r"""
import json, sys
import jpki_fast, jpki_fast.cli
from jpki_fast.cli import main

data, store, now = sys.argv[1], sys.argv[2], sys.argv[3]
steps = json.loads(sys.argv[4])
for argv in steps:
    try:
        main(argv)
    except SystemExit:
        pass  # --help
if not any(argv[:1] == ["synth"] for argv in steps):
    s = jpki_fast.open_store(store)
    s.check(["054CFCD8", 1], "auth_ca_2023", now=now, provenance=True, follow_links=True)
    s.check_certificates([open(data + "/certs/auth/" + name, "rb").read() for name in sys.argv[5:]], now=now)
    jpki_fast.ingest(data + "/trust", data + "/crls", store + "-api", now=now)
sys.stdout.flush()
print("\nLOADED", json.dumps(sorted(m for m in sys.modules if m == "jpki_fast.synth" or m.startswith("jpki_fast.synth."))))
"""


def _loaded_synth_modules(data, store, steps, certs=()):
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, str(data), str(store), "2026-11-26T00:00:00Z", json.dumps(steps), *certs],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    line = [x for x in result.stdout.splitlines() if x.startswith("LOADED ")][-1]
    return json.loads(line[len("LOADED "):])


@pytest.fixture(scope="module")
def small_day(tmp_path_factory):
    from jpki_fast import synth

    data = tmp_path_factory.mktemp("layering") / "data"
    synth.generate(data, entries=500, partitions=2, now="2026-11-26T00:00:00Z", certs=2, cert_keys=1)
    return data


def test_ingest_check_and_the_cli_load_no_synthetic_data_module(small_day, tmp_path):
    store = tmp_path / "store"
    common = ["--store", str(store), "--now", "2026-11-26T00:00:00Z"]
    steps = [
        ["--help"],
        ["ingest", "--trust", str(small_day / "trust"), "--crls", str(small_day / "crls"), *common, "--json"],
        ["check", *common, "--issuer", "auth_ca_2023", "054CFCD8", "--provenance"],
        ["info", *common],
        ["history", "--store", str(store)],
        ["verify-store", str(store)],
        ["cert-status", *common, *map(str, sorted((small_day / "certs" / "auth").glob("*.der")))],
    ]
    certs = [p.name for p in sorted((small_day / "certs" / "auth").glob("*.der"))]
    assert _loaded_synth_modules(small_day, store, steps, certs) == []


def test_the_synth_command_loads_its_package_and_writes_a_dataset(small_day, tmp_path):
    """The control of the test above: the probe does see the package when it is loaded."""
    out = tmp_path / "made"
    steps = [["synth", str(out), "--entries", "50", "--partitions", "1", "--certs", "0", "--ca-from", str(small_day), "--quiet"]]
    loaded = _loaded_synth_modules(small_day, tmp_path / "unused", steps)
    assert "jpki_fast.synth" in loaded and "jpki_fast.synth.dataset" in loaded
    assert (out / "truth.parquet").is_file() and len(list((out / "crls").rglob("*.crl"))) == 2
