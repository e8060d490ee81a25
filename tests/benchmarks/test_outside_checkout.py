"""The benchmarks run from an installed package: nothing they import comes from ``tests``.

Each benchmark module is imported in a fresh interpreter started outside the checkout, with no
``PYTHONPATH``, and the throwaway servers the benchmarks start are found in the benchmarks package.
"""

from __future__ import annotations

import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import benchmarks

PROBE = """
import importlib, sys
for name in sys.argv[1:]:
    importlib.import_module(name)
from benchmarks.system import test_servers
postgres, mosquitto = test_servers()
assert postgres.__module__ == mosquitto.__module__ == "benchmarks.servers", postgres.__module__
loaded = sorted(m for m in sys.modules if m == "tests" or m.startswith("tests."))
print("tests modules:", loaded)
"""


def test_every_benchmark_imports_without_the_test_tree(tmp_path: Path) -> None:
    modules = [f"benchmarks.{info.name}" for info in pkgutil.iter_modules(benchmarks.__path__)]
    assert "benchmarks.rules" in modules and "benchmarks.servers" in modules
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    done = subprocess.run([sys.executable, "-c", PROBE, *modules], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "tests modules: []"
