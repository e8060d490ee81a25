"""The shape of the house: every docstring example runs, no file is too long, no import cycle.

Each check discovers what it checks (every module of every package), so a new module cannot be
forgotten in a list.
"""

from __future__ import annotations

import doctest
import importlib
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PRODUCTION = ["streetwatch", "device_registry", "telemetry_store", "device_drivers", "simulators", "rules", "control",
              "broker", "hydrology", "gateway", "people", "web", "duty"]
PACKAGES = [*PRODUCTION, "benchmarks"]
MAX_LINES = 400


def _sources(packages: list[str]) -> Iterator[Path]:
    for package in packages:
        yield from sorted((ROOT / package).rglob("*.py"))


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_every_package_is_installed_and_type_checked() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    for package in PACKAGES:
        assert f'"{package}*"' in pyproject, f"{package} missing from [tool.setuptools.packages.find]"
        assert f'"{package}"' in pyproject, f"{package} missing from [tool.mypy] packages or import-linter"
    on_disk = {p.parent.name for p in ROOT.glob("*/__init__.py")} - {"tests", "deploy"}
    assert on_disk == set(PACKAGES), "a top-level package is not in this test's list (and maybe not in pyproject)"


def _has_runnable_example(path: Path) -> bool:
    """An example (a ``>>>`` line and its ``...`` lines) not marked ``+SKIP``: skipped ones only show
    how an async context manager is used."""
    examples: list[str] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        stripped = line.lstrip()
        if stripped.startswith(">>>"):
            examples.append(stripped)
        elif stripped.startswith("...") and examples:
            examples[-1] += stripped
    return any("+SKIP" not in example for example in examples)


DOCTEST_MODULES = [_module_name(p) for p in _sources(PACKAGES) if p.name != "__main__.py" and _has_runnable_example(p)]


@pytest.mark.parametrize("name", DOCTEST_MODULES)
def test_docstring_examples_run(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0, f"{name}: {result.failed} of {result.attempted} docstring examples failed"
    assert result.attempted > 0, f"{name} shows '>>>' but doctest found no example to run"


def test_doctest_discovery_finds_the_known_modules() -> None:
    # the discovery itself can fail: these modules have examples and must be among those found
    assert {"streetwatch.sun", "gateway.composition.logs", "device_drivers.modbus.codec", "control.model",
            "rules.levels", "telemetry_store.timeparse"} <= set(DOCTEST_MODULES)


@pytest.mark.parametrize("package", PRODUCTION)
def test_no_production_file_is_over_400_lines(package: str) -> None:
    too_long = {str(p.relative_to(ROOT)): n for p in _sources([package])
                if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert too_long == {}, f"over {MAX_LINES} lines (split by concept): {too_long}"


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_between_modules() -> None:
    # import-linter's acyclic_siblings contract does not see a package's __init__ and its own
    # modules importing each other; this sees every module, type-checking imports included.
    grimp = pytest.importorskip("grimp", reason="grimp comes with import-linter (the dev extra)")
    graph = grimp.build_graph(*PACKAGES, cache_dir=None)
    edges = {m: set(graph.find_modules_directly_imported_by(m)) for m in graph.modules}
    assert _cycles(edges) == []
